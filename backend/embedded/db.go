package embedded

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cutover-dev/cutover"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// pageSize is the page size of new files.
const pageSize = 8192

// ErrClosed is returned by every call on a closed *DB. It wraps
// cutover.ErrUnavailable.
var ErrClosed = fmt.Errorf("embedded: database is closed: %w", cutover.ErrUnavailable)

// DB is one open SQLite file. It implements every store interface of the
// cutover package; Stores bundles them.
type DB struct {
	opts Options

	wdb *sql.DB // holds the single write connection
	w   *writer
	rdb *sql.DB // read-only pool

	rmu     sync.RWMutex // guards rstmts and rclosed
	rstmts  map[string]*sql.Stmt
	rclosed bool

	mu      sync.RWMutex // guards closed against submits racing Close
	closed  bool
	closing chan struct{} // closed when Close starts: ends long polls

	wake wakeups
}

// Compile-time checks that *DB implements every store.
var (
	_ cutover.Queue            = (*DB)(nil)
	_ cutover.IdempotencyStore = (*DB)(nil)
	_ cutover.TransitionLog    = (*DB)(nil)
	_ cutover.EventArchive     = (*DB)(nil)
	_ cutover.OutcomeStore     = (*DB)(nil)
	_ cutover.ComparisonStore  = (*DB)(nil)
	_ cutover.BlobStore        = (*DB)(nil)
	_ cutover.FlagStore        = (*DB)(nil)
)

// Open opens (creating if needed) the SQLite file at o.Path, brings its
// schema up to date and starts the writer.
func Open(ctx context.Context, o Options) (_ *DB, err error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	var undo []func() error // closes what is open so far if Open fails
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				_ = undo[i]()
			}
			err = fmt.Errorf("embedded: open %s: %w", o.Path, err)
		}
	}()

	dir := filepath.Dir(o.Path)
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("directory %s: %w", dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	if st, err := os.Stat(o.Path); err == nil && st.IsDir() {
		return nil, errors.New("the path is a directory")
	}

	busyMS := strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)
	// FULL fsyncs the WAL at every commit: a group commit's callers share
	// one fsync, and the ops arriving meanwhile gather into the next one.
	syncMode := "FULL"
	if o.Durability == DurabilityNormal {
		syncMode = "NORMAL"
	}
	wdb, err := sql.Open("sqlite", dsn(o.Path,
		"busy_timeout("+busyMS+")",
		"synchronous("+syncMode+")",
		"cache_size(-8192)", // KiB
		"temp_store(MEMORY)",
	))
	if err != nil {
		return nil, err
	}
	undo = append(undo, wdb.Close)
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)

	conn, err := wdb.Conn(ctx)
	if err != nil {
		return nil, explain(err)
	}
	undo = append(undo, conn.Close)
	// The page size takes effect only on a new file, before WAL mode is set.
	if _, err := conn.ExecContext(ctx, "PRAGMA page_size = "+strconv.Itoa(pageSize)); err != nil {
		return nil, explain(err)
	}
	// Two processes opening a new file at once can meet SQLITE_BUSY where
	// SQLite does not call the busy handler (switching the journal to WAL):
	// wait and try again, within the busy timeout.
	for deadline := time.Now().Add(o.BusyTimeout); ; {
		err := setUp(ctx, conn)
		if err == nil {
			break
		}
		if !isBusy(err) || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}

	rdb, err := sql.Open("sqlite", dsn(o.Path,
		"busy_timeout("+busyMS+")",
		"query_only(1)",
		"cache_size(-8192)",
	))
	if err != nil {
		return nil, err
	}
	undo = append(undo, rdb.Close)
	rdb.SetMaxOpenConns(o.ReadConns)
	rdb.SetMaxIdleConns(o.ReadConns)
	rdb.SetConnMaxLifetime(0)
	rdb.SetConnMaxIdleTime(0)
	if err := rdb.PingContext(ctx); err != nil {
		return nil, explain(err)
	}

	db := &DB{
		opts:    o,
		wdb:     wdb,
		rdb:     rdb,
		w:       newWriter(conn, o.MaxBatch, o.BusyTimeout),
		rstmts:  map[string]*sql.Stmt{},
		closing: make(chan struct{}),
		wake:    wakeups{chans: map[string]chan struct{}{}},
	}
	go db.w.loop()
	return db, nil
}

// Stores returns the stores of db. Its Close closes db.
func (db *DB) Stores() cutover.Stores {
	return cutover.Stores{
		Queue:       db,
		Idempotency: db,
		Transitions: db,
		Archive:     db,
		Outcomes:    db,
		Comparisons: db,
		Blobs:       db,
		Flags:       db,
		Close:       db.Close,
	}
}

// Stats reports the writer's counters.
func (db *DB) Stats() WriterStats { return db.w.stats() }

// Path is the file db was opened on.
func (db *DB) Path() string { return db.opts.Path }

// Close refuses new calls, lets the writer finish every operation already
// submitted, then closes the connections. Long-polling receives return
// ErrClosed. Closing twice is a no-op.
func (db *DB) Close() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return nil
	}
	db.closed = true
	close(db.closing)
	close(db.w.ops)
	db.mu.Unlock()

	<-db.w.done
	var errs []error
	db.rmu.Lock()
	db.rclosed = true
	for _, s := range db.rstmts {
		errs = append(errs, s.Close())
	}
	db.rmu.Unlock()
	errs = append(errs, db.w.conn.Close(), db.wdb.Close(), db.rdb.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("embedded: close: %w", err)
	}
	return nil
}

// rstmt returns the prepared statement for q on the read pool.
func (db *DB) rstmt(ctx context.Context, q string) (*sql.Stmt, error) {
	db.rmu.RLock()
	s, ok := db.rstmts[q]
	closed := db.rclosed
	db.rmu.RUnlock()
	switch {
	case closed:
		return nil, ErrClosed
	case ok:
		return s, nil
	}
	db.rmu.Lock()
	defer db.rmu.Unlock()
	if db.rclosed {
		return nil, ErrClosed
	}
	if s, ok := db.rstmts[q]; ok {
		return s, nil
	}
	s, err := db.rdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	db.rstmts[q] = s
	return s, nil
}

// readRow scans the single row of q into dest; ok is false if there is none.
func (db *DB) readRow(ctx context.Context, q string, args []any, dest ...any) (ok bool, err error) {
	s, err := db.rstmt(ctx, q)
	if err != nil {
		return false, err
	}
	err = s.QueryRowContext(ctx, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// readRows runs q on the read pool; each row is passed to scan.
func (db *DB) readRows(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) error {
	s, err := db.rstmt(ctx, q)
	if err != nil {
		return err
	}
	rows, err := s.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func dsn(path string, pragmas ...string) string {
	v := url.Values{}
	for _, p := range pragmas {
		v.Add("_pragma", p)
	}
	return path + "?" + v.Encode()
}

// explain adds what a user can do about the SQLite errors Open meets.
func explain(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("not an SQLite database (corrupt, or another kind of file): %w", err)
	case sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("the database file is corrupt: %w", err)
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY:
		return fmt.Errorf("cannot open the file for writing (check permissions of the file and its directory): %w", err)
	}
	return err
}

// setUp puts the file in WAL mode and brings its schema up to date.
func setUp(ctx context.Context, conn *sql.Conn) error {
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return explain(err)
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal (is the file on a filesystem without shared memory?)", mode)
	}
	if err := migrate(ctx, conn); err != nil {
		return fmt.Errorf("schema: %w", explain(err))
	}
	return nil
}

func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
