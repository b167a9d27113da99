package flags

import (
	"context"
	"errors"
	"strings"

	cutover "github.com/cutover-dev/cutover"
)

// DefaultRollbackReason is the reason of a rollback given none: a rollback
// must never be refused for paperwork.
const DefaultRollbackReason = "rollback"

// Rollback moves a workflow that the async pipeline answers (canary or
// cutover) back to shadow at 0%. It never consults the readiness gate and
// succeeds whenever the store is reachable; an empty reason becomes
// "rollback" and an empty by "unknown". A workflow already in shadow or off
// is left as it is (Result.Change is nil): a rollback never starts
// mirroring a workflow someone turned off.
func (s *Service) Rollback(ctx context.Context, workflow, reason, by string) (Result, error) {
	w, err := s.workflow(workflow)
	if err != nil {
		return Result{}, err
	}
	reason, by = strings.TrimSpace(reason), strings.TrimSpace(by)
	if reason == "" {
		reason = DefaultRollbackReason
	}
	if by == "" {
		by = "unknown"
	}
	return s.write(ctx, w, func(_ context.Context, cur cutover.Flag) (*cutover.FlagChange, error) {
		if !cur.Mode.PastShadow() {
			return nil, nil
		}
		return &cutover.FlagChange{By: by, Reason: reason, ToMode: cutover.ModeShadow}, nil
	})
}

// RollbackAll rolls back every configured workflow, in config order. It
// carries on past a failure so that one bad workflow does not keep the
// others live; the error joins every failure, and the results hold the
// workflows that succeeded.
func (s *Service) RollbackAll(ctx context.Context, reason, by string) ([]Result, error) {
	var (
		out  []Result
		errs []error
	)
	for _, w := range s.cfg.Workflows {
		r, err := s.Rollback(ctx, w.Name, reason, by)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}
