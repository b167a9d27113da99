package embedded

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

// stall blocks the writer inside an op until release is called, so that the
// ops submitted meanwhile queue up and run together in the next batch.
func stall(t *testing.T, db *DB) (release func()) {
	t.Helper()
	started, unblock := make(chan struct{}), make(chan struct{})
	var startOnce sync.Once
	errc := make(chan error, 1)
	go func() {
		// Ops may run again (when their batch is retried), so this one
		// must not mind.
		_, err := write(context.Background(), db, func(*wtx) (struct{}, error) {
			startOnce.Do(func() { close(started) })
			<-unblock
			return struct{}{}, nil
		})
		errc <- err
	}()
	<-started
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(unblock)
			if err := <-errc; err != nil {
				t.Errorf("stalling op: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// waitQueued waits until n ops wait in the writer's queue.
func waitQueued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(db.w.ops) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d ops queued after 10s, want %d", len(db.w.ops), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGroupCommitBatches: many concurrent writers share commits.
func TestGroupCommitBatches(t *testing.T) {
	for _, durability := range []string{DurabilityFull, DurabilityNormal} {
		t.Run(durability, func(t *testing.T) {
			db := open(t, Options{Durability: durability})
			ctx := context.Background()
			const writers, each = 64, 20
			before := db.Stats()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := cutover.NewEventID()
					for i := 0; i < each; i++ {
						if _, err := db.Append(ctx, id, i, cutover.Transition{Kind: cutover.TransitionStarted, Attempt: i + 1}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			st := db.Stats()
			ops, commits := st.Ops-before.Ops, st.Commits-before.Commits
			if ops != writers*each {
				t.Errorf("%d ops answered, want %d", ops, writers*each)
			}
			if commits*4 > ops {
				t.Errorf("%d commits for %d ops from %d concurrent writers: want at least 4 ops per commit", commits, ops, writers)
			}
			t.Logf("%d ops in %d commits", ops, commits)
		})
	}
}

// TestBatchOfMixedOps: ops queued together run in one transaction; a
// refused op leaves the others alone.
func TestBatchOfMixedOps(t *testing.T) {
	db := open(t, Options{})
	ctx := context.Background()
	id := cutover.NewEventID()
	if _, err := db.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
		t.Fatal(err)
	}
	release := stall(t, db)
	before := db.Stats()

	var wg sync.WaitGroup
	errs := make([]error, 3)
	calls := []func() error{
		func() error {
			_, err := db.Append(ctx, id, 1, cutover.Transition{Kind: cutover.TransitionStarted})
			return err
		},
		func() error { // refused: the log is at 1, and this op is queued after the one above
			_, err := db.Append(ctx, id, 7, cutover.Transition{Kind: cutover.TransitionFenced})
			return err
		},
		func() error {
			return db.SetFlag(ctx, cutover.Flag{Workflow: "wf", Mode: cutover.ModeShadow, Version: 1}, cutover.FlagChange{By: "t"})
		},
	}
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = call()
		}()
		waitQueued(t, db, i+1) // keep the queue in order
	}
	release()
	wg.Wait()
	if errs[0] != nil || !errors.Is(errs[1], cutover.ErrVersionConflict) || errs[2] != nil {
		t.Fatalf("errors %v, want nil, ErrVersionConflict, nil", errs)
	}
	// One commit for the three queued ops, and one for the stalling op
	// unless it shared theirs.
	st := db.Stats()
	if got := st.Commits - before.Commits; got > 2 {
		t.Errorf("the stalling op and the 3 queued ops took %d commits, want at most 2", got)
	}
	if st.Retries != before.Retries {
		t.Errorf("a refusal made the writer retry the batch")
	}
	h, err := db.History(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []cutover.TransitionKind
	for _, tr := range h {
		kinds = append(kinds, tr.Kind)
	}
	if diff := cmp.Diff([]cutover.TransitionKind{cutover.TransitionReceived, cutover.TransitionStarted}, kinds); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

// TestBatchRetriesOneByOne: an op failing with an unexpected SQL error makes
// the batch run again one op per transaction, so only that op fails.
func TestBatchRetriesOneByOne(t *testing.T) {
	db := open(t, Options{})
	ctx := context.Background()
	release := stall(t, db)
	before := db.Stats()

	const good = 5
	var wg sync.WaitGroup
	errs := make([]error, good+1)
	for i := 0; i <= good; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == good/2 {
				_, errs[i] = write(ctx, db, func(x *wtx) (struct{}, error) {
					// Writes, then fails: the rollback must undo the write.
					if _, err := x.exec(`INSERT INTO blobs (ref, data, created_at) VALUES ('bad', x'00', 0)`); err != nil {
						return struct{}{}, err
					}
					_, err := x.exec(`INSERT INTO no_such_table VALUES (1)`)
					return struct{}{}, err
				})
				return
			}
			_, errs[i] = db.Append(ctx, fmt.Sprintf("event-%d", i), 0, cutover.Transition{Kind: cutover.TransitionReceived})
		}()
		waitQueued(t, db, i+1)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if (i == good/2) != (err != nil) {
			t.Errorf("op %d: %v", i, err)
		}
		if i != good/2 {
			if h, err := db.History(ctx, fmt.Sprintf("event-%d", i)); err != nil || len(h) != 1 {
				t.Errorf("event-%d: history %v, %v; want one entry", i, h, err)
			}
		}
	}
	if _, err := db.Blob(ctx, "bad"); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("the failed op's first write survived: %v", err)
	}
	if st := db.Stats(); st.Retries-before.Retries != 1 {
		t.Errorf("%d batch retries, want 1", st.Retries-before.Retries)
	}
}

// TestCanceledOpWritesNothing: an op whose context ended before the writer
// reached it is not applied.
func TestCanceledOpWritesNothing(t *testing.T) {
	db := open(t, Options{})
	release := stall(t, db)
	ctx, cancel := context.WithCancel(context.Background())
	id := cutover.NewEventID()
	errc := make(chan error, 1)
	go func() {
		_, err := db.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived})
		errc <- err
	}()
	waitQueued(t, db, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Append: %v, want context.Canceled", err)
	}
	release()
	// The writer has passed the op once a later op is answered.
	if _, err := db.Append(context.Background(), cutover.NewEventID(), 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
		t.Fatal(err)
	}
	if h, err := db.History(context.Background(), id); err != nil || len(h) != 0 {
		t.Errorf("history of the canceled append: %v, %v; want none", h, err)
	}
}

// TestCloseDrains: ops submitted before Close complete, and are on disk.
func TestCloseDrains(t *testing.T) {
	db := open(t, Options{})
	ctx := context.Background()
	release := stall(t, db)
	const n = 50
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range ids {
		ids[i] = cutover.NewEventID()
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = db.Append(ctx, ids[i], 0, cutover.Transition{Kind: cutover.TransitionReceived})
		}()
	}
	waitQueued(t, db, n)
	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	// Close refuses new calls at once, while the queued ones wait.
	deadline := time.Now().Add(10 * time.Second)
	for !db.isClosed() {
		if time.Now().After(deadline) {
			t.Fatal("Close did not start within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	_, err := db.Append(ctx, cutover.NewEventID(), 0)
	if !errors.Is(err, ErrClosed) || !errors.Is(err, cutover.ErrUnavailable) {
		t.Errorf("Append during Close: %v, want ErrClosed wrapping ErrUnavailable", err)
	}
	release()
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("append %d submitted before Close: %v", i, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := db.History(ctx, ids[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("History after Close: %v, want ErrClosed", err)
	}

	again := open(t, Options{Path: db.Path()})
	for _, id := range ids {
		if h, err := again.History(ctx, id); err != nil || len(h) != 1 {
			t.Errorf("after reopening, history of %s: %v, %v; want one entry", id, h, err)
		}
	}
}

func (db *DB) isClosed() bool {
	db.mu.RLock()
	defer db.mu.RUnlock()
	return db.closed
}

// TestCloseEndsLongPoll: a Receive waiting for messages returns ErrClosed.
func TestCloseEndsLongPoll(t *testing.T) {
	db := open(t, Options{})
	ctx := context.Background()
	if err := db.EnsureQueue(ctx, cutover.QueueSpec{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := db.Receive(ctx, "q", cutover.ReceiveOptions{Max: 1, Wait: time.Minute})
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Receive: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Receive still waiting 10s after Close")
	}
}

// TestPanickingOpFailsAlone: a panic inside an op fails that op; the writer
// and the ops batched with it go on.
func TestPanickingOpFailsAlone(t *testing.T) {
	db := open(t, Options{})
	ctx := context.Background()
	release := stall(t, db)
	id := cutover.NewEventID()
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, errs[0] = write(ctx, db, func(*wtx) (struct{}, error) { panic("boom") })
	}()
	waitQueued(t, db, 1)
	go func() {
		defer wg.Done()
		_, errs[1] = db.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived})
	}()
	waitQueued(t, db, 2)
	release()
	wg.Wait()
	if errs[0] == nil || !strings.Contains(errs[0].Error(), "panicked: boom") {
		t.Errorf("panicking op: %v, want an error saying it panicked", errs[0])
	}
	if errs[1] != nil {
		t.Errorf("op batched with the panic: %v", errs[1])
	}
	if _, err := db.Append(ctx, id, 1, cutover.Transition{Kind: cutover.TransitionStarted}); err != nil {
		t.Errorf("the writer is not serving after the panic: %v", err)
	}
}
