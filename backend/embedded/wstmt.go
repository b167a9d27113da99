package embedded

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
)

// The writer's statements, prepared once on the write connection and run
// through the driver interfaces.

type wstmt struct {
	s     driver.Stmt
	exec  driver.StmtExecContext
	query driver.StmtQueryContext
}

func (w *writer) stmt(q string) (*wstmt, error) {
	if s, ok := w.stmts[q]; ok {
		return s, nil
	}
	p, ok := w.dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, errors.New("sqlite driver lacks PrepareContext")
	}
	ds, err := p.PrepareContext(context.Background(), q)
	if err != nil {
		return nil, err
	}
	s := &wstmt{s: ds}
	s.exec, _ = ds.(driver.StmtExecContext)
	s.query, _ = ds.(driver.StmtQueryContext)
	if s.exec == nil || s.query == nil {
		_ = ds.Close()
		return nil, errors.New("sqlite driver statements lack ExecContext or QueryContext")
	}
	w.stmts[q] = s
	return s, nil
}

// bind converts args into the writer's reusable argument slice.
func (w *writer) bind(args []any) ([]driver.NamedValue, error) {
	nv := w.args[:0]
	for i, a := range args {
		var v driver.Value
		switch a := a.(type) {
		case nil, string, int64, float64, bool:
			v = a
		case []byte:
			if a != nil {
				v = a
			}
		case int:
			v = int64(a)
		case int32:
			v = int64(a)
		default:
			return nil, fmt.Errorf("argument %d: unsupported type %T", i+1, a)
		}
		nv = append(nv, driver.NamedValue{Ordinal: i + 1, Value: v})
	}
	w.args = nv
	return nv, nil
}

func (w *writer) exec(q string, args ...any) (int64, error) {
	s, err := w.stmt(q)
	if err != nil {
		return 0, err
	}
	nv, err := w.bind(args)
	if err != nil {
		return 0, err
	}
	res, err := s.exec.ExecContext(context.Background(), nv)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// query runs q and calls fn with the values of each row; fn must not keep
// the slice (byte slices in it are its own).
func (w *writer) query(q string, args []any, fn func(vals []driver.Value) error) error {
	s, err := w.stmt(q)
	if err != nil {
		return err
	}
	nv, err := w.bind(args)
	if err != nil {
		return err
	}
	rows, err := s.query.QueryContext(context.Background(), nv)
	if err != nil {
		return err
	}
	defer rows.Close()
	if n := len(rows.Columns()); cap(w.row) < n {
		w.row = make([]driver.Value, n)
	} else {
		w.row = w.row[:n]
	}
	for {
		if err := rows.Next(w.row); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := fn(w.row); err != nil {
			return err
		}
	}
}

func (x *wtx) exec(q string, args ...any) (int64, error) { return x.w.exec(q, args...) }

func (x *wtx) query(q string, args []any, fn func(vals []driver.Value) error) error {
	return x.w.query(q, args, fn)
}

// queryRow scans the first row of q into dest; ok is false if there is none.
func (x *wtx) queryRow(q string, args []any, dest ...any) (ok bool, err error) {
	err = x.w.query(q, args, func(vals []driver.Value) error {
		if ok {
			return nil
		}
		ok = true
		return scan(vals, dest...)
	})
	return ok && err == nil, err
}

// scan stores vals into dest, the few types the writer's queries read.
// NULL leaves zero values.
func scan(vals []driver.Value, dest ...any) error {
	if len(vals) != len(dest) {
		return fmt.Errorf("scan: %d columns into %d destinations", len(vals), len(dest))
	}
	for i, v := range vals {
		ok := true
		switch d := dest[i].(type) {
		case *string:
			switch v := v.(type) {
			case string:
				*d = v
			case []byte:
				*d = string(v)
			case nil:
				*d = ""
			default:
				ok = false
			}
		case *[]byte:
			switch v := v.(type) {
			case []byte:
				*d = v // the driver returns a fresh copy
			case string:
				*d = []byte(v)
			case nil:
				*d = nil
			default:
				ok = false
			}
		case *int64:
			*d, ok = asInt(v)
		case *int:
			n, isInt := asInt(v)
			*d, ok = int(n), isInt
		case *bool:
			n, isInt := asInt(v)
			*d, ok = n != 0, isInt
		default:
			return fmt.Errorf("scan: column %d: unsupported destination %T", i, d)
		}
		if !ok {
			return fmt.Errorf("scan: column %d: cannot store a %T into %T", i, v, dest[i])
		}
	}
	return nil
}

func asInt(v driver.Value) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case nil:
		return 0, true
	}
	return 0, false
}
