package pipeline

import (
	"context"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// batchIntake is a backend that takes a published batch for one queue in
// one write (the embedded backend's Intake): its events' archive copies,
// first log entries and legacy sides, and their messages. It expands them
// into their own rows when they are first needed, off the publisher's path.
type batchIntake interface {
	Intake(ctx context.Context, queue string, regs []cutover.Registration, msgs []cutover.OutgoingMessage) error
}

// intaker returns the backend's batchIntake when its archive and queue are
// one store that has it.
func (p *Publisher) intaker() (batchIntake, bool) {
	in, ok := p.stores.Archive.(batchIntake)
	if !ok || any(p.stores.Queue) != any(p.stores.Archive) {
		return nil, false
	}
	return in, true
}

// intake publishes a shadow intake batch with its legacy sides (in regs) as
// one Intake per queue. The events' logs start as the publisher's would:
// received now.
func (p *Publisher) intake(ctx context.Context, in batchIntake, all []*cutover.Event, regs []cutover.Registration, bodies [][]byte) error {
	now := p.now().UTC()
	type batch struct {
		regs []cutover.Registration
		msgs []cutover.OutgoingMessage
	}
	byQueue := map[string]*batch{}
	var order []string
	for i, ev := range all {
		regs[i].First = receivedEntry(ev, now)
		q := cutover.QueueName(ev.Workflow, ev.Step)
		b := byQueue[q]
		if b == nil {
			b = &batch{}
			byQueue[q] = b
			order = append(order, q)
		}
		b.regs = append(b.regs, regs[i])
		b.msgs = append(b.msgs, cutover.OutgoingMessage{ID: ev.ID, Body: bodies[i]})
	}
	for i, q := range order {
		if err := in.Intake(ctx, q, byQueue[q].regs, byQueue[q].msgs); err != nil {
			if i == 0 {
				return fmt.Errorf("pipeline: publish: intake to %s: %w: %w", q, cutover.ErrNotPublished, err)
			}
			return fmt.Errorf("pipeline: publish: intake to %s: %w", q, err)
		}
	}
	return nil
}
