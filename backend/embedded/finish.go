package embedded

import (
	"context"
	"errors"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// finishKeySQL completes the key if epoch holds it and the event's log is at
// the expected version (logs have no gaps: the version is the last seq).
const finishKeySQL = `UPDATE OR FAIL idempotency SET completed = 1, outcome = ?, lease_until = 0, updated_at = ?` + whereHeld +
	` AND COALESCE((SELECT max(seq) FROM transitions WHERE event_id = ?), 0) = ?`

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
	data, err := encodeOutcome(f.Outcome)
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
		// Checks first, writes after: the key's update is itself the check
		// of the lease and of the log's version (it changes nothing unless
		// both hold), so a refusal has written nothing. Only then is the
		// cause looked up, the version first.
		n, err := x.exec(finishKeySQL, data, x.now.UnixNano(), k.Workflow, k.Step, k.Key, f.Epoch, f.EventID, f.Expect)
		if err != nil {
			return result{}, err
		}
		if n == 0 {
			if _, err := x.checkVersion(f.EventID, f.Expect); err != nil {
				return result{}, err
			}
			if err := x.notHeld(k, f.Epoch, cutover.ErrAlreadyRecorded); err != nil {
				return result{}, err
			}
			return result{}, errors.New("the key's update changed nothing, yet its lease and the log's version hold")
		}
		args := make([]any, 0, 9*len(f.Transitions))
		for i, t := range f.Transitions {
			args = append(args, transitionArgs(f.EventID, f.Expect+1+i, t, x.now)...)
		}
		q := x.w.multiRow(`INSERT OR FAIL INTO transitions (event_id, seq, kind, at, attempt, epoch, delay, detail, worker) VALUES `, 9, len(f.Transitions), "")
		if _, err := x.exec(q, args...); err != nil {
			return result{}, err
		}
		res := result{version: f.Expect + len(f.Transitions)}
		if f.Pair == nil {
			return res, nil
		}
		// The async side starts a new pair, or completes one the legacy
		// side started; a pair whose async side is there already is left
		// as it is. A plain insert first: it is the common case when the
		// worker finishes first, and far cheaper than an upsert with
		// RETURNING.
		pr := pairRow{eventID: f.Pair.EventID, epoch: f.Pair.Epoch, workflow: f.Pair.Workflow, createdAt: x.now.UnixNano()}
		n, err = x.exec(`INSERT OR FAIL INTO outcomes (event_id, epoch, workflow, legacy, async, created_at, complete)
			VALUES (?, ?, ?, NULL, ?, ?, 0) ON CONFLICT (event_id, epoch) DO NOTHING`,
			pr.eventID, pr.epoch, pr.workflow, data, pr.createdAt)
		if err != nil {
			return result{}, err
		}
		if n == 1 {
			res.row, res.wrote = pr, true
			return res, nil
		}
		ok, err := x.queryRow(`UPDATE OR FAIL outcomes SET async = ?, complete = 1 WHERE event_id = ? AND epoch = ? AND async IS NULL
			RETURNING workflow, legacy, created_at`,
			[]any{data, pr.eventID, pr.epoch}, &pr.workflow, &pr.legacy, &pr.createdAt)
		if err != nil {
			return result{}, err
		}
		res.row, res.wrote, res.complete = pr, ok, ok
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
