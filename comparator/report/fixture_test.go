package report

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/comparator/internal/memstore"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", path, diff)
	}
}

var now = time.Date(2026, 11, 27, 12, 0, 30, 0, time.UTC)

type fakeFlags map[string]cutover.Flag

func (f fakeFlags) Flag(_ context.Context, w string) (cutover.Flag, error) {
	if fl, ok := f[w]; ok {
		return fl, nil
	}
	return cutover.Flag{}, fmt.Errorf("fake: flag %s: %w", w, cutover.ErrNotFound)
}

type fakeDLQ map[string]int64

func (f fakeDLQ) DLQDepth(_ context.Context, w string) (int64, error) { return f[w], nil }

func fixtureConfig() *cutover.Config {
	no := false
	return &cutover.Config{Workflows: []cutover.WorkflowConfig{
		{
			Name: "create-order", Mode: cutover.ModeShadow,
			Compare: cutover.CompareConfig{Ignore: []string{"$.order_id"}},
			Gate:    cutover.GateConfig{MinComparisons: 20, MinMatchRate: 0.9, Window: cutover.Duration(time.Hour)},
		},
		{
			Name: "get-order", Mode: cutover.ModeShadow,
			Gate: cutover.GateConfig{MinComparisons: 10, MinMatchRate: 0.99, Window: cutover.Duration(time.Hour)},
		},
		{
			Name: "refund", Mode: cutover.ModeShadow,
			Gate: cutover.GateConfig{MinComparisons: 5, MinMatchRate: 0.5, MaxAsyncErrors: 1, RequireEmptyDLQ: &no, Window: cutover.Duration(24 * time.Hour)},
		},
	}}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// fixtureStore holds an hour of comparisons:
//   - create-order: every body differs at $.request_id and at the line ids
//     of its items, with a new value each time (noise); some also at
//     $.totals.tax (a bug, always the same wrong value); two async outcomes
//     never arrived; one legacy call failed.
//   - get-order: four mismatches on $.status, replayed in epoch 1 after a
//     fix, now matching.
//   - refund: canary at 5%, one async error, two messages in its DLQ.
//   - legacy-only: comparisons of a workflow that is no longer configured.
func fixtureStore(t *testing.T) *memstore.Store {
	t.Helper()
	ctx := context.Background()
	st := memstore.New()
	save := func(c *cutover.Comparison) {
		t.Helper()
		if err := st.SaveComparison(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	at := func(i int) time.Time { return now.Add(-55 * time.Minute).Add(time.Duration(i) * 83 * time.Second) }
	lat := func(base, i int) cutover.Duration {
		return cutover.Duration(time.Duration(base+i%7*3) * time.Millisecond)
	}

	for i := range 30 {
		id := fmt.Sprintf("0193a5f0-0000-7000-8000-%012d", i)
		c := &cutover.Comparison{EventID: id, Workflow: "create-order", ComparedAt: at(i), LegacyLatency: lat(40, i), AsyncLatency: lat(90, i)}
		switch {
		case i == 7 || i == 19:
			c.Verdict, c.Reason = cutover.VerdictAsyncMissing, "no async outcome arrived before the deadline"
		case i == 11:
			c.Verdict, c.Reason = cutover.VerdictLegacyError, "legacy failed: connection refused"
		default:
			c.Verdict = cutover.VerdictMismatch
			c.Diffs = []cutover.PathDiff{
				{Path: "$.request_id", Legacy: raw(fmt.Sprintf(`"req-l%d"`, i)), Async: raw(fmt.Sprintf(`"req-a%d"`, i))},
				{Path: "$.items[0].line_id", Legacy: raw(`"ln-1"`), Async: raw(fmt.Sprintf(`"li-%d-0"`, i))},
				{Path: "$.items[1].line_id", Legacy: raw(`"ln-2"`), Async: raw(fmt.Sprintf(`"li-%d-1"`, i))},
			}
			if i%5 == 0 {
				c.Diffs = append(c.Diffs, cutover.PathDiff{Path: "$.totals.tax", Legacy: raw(`2.1`), Async: raw(`2.52`)})
			}
		}
		save(c)
	}
	for i := range 24 {
		id := fmt.Sprintf("0193a5f1-0000-7000-8000-%012d", i)
		c := &cutover.Comparison{EventID: id, Workflow: "get-order", ComparedAt: at(i), Verdict: cutover.VerdictMatch, LegacyLatency: lat(8, i), AsyncLatency: lat(11, i)}
		if i%6 == 0 {
			c.Verdict = cutover.VerdictMismatch
			c.Diffs = []cutover.PathDiff{{Path: "$.status", Legacy: raw(`"shipped"`), Async: raw(`"SHIPPED"`)}}
		}
		save(c)
		if i%6 == 0 { // the replay after the fix
			save(&cutover.Comparison{EventID: id, Epoch: 1, Workflow: "get-order", ComparedAt: at(i).Add(20 * time.Minute), Verdict: cutover.VerdictMatch, LegacyLatency: lat(8, i), AsyncLatency: lat(9, i)})
		}
	}
	for i := range 6 {
		id := fmt.Sprintf("0193a5f2-0000-7000-8000-%012d", i)
		c := &cutover.Comparison{EventID: id, Workflow: "refund", ComparedAt: at(i * 5), Verdict: cutover.VerdictMatch, LegacyLatency: lat(120, i), AsyncLatency: lat(60, i)}
		if i == 3 {
			c.Verdict, c.Reason = cutover.VerdictAsyncError, "async failed: payment provider timeout"
		}
		save(c)
	}
	for i := range 3 {
		save(&cutover.Comparison{EventID: fmt.Sprintf("0193a5f3-0000-7000-8000-%012d", i), Workflow: "legacy-only", ComparedAt: at(i), Verdict: cutover.VerdictMatch})
	}
	return st
}

func fixtureReporter(t *testing.T) *Reporter {
	return New(fixtureConfig(), Sources{
		Comparisons: fixtureStore(t),
		Flags:       fakeFlags{"refund": {Workflow: "refund", Mode: cutover.ModeCanary, Percent: 5, Version: 3}},
		DLQ:         fakeDLQ{"refund": 2},
	}, WithClock(func() time.Time { return now }))
}
