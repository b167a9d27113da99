package flags

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	cutover "github.com/cutover-dev/cutover"
)

// plan turns the current flag into the change to write. A nil change means
// nothing needs writing; an error refuses the change.
type plan func(ctx context.Context, cur cutover.Flag) (*cutover.FlagChange, error)

// write runs the read, plan, version-checked write loop: when a concurrent
// change wins the write, it re-reads and plans again against the new flag,
// so every rule is checked against the flag actually replaced.
func (s *Service) write(ctx context.Context, w *cutover.WorkflowConfig, p plan) (Result, error) {
	for attempt := 1; ; attempt++ {
		cur, err := s.current(ctx, w)
		if err != nil {
			return Result{}, err
		}
		ch, err := p(ctx, cur)
		if err != nil {
			return Result{}, err
		}
		if ch == nil {
			return Result{Flag: cur}, nil
		}
		ch.Workflow = w.Name
		ch.Version = cur.Version + 1
		ch.At = s.now().UTC()
		ch.FromMode, ch.FromPercent = cur.Mode, cur.Percent
		next := cutover.Flag{
			Workflow: w.Name, Mode: ch.ToMode, Percent: ch.ToPercent, Version: ch.Version,
			UpdatedAt: ch.At, UpdatedBy: ch.By, Reason: ch.Reason,
		}
		err = s.store.SetFlag(ctx, next, *ch)
		if err == nil {
			if s.snap != nil {
				s.snap.Apply(next)
			}
			s.log.Info("flags: changed", "workflow", w.Name, "version", next.Version,
				"from", describe(cur.Mode, cur.Percent), "to", describe(next.Mode, next.Percent),
				"by", ch.By, "reason", ch.Reason, "forced", ch.Forced)
			return Result{Flag: next, Change: ch}, nil
		}
		if !errors.Is(err, cutover.ErrVersionConflict) {
			return Result{}, fmt.Errorf("flags: write %s: %w", w.Name, err)
		}
		if attempt == s.maxAttempts {
			return Result{}, fmt.Errorf("flags: write %s: gave up after %d concurrent changes: %w", w.Name, attempt, err)
		}
		if err := sleep(ctx, conflictBackoff(attempt)); err != nil {
			return Result{}, fmt.Errorf("flags: write %s: %w", w.Name, err)
		}
	}
}

// conflictBackoff spreads retries of writers that keep colliding: a random
// wait of up to attempt milliseconds.
func conflictBackoff(attempt int) time.Duration {
	return time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond)))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// describe renders a mode for people: "canary 10%", "shadow".
func describe(m cutover.Mode, percent float64) string {
	if m == cutover.ModeCanary {
		return fmt.Sprintf("canary %v%%", percent)
	}
	return string(m)
}
