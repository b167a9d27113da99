package comparator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover"
)

// maxSweepPages bounds one sweep, so that a backlog is worked off over
// several ticks instead of one sweep running unbounded.
const maxSweepPages = 50

// pairTimeout bounds the work on one pair once started; it runs on a
// context that shutdown does not cancel, so a pair is never left with its
// missing side recorded but not compared.
const pairTimeout = 30 * time.Second

// Sweep finds pairs whose first side arrived more than the async deadline
// before now and records the absent side as missing. If that completes the
// pair, Sweep compares it (async_missing, or legacy_error for an absent
// legacy side); if the real outcome won the race, its writer compares. It
// returns how many pairs it completed. Errors on single pairs do not stop
// the sweep; they are joined in the returned error.
func (s *Service) Sweep(ctx context.Context, now time.Time) (int, error) {
	before := now.Add(-s.deadline)
	done := 0
	var errs []error
	for range maxSweepPages {
		pairs, err := s.st.Outcomes.Unpaired(ctx, before, s.batch)
		if err != nil {
			return done, errors.Join(append(errs, fmt.Errorf("comparator: sweep: %w", err))...)
		}
		progress := 0
		for _, p := range pairs {
			if ctx.Err() != nil {
				return done, errors.Join(errs...) // stop taking new pairs; what started has finished
			}
			completed, settled, err := s.fill(ctx, p, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if completed {
				done++
			}
			if settled {
				progress++
			}
		}
		if len(pairs) < s.batch || progress == 0 {
			break
		}
	}
	return done, errors.Join(errs...)
}

// fill records the absent side of p. completed: this call completed and
// compared the pair; settled: the pair is no longer unpaired.
func (s *Service) fill(ctx context.Context, p cutover.OutcomePair, now time.Time) (completed, settled bool, err error) {
	var side cutover.Side
	switch {
	case p.Async == nil && p.Legacy != nil:
		side = cutover.SideAsync
	case p.Legacy == nil && p.Async != nil:
		side = cutover.SideLegacy
	default:
		return false, false, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pairTimeout)
	defer cancel()
	pair, complete, err := s.st.Outcomes.PutOutcome(ctx, p.Workflow, p.EventID, p.Epoch, side, &cutover.Outcome{Missing: true, At: now.UTC()})
	switch {
	case errors.Is(err, cutover.ErrAlreadyRecorded):
		return false, true, nil // the real outcome arrived first; its writer compares
	case err != nil:
		return false, false, fmt.Errorf("comparator: sweep %s epoch %d: %w", p.EventID, p.Epoch, err)
	case !complete:
		return false, true, nil
	}
	s.metrics.filled(p.Workflow, side)
	s.log.Debug("comparator: side missing after the deadline", "event_id", p.EventID, "epoch", p.Epoch, "workflow", p.Workflow, "side", side)
	if err := s.HandlePair(ctx, pair); err != nil {
		return false, true, err
	}
	return true, true, nil
}

// Run sweeps at once and then every sweep interval until ctx is done. A
// sweep in progress stops taking new pairs when ctx is cancelled and
// finishes the pair it holds; Run then returns nil.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		n, err := s.Sweep(ctx, s.now())
		if err != nil && ctx.Err() == nil {
			s.log.Warn("comparator: sweep", "error", err)
		}
		if n > 0 {
			s.log.Info("comparator: swept pairs past the async deadline", "pairs", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
