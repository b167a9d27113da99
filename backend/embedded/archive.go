package embedded

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cutover-dev/cutover"
)

const (
	archiveChunk       = 32
	defaultEventsLimit = 1000
)

// Archive stores events; an id stored before is left as it is.
func (db *DB) Archive(ctx context.Context, evs ...*cutover.Event) error {
	if len(evs) == 0 {
		return nil
	}
	// Encode in the caller's goroutine: the writer only copies bytes.
	args := make([]any, 0, eventCols*len(evs))
	for _, e := range evs {
		row, err := eventRow(e, nil)
		if err != nil {
			return fmt.Errorf("embedded: archive: %w", err)
		}
		args = append(args, row...)
	}
	_, err := write(ctx, db, func(x *wtx) (struct{}, error) {
		return struct{}{}, x.insertEvents(args)
	})
	if err != nil {
		return fmt.Errorf("embedded: archive: %w", err)
	}
	return nil
}

// eventCols is the number of values eventRow returns.
const eventCols = 6

// eventRow checks e and returns its events row: id, workflow, step,
// correlation id, receive time and encoding (encoded, if not nil, is
// EncodeEvent(e) made by the caller already).
func eventRow(e *cutover.Event, encoded []byte) ([]any, error) {
	if e == nil {
		return nil, fmt.Errorf("nil event")
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", e.ID, err)
	}
	c := *e
	c.ReceivedAt = c.ReceivedAt.UTC()
	data := encoded
	if data == nil {
		var err error
		if data, err = cutover.EncodeEvent(&c); err != nil {
			return nil, err
		}
	}
	return []any{c.ID, c.Workflow, c.Step, c.CorrelationID, c.ReceivedAt.UnixNano(), data}, nil
}

// insertEvents inserts eventRow rows; an id stored before is left as it is.
func (x *wtx) insertEvents(args []any) error {
	n := len(args) / eventCols
	for start := 0; start < n; start += archiveChunk {
		k := min(archiveChunk, n-start)
		q := x.w.multiRow(`INSERT OR FAIL INTO events (id, workflow, step, correlation_id, received_at, data) VALUES `, eventCols, k,
			` ON CONFLICT (id) DO NOTHING`)
		if _, err := x.exec(q, args[eventCols*start:eventCols*(start+k)]...); err != nil {
			return err
		}
	}
	return nil
}

// Event returns the archived event id, or ErrNotFound.
func (db *DB) Event(ctx context.Context, id string) (*cutover.Event, error) {
	var data []byte
	ok, err := db.readRow(ctx, `SELECT data FROM events WHERE id = ?`, []any{id}, &data)
	if err == nil && !ok {
		// It may wait in an envelope (Intake).
		if err = db.settle(ctx, time.Time{}); err == nil {
			ok, err = db.readRow(ctx, `SELECT data FROM events WHERE id = ?`, []any{id}, &data)
		}
	}
	if err == nil && !ok {
		err = cutover.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: event %s: %w", id, err)
	}
	e, err := cutover.DecodeEvent(data)
	if err != nil {
		return nil, fmt.Errorf("embedded: event %s: %w", id, err)
	}
	return e, nil
}

// Events returns the archived events q selects, ordered by id. ReceivedAt
// is filtered on [Since, Until).
func (db *DB) Events(ctx context.Context, q cutover.EventQuery) ([]*cutover.Event, error) {
	if err := db.settle(ctx, time.Time{}); err != nil {
		return nil, fmt.Errorf("embedded: events: %w", err)
	}
	var f filter
	f.eq("workflow", q.Workflow)
	f.eq("step", q.Step)
	f.eq("correlation_id", q.CorrelationID)
	f.between("received_at", q.Since, q.Until)
	if q.AfterID != "" {
		f.add("id > ?", q.AfterID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultEventsLimit
	}
	sqlText, args := f.query(`SELECT data FROM events`, "id", limit)

	var evs []*cutover.Event
	err := db.readRows(ctx, sqlText, args, func(rows *sql.Rows) error {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return err
		}
		e, err := cutover.DecodeEvent(data)
		if err != nil {
			return err
		}
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: events: %w", err)
	}
	return evs, nil
}
