package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/embedded"
)

// BenchmarkEndToEnd publishes b.N events and processes them with a no-op Go
// handler on the embedded backend with durability full (fsync at every group
// commit), worker concurrency 512 (jobs are goroutines; their number is what
// hides the group commit's latency, since each job waits two commits). It reports events/s, and as the baseline measured in the same run
// the fsyncs/s the disk sustains one at a time, which is what a pipeline
// without group commit would be bound by.
func BenchmarkEndToEnd(b *testing.B) { endToEnd(b, false) }

// BenchmarkEndToEndShadowIntake is BenchmarkEndToEnd with every batch
// published as the proxy publishes shadow events: with legacy sides, so
// the backend takes each batch in one intake row that the worker expands,
// and every event ends in a compared pair.
func BenchmarkEndToEndShadowIntake(b *testing.B) { endToEnd(b, true) }

func endToEnd(b *testing.B, shadowIntake bool) {
	// The collector runs as in `cutover worker`, which sets GOGC=400
	// unless GOGC is set (cmd/cutover/main.go).
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	dir := b.TempDir()
	fsyncs := fsyncRate(b, dir)
	cfg, err := cutover.Parse([]byte(`
legacy: http://127.0.0.1:1
worker:
  concurrency: 512
  poll_wait: 20ms
workflows:
  - name: bench
    route: POST /bench
`))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	db, err := embedded.Open(ctx, embedded.Options{Path: filepath.Join(dir, "bench.db"), Durability: benchDurability})
	if err != nil {
		b.Fatal(err)
	}
	stores := db.Stores()
	defer stores.Close()
	pub := NewPublisher(cfg, PublisherStores{Queue: stores.Queue, Archive: stores.Archive, Transitions: stores.Transitions, Blobs: stores.Blobs})
	var handled atomic.Int64
	noop := HandlerFunc(func(context.Context, *cutover.Event) (*cutover.Outcome, error) {
		handled.Add(1)
		return &cutover.Outcome{Status: 200}, nil
	})
	var compared atomic.Int64
	pairs := pairFunc(func(context.Context, cutover.OutcomePair) error { compared.Add(1); return nil })
	w, err := New(cfg, WorkerStores{Queue: stores.Queue, Idempotency: stores.Idempotency, Transitions: stores.Transitions, Outcomes: stores.Outcomes, Blobs: stores.Blobs},
		pub, Options{Handlers: map[StepRef]Handler{{"bench", cutover.RespondStep}: noop}, Pairs: pairs})
	if err != nil {
		b.Fatal(err)
	}
	if err := EnsureTopology(ctx, stores.Queue, cfg); err != nil {
		b.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { _ = w.Run(wctx); close(stopped) }()
	defer func() { stop(); <-stopped }()
	body := cutover.Body(`{"customer_id":"c-1","items":[{"sku":"a","qty":1,"unit_cents":100}]}`)

	before := db.Stats()
	b.ResetTimer()
	start := time.Now()
	const publishers, batch = 4, 100
	var wg sync.WaitGroup
	var next atomic.Int64
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := next.Add(batch) - batch
				if from >= int64(b.N) {
					return
				}
				n := min(batch, int64(b.N)-from)
				evs := make([]*cutover.Event, n)
				for i := range evs {
					id := cutover.NewEventID()
					evs[i] = &cutover.Event{ID: id, Workflow: "bench", Step: cutover.RespondStep, Mode: cutover.EventShadow,
						IdempotencyKey: id, CorrelationID: id, ReceivedAt: time.Now().UTC(),
						Request: cutover.Request{Method: "POST", Path: "/bench", Body: body}}
				}
				var err error
				if shadowIntake {
					outs := make([]*cutover.Outcome, n)
					for i := range outs {
						outs[i] = &cutover.Outcome{Status: 200, At: time.Now().UTC()}
					}
					_, err = pub.PublishWithLegacy(ctx, evs, outs)
				} else {
					err = pub.Publish(ctx, evs...)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Wait for every handler call (cheap to poll), then for the queue to
	// drain: the last outcomes, logs and acknowledgements.
	for handled.Load() < int64(b.N) || shadowIntake && compared.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	q := cutover.QueueName("bench", cutover.RespondStep)
	for {
		st, err := stores.Queue.QueueStats(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if st.Visible+st.InFlight+st.Delayed == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	rate := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(fsyncs, "baseline-fsync/s")
	b.ReportMetric(rate/fsyncs, "events-per-fsync")
	after := db.Stats()
	b.ReportMetric(float64(after.Ops-before.Ops)/float64(b.N), "writes/event")
	b.ReportMetric(float64(after.Ops-before.Ops)/float64(max(1, after.Commits-before.Commits)), "writes/commit")
}

// fsyncRate measures how many write+fsync round trips the disk under dir
// sustains one after another for 300 ms.
func fsyncRate(b *testing.B, dir string) float64 {
	f, err := os.Create(filepath.Join(dir, "fsync.probe"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n := 0
	start := time.Now()
	for time.Since(start) < 300*time.Millisecond {
		if _, err := f.Write([]byte(fmt.Sprint(n))); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

// benchDurability is the embedded backend's durability in BenchmarkEndToEnd:
// "full" (fsync at every group commit) unless CUTOVER_BENCH_DURABILITY says.
var benchDurability = func() string {
	if d := os.Getenv("CUTOVER_BENCH_DURABILITY"); d != "" {
		return d
	}
	return "full"
}()

type pairFunc func(context.Context, cutover.OutcomePair) error

func (f pairFunc) HandlePair(ctx context.Context, p cutover.OutcomePair) error { return f(ctx, p) }
