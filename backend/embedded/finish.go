package embedded

import (
	"context"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// Finish implements cutover.Finisher: the key completed, the async outcome
// recorded and the log appended in one op of the group commit, so a
// successful attempt costs one write and one commit wait instead of three.
// Every condition is checked before anything is written, because a refused
// op must leave the shared transaction untouched.
func (db *DB) Finish(ctx context.Context, f cutover.Finish) (cutover.FinishResult, error) {
	k := f.Key
	if err := checkKey(k); err != nil {
		return cutover.FinishResult{}, fmt.Errorf("embedded: finish: %w", err)
	}
	if f.Outcome == nil || f.EventID == "" || len(f.Transitions) == 0 {
		return cutover.FinishResult{}, fmt.Errorf("embedded: finish %s: outcome, event id and transitions must be set", keyString(k))
	}
	data, err := marshal(normOutcome(f.Outcome))
	if err != nil {
		return cutover.FinishResult{}, fmt.Errorf("embedded: finish %s: outcome: %w", keyString(k), err)
	}
	type result struct {
		version  int
		row      pairRow
		wrote    bool // the async side is the caller's outcome
		complete bool
	}
	res, err := write(ctx, db, func(x *wtx) (result, error) {
		// Checks: the lease is held by this epoch, the log is at Expect.
		r, ok, err := x.idem(k)
		switch {
		case err != nil:
			return result{}, err
		case !ok:
			return result{}, refuse(cutover.ErrNotFound)
		case r.epoch != f.Epoch:
			return result{}, refuse(fmt.Errorf("epoch %d, current %d: %w", f.Epoch, r.epoch, cutover.ErrFenced))
		case r.completed:
			return result{}, refuse(cutover.ErrAlreadyRecorded)
		}
		if _, err := x.checkVersion(f.EventID, f.Expect); err != nil {
			return result{}, err
		}
		var pr pairRow
		havePair, async := false, false
		if f.Pair != nil {
			pr = pairRow{eventID: f.Pair.EventID, epoch: f.Pair.Epoch}
			if havePair, err = x.queryRow(`SELECT workflow, legacy, async, created_at FROM outcomes WHERE event_id = ? AND epoch = ?`,
				[]any{pr.eventID, pr.epoch}, &pr.workflow, &pr.legacy, &pr.async, &pr.createdAt); err != nil {
				return result{}, err
			}
			async = havePair && pr.async != nil
		}
		// Writes.
		if _, err := x.exec(`UPDATE idempotency SET completed = 1, outcome = ?, lease_until = 0, updated_at = ?`+whereHeld,
			data, x.now.UnixNano(), k.Workflow, k.Step, k.Key, f.Epoch); err != nil {
			return result{}, err
		}
		res := result{version: f.Expect + len(f.Transitions), row: pr}
		for i, t := range f.Transitions {
			if _, err := x.exec(`INSERT INTO transitions (event_id, seq, kind, at, attempt, epoch, delay, detail, worker)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, transitionArgs(f.EventID, f.Expect+1+i, t, x.now)...); err != nil {
				return result{}, err
			}
		}
		switch {
		case f.Pair == nil || async: // no pair, or its async side is there already
		case !havePair:
			res.wrote = true
			res.row.workflow, res.row.createdAt, res.row.async = f.Pair.Workflow, x.now.UnixNano(), data
			_, err = x.exec(`INSERT INTO outcomes (event_id, epoch, workflow, legacy, async, created_at, complete)
				VALUES (?, ?, ?, NULL, ?, ?, 0)`, pr.eventID, pr.epoch, f.Pair.Workflow, data, res.row.createdAt)
		default:
			res.row.async, res.complete, res.wrote = data, true, true
			_, err = x.exec(`UPDATE outcomes SET async = ?, complete = 1 WHERE event_id = ? AND epoch = ?`, data, pr.eventID, pr.epoch)
		}
		return res, err
	})
	if err != nil {
		return cutover.FinishResult{}, fmt.Errorf("embedded: finish %s: %w", keyString(k), err)
	}
	out := cutover.FinishResult{Version: res.version, Complete: res.complete}
	if f.Pair != nil {
		if res.wrote {
			res.row.async = nil // the caller's outcome: no need to decode it again
		}
		if out.Pair, err = res.row.decode(); err != nil {
			return out, fmt.Errorf("embedded: finish %s: %w", keyString(k), err)
		}
		if res.wrote {
			out.Pair.Async = normOutcome(f.Outcome)
		}
	}
	return out, nil
}
