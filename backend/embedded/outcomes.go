package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover"
)

const defaultUnpairedLimit = 1000

// pairRow is an outcome pair as stored, sides undecoded.
type pairRow struct {
	eventID, workflow string
	epoch             int
	legacy, async     []byte
	createdAt         int64
}

func (r *pairRow) decode() (cutover.OutcomePair, error) {
	p := cutover.OutcomePair{EventID: r.eventID, Epoch: r.epoch, Workflow: r.workflow, CreatedAt: fromNanos(r.createdAt)}
	for _, side := range []struct {
		data []byte
		dst  **cutover.Outcome
	}{{r.legacy, &p.Legacy}, {r.async, &p.Async}} {
		if side.data == nil {
			continue
		}
		*side.dst = new(cutover.Outcome)
		if err := json.Unmarshal(side.data, *side.dst); err != nil {
			return cutover.OutcomePair{}, fmt.Errorf("stored outcome: %w", err)
		}
	}
	return p, nil
}

type putResult struct {
	row      pairRow
	complete bool
}

// PutOutcome records one side of the pair. The check that the side is
// missing and the write happen in one writer op, so exactly one caller per
// pair sees complete. Recording a side twice is ErrAlreadyRecorded (the
// stored pair is returned with it). The pair returned on success holds a
// shallow copy of o as its side.
func (db *DB) PutOutcome(ctx context.Context, workflow, eventID string, epoch int, side cutover.Side, o *cutover.Outcome) (cutover.OutcomePair, bool, error) {
	if side != cutover.SideLegacy && side != cutover.SideAsync {
		return cutover.OutcomePair{}, false, fmt.Errorf("embedded: put outcome %s/%d: side %q is unknown (want legacy or async)", eventID, epoch, side)
	}
	if o == nil || eventID == "" {
		return cutover.OutcomePair{}, false, fmt.Errorf("embedded: put outcome %s/%d: event id and outcome must be set", eventID, epoch)
	}
	data, err := encodeOutcome(o)
	if err != nil {
		return cutover.OutcomePair{}, false, fmt.Errorf("embedded: put outcome %s/%d: %w", eventID, epoch, err)
	}
	res, err := write(ctx, db, func(x *wtx) (putResult, error) {
		r := pairRow{eventID: eventID, epoch: epoch}
		ok, err := x.queryRow(`SELECT workflow, legacy, async, created_at FROM outcomes WHERE event_id = ? AND epoch = ?`,
			[]any{eventID, epoch}, &r.workflow, &r.legacy, &r.async, &r.createdAt)
		if err != nil {
			return putResult{}, err
		}
		mine := &r.legacy
		if side == cutover.SideAsync {
			mine = &r.async
		}
		if !ok { // the first side creates the pair
			r.workflow, r.createdAt, *mine = workflow, x.now.UnixNano(), data
			_, err := x.exec(`INSERT OR FAIL INTO outcomes (event_id, epoch, workflow, legacy, async, created_at, complete)
				VALUES (?, ?, ?, ?, ?, ?, 0)`, eventID, epoch, workflow, r.legacy, r.async, r.createdAt)
			return putResult{row: r}, err
		}
		if *mine != nil {
			return putResult{row: r}, refuse(fmt.Errorf("%s side: %w", side, cutover.ErrAlreadyRecorded))
		}
		// The second side completes it. Check and write are one op, so
		// exactly one caller sees the pair complete.
		*mine = data
		_, err = x.exec(`UPDATE outcomes SET `+string(side)+` = ?, complete = 1 WHERE event_id = ? AND epoch = ?`,
			data, eventID, epoch)
		return putResult{row: r, complete: true}, err
	})
	// The side just written is the caller's outcome: hand that back
	// rather than decode it again.
	written := err == nil
	if written {
		if side == cutover.SideLegacy {
			res.row.legacy = nil
		} else {
			res.row.async = nil
		}
	}
	var pair cutover.OutcomePair
	if res.row.eventID != "" {
		var derr error
		if pair, derr = res.row.decode(); derr != nil && err == nil {
			err = derr
		}
	}
	if err != nil {
		return pair, false, fmt.Errorf("embedded: put outcome %s/%d: %w", eventID, epoch, err)
	}
	if side == cutover.SideLegacy {
		pair.Legacy = normOutcome(o)
	} else {
		pair.Async = normOutcome(o)
	}
	return pair, res.complete, nil
}

// OutcomePair returns the pair of eventID in epoch, or ErrNotFound.
func (db *DB) OutcomePair(ctx context.Context, eventID string, epoch int) (cutover.OutcomePair, error) {
	r := pairRow{eventID: eventID, epoch: epoch}
	read := func() (bool, error) {
		return db.readRow(ctx, `SELECT workflow, legacy, async, created_at FROM outcomes WHERE event_id = ? AND epoch = ?`,
			[]any{eventID, epoch}, &r.workflow, &r.legacy, &r.async, &r.createdAt)
	}
	ok, err := read()
	if err == nil && !ok {
		// Its legacy side may wait in an envelope (Intake).
		if err = db.settle(ctx, time.Time{}); err == nil {
			ok, err = read()
		}
	}
	if err == nil && !ok {
		err = cutover.ErrNotFound
	}
	var p cutover.OutcomePair
	if err == nil {
		p, err = r.decode()
	}
	if err != nil {
		return cutover.OutcomePair{}, fmt.Errorf("embedded: outcome pair %s/%d: %w", eventID, epoch, err)
	}
	return p, nil
}

// Unpaired lists one-sided pairs whose first side arrived before `before`,
// oldest first.
func (db *DB) Unpaired(ctx context.Context, before time.Time, limit int) ([]cutover.OutcomePair, error) {
	if limit <= 0 {
		limit = defaultUnpairedLimit
	}
	// Only envelopes old enough to hold such pairs: a pair starts when
	// its envelope was taken in.
	if err := db.settle(ctx, before); err != nil {
		return nil, fmt.Errorf("embedded: unpaired: %w", err)
	}
	var ps []cutover.OutcomePair
	err := db.readRows(ctx, `SELECT event_id, epoch, workflow, legacy, async, created_at FROM outcomes
		WHERE complete = 0 AND created_at < ? ORDER BY created_at, event_id, epoch LIMIT ?`,
		[]any{before.UnixNano(), limit}, func(rows *sql.Rows) error {
			var r pairRow
			if err := rows.Scan(&r.eventID, &r.epoch, &r.workflow, &r.legacy, &r.async, &r.createdAt); err != nil {
				return err
			}
			p, err := r.decode()
			if err != nil {
				return err
			}
			ps = append(ps, p)
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("embedded: unpaired: %w", err)
	}
	return ps, nil
}
