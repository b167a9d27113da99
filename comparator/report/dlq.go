package report

import (
	"context"
	"errors"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// QueueStatser is the part of cutover.Queue that QueueDLQ reads.
type QueueStatser interface {
	QueueStats(ctx context.Context, queue string) (cutover.QueueStats, error)
}

// QueueDLQ is a DLQ source over a backend queue: the depth of a workflow is
// the sum over its steps' dead-letter queues of visible, in-flight and
// delayed messages.
type QueueDLQ struct {
	Queue  QueueStatser
	Config *cutover.Config // for each workflow's steps; nil: respond only
}

// DLQDepth implements DLQ. A dead-letter queue that does not exist yet
// (ErrNotFound) holds nothing.
func (q QueueDLQ) DLQDepth(ctx context.Context, workflow string) (int64, error) {
	steps := []string{cutover.RespondStep}
	if q.Config != nil {
		if w, ok := q.Config.Workflow(workflow); ok {
			steps = w.StepNames()
		}
	}
	var total int64
	for _, step := range steps {
		name := cutover.DeadLetterName(workflow, step)
		st, err := q.Queue.QueueStats(ctx, name)
		switch {
		case errors.Is(err, cutover.ErrNotFound):
			continue
		case err != nil:
			return 0, fmt.Errorf("report: stats of %s: %w", name, err)
		}
		total += st.Visible + st.InFlight + st.Delayed
	}
	return total, nil
}
