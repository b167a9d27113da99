package pipeline

import (
	"context"

	"github.com/cutover-dev/cutover"
)

// limiter caps concurrent calls to one downstream across every step that
// names it, so one slow dependency holds only its own slots and cannot starve
// the steps that call others.
type limiter chan struct{}

func newLimiters(cfg *cutover.Config) map[string]limiter {
	out := make(map[string]limiter, len(cfg.Downstreams))
	for _, d := range cfg.Downstreams {
		out[d.Name] = make(limiter, d.Concurrency)
	}
	return out
}

// acquire waits for a slot; a nil limiter never waits.
func (l limiter) acquire(ctx context.Context) error {
	if l == nil {
		return nil
	}
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l limiter) release() {
	if l != nil {
		<-l
	}
}
