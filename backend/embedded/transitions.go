package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover"
)

const transitionChunk = 32

// Append adds ts after the expect-th entry of the event's log and returns the
// new version. ErrVersionConflict, writing nothing, if the log is not at
// expect. The stored entries get their Seq, and the time of the append when
// At is zero; ts itself is not modified.
func (db *DB) Append(ctx context.Context, eventID string, expect int, ts ...cutover.Transition) (int, error) {
	if eventID == "" {
		return 0, errors.New("embedded: append: event id is empty")
	}
	if expect < 0 {
		return 0, fmt.Errorf("embedded: append %s: version %d is negative", eventID, expect)
	}
	v, err := write(ctx, db, func(x *wtx) (int, error) {
		if len(ts) == 0 {
			return x.checkVersion(eventID, expect)
		}
		// The first entry goes in only if the log is at expect. At 0 (the
		// common case, a new event) the insert itself is the check: logs
		// have no gaps, so entry 1 exists if the log has moved on.
		first := transitionArgs(eventID, expect+1, ts[0], x.now)
		if expect > 0 {
			if _, err := x.checkVersion(eventID, expect); err != nil {
				return 0, err
			}
		}
		n, err := x.exec(`INSERT OR FAIL INTO transitions (event_id, seq, kind, at, attempt, epoch, delay, detail, worker)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, first...)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			cur, err := x.version(eventID)
			if err != nil {
				return 0, err
			}
			return cur, refuse(fmt.Errorf("at version %d, not %d: %w", cur, expect, cutover.ErrVersionConflict))
		}
		rest := ts[1:]
		for start := 0; start < len(rest); start += transitionChunk {
			chunk := rest[start:min(start+transitionChunk, len(rest))]
			args := make([]any, 0, 9*len(chunk))
			for i, t := range chunk {
				args = append(args, transitionArgs(eventID, expect+2+start+i, t, x.now)...)
			}
			q := x.w.multiRow(`INSERT OR FAIL INTO transitions (event_id, seq, kind, at, attempt, epoch, delay, detail, worker) VALUES `, 9, len(chunk), "")
			if _, err := x.exec(q, args...); err != nil {
				return 0, err
			}
		}
		return expect + len(ts), nil
	})
	if err != nil {
		return v, fmt.Errorf("embedded: append %s: %w", eventID, err)
	}
	return v, nil
}

func transitionArgs(eventID string, seq int, t cutover.Transition, now time.Time) []any {
	at := t.At
	if at.IsZero() {
		at = now
	}
	return []any{eventID, seq, string(t.Kind), at.UnixNano(), t.Attempt, t.Epoch, int64(t.Delay), t.Detail, t.Worker}
}

// version reads the version of an event's log inside the write transaction.
func (x *wtx) version(eventID string) (int, error) {
	var cur int
	_, err := x.queryRow(`SELECT seq FROM transitions WHERE event_id = ? ORDER BY seq DESC LIMIT 1`, []any{eventID}, &cur)
	return cur, err
}

// checkVersion is an append of nothing: it only checks the version.
func (x *wtx) checkVersion(eventID string, expect int) (int, error) {
	cur, err := x.version(eventID)
	if err == nil && cur != expect {
		err = refuse(fmt.Errorf("at version %d, not %d: %w", cur, expect, cutover.ErrVersionConflict))
	}
	return cur, err
}

// History returns the event's transitions in order; none (and no error) for
// an unknown event.
func (db *DB) History(ctx context.Context, eventID string) ([]cutover.Transition, error) {
	ts, err := db.history(ctx, eventID)
	if err == nil && len(ts) == 0 {
		// Its start may wait in an envelope (Intake).
		if err = db.settle(ctx, time.Time{}); err == nil {
			ts, err = db.history(ctx, eventID)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: history %s: %w", eventID, err)
	}
	return ts, nil
}

func (db *DB) history(ctx context.Context, eventID string) ([]cutover.Transition, error) {
	var ts []cutover.Transition
	err := db.readRows(ctx, `SELECT seq, kind, at, attempt, epoch, delay, detail, worker FROM transitions
		WHERE event_id = ? ORDER BY seq`, []any{eventID}, func(rows *sql.Rows) error {
		var t cutover.Transition
		var at, delay int64
		if err := rows.Scan(&t.Seq, &t.Kind, &at, &t.Attempt, &t.Epoch, &delay, &t.Detail, &t.Worker); err != nil {
			return err
		}
		t.At, t.Delay = fromNanos(at), cutover.Duration(delay)
		ts = append(ts, t)
		return nil
	})
	return ts, err
}
