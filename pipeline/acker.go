package pipeline

import (
	"context"
	"log/slog"
	"time"

	"github.com/cutover-dev/cutover"
)

// Acknowledgement batching: finished deliveries are deleted in batches, so
// a job frees its slot at once and a backend sees one delete call for many
// messages. Full batches of ten (an SQS batch) go at once; a partial batch
// waits up to ackMaxWait for company, so a quiet queue also costs a request
// per ten messages, not per message. A delete lost to a crash is harmless:
// the message comes back, its log says it is finished, and it is
// acknowledged then.
const (
	ackMaxWait = 200 * time.Millisecond // longest a receipt waits for company
	ackBatch   = 10                     // receipts per delete call
)

type acker struct {
	queue cutover.Queue
	name  string
	log   *slog.Logger
	in    chan string
	done  chan struct{}
}

func newAcker(q cutover.Queue, name string, log *slog.Logger) *acker {
	return &acker{queue: q, name: name, log: log, in: make(chan string, ackBatch), done: make(chan struct{})}
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
	batch := make([]string, 0, ackBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// Not the worker's context: receipts queued before a shutdown are
		// still deleted during it.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.queue.Delete(ctx, a.name, batch); err != nil {
			a.log.Warn("cannot delete finished deliveries; they will come back and be acknowledged then", "queue", a.name, "count", len(batch), "err", err)
		}
		cancel()
		batch = batch[:0]
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
