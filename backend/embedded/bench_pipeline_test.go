package embedded

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

// BenchmarkPipeline drives the store calls the pipeline makes per event,
// with no HTTP around them, to measure events/s end to end on this
// backend. Per event:
//
//	proxy:      Archive and Send (batched 64 events per call), Append
//	            received, PutOutcome legacy
//	worker:     Receive (up to 10), Claim, Append started, Complete,
//	            PutOutcome async, Append succeeded, Delete (per batch)
//	comparator: SaveComparison (the worker completed the pair)
//
// that is 8 single-event write ops plus the batched ones. 4 proxy
// publishers and 64 workers run at once; durability is full. The request
// and both response bodies are small JSON documents, or padded to 2 KiB.
func BenchmarkPipeline(b *testing.B) {
	for _, pad := range []int{0, 2 << 10} {
		name := "body=small"
		if pad > 0 {
			name = "body=2KiB"
		}
		b.Run(name, func(b *testing.B) { benchmarkPipeline(b, strings.Repeat("x", pad)) })
	}
}

func benchmarkPipeline(b *testing.B, pad string) {
	db := benchDB(b)
	ctx := context.Background()
	const (
		workflow   = "create-order"
		publishers = 4
		workers    = 64
		batch      = 64
	)
	queue := cutover.QueueName(workflow, cutover.RespondStep)
	if err := db.EnsureQueue(ctx, cutover.QueueSpec{Name: queue}); err != nil {
		b.Fatal(err)
	}
	legacy := &cutover.Outcome{Status: 201, Body: cutover.Body(`{"order_id":"o-1","total":12.5,"pad":"` + pad + `"}`), Latency: cutover.Duration(3 * time.Millisecond)}
	async := &cutover.Outcome{Status: 201, Body: cutover.Body(`{"order_id":"o-2","total":12.5,"pad":"` + pad + `"}`), Latency: cutover.Duration(2 * time.Millisecond)}
	fail := func(err error) {
		b.Error(err)
	}

	var published, done atomic.Int64
	total := int64(b.N)
	start, began := db.Stats(), time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := min(batch, total-published.Add(batch)+batch)
				if n <= 0 {
					return
				}
				evs := make([]*cutover.Event, n)
				msgs := make([]cutover.OutgoingMessage, n)
				for i := range evs {
					e := &cutover.Event{
						ID: cutover.NewEventID(), Workflow: workflow, Step: cutover.RespondStep, Mode: cutover.EventShadow,
						CorrelationID: "c", ReceivedAt: time.Now(),
						Request: cutover.Request{Method: http.MethodPost, Path: "/orders", Body: cutover.Body(`{"customer_id":"c-1","total":12.5,"pad":"` + pad + `"}`)},
					}
					e.IdempotencyKey = e.ID
					data, err := cutover.EncodeEvent(e)
					if err != nil {
						fail(err)
						return
					}
					evs[i], msgs[i] = e, cutover.OutgoingMessage{ID: e.ID, Body: data}
				}
				if err := db.Archive(ctx, evs...); err != nil {
					fail(err)
					return
				}
				var pw sync.WaitGroup
				for _, e := range evs {
					pw.Add(1)
					go func() {
						defer pw.Done()
						if _, err := db.Append(ctx, e.ID, 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
							fail(err)
						}
						if _, _, err := db.PutOutcome(ctx, workflow, e.ID, 0, cutover.SideLegacy, legacy); err != nil {
							fail(err)
						}
					}()
				}
				pw.Wait()
				if err := db.Send(ctx, queue, msgs); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for done.Load() < total {
				ms, err := db.Receive(ctx, queue, cutover.ReceiveOptions{Max: 10, Visibility: time.Minute, Wait: 100 * time.Millisecond})
				if err != nil {
					fail(err)
					return
				}
				receipts := make([]string, 0, len(ms))
				for _, m := range ms {
					if err := work(ctx, db, workflow, m, async); err != nil {
						fail(err)
						return
					}
					receipts = append(receipts, m.Receipt)
				}
				if err := db.Delete(ctx, queue, receipts); err != nil {
					fail(err)
					return
				}
				done.Add(int64(len(ms)))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	report(b, db, start, began, float64(done.Load()), "events")
}

// work is one worker's handling of one message, the store calls only.
func work(ctx context.Context, db *DB, workflow string, m cutover.Message, async *cutover.Outcome) error {
	e, err := cutover.DecodeEvent(m.Body)
	if err != nil {
		return err
	}
	k := cutover.IdempotencyKey{Workflow: workflow, Step: e.Step, Key: e.IdempotencyKey}
	c, err := db.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: e.PayloadHash(), EventID: e.ID, Lease: time.Minute})
	if err != nil {
		return err
	}
	if _, err := db.Append(ctx, e.ID, 1, cutover.Transition{Kind: cutover.TransitionStarted, Attempt: 1, Epoch: c.Epoch}); err != nil {
		return err
	}
	if err := db.Complete(ctx, k, c.Epoch, async); err != nil {
		return err
	}
	pair, complete, err := db.PutOutcome(ctx, workflow, e.ID, 0, cutover.SideAsync, async)
	if err != nil {
		return err
	}
	if _, err := db.Append(ctx, e.ID, 2, cutover.Transition{Kind: cutover.TransitionSucceeded, Attempt: 1, Epoch: c.Epoch}); err != nil {
		return err
	}
	if complete {
		return db.SaveComparison(ctx, &cutover.Comparison{
			EventID: e.ID, Workflow: workflow, Verdict: cutover.VerdictMismatch, ComparedAt: time.Now(),
			Diffs:         []cutover.PathDiff{{Path: "$.order_id", Legacy: []byte(`"o-1"`), Async: []byte(`"o-2"`)}},
			LegacyLatency: pair.Legacy.Latency, AsyncLatency: pair.Async.Latency,
		})
	}
	return nil
}
