package cutover

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Outcome is what one side produced for an event: the legacy response the
// proxy captured, or the async result a worker recorded.
type Outcome struct {
	Status  int         `json:"status,omitempty"`
	Header  http.Header `json:"header,omitempty"` // selected headers only
	Body    Body        `json:"body,omitempty"`
	BodyRef string      `json:"body_ref,omitempty"` // claim check for large bodies
	Latency Duration    `json:"latency,omitempty"`
	// Error is set when the side failed to produce a response at all (a
	// transport error, a handler error, a dead-lettered event).
	Error string `json:"error,omitempty"`
	// Missing marks the placeholder the comparator records when no async
	// outcome arrived before the deadline.
	Missing bool `json:"missing,omitempty"`
	// Skipped says the side was deliberately not run (a live request of a
	// write workflow is never executed on both sides); the comparison is
	// not_comparable.
	Skipped string    `json:"skipped,omitempty"`
	At      time.Time `json:"at"`
	// Effects lists what a shadow handler would have done (RecordEffect).
	Effects []Effect `json:"effects,omitempty"`
}

// Failed reports whether the side produced no usable response.
func (o *Outcome) Failed() bool { return o == nil || o.Error != "" || o.Missing || o.Skipped != "" }

// Effect is a side effect a handler made, or in shadow mode would have made.
type Effect struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
}

type effectsKey struct{}

type effectLog struct {
	mu      sync.Mutex
	effects []Effect
}

// WithEffectLog returns a context in which RecordEffect collects effects, and
// a function that returns what was collected.
func WithEffectLog(ctx context.Context) (context.Context, func() []Effect) {
	l := &effectLog{}
	return context.WithValue(ctx, effectsKey{}, l), func() []Effect {
		l.mu.Lock()
		defer l.mu.Unlock()
		return append([]Effect(nil), l.effects...)
	}
}

// RecordEffect notes a side effect the handler performed, or in shadow mode
// would have performed instead of performing it. It is a no-op outside a
// worker.
func RecordEffect(ctx context.Context, kind, detail string) {
	if l, ok := ctx.Value(effectsKey{}).(*effectLog); ok {
		l.mu.Lock()
		l.effects = append(l.effects, Effect{Kind: kind, Detail: detail})
		l.mu.Unlock()
	}
}
