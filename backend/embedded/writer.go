package embedded

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover"
)

// An op is one write operation submitted to the writer. fn runs inside the
// batch transaction; it may run more than once (when its batch is retried
// one op per transaction), so it must derive its result only from what it
// reads and writes in x.
type op struct {
	ctx  context.Context
	fn   func(x *wtx) (any, error)
	res  any
	err  error
	done chan struct{}
}

// Statements of frequent ops say OR FAIL. A failed statement leaves its
// earlier changes in place instead of undoing them, so SQLite keeps no
// statement journal (a copy of every page a multi-row statement touches):
// every statement error fails its op, and the writer rolls back the whole
// transaction then, so a statement never needs undoing on its own.

// refusal marks an op's error as a clean refusal: the op checked a
// condition and wrote nothing, so its batch goes on. Any other error from an
// op is unexpected and makes the writer retry the batch one op at a time.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }

// refuse wraps err as a refusal. An op returns it only before its first write.
func refuse(err error) error { return &refusal{err: err} }

// WriterStats counts the writer's work since Open.
type WriterStats struct {
	// Commits is the number of transactions committed.
	Commits int64
	// Ops is the number of write operations answered (applied, refused or
	// failed).
	Ops int64
	// Retries counts batches re-run one op per transaction after an
	// unexpected error.
	Retries int64
}

// maxYields bounds how often gather yields to let more ops in.
const maxYields = 2

// writer owns the write connection. Only its goroutine touches conn and the
// statement cache.
type writer struct {
	conn        *sql.Conn
	dc          driver.Conn // conn's driver connection, while loop runs
	stmts       map[string]*wstmt
	args        []driver.NamedValue
	row         []driver.Value
	shapes      map[multiKey]string
	ops         chan *op
	done        chan struct{}
	maxBatch    int
	busyTimeout time.Duration
	aggs        aggCache
	queues      map[string]bool // queues known to exist; see queueExists

	commits, answered, retries atomic.Int64
}

func newWriter(conn *sql.Conn, maxBatch int, busyTimeout time.Duration) *writer {
	return &writer{
		conn:        conn,
		stmts:       map[string]*wstmt{},
		shapes:      map[multiKey]string{},
		ops:         make(chan *op, maxBatch),
		done:        make(chan struct{}),
		maxBatch:    maxBatch,
		busyTimeout: busyTimeout,
		aggs:        aggCache{},
		queues:      map[string]bool{},
	}
}

func (w *writer) stats() WriterStats {
	return WriterStats{Commits: w.commits.Load(), Ops: w.answered.Load(), Retries: w.retries.Load()}
}

// loop runs until ops is closed and drained: Close submits nothing more and
// waits for done, so every op submitted before Close is answered. It runs
// inside conn.Raw: the writer talks to the driver connection directly,
// without database/sql's per-call locking and conversions.
func (w *writer) loop() {
	defer close(w.done)
	err := w.conn.Raw(func(dc any) error {
		w.dc = dc.(driver.Conn)
		w.serve()
		for _, s := range w.stmts {
			_ = s.s.Close()
		}
		return nil
	})
	if err != nil {
		// Raw fails only if the connection is gone before the loop
		// starts; answer whatever arrives.
		for o := range w.ops {
			o.err = fmt.Errorf("embedded: writer: %w", err)
			w.answer([]*op{o})
		}
	}
}

// serve runs ops in transactions of up to maxBatch ops. A transaction
// takes in every op that is waiting, and keeps taking them while more
// arrive (up to maxTxOpen), then commits: under load, commits are few and
// large. With durability full the commit's fsync is shared by all its ops,
// and the ops submitted during it gather into the next transaction.
func (w *writer) serve() {
	gathered := make([]*op, 0, w.maxBatch)
	run := make([]*op, 0, w.maxBatch)
	for {
		o, ok := <-w.ops
		if !ok {
			return
		}
		gathered = append(gathered[:0], o)
		if err := w.begin(); err != nil {
			o.res, o.err = nil, err
			w.answer(gathered)
			continue
		}
		x, opened, closed := &wtx{w: w}, time.Now(), false
		run = run[:0]
		for x != nil {
			gathered, closed = w.gather(gathered, w.maxBatch-len(run), closed)
			for i, o := range gathered {
				if w.runOp(x, o) {
					// Roll back and run everything of this transaction
					// again, one op per transaction, so that only the bad
					// op fails.
					w.rollback()
					w.runEach(append(run, gathered[i:]...))
					x = nil
					break
				}
				run = append(run, o)
			}
			gathered = gathered[:0]
			if closed || len(run) >= w.maxBatch || len(w.ops) == 0 || time.Since(opened) >= maxTxOpen {
				break
			}
		}
		if x != nil {
			w.finish(x, run)
		}
		if closed {
			return
		}
	}
}

// maxTxOpen bounds how long a transaction keeps taking in ops: it holds
// the write lock other processes wait for, and its ops wait for the commit.
const maxTxOpen = 10 * time.Millisecond

// gather adds the ops already waiting, up to room, to ops; closed reports
// that the queue is closed and drained. Callers answered a moment ago are
// about to submit again: yielding lets them join.
func (w *writer) gather(ops []*op, room int, closed bool) ([]*op, bool) {
	for yields := 0; !closed && len(ops) < room; {
		select {
		case o, ok := <-w.ops:
			if !ok {
				return ops, true
			}
			ops = append(ops, o)
			continue
		default:
		}
		if yields == maxYields {
			break
		}
		yields++
		runtime.Gosched()
	}
	return ops, closed
}

// finish commits x, whose ops have run, and answers them. If the commit
// fails, each op runs again in a transaction of its own.
func (w *writer) finish(x *wtx, run []*op) {
	if err := w.commit(x); err != nil {
		w.rollback()
		w.runEach(run)
		return
	}
	w.answer(run)
}

func (w *writer) runEach(batch []*op) {
	if len(batch) > 1 {
		w.retries.Add(1)
	}
	for _, o := range batch {
		x := &wtx{w: w}
		if err := w.begin(); err != nil {
			o.res, o.err = nil, err
			continue
		}
		if w.runOp(x, o) {
			w.rollback()
		} else if err := w.commit(x); err != nil {
			w.rollback()
			o.res, o.err = nil, err
		}
	}
	w.answer(batch)
}

// runOp runs o and records its tentative result; it reports whether o
// failed unexpectedly (and so the transaction must be rolled back). A panic
// in an op fails that op, not the writer every caller waits on.
func (w *writer) runOp(x *wtx, o *op) (fatal bool) {
	if err := o.ctx.Err(); err != nil {
		o.res, o.err = nil, err
		return false
	}
	defer func() {
		if p := recover(); p != nil {
			o.res, o.err, fatal = nil, fmt.Errorf("embedded: write op panicked: %v", p), true
		}
	}()
	x.now = time.Now()
	res, err := o.fn(x)
	if err == nil {
		o.res, o.err = res, nil
		return false
	}
	if r, ok := err.(*refusal); ok {
		o.res, o.err = res, r.err
		return false
	}
	o.res, o.err = nil, err
	return true
}

func (w *writer) answer(ops []*op) {
	w.answered.Add(int64(len(ops)))
	for _, o := range ops {
		close(o.done)
	}
}

// begin starts an immediate transaction: it takes the write lock at once,
// so a transaction never fails half-way on a lock another process holds.
// SQLite's busy handler waits up to the busy timeout; after that the begin
// is retried twice before giving up.
func (w *writer) begin() error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if _, err = w.exec("BEGIN IMMEDIATE"); err == nil {
			return nil
		}
		switch {
		case isBusy(err):
			continue
		case strings.Contains(err.Error(), "within a transaction"):
			// A failed statement can leave a transaction open that the
			// rollback after it did not end; end it and try again.
			w.rollback()
			continue
		}
		return fmt.Errorf("embedded: begin: %w", err)
	}
	if isBusy(err) {
		return fmt.Errorf("embedded: begin: write lock held by another process for %v: %w: %w",
			3*w.busyTimeout, cutover.ErrUnavailable, err)
	}
	return fmt.Errorf("embedded: begin: %w", err)
}

func (w *writer) commit(x *wtx) error {
	if err := x.flush(); err != nil {
		return err
	}
	if _, err := w.exec("COMMIT"); err != nil {
		return fmt.Errorf("embedded: commit: %w", err)
	}
	w.aggs.committed(x)
	w.commits.Add(1)
	return nil
}

func (w *writer) rollback() {
	_, _ = w.exec("ROLLBACK")
	w.aggs.reset()
	clear(w.queues)
}

// wtx is what an op sees: the open write transaction.
type wtx struct {
	w   *writer
	now time.Time // taken when the op starts
	// aggs holds the aggregates changed in this transaction; they are
	// written once, just before commit.
	aggs map[aggKey]*aggEntry
	// specs holds the queue specs read in this transaction.
	specs map[string]queueSpec
}

// write submits fn to the writer and waits for its answer. If ctx ends
// first, write returns ctx.Err() at once; an op the writer already took may
// still be applied, as a request on a network store may.
func write[T any](ctx context.Context, db *DB, fn func(x *wtx) (T, error)) (T, error) {
	var zero T
	o := &op{ctx: ctx, done: make(chan struct{}), fn: func(x *wtx) (any, error) { return fn(x) }}
	db.mu.RLock()
	if db.closed {
		db.mu.RUnlock()
		return zero, ErrClosed
	}
	select {
	case db.w.ops <- o:
	case <-ctx.Done():
		db.mu.RUnlock()
		return zero, ctx.Err()
	}
	db.mu.RUnlock()
	select {
	case <-o.done:
	case <-ctx.Done():
		return zero, ctx.Err()
	}
	res, _ := o.res.(T)
	return res, o.err
}
