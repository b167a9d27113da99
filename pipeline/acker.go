package pipeline

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cutover-dev/cutover"
)

// Acknowledgement batching: finished deliveries are deleted in batches, so
// a job frees its slot at once and a backend sees one delete call for many
// messages. Full batches of ten (an SQS batch) go at once, several in
// flight together; a partial batch waits up to ackMaxWait for company, so a
// quiet queue also costs a request per ten messages, not per message. A
// delete lost to a crash is harmless: the message comes back, its log says
// it is finished, and it is acknowledged then.
const (
	ackMaxWait  = 200 * time.Millisecond // longest a receipt waits for company
	ackBatch    = 10                     // receipts per delete call
	ackInFlight = 16                     // delete calls at once
	ackBuffer   = 4096                   // receipts queued before ack blocks
)

type acker struct {
	queue cutover.Queue
	name  string
	log   *slog.Logger
	in    chan string
	done  chan struct{}
	calls sync.WaitGroup
	slots chan struct{}
}

func newAcker(q cutover.Queue, name string, log *slog.Logger) *acker {
	return &acker{queue: q, name: name, log: log, in: make(chan string, ackBuffer), done: make(chan struct{}), slots: make(chan struct{}, ackInFlight)}
}

// ack queues a receipt for deletion.
func (a *acker) ack(receipt string) { a.in <- receipt }

// close flushes what is queued and stops the acker; call after every job
// that may ack has finished.
func (a *acker) close() {
	close(a.in)
	<-a.done
}

func (a *acker) run() {
	defer close(a.done)
	defer a.calls.Wait()
	batch := make([]string, 0, ackBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		receipts := batch
		batch = make([]string, 0, ackBatch)
		a.slots <- struct{}{}
		a.calls.Add(1)
		go func() {
			defer func() { <-a.slots; a.calls.Done() }()
			// Not the worker's context: receipts queued before a shutdown
			// are still deleted during it.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := a.queue.Delete(ctx, a.name, receipts); err != nil {
				a.log.Warn("cannot delete finished deliveries; they will come back and be acknowledged then", "queue", a.name, "count", len(receipts), "err", err)
			}
		}()
	}
	for {
		select {
		case r, ok := <-a.in:
			if !ok {
				timer.Stop()
				flush()
				return
			}
			if len(batch) == 0 {
				timer.Reset(ackMaxWait)
			}
			batch = append(batch, r)
			if len(batch) == ackBatch {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}
