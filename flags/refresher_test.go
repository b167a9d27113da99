package flags

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	cutover "github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/flags/flagstest"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// logBuffer collects log lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func newLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{
		// Drop the time so lines compare exactly.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// put writes a flag to the store directly, as another process would.
func put(t *testing.T, st cutover.FlagStore, f cutover.Flag) {
	t.Helper()
	if err := st.SetFlag(context.Background(), f, cutover.FlagChange{Workflow: f.Workflow, Version: f.Version, ToMode: f.Mode, ToPercent: f.Percent}); err != nil {
		t.Fatal(err)
	}
}

func TestRefresherKeepsLastKnownGood(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	st := flagstest.New()
	var logs logBuffer
	reg := prometheus.NewPedanticRegistry()
	snap, err := NewSnapshot(testConfig(t), SnapshotOptions{Now: clk.Now, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRefresher(st, snap, RefresherOptions{Interval: time.Second, Now: clk.Now, Logger: newLogger(&logs), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Stale() {
		t.Error("a snapshot that never loaded the store is not stale")
	}

	canary20 := cutover.Flag{Workflow: "get-order", Mode: cutover.ModeCanary, Percent: 20, Version: 1}
	put(t, st, canary20)
	clk.Advance(time.Second)
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	key := keyIn(t, "get-order", 20)
	want := cutover.Decision{Mode: cutover.ModeCanary, Percent: 20, Async: true, Version: 1}

	st.Fail(cutover.ErrUnavailable)
	for i := range 4 {
		clk.Advance(time.Second)
		err := r.Refresh(ctx)
		if !errors.Is(err, cutover.ErrUnavailable) {
			t.Fatalf("refresh %d with the store down: err = %v, want ErrUnavailable", i, err)
		}
		if diff := cmp.Diff(want, snap.Decide("get-order", key)); diff != "" {
			t.Fatalf("refresh %d with the store down changed the decision (-want +got):\n%s", i, diff)
		}
	}
	if got, want := r.Age(), 4*time.Second; got != want {
		t.Errorf("Age = %v, want %v", got, want)
	}
	if !r.Stale() {
		t.Errorf("snapshot %v old with a 3s stale threshold is not stale", r.Age())
	}
	gathered := gather(t, reg)
	for name, want := range map[string]float64{
		"cutover_flag_snapshot_age_seconds": 4,
		"cutover_flag_snapshot_stale":       1,
		"cutover_flag_refresh_errors_total": 4,
	} {
		if got := gathered[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	st.Fail(nil)
	put(t, st, cutover.Flag{Workflow: "get-order", Mode: cutover.ModeShadow, Version: 2})
	clk.Advance(time.Second)
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Stale() || r.Age() != 0 {
		t.Errorf("after recovery: stale %v, age %v; want fresh", r.Stale(), r.Age())
	}
	if d := snap.Decide("get-order", key); d.Mode != cutover.ModeShadow || d.Async {
		t.Errorf("after recovery Decide = %+v, want shadow", d)
	}
	wantLogs := []string{
		`level=WARN msg="flags: cannot load flags; serving the last known good snapshot" err="flagstest: flags: backend unavailable" snapshot_age=1s`,
		`level=INFO msg="flags: store reachable again; snapshot refreshed" outage=4s`,
	}
	if diff := cmp.Diff(wantLogs, logs.lines()); diff != "" {
		t.Errorf("logs: one warning per outage and one notice at its end (-want +got):\n%s", diff)
	}
}

func TestRefresherCancelledLoadIsNotAnOutage(t *testing.T) {
	var logs logBuffer
	r, err := NewRefresher(blockingLoader{}, newTestSnapshot(t), RefresherOptions{Logger: newLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Refresh(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if r.errors.Load() != 0 || len(logs.lines()) != 0 {
		t.Errorf("a cancelled load counted %d errors and logged %q", r.errors.Load(), logs.lines())
	}
}

// blockingLoader answers only when its context ends.
type blockingLoader struct{}

func (blockingLoader) Flags(ctx context.Context) ([]cutover.Flag, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestRefresherTimesOutAHungLoad(t *testing.T) {
	r, err := NewRefresher(blockingLoader{}, newTestSnapshot(t), RefresherOptions{Timeout: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Refresh(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
}

// Two proxies share one store: a change made through one process's Service
// reaches the other's snapshot at its next refresh.
func TestRefreshPicksUpAChangeFromAnotherService(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	st := flagstest.New()
	snapA, snapB := newTestSnapshot(t), newTestSnapshot(t)
	refA, err := NewRefresher(st, snapA, RefresherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	refB, err := NewRefresher(st, snapB, RefresherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []*Refresher{refA, refB} {
		if err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	svcA, err := NewService(st, cfg, readyGate(), ServiceOptions{Snapshot: snapA})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svcA.Set(ctx, SetRequest{Workflow: "create-order", Mode: cutover.ModeCutover, Reason: "ready", By: "alice"}); err != nil {
		t.Fatal(err)
	}
	want := cutover.Decision{Mode: cutover.ModeCutover, Async: true, Version: 1}
	if diff := cmp.Diff(want, snapA.Decide("create-order", "c1")); diff != "" {
		t.Errorf("the changing process does not serve its change at once (-want +got):\n%s", diff)
	}
	if d := snapB.Decide("create-order", "c1"); d.Mode != cutover.ModeShadow {
		t.Fatalf("the other process changed before refreshing: %+v", d)
	}
	if err := refB.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, snapB.Decide("create-order", "c1")); diff != "" {
		t.Errorf("the other process after its refresh (-want +got):\n%s", diff)
	}
	// A's refresh loads what it already applied: no second change.
	if err := refA.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*Snapshot{"A": snapA, "B": snapB} {
		if n := s.changes["create-order"].Load(); n != 1 {
			t.Errorf("snapshot %s counted %d changes of create-order, want 1", name, n)
		}
	}
}

func TestRunRefreshesUntilCancelled(t *testing.T) {
	st := flagstest.New()
	snap := newTestSnapshot(t)
	r, err := NewRefresher(st, snap, RefresherOptions{Interval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	put(t, st, cutover.Flag{Workflow: "ship-order", Mode: cutover.ModeShadow, Version: 1})
	deadline := time.Now().Add(5 * time.Second)
	for snap.Decide("ship-order", "k").Mode != cutover.ModeShadow {
		if time.Now().After(deadline) {
			t.Fatal("Run did not pick up the change within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
}

// badLoader returns a stored flag that fails validation.
type badLoader struct{}

func (badLoader) Flags(context.Context) ([]cutover.Flag, error) {
	return []cutover.Flag{{Workflow: "create-order", Mode: "bogus", Version: 7}}, nil
}

func TestRefresherReportsInvalidFlagsOnce(t *testing.T) {
	var logs logBuffer
	snap := newTestSnapshot(t)
	r, err := NewRefresher(badLoader{}, snap, RefresherOptions{Logger: newLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := r.Refresh(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{`level=WARN msg="flags: ignored invalid stored flags; their workflows keep their previous flag" err="flag create-order: mode \"bogus\" is unknown (want off, shadow, canary or cutover)"`}
	if diff := cmp.Diff(want, logs.lines()); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
	if d := snap.Decide("create-order", "k"); d.Mode != cutover.ModeShadow {
		t.Errorf("Decide = %+v, want the config's shadow", d)
	}
	if r.Stale() {
		t.Error("a load with an invalid flag made the snapshot stale")
	}
}
