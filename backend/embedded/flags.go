package embedded

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// Flags returns every flag, ordered by workflow.
func (db *DB) Flags(ctx context.Context) ([]cutover.Flag, error) {
	var fs []cutover.Flag
	err := db.readRows(ctx, `SELECT data FROM flags ORDER BY workflow`, nil, func(rows *sql.Rows) error {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return err
		}
		var f cutover.Flag
		if err := json.Unmarshal(data, &f); err != nil {
			return err
		}
		fs = append(fs, f)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: flags: %w", err)
	}
	return fs, nil
}

// Flag returns the flag of workflow, or ErrNotFound.
func (db *DB) Flag(ctx context.Context, workflow string) (cutover.Flag, error) {
	var data []byte
	ok, err := db.readRow(ctx, `SELECT data FROM flags WHERE workflow = ?`, []any{workflow}, &data)
	if err == nil && !ok {
		err = cutover.ErrNotFound
	}
	var f cutover.Flag
	if err == nil {
		err = json.Unmarshal(data, &f)
	}
	if err != nil {
		return cutover.Flag{}, fmt.Errorf("embedded: flag %s: %w", workflow, err)
	}
	return f, nil
}

// SetFlag writes f if the stored version is f.Version-1 (0: no flag yet) and
// appends change to the history, both or neither. change.Workflow and
// change.Version are set from f; a zero change.At from f.UpdatedAt.
func (db *DB) SetFlag(ctx context.Context, f cutover.Flag, change cutover.FlagChange) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("embedded: set flag: %w", err)
	}
	f.UpdatedAt = f.UpdatedAt.UTC()
	change.Workflow, change.Version = f.Workflow, f.Version
	if change.At.IsZero() {
		change.At = f.UpdatedAt
	}
	change.At = change.At.UTC()
	fdata, err := marshal(f)
	if err != nil {
		return fmt.Errorf("embedded: set flag %s: %w", f.Workflow, err)
	}
	cdata, err := marshal(change)
	if err != nil {
		return fmt.Errorf("embedded: set flag %s: history: %w", f.Workflow, err)
	}
	_, err = write(ctx, db, func(x *wtx) (struct{}, error) {
		var cur int64
		if _, err := x.queryRow(`SELECT version FROM flags WHERE workflow = ?`, []any{f.Workflow}, &cur); err != nil {
			return struct{}{}, err
		}
		if cur != f.Version-1 {
			return struct{}{}, refuse(fmt.Errorf("stored version %d, write of version %d: %w", cur, f.Version, cutover.ErrVersionConflict))
		}
		if _, err := x.exec(`INSERT INTO flags (workflow, version, data) VALUES (?, ?, ?)
			ON CONFLICT (workflow) DO UPDATE SET version = excluded.version, data = excluded.data`,
			f.Workflow, f.Version, fdata); err != nil {
			return struct{}{}, err
		}
		_, err := x.exec(`INSERT INTO flag_history (workflow, version, data) VALUES (?, ?, ?)`, f.Workflow, f.Version, cdata)
		return struct{}{}, err
	})
	if err != nil {
		return fmt.Errorf("embedded: set flag %s: %w", f.Workflow, err)
	}
	return nil
}

// FlagHistory returns the changes of workflow's flag, oldest first.
func (db *DB) FlagHistory(ctx context.Context, workflow string) ([]cutover.FlagChange, error) {
	var cs []cutover.FlagChange
	err := db.readRows(ctx, `SELECT data FROM flag_history WHERE workflow = ? ORDER BY version`, []any{workflow}, func(rows *sql.Rows) error {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return err
		}
		var c cutover.FlagChange
		if err := json.Unmarshal(data, &c); err != nil {
			return err
		}
		cs = append(cs, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("embedded: flag history %s: %w", workflow, err)
	}
	return cs, nil
}
