package pipeline

import (
	"context"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// redriveSlack is how many receives beyond max attempts the queue's redrive
// policy allows. Workers dead-letter failing events themselves with the last
// error; the redrive policy is the backstop for a message that crashes the
// worker process every time, and the slack leaves room for deliveries that
// found the key busy under another worker's lease.
const redriveSlack = 10

// Topology returns the queue specs of every step of every workflow in cfg:
// one queue and one dead-letter queue per step.
func Topology(cfg *cutover.Config) []cutover.QueueSpec {
	var specs []cutover.QueueSpec
	for _, w := range cfg.Workflows {
		for _, step := range w.StepNames() {
			st, _ := cfg.Step(w.Name, step)
			dlq := cutover.DeadLetterName(w.Name, step)
			specs = append(specs,
				cutover.QueueSpec{Name: dlq},
				cutover.QueueSpec{Name: cutover.QueueName(w.Name, step), DeadLetter: dlq, MaxReceiveCount: st.MaxAttempts + redriveSlack},
			)
		}
	}
	return specs
}

// EnsureTopology creates every queue of cfg (idempotent).
func EnsureTopology(ctx context.Context, q cutover.Queue, cfg *cutover.Config) error {
	for _, spec := range Topology(cfg) {
		if err := q.EnsureQueue(ctx, spec); err != nil {
			return fmt.Errorf("pipeline: ensure queue %s: %w", spec.Name, err)
		}
	}
	return nil
}
