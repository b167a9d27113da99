package comparator

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/comparator/internal/memstore"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func testConfig() *cutover.Config {
	return &cutover.Config{
		Comparator: cutover.ComparatorConfig{AsyncDeadline: cutover.Duration(time.Minute), SweepInterval: cutover.Duration(10 * time.Millisecond)},
		Workflows: []cutover.WorkflowConfig{{
			Name:    "create-order",
			Compare: cutover.CompareConfig{Ignore: []string{"$.order_id"}},
		}},
	}
}

func newTestService(t *testing.T, st *memstore.Store, opts ServiceOptions) *Service {
	t.Helper()
	svc, err := New(testConfig(), Stores{Outcomes: st, Comparisons: st, Transitions: st, Blobs: st}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func outcome(body string) *cutover.Outcome {
	return &cutover.Outcome{Status: 200, Body: []byte(body), Latency: cutover.Duration(5 * time.Millisecond), At: t0}
}

// comparedTransitions counts the compared entries of an event's log.
func comparedTransitions(t *testing.T, st *memstore.Store, id string) []string {
	t.Helper()
	h, err := st.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tr := range h {
		if tr.Kind == cutover.TransitionCompared {
			out = append(out, tr.Detail)
		}
	}
	return out
}

// churn appends other transitions to the logs while the comparator works,
// so that its optimistic appends meet real version conflicts.
func churn(ctx context.Context, st *memstore.Store, ids []string) {
	for i := 0; ctx.Err() == nil; i++ {
		id := ids[i%len(ids)]
		h, _ := st.History(ctx, id)
		_, _ = st.Append(ctx, id, len(h), cutover.Transition{Kind: cutover.TransitionSucceeded})
		if i%64 == 0 {
			time.Sleep(time.Microsecond)
		}
	}
}

func TestExactlyOnceUnderConcurrentRedelivery(t *testing.T) {
	st := memstore.New()
	reg := prometheus.NewRegistry()
	svc := newTestService(t, st, ServiceOptions{Registerer: reg})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const events = 40
	ids := make([]string, events)
	for i := range ids {
		ids[i] = fmt.Sprintf("ev-%03d", i)
	}
	churnCtx, stopChurn := context.WithCancel(ctx)
	churnDone := make(chan struct{})
	go func() { defer close(churnDone); churn(churnCtx, st, ids) }()

	// Each side of each event is delivered 4 times (once plus 3
	// redeliveries), all at once.
	var wg sync.WaitGroup
	errs := make(chan error, events*8)
	for i, id := range ids {
		legacy := fmt.Sprintf(`{"order_id":"L%d","total":%d}`, i, i)
		async := fmt.Sprintf(`{"order_id":"A%d","total":%d}`, i, i+i%2) // odd events mismatch
		for range 4 {
			for side, body := range map[cutover.Side]string{cutover.SideLegacy: legacy, cutover.SideAsync: async} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := svc.RecordOutcome(ctx, "create-order", id, 0, side, outcome(body)); err != nil {
						errs <- err
					}
				}()
			}
		}
	}
	wg.Wait()
	// A pair handler retried after the fact changes nothing either.
	for _, id := range ids[:5] {
		pair, err := st.OutcomePair(ctx, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := svc.HandlePair(ctx, pair); err != nil {
				t.Errorf("HandlePair again: %v", err)
			}
		}
	}
	stopChurn()
	<-churnDone
	close(errs)
	for err := range errs {
		t.Errorf("RecordOutcome: %v", err)
	}

	if got := st.Saves(); got != events {
		t.Errorf("SaveComparison succeeded %d times, want %d", got, events)
	}
	all := st.AllComparisons()
	if len(all) != events {
		t.Fatalf("%d comparisons stored, want %d", len(all), events)
	}
	for i, c := range all {
		want := cutover.VerdictMatch
		if i%2 == 1 {
			want = cutover.VerdictMismatch
		}
		if c.EventID != ids[i] || c.Verdict != want {
			t.Errorf("comparison %d: %s %s, want %s %s", i, c.EventID, c.Verdict, ids[i], want)
		}
		if diff := cmp.Diff([]string{string(want)}, comparedTransitions(t, st, ids[i])); diff != "" {
			t.Errorf("%s compared transitions (-want +got):\n%s", ids[i], diff)
		}
	}
	if got := testutil.ToFloat64(svc.metrics.comparisons.WithLabelValues("create-order", "match")); got != events/2 {
		t.Errorf("match counter = %v, want %d", got, events/2)
	}
}

func TestSweeperRacingLateOutcomes(t *testing.T) {
	st := memstore.New()
	st.Now = func() time.Time { return t0 }
	svc := newTestService(t, st, ServiceOptions{SweepBatch: 7})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const events = 60
	ids := make([]string, events)
	for i := range ids {
		ids[i] = fmt.Sprintf("late-%03d", i)
		if err := svc.RecordOutcome(ctx, "create-order", ids[i], 0, cutover.SideLegacy, outcome(`{"ok":true}`)); err != nil {
			t.Fatal(err)
		}
	}
	// Two sweepers (two worker processes) and the late async outcomes all
	// run at once, past the deadline.
	now := t0.Add(2 * time.Minute)
	var swept atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := svc.Sweep(ctx, now)
			if err != nil {
				t.Errorf("Sweep: %v", err)
			}
			swept.Add(int64(n))
		}()
	}
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%3 == 0 {
				time.Sleep(time.Duration(i%5) * 100 * time.Microsecond)
			}
			if err := svc.RecordOutcome(ctx, "create-order", id, 0, cutover.SideAsync, outcome(`{"ok":true}`)); err != nil {
				t.Errorf("late RecordOutcome: %v", err)
			}
		}()
	}
	wg.Wait()

	all := st.AllComparisons()
	if len(all) != events || st.Saves() != events {
		t.Fatalf("%d comparisons, %d saves, want %d", len(all), st.Saves(), events)
	}
	missing := 0
	for _, c := range all {
		switch c.Verdict {
		case cutover.VerdictAsyncMissing:
			missing++
		case cutover.VerdictMatch:
		default:
			t.Errorf("%s: verdict %s (%s)", c.EventID, c.Verdict, c.Reason)
		}
		if n := len(comparedTransitions(t, st, c.EventID)); n != 1 {
			t.Errorf("%s has %d compared transitions", c.EventID, n)
		}
	}
	if int64(missing) != swept.Load() {
		t.Errorf("sweepers completed %d pairs but %d are async_missing", swept.Load(), missing)
	}
	t.Logf("sweeper won %d of %d races", missing, events)
}

func TestSweepOrder(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		first      cutover.Side
		lateFirst  bool // the late outcome arrives before the sweep
		wantSwept  int
		wantResult cutover.Verdict
		wantReason string
	}{
		{"sweep then late async", cutover.SideLegacy, false, 1, cutover.VerdictAsyncMissing, "no async outcome arrived before the deadline"},
		{"late async then sweep", cutover.SideLegacy, true, 0, cutover.VerdictMatch, ""},
		{"legacy never came", cutover.SideAsync, false, 1, cutover.VerdictLegacyError, "no legacy outcome arrived before the deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := memstore.New()
			st.Now = func() time.Time { return t0 }
			svc := newTestService(t, st, ServiceOptions{Now: func() time.Time { return t0.Add(time.Hour) }})
			other := cutover.SideAsync
			if tt.first == cutover.SideAsync {
				other = cutover.SideLegacy
			}
			if err := svc.RecordOutcome(ctx, "create-order", "e1", 0, tt.first, outcome(`{}`)); err != nil {
				t.Fatal(err)
			}
			// Not yet past the deadline: nothing to do.
			if n, err := svc.Sweep(ctx, t0.Add(30*time.Second)); n != 0 || err != nil {
				t.Fatalf("early Sweep = %d, %v", n, err)
			}
			if tt.lateFirst {
				if err := svc.RecordOutcome(ctx, "create-order", "e1", 0, other, outcome(`{}`)); err != nil {
					t.Fatal(err)
				}
			}
			n, err := svc.Sweep(ctx, t0.Add(2*time.Minute))
			if err != nil || n != tt.wantSwept {
				t.Fatalf("Sweep = %d, %v; want %d", n, err, tt.wantSwept)
			}
			if !tt.lateFirst && tt.first == cutover.SideLegacy {
				// The real outcome arrives after the sweeper filled its side.
				if err := svc.RecordOutcome(ctx, "create-order", "e1", 0, other, outcome(`{}`)); err != nil {
					t.Fatalf("late outcome after sweep: %v", err)
				}
			}
			c, err := st.Comparison(ctx, "e1", 0)
			if err != nil {
				t.Fatal(err)
			}
			if c.Verdict != tt.wantResult || c.Reason != tt.wantReason {
				t.Errorf("comparison = %s %q, want %s %q", c.Verdict, c.Reason, tt.wantResult, tt.wantReason)
			}
			if !c.ComparedAt.Equal(t0.Add(time.Hour)) {
				t.Errorf("ComparedAt = %v, want the injected clock", c.ComparedAt)
			}
			if st.Saves() != 1 {
				t.Errorf("%d saves", st.Saves())
			}
		})
	}
}

func TestRunDrainsAndStops(t *testing.T) {
	st := memstore.New()
	st.Now = func() time.Time { return t0 }
	svc := newTestService(t, st, ServiceOptions{Now: func() time.Time { return t0.Add(time.Hour) }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := svc.RecordOutcome(ctx, "create-order", "e1", 0, cutover.SideLegacy, outcome(`{}`)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for st.Saves() == 0 {
		select {
		case <-deadline:
			t.Fatal("Run did not sweep")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop")
	}
}

func TestHandlePairLoadsClaimChecks(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	svc := newTestService(t, st, ServiceOptions{})
	ref, _ := st.PutBlob(ctx, []byte(`{"order_id":"x","items":[1,2]}`))
	pair := cutover.OutcomePair{
		EventID: "e1", Workflow: "create-order",
		Legacy: &cutover.Outcome{Status: 200, BodyRef: ref},
		Async:  outcome(`{"order_id":"y","items":[1,2]}`),
	}
	if err := svc.HandlePair(ctx, pair); err != nil {
		t.Fatal(err)
	}
	c, _ := st.Comparison(ctx, "e1", 0)
	if c.Verdict != cutover.VerdictMatch {
		t.Errorf("verdict %s (%s), want match once the blob is loaded and $.order_id ignored", c.Verdict, c.Reason)
	}
	if pair.Legacy.Body != nil {
		t.Error("HandlePair modified the caller's outcome")
	}
}

type failingComparisons struct{ *memstore.Store }

func (failingComparisons) SaveComparison(context.Context, *cutover.Comparison) error {
	return cutover.ErrUnavailable
}

func TestHandlePairReportsStoreErrors(t *testing.T) {
	st := memstore.New()
	svc, err := New(testConfig(), Stores{Outcomes: st, Comparisons: failingComparisons{st}, Transitions: st}, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = svc.HandlePair(context.Background(), cutover.OutcomePair{EventID: "e1", Legacy: outcome(`{}`), Async: outcome(`{}`)})
	if !errors.Is(err, cutover.ErrUnavailable) {
		t.Errorf("HandlePair = %v, want it to wrap ErrUnavailable", err)
	}
	if n := len(comparedTransitions(t, st, "e1")); n != 0 {
		t.Errorf("%d compared transitions for an unsaved comparison", n)
	}
}

func TestNewNamesTheBadWorkflow(t *testing.T) {
	cfg := testConfig()
	cfg.Workflows[0].Compare.Ignore = []string{"$["}
	st := memstore.New()
	_, err := New(cfg, Stores{Outcomes: st, Comparisons: st, Transitions: st}, ServiceOptions{})
	if err == nil || err.Error()[:42] != "comparator: workflow create-order: compare" {
		t.Errorf("New = %v", err)
	}
}

// racingLog lets another writer append just before each of the first n
// appends of the comparator, as a busy worker would.
type racingLog struct {
	*memstore.Store
	n int
}

func (l *racingLog) Append(ctx context.Context, id string, expect int, ts ...cutover.Transition) (int, error) {
	if l.n > 0 {
		l.n--
		if _, err := l.Store.Append(ctx, id, expect, cutover.Transition{Kind: cutover.TransitionSucceeded}); err != nil {
			return 0, err
		}
	}
	return l.Store.Append(ctx, id, expect, ts...)
}

func TestMarkComparedRetriesConflicts(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		conflicts int
		wantErr   error
	}{{0, nil}, {maxAppendAttempts - 1, nil}, {maxAppendAttempts, cutover.ErrVersionConflict}} {
		st := memstore.New()
		log := &racingLog{Store: st, n: tt.conflicts}
		svc, err := New(testConfig(), Stores{Outcomes: st, Comparisons: st, Transitions: log}, ServiceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = svc.HandlePair(ctx, cutover.OutcomePair{EventID: "e1", Legacy: outcome(`{}`), Async: outcome(`{}`)})
		if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
			t.Errorf("%d conflicts: HandlePair = %v, want %v", tt.conflicts, err, tt.wantErr)
		}
		want := 1
		if tt.wantErr != nil {
			want = 0
		}
		if got := len(comparedTransitions(t, st, "e1")); got != want {
			t.Errorf("%d conflicts: %d compared transitions, want %d", tt.conflicts, got, want)
		}
		// A retry after the failure (the caller's redelivery) completes it.
		if err := svc.HandlePair(ctx, cutover.OutcomePair{EventID: "e1", Legacy: outcome(`{}`), Async: outcome(`{}`)}); err != nil {
			t.Errorf("retry: %v", err)
		}
		if got := len(comparedTransitions(t, st, "e1")); got != 1 {
			t.Errorf("after retry: %d compared transitions", got)
		}
	}
}

func TestHandlePairRefusesHalfAPair(t *testing.T) {
	st := memstore.New()
	svc := newTestService(t, st, ServiceOptions{})
	if err := svc.HandlePair(context.Background(), cutover.OutcomePair{EventID: "e1", Legacy: outcome(`{}`)}); err == nil {
		t.Error("HandlePair accepted a pair without its async side")
	}
	if st.Saves() != 0 {
		t.Error("half a pair was recorded")
	}
}
