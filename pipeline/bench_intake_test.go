package pipeline

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/embedded"
)

// BenchmarkShadowIntake measures what the proxy's shadow writer costs the
// machine per event: 4 flushers publish batches of 32 shadow events, each
// with its legacy side, on the embedded backend with durability full, and
// no worker runs. It reports the process CPU per event of that
// (cpu-µs/event), and as the baseline measured in the same run the CPU per
// event of only sending the same encoded events to the queue in the same
// batches (send-cpu-µs/event): the least any durable intake does.
//
//	go test -run '^$' -bench ShadowIntake -benchtime 20000x ./pipeline
func BenchmarkShadowIntake(b *testing.B) {
	cfg, err := cutover.Parse([]byte(`
legacy: http://127.0.0.1:1
workflows:
  - name: create-order
    route: POST /orders
    mode: shadow
`))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	open := func(name string) (*embedded.DB, cutover.Stores) {
		db, err := embedded.Open(ctx, embedded.Options{Path: filepath.Join(b.TempDir(), name), Durability: benchDurability})
		if err != nil {
			b.Fatal(err)
		}
		stores := db.Stores()
		if err := EnsureTopology(ctx, stores.Queue, cfg); err != nil {
			b.Fatal(err)
		}
		return db, stores
	}
	_, base := open("send.db")
	defer base.Close()
	_, stores := open("intake.db")
	defer stores.Close()
	pub := NewPublisher(cfg, PublisherStores{Queue: stores.Queue, Archive: stores.Archive, Transitions: stores.Transitions, Blobs: stores.Blobs, Outcomes: stores.Outcomes})
	q := cutover.QueueName("create-order", cutover.RespondStep)

	sendCPU := runBatches(b, b.N, func(evs []*cutover.Event, _ []*cutover.Outcome) error {
		msgs := make([]cutover.OutgoingMessage, len(evs))
		for i, ev := range evs {
			body, err := cutover.EncodeEvent(ev)
			if err != nil {
				return err
			}
			msgs[i] = cutover.OutgoingMessage{ID: ev.ID, Body: body}
		}
		return base.Queue.Send(ctx, q, msgs)
	})
	b.ResetTimer()
	cpu := runBatches(b, b.N, func(evs []*cutover.Event, legacy []*cutover.Outcome) error {
		_, err := pub.PublishWithLegacy(ctx, evs, legacy)
		return err
	})
	b.StopTimer()
	b.ReportMetric(cpu, "cpu-µs/event")
	b.ReportMetric(sendCPU, "send-cpu-µs/event")
	b.ReportMetric(cpu/sendCPU, "x-send")
}

// runBatches has 4 goroutines call publish with batches of 32 proxy-like
// shadow events until n are done, and returns the process CPU per event.
func runBatches(b *testing.B, n int, publish func([]*cutover.Event, []*cutover.Outcome) error) float64 {
	const flushers, batch = 4, 32
	body := cutover.Body(`{"customer_id":"c-1","items":[{"sku":"a-1","qty":2},{"sku":"b-2","qty":1}],"payment":{"card_number":"[REDACTED]"}}`)
	header := map[string][]string{"Content-Type": {"application/json"}, "User-Agent": {"wrk"}, "Idempotency-Key": {"k"}, "Authorization": {"[REDACTED]"}}
	legacyBody := cutover.Body(`{"order_id":"o-1","status":"accepted","total":"12.34","currency":"USD"}`)
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range flushers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := next.Add(batch) - batch
				if from >= int64(n) {
					return
				}
				k := min(batch, int64(n)-from)
				evs := make([]*cutover.Event, k)
				outs := make([]*cutover.Outcome, k)
				for i := range evs {
					id := cutover.NewEventID()
					now := time.Now().UTC()
					evs[i] = &cutover.Event{ID: id, Workflow: "create-order", Step: cutover.RespondStep, Mode: cutover.EventShadow,
						IdempotencyKey: id, CorrelationID: id, ReceivedAt: now, TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
						Request: cutover.Request{Method: "POST", Path: "/orders", Header: header, Body: body}}
					outs[i] = &cutover.Outcome{Status: 201, Header: map[string][]string{"Content-Type": {"application/json"}}, Body: legacyBody, Latency: cutover.Duration(300 * time.Microsecond), At: now}
				}
				if err := publish(evs, outs); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64((cpuTime() - cpu0).Microseconds()) / float64(n)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
