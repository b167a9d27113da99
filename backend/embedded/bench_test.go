package embedded

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

// The benchmarks report, besides ns/op, the throughput of the unit they
// measure and the group commits per second, read from (*DB).Stats. Run:
//
//	go test -run '^$' -bench . -benchtime 3s ./backend/embedded/

// benchDB opens a file with durability full (the default) in b's temp dir.
func benchDB(b *testing.B) *DB {
	b.Helper()
	return open(b, Options{})
}

// report adds per-second figures over the timed part of the benchmark.
func report(b *testing.B, db *DB, start WriterStats, began time.Time, units float64, unit string) {
	b.Helper()
	elapsed := time.Since(began).Seconds()
	st := db.Stats()
	b.ReportMetric(units/elapsed, unit+"/s")
	b.ReportMetric(float64(st.Ops-start.Ops)/elapsed, "writeops/s")
	b.ReportMetric(float64(st.Commits-start.Commits)/elapsed, "commits/s")
	if c := st.Commits - start.Commits; c > 0 {
		b.ReportMetric(float64(st.Ops-start.Ops)/float64(c), "ops/commit")
	}
}

// BenchmarkSendReceiveDelete: each op sends a batch of 10 messages,
// receives 10 from the queue all callers share (Max 10, fewer if another
// caller took some) and deletes them; 16 concurrent callers.
func BenchmarkSendReceiveDelete(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	queue := "bench"
	if err := db.EnsureQueue(ctx, cutover.QueueSpec{Name: queue}); err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"v":1,"id":"0190a0b0-0000-7000-8000-000000000000","workflow":"create-order","step":"respond"}`)
	var msgs atomic.Int64
	b.SetParallelism(benchParallelism) // callers = 2 x GOMAXPROCS x this
	start, began := db.Stats(), time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		batch := make([]cutover.OutgoingMessage, 10)
		for pb.Next() {
			for i := range batch {
				batch[i] = cutover.OutgoingMessage{ID: cutover.NewEventID(), Body: body}
			}
			if err := db.Send(ctx, queue, batch); err != nil {
				b.Error(err)
				return
			}
			for got := 0; got < len(batch); {
				// Max is what this caller still needs, so that no caller
				// takes more than it sent and leaves another waiting.
				ms, err := db.Receive(ctx, queue, cutover.ReceiveOptions{Max: len(batch) - got, Visibility: time.Minute, Wait: time.Second})
				if err != nil {
					b.Error(err)
					return
				}
				receipts := make([]string, len(ms))
				for i, m := range ms {
					receipts[i] = m.Receipt
				}
				if err := db.Delete(ctx, queue, receipts); err != nil {
					b.Error(err)
					return
				}
				got += len(ms)
			}
			msgs.Add(int64(len(batch)))
		}
	})
	b.StopTimer()
	report(b, db, start, began, float64(msgs.Load()), "msgs")
}

// BenchmarkClaimComplete: each op claims a fresh key and completes it; 16
// concurrent callers.
func BenchmarkClaimComplete(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	out := &cutover.Outcome{Status: 200, Body: cutover.Body(`{"order_id":"o-1","total":12.5}`), At: time.Now()}
	var n atomic.Int64
	b.SetParallelism(benchParallelism) // callers = 2 x GOMAXPROCS x this
	start, began := db.Stats(), time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := cutover.IdempotencyKey{Workflow: "create-order", Step: cutover.RespondStep, Key: fmt.Sprint(n.Add(1))}
			c, err := db.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: "e", Lease: time.Minute})
			if err != nil || c.State != cutover.ClaimAcquired {
				b.Errorf("claim: %+v, %v", c, err)
				return
			}
			if err := db.Complete(ctx, k, c.Epoch, out); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	report(b, db, start, began, float64(n.Load()), "keys")
}

// BenchmarkAppend: each op appends one transition to a fresh event's log;
// 16 concurrent callers.
func BenchmarkAppend(b *testing.B) {
	db := benchDB(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(benchParallelism) // callers = 2 x GOMAXPROCS x this
	start, began := db.Stats(), time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := cutover.NewEventID()
			if _, err := db.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
				b.Error(err)
				return
			}
			n.Add(1)
		}
	})
	b.StopTimer()
	report(b, db, start, began, float64(n.Load()), "appends")
}

// benchParallelism gives 16 concurrent callers on 2 cores.
const benchParallelism = 8
