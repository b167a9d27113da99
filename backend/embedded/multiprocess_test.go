package embedded

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Two *DB handles on one file share nothing in memory, so they stand in for
// two processes (a proxy and a worker) sharing the file.
func twoHandles(t *testing.T) (a, b *DB) {
	t.Helper()
	a = open(t, Options{})
	b = open(t, Options{Path: a.Path()})
	return a, b
}

func TestTwoProcessesShareTheQueue(t *testing.T) {
	a, b := twoHandles(t)
	ctx := context.Background()
	if err := a.EnsureQueue(ctx, cutover.QueueSpec{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, "q", []cutover.OutgoingMessage{{ID: "m1", Body: []byte("from a")}}); err != nil {
		t.Fatal(err)
	}
	ms, err := b.Receive(ctx, "q", cutover.ReceiveOptions{Max: 10, Visibility: time.Minute})
	if err != nil || len(ms) != 1 || string(ms[0].Body) != "from a" {
		t.Fatalf("b received %+v, %v; want the message a sent", ms, err)
	}
	// a deletes what b received: receipts mean the same in every process.
	if err := a.Delete(ctx, "q", []string{ms[0].Receipt}); err != nil {
		t.Fatal(err)
	}
	if st, err := b.QueueStats(ctx, "q"); err != nil || st != (cutover.QueueStats{}) {
		t.Errorf("stats after a deleted b's delivery: %+v, %v; want empty", st, err)
	}

	// b long-polls; a's send wakes no one in b, so b finds it by polling.
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		time.Sleep(200 * time.Millisecond)
		errc <- a.Send(ctx, "q", []cutover.OutgoingMessage{{ID: "m2", Body: []byte("later")}})
	}()
	ms, err = b.Receive(ctx, "q", cutover.ReceiveOptions{Max: 1, Visibility: time.Minute, Wait: 5 * time.Second})
	took := time.Since(start)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err != nil || len(ms) != 1 || string(ms[0].Body) != "later" {
		t.Fatalf("b's long poll got %+v, %v", ms, err)
	}
	if took > 2*time.Second {
		t.Errorf("b's long poll returned %v after start; the send was at 200ms and b polls every %v", took, b.opts.PollInterval)
	}
}

// TestTwoProcessesRedrive: the redrive policy a set is applied by b.
func TestTwoProcessesRedrive(t *testing.T) {
	a, b := twoHandles(t)
	ctx := context.Background()
	if err := a.EnsureQueue(ctx, cutover.QueueSpec{Name: "q", DeadLetter: "dlq", MaxReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(ctx, "q", []cutover.OutgoingMessage{{ID: "m", Body: []byte("poison")}}); err != nil {
		t.Fatal(err)
	}
	ms, err := b.Receive(ctx, "q", cutover.ReceiveOptions{Max: 1, Visibility: time.Minute})
	if err != nil || len(ms) != 1 {
		t.Fatalf("first receive: %+v, %v", ms, err)
	}
	if err := b.ChangeVisibility(ctx, "q", ms[0].Receipt, 0); err != nil {
		t.Fatal(err)
	}
	if ms, err := b.Receive(ctx, "q", cutover.ReceiveOptions{Max: 1, Visibility: time.Minute}); err != nil || len(ms) != 0 {
		t.Fatalf("second receive: %+v, %v; want the message moved to dlq", ms, err)
	}
	ms, err = a.Receive(ctx, "dlq", cutover.ReceiveOptions{Max: 1, Visibility: time.Minute})
	if err != nil || len(ms) != 1 || string(ms[0].Body) != "poison" {
		t.Fatalf("dlq: %+v, %v", ms, err)
	}
}

func TestTwoProcessesShareFlags(t *testing.T) {
	a, b := twoHandles(t)
	ctx := context.Background()
	f := cutover.Flag{Workflow: "wf", Mode: cutover.ModeCanary, Percent: 5, Version: 1, UpdatedAt: time.Now().UTC(), UpdatedBy: "cli"}
	if err := a.SetFlag(ctx, f, cutover.FlagChange{By: "cli", ToMode: cutover.ModeCanary, ToPercent: 5}); err != nil {
		t.Fatal(err)
	}
	got, err := b.Flag(ctx, "wf")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f, got); diff != "" {
		t.Errorf("flag read through b (-set through a +got):\n%s", diff)
	}
	f.Version, f.Mode = 2, cutover.ModeShadow
	if err := b.SetFlag(ctx, f, cutover.FlagChange{By: "proxy"}); err != nil {
		t.Fatalf("b sets version 2: %v", err)
	}
	if err := a.SetFlag(ctx, f, cutover.FlagChange{By: "cli"}); !errors.Is(err, cutover.ErrVersionConflict) {
		t.Errorf("a sets version 2 again: %v, want ErrVersionConflict", err)
	}
}

// TestTwoProcessesConditionalWrites: the conditional checks hold across
// processes, because each op reads inside its IMMEDIATE transaction.
func TestTwoProcessesConditionalWrites(t *testing.T) {
	a, b := twoHandles(t)
	ctx := context.Background()
	const keys, perHandle = 20, 4
	var wg sync.WaitGroup
	var mu sync.Mutex
	acquired := map[string]int{}
	appended := map[string]int{}
	for _, db := range []*DB{a, b, a, b} {
		for g := 0; g < perHandle; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < keys; k++ {
					key := cutover.IdempotencyKey{Workflow: "wf", Step: "respond", Key: string(rune('a' + k))}
					c, err := db.Claim(ctx, cutover.ClaimRequest{Key: key, PayloadHash: "h", EventID: "e", Lease: time.Minute})
					if err != nil {
						t.Error(err)
						return
					}
					_, err = db.Append(ctx, key.Key, 0, cutover.Transition{Kind: cutover.TransitionReceived})
					if err != nil && !errors.Is(err, cutover.ErrVersionConflict) {
						t.Error(err)
						return
					}
					mu.Lock()
					if c.State == cutover.ClaimAcquired {
						acquired[key.Key]++
					}
					if err == nil {
						appended[key.Key]++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for k := 0; k < keys; k++ {
		key := string(rune('a' + k))
		if acquired[key] != 1 || appended[key] != 1 {
			t.Errorf("key %s: acquired %d times, appended at version 0 %d times; want 1 and 1", key, acquired[key], appended[key])
		}
	}
}

// TestTwoProcessesShareAggregates: each writer keeps decoded aggregates
// between transactions; a write by the other process must not be lost.
func TestTwoProcessesShareAggregates(t *testing.T) {
	a, b := twoHandles(t)
	ctx := context.Background()
	minute := time.Date(2024, 5, 17, 10, 30, 0, 0, time.UTC)
	want := cutover.NewAggregate("wf", 0, minute)
	for i := 0; i < 10; i++ {
		c := &cutover.Comparison{
			EventID: cutover.NewEventID(), Workflow: "wf", Verdict: cutover.VerdictMatch,
			AsyncLatency: cutover.Duration(time.Duration(i+1) * time.Millisecond), ComparedAt: minute.Add(time.Duration(i) * time.Second),
		}
		if i%3 == 0 {
			c.Verdict = cutover.VerdictMismatch
			c.Diffs = []cutover.PathDiff{{Path: "$.x", Legacy: []byte("1"), Async: []byte("2")}}
		}
		db := a
		if i%2 == 1 {
			db = b
		}
		if err := db.SaveComparison(ctx, c); err != nil {
			t.Fatal(err)
		}
		want.Add(c)
	}
	for _, db := range []*DB{a, b} {
		got, err := db.Aggregates(ctx, "wf", time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]*cutover.Aggregate{want}, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("aggregate written alternately by two processes (-want +got):\n%s", diff)
		}
	}
}

// TestWriteLockHeldElsewhere: a write waits for another process's write
// transaction (busy timeout), and fails with ErrUnavailable once it has
// waited too long.
func TestWriteLockHeldElsewhere(t *testing.T) {
	patient := open(t, Options{})
	impatient := open(t, Options{Path: patient.Path(), BusyTimeout: 50 * time.Millisecond})
	ctx := context.Background()

	hold := func(d time.Duration) (released chan struct{}) {
		t.Helper()
		raw, err := sql.Open("sqlite", patient.Path())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { raw.Close() })
		conn, err := raw.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			t.Fatal(err)
		}
		released = make(chan struct{})
		go func() {
			defer close(released)
			time.Sleep(d)
			if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
				t.Error(err)
			}
			conn.Close()
		}()
		return released
	}

	start := time.Now()
	released := hold(300 * time.Millisecond)
	if _, err := patient.Append(ctx, "e1", 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
		t.Fatalf("Append while another process holds the lock for 300ms: %v", err)
	}
	if took := time.Since(start); took < 250*time.Millisecond {
		t.Errorf("Append returned after %v, before the other process released the lock", took)
	}
	<-released

	released = hold(time.Second)
	_, err := impatient.Append(ctx, "e2", 0, cutover.Transition{Kind: cutover.TransitionReceived})
	if !errors.Is(err, cutover.ErrUnavailable) {
		t.Errorf("Append with a 50ms busy timeout against a 1s lock: %v, want ErrUnavailable", err)
	}
	<-released
	if _, err := impatient.Append(ctx, "e2", 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
		t.Errorf("Append once the lock is free: %v", err)
	}
	// Reads never wait for writers.
	if h, err := impatient.History(ctx, "e1"); err != nil || len(h) != 1 {
		t.Errorf("History: %v, %v", h, err)
	}
}
