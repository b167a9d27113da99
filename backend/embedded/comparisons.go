package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cutover-dev/cutover"
)

const defaultComparisonsLimit = 1000

// SaveComparison stores c and folds it into its workflow/epoch/minute
// aggregate in the same transaction. ErrAlreadyRecorded, changing nothing,
// if (EventID, Epoch) was compared before. A zero ComparedAt is set to now.
func (db *DB) SaveComparison(ctx context.Context, c *cutover.Comparison) error {
	if c == nil || c.EventID == "" || c.Workflow == "" {
		return errors.New("embedded: save comparison: event id and workflow must be set")
	}
	if !c.Verdict.Valid() {
		return fmt.Errorf("embedded: save comparison %s/%d: verdict %q is unknown", c.EventID, c.Epoch, c.Verdict)
	}
	cc := *c
	if cc.ComparedAt.IsZero() {
		cc.ComparedAt = time.Now()
	}
	cc.ComparedAt = cc.ComparedAt.UTC()
	data, err := marshal(&cc)
	if err != nil {
		return fmt.Errorf("embedded: save comparison %s/%d: %w", c.EventID, c.Epoch, err)
	}
	key := aggKey{workflow: cc.Workflow, epoch: cc.Epoch, minute: cutover.MinuteOf(cc.ComparedAt).UnixNano()}
	_, err = write(ctx, db, func(x *wtx) (struct{}, error) {
		n, err := x.exec(`INSERT INTO comparisons (event_id, epoch, workflow, verdict, compared_at, data) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT DO NOTHING`, cc.EventID, cc.Epoch, cc.Workflow, string(cc.Verdict), cc.ComparedAt.UnixNano(), data)
		if err != nil {
			return struct{}{}, err
		}
		if n == 0 {
			return struct{}{}, refuse(cutover.ErrAlreadyRecorded)
		}
		e, err := x.aggregate(key)
		if err != nil {
			return struct{}{}, err
		}
		e.agg.Add(&cc)
		e.dirty = true
		return struct{}{}, nil
	})
	if err != nil {
		return fmt.Errorf("embedded: save comparison %s/%d: %w", c.EventID, c.Epoch, err)
	}
	return nil
}

// Comparison returns the comparison of eventID in epoch, or ErrNotFound.
func (db *DB) Comparison(ctx context.Context, eventID string, epoch int) (*cutover.Comparison, error) {
	var data []byte
	ok, err := db.readRow(ctx, `SELECT data FROM comparisons WHERE event_id = ? AND epoch = ?`, []any{eventID, epoch}, &data)
	if err == nil && !ok {
		err = cutover.ErrNotFound
	}
	c := new(cutover.Comparison)
	if err == nil {
		err = json.Unmarshal(data, c)
	}
	if err != nil {
		return nil, fmt.Errorf("embedded: comparison %s/%d: %w", eventID, epoch, err)
	}
	return c, nil
}

// Comparisons returns the comparisons q selects, ordered by event id and
// epoch. ComparedAt is filtered on [Since, Until).
func (db *DB) Comparisons(ctx context.Context, q cutover.ComparisonQuery) ([]*cutover.Comparison, error) {
	var f filter
	f.eq("workflow", q.Workflow)
	f.eq("verdict", string(q.Verdict))
	if q.Epoch >= 0 {
		f.add("epoch = ?", q.Epoch)
	}
	f.between("compared_at", q.Since, q.Until)
	if q.AfterID != "" {
		f.add("event_id > ?", q.AfterID)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultComparisonsLimit
	}
	text, args := f.query(`SELECT data FROM comparisons`, "event_id, epoch", limit)

	var cs []*cutover.Comparison
	err := db.readRows(ctx, text, args, func(rows *sql.Rows) error {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return err
		}
		c := new(cutover.Comparison)
		if err := json.Unmarshal(data, c); err != nil {
			return err
		}
		cs = append(cs, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: comparisons: %w", err)
	}
	return cs, nil
}

// Aggregates returns the aggregates of workflow (all if empty) whose minute
// is in [since, until), ordered by workflow, epoch, minute. A zero bound
// does not filter.
func (db *DB) Aggregates(ctx context.Context, workflow string, since, until time.Time) ([]*cutover.Aggregate, error) {
	var where []string
	var args []any
	if workflow != "" {
		where, args = append(where, "workflow = ?"), append(args, workflow)
	}
	if !since.IsZero() {
		where, args = append(where, "minute >= ?"), append(args, since.UnixNano())
	}
	if !until.IsZero() {
		where, args = append(where, "minute < ?"), append(args, until.UnixNano())
	}
	text := `SELECT data FROM aggregates`
	if len(where) > 0 {
		text += ` WHERE ` + strings.Join(where, " AND ")
	}
	text += ` ORDER BY workflow, epoch, minute`
	var as []*cutover.Aggregate
	err := db.readRows(ctx, text, args, func(rows *sql.Rows) error {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return err
		}
		a := new(cutover.Aggregate)
		if err := json.Unmarshal(data, a); err != nil {
			return err
		}
		as = append(as, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: aggregates: %w", err)
	}
	return as, nil
}
