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
		// Checks first, writes after: the log's version is read, and the
		// key's update is itself the lease check (it changes nothing when
		// the epoch is not the holder), so a refusal has written nothing.
		if _, err := x.checkVersion(f.EventID, f.Expect); err != nil {
			return result{}, err
		}
		if err := x.held(k, f.Epoch, cutover.ErrAlreadyRecorded,
			`UPDATE idempotency SET completed = 1, outcome = ?, lease_until = 0, updated_at = ?`+whereHeld, data, x.now.UnixNano()); err != nil {
			return result{}, err
		}
		args := make([]any, 0, 9*len(f.Transitions))
		for i, t := range f.Transitions {
			args = append(args, transitionArgs(f.EventID, f.Expect+1+i, t, x.now)...)
		}
		q := x.w.multiRow(`INSERT INTO transitions (event_id, seq, kind, at, attempt, epoch, delay, detail, worker) VALUES `, 9, len(f.Transitions), "")
		if _, err := x.exec(q, args...); err != nil {
			return result{}, err
		}
		res := result{version: f.Expect + len(f.Transitions)}
		if f.Pair == nil {
			return res, nil
		}
		// One statement records the async side: a new pair, or the second
		// side of one the legacy side started; a pair whose async side is
		// there already returns no row and is left as it is.
		pr := pairRow{eventID: f.Pair.EventID, epoch: f.Pair.Epoch}
		var complete int64
		ok, err := x.queryRow(`INSERT INTO outcomes (event_id, epoch, workflow, legacy, async, created_at, complete)
			VALUES (?, ?, ?, NULL, ?, ?, 0)
			ON CONFLICT (event_id, epoch) DO UPDATE SET async = excluded.async, complete = 1 WHERE outcomes.async IS NULL
			RETURNING workflow, legacy, created_at, complete`,
			[]any{pr.eventID, pr.epoch, f.Pair.Workflow, data, x.now.UnixNano()}, &pr.workflow, &pr.legacy, &pr.createdAt, &complete)
		if err != nil {
			return result{}, err
		}
		res.row, res.wrote, res.complete = pr, ok, ok && complete == 1
		return res, nil
	})
	if err != nil {
		return cutover.FinishResult{}, fmt.Errorf("embedded: finish %s: %w", keyString(k), err)
	}
	out := cutover.FinishResult{Version: res.version, Complete: res.complete}
	if f.Pair != nil && res.wrote {
		if out.Pair, err = res.row.decode(); err != nil {
			return out, fmt.Errorf("embedded: finish %s: %w", keyString(k), err)
		}
		out.Pair.Async = normOutcome(f.Outcome)
	}
	return out, nil
}
