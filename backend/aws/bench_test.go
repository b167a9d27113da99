package aws

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/pipeline"
)

// BenchmarkPerEventRequests runs the real pipeline on the aws backend
// against the local servers: the publisher as the proxy calls it (batches
// of shadow events with their legacy outcomes: archive object and its
// index item, send; the events' starts deferred to the worker), and a
// worker with a no-op Go handler (receive, claim, one finish write with
// the event's start, log, legacy and async sides, delete). Each iteration
// is one event. The events are published before the worker starts, as
// under load, where a backlog keeps 128 jobs in flight and receives full:
// that is the steady state where request costs matter. (When arrivals
// trickle in below the worker's capacity, receives and deletes carry fewer
// messages each, and archive objects hold fewer events.) It reports
// requests and DynamoDB capacity units per event and the cost per million
// events, and, measured in the same run, the same pipeline run one message
// at a time (no coalescing, one event per publish, one job at a time) as
// the baseline. One sweep for unpaired outcomes is part of the run; the
// comparator's cost (one comparison per event) is measured after it and
// reported apart (cmp-wcu/event).
//
//	go test -run '^$' -bench PerEventRequests -benchtime 2000x ./backend/aws
func BenchmarkPerEventRequests(b *testing.B) {
	base := runPipeline(b, 200, -1)
	bc := CostOf(base.snap, base.events, USEast1())
	// The default window, and a longer one: a batch fills with the
	// deliveries finished within the window, so at the throughput the
	// local servers allow (about 100 events/s on two shared cores) the
	// window decides how full delete batches get.
	for _, window := range []time.Duration{DefaultBatchWindow, 50 * time.Millisecond} {
		b.Run("window="+window.String(), func(b *testing.B) {
			got := runPipeline(b, b.N, window)
			b.StopTimer()
			c := CostOf(got.snap, got.events, USEast1())
			b.ReportMetric(c.SQSRequests, "sqs-req/event")
			b.ReportMetric(c.DynamoDBWrites, "ddb-wcu/event")
			b.ReportMetric(c.DynamoDBReads, "ddb-rcu/event")
			b.ReportMetric(c.S3Puts+c.S3Gets, "s3-req/event")
			b.ReportMetric(c.TotalDollars, "usd/Mevents")
			b.ReportMetric(bc.SQSRequests, "baseline-sqs-req/event")
			b.ReportMetric(bc.SQSRequests/c.SQSRequests, "sqs-saving-x")
			b.ReportMetric(float64(got.events)/got.took.Seconds(), "events/s")
			b.ReportMetric(got.cmp.WriteUnits/float64(got.events), "cmp-wcu/event")
			report(b, window, got, base)
		})
	}
}

// report writes the cost tables and every operation's requests and units
// per event to the file $CUTOVER_BENCH_REPORT names, if any.
func report(b *testing.B, window time.Duration, runs ...pipelineRun) {
	path := os.Getenv("CUTOVER_BENCH_REPORT")
	if path == "" || b.N <= 1 {
		return
	}
	var sb strings.Builder
	for i, r := range runs {
		name := "batched, window " + window.String()
		if i > 0 {
			name = "one at a time"
		}
		fmt.Fprintf(&sb, "\n%s: %d events in %v\n", name, r.events, r.took.Round(time.Millisecond))
		_ = CostOf(r.snap, r.events, USEast1()).WriteTable(&sb)
		for _, op := range r.snap.Ops() {
			fmt.Fprintf(&sb, "  %-36s %8.3f req/event", op, float64(r.snap.Requests[op])/float64(r.events))
			if u, ok := r.snap.Units[op]; ok {
				fmt.Fprintf(&sb, " %8.3f units/event", u/float64(r.events))
			}
			sb.WriteString("\n")
		}
		if r.cmp.Requests != nil {
			fmt.Fprintf(&sb, "  comparator, one match per event: %.3f write units/event\n", r.cmp.WriteUnits/float64(r.events))
			for _, op := range r.cmp.Ops() {
				fmt.Fprintf(&sb, "    %-34s %8.3f req/event %8.3f units/event\n", op, float64(r.cmp.Requests[op])/float64(r.events), r.cmp.Units[op]/float64(r.events))
			}
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = f.WriteString(sb.String())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		b.Error(err)
	}
}

type pipelineRun struct {
	events int64
	snap   Snapshot
	took   time.Duration
	cmp    Snapshot // the comparator saving one match per event (batched runs)
}

// runPipeline publishes n events and processes them with the production
// setup and the given coalescing window; a negative window runs everything
// one message at a time instead (no coalescing or prefetch, one event per
// publish, one job at a time).
func runPipeline(b *testing.B, n int, window time.Duration) pipelineRun {
	b.Helper()
	batched := window >= 0
	concurrency, publishBatch := 128, 100
	if !batched {
		concurrency, publishBatch = 1, 1
	}
	cfg, err := cutover.Parse([]byte(fmt.Sprintf(`
legacy: http://127.0.0.1:1
worker:
  concurrency: %d
  poll_wait: 1s
workflows:
  - name: bench
    route: POST /bench
`, concurrency)))
	if err != nil {
		b.Fatal(err)
	}
	opt := testOptions()
	opt.Logger = nil
	opt.BatchWindow = window
	opt.DisablePrefetch = !batched
	be := openTest(b, testConfig(b), opt)
	ctx := context.Background()
	cfg.Backend = be.cfg
	if err := be.Init(ctx, cfg, false, new(strings.Builder)); err != nil {
		b.Fatal(err)
	}
	st := be.Stores()
	pub := pipeline.NewPublisher(cfg, pipeline.PublisherStores{Queue: st.Queue, Archive: st.Archive, Transitions: st.Transitions, Blobs: st.Blobs, Outcomes: st.Outcomes})
	var handled atomic.Int64
	noop := pipeline.HandlerFunc(func(context.Context, *cutover.Event) (*cutover.Outcome, error) {
		handled.Add(1)
		return &cutover.Outcome{Status: 200, Body: cutover.Body(`{"ok":true}`)}, nil
	})
	w, err := pipeline.New(cfg, pipeline.WorkerStores{Queue: st.Queue, Idempotency: st.Idempotency, Transitions: st.Transitions, Outcomes: st.Outcomes, Blobs: st.Blobs},
		pub, pipeline.Options{Handlers: map[pipeline.StepRef]pipeline.Handler{{Workflow: "bench", Step: cutover.RespondStep}: noop}})
	if err != nil {
		b.Fatal(err)
	}
	body := cutover.Body(`{"customer_id":"c-1","items":[{"sku":"a","qty":1,"unit_cents":100}]}`)
	legacy := &cutover.Outcome{Status: 200, Body: cutover.Body(`{"ok":true}`), Latency: cutover.Duration(3 * time.Millisecond)}

	before := be.Requests()
	start := time.Now()
	wctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	startWorker := func() { go func() { _ = w.Run(wctx); close(stopped) }() }
	if !batched {
		startWorker()
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	var idsMu sync.Mutex
	var ids []string
	publishers := 4
	if !batched {
		publishers = 1
	}
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := next.Add(int64(publishBatch)) - int64(publishBatch)
				if from >= int64(n) {
					return
				}
				evs := make([]*cutover.Event, min(int64(publishBatch), int64(n)-from))
				for i := range evs {
					id := cutover.NewEventID()
					evs[i] = &cutover.Event{ID: id, Workflow: "bench", Step: cutover.RespondStep, Mode: cutover.EventShadow,
						IdempotencyKey: id, CorrelationID: id, ReceivedAt: time.Now().UTC(),
						Request: cutover.Request{Method: "POST", Path: "/bench", Body: body}}
				}
				// As the proxy does: the legacy side goes with the publish.
				legacies := make([]*cutover.Outcome, len(evs))
				for i := range legacies {
					legacies[i] = legacy
				}
				if _, err := pub.PublishWithLegacy(ctx, evs, legacies); err != nil {
					b.Error(err)
					return
				}
				idsMu.Lock()
				for _, ev := range evs {
					ids = append(ids, ev.ID)
				}
				idsMu.Unlock()
			}
		}()
	}
	wg.Wait()
	if batched {
		// Under load a backlog builds up: the worker starts behind it.
		startWorker()
	}
	for handled.Load() < int64(n) {
		time.Sleep(5 * time.Millisecond)
	}
	q := cutover.QueueName("bench", cutover.RespondStep)
	for {
		s, err := st.Queue.QueueStats(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if s.Visible+s.InFlight+s.Delayed == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	stop()
	<-stopped
	// The sweeper's share: one pass over what was archived (every pair is
	// complete, so it writes nothing; it reads each object and its events
	// once per sweeping process).
	if _, err := st.Outcomes.Unpaired(ctx, time.Now(), 1000); err != nil {
		b.Fatal(err)
	}
	snap := be.Requests().Sub(before)
	// The benchmark's own polling is not part of the pattern.
	delete(snap.Requests, Op{"sqs", "GetQueueAttributes"})
	snap.SQSBilledRequests = 0
	for op, c := range snap.Requests {
		if op.Service == "sqs" {
			snap.SQSBilledRequests += c
		}
	}
	run := pipelineRun{events: int64(n), snap: snap, took: took}
	if batched {
		// What the comparator adds: one comparison (a match) per event.
		before := be.Requests()
		var cw sync.WaitGroup
		sem := make(chan struct{}, 32)
		for _, id := range ids {
			cw.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; cw.Done() }()
				c := &cutover.Comparison{EventID: id, Workflow: "bench", Verdict: cutover.VerdictMatch,
					LegacyLatency: cutover.Duration(3 * time.Millisecond), AsyncLatency: cutover.Duration(5 * time.Millisecond)}
				if err := st.Comparisons.SaveComparison(ctx, c); err != nil {
					b.Error(err)
				}
			}()
		}
		cw.Wait()
		run.cmp = be.Requests().Sub(before)
	}
	return run
}
