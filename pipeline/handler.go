package pipeline

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cutover-dev/cutover"
)

// Handler runs one step of a workflow for one event. It returns the outcome
// to record, or an error: wrap with cutover.Permanent for failures that
// retrying cannot fix; any other error is retried with backoff.
//
// In shadow mode (ev.Mode == cutover.EventShadow) a handler must not perform
// real side effects; it records what it would have done with
// cutover.RecordEffect. Follow-up events for other steps are sent with Emit.
type Handler interface {
	Handle(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
	return f(ctx, ev)
}

type emitKey struct{}

// emitter collects the follow-up events a handler asks for. They are
// published only after the handler succeeds, with idempotency keys derived
// from the parent's, so a retried parent emits the same keys again and the
// children deduplicate downstream.
type emitter struct {
	mu    sync.Mutex
	items []emitted
}

type emitted struct {
	step string
	req  cutover.Request
}

// Emit asks for a follow-up event to step, carrying req. It is published when
// the handler returns successfully, with the parent's correlation id and the
// parent as its cause. Emit outside a worker returns an error.
func Emit(ctx context.Context, step string, req cutover.Request) error {
	e, ok := ctx.Value(emitKey{}).(*emitter)
	if !ok {
		return fmt.Errorf("pipeline: emit to %s: not inside a worker", step)
	}
	if req.Method == "" {
		req.Method = "POST"
	}
	e.mu.Lock()
	e.items = append(e.items, emitted{step: step, req: req})
	e.mu.Unlock()
	return nil
}

func withEmitter(ctx context.Context) (context.Context, *emitter) {
	e := &emitter{}
	return context.WithValue(ctx, emitKey{}, e), e
}

// children turns what was emitted into events derived from parent.
func (e *emitter) children(parent *cutover.Event, now time.Time) []*cutover.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := map[string]int{}
	out := make([]*cutover.Event, 0, len(e.items))
	for _, it := range e.items {
		key := cutover.ChildKey(parent, it.step, n[it.step])
		n[it.step]++
		out = append(out, parent.Child(it.step, key, it.req, now))
	}
	return out
}
