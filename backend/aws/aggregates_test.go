package aws

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cutover-dev/cutover"
)

// TestAggregateBounds saves comparisons that overflow every bound of an
// aggregate (examples per path, distinct values per path, tracked paths,
// tracked fingerprints, and more differing paths than one transaction
// holds) and checks the stored aggregate against cutover.Aggregate.Add.
func TestAggregateBounds(t *testing.T) {
	b := openTest(t, testConfig(t), testOptions())
	tb := b.Table()
	ctx := testContext(t)
	wf := "bounds-" + randHex(3)
	minute := time.Date(2020, 2, 2, 2, 2, 0, 0, time.UTC)
	want := cutover.NewAggregate(wf, 0, minute)
	n := 0
	save := func(diffs []cutover.PathDiff, v cutover.Verdict) {
		t.Helper()
		n++
		c := &cutover.Comparison{EventID: cutover.NewEventID(), Workflow: wf, Verdict: v, Diffs: diffs,
			LegacyLatency: cutover.Duration(time.Duration(n) * time.Millisecond), AsyncLatency: cutover.Duration(time.Duration(3*n) * time.Millisecond),
			ComparedAt: minute.Add(time.Duration(n) * 10 * time.Millisecond)}
		if err := tb.SaveComparison(ctx, c); err != nil {
			t.Fatalf("comparison %d: %v", n, err)
		}
		want.Add(c)
	}
	diff := func(path string, async string) cutover.PathDiff {
		return cutover.PathDiff{Path: path, Legacy: json.RawMessage(`1`), Async: json.RawMessage(async)}
	}
	// 150 paths in one comparison: more than one transaction takes.
	var wide []cutover.PathDiff
	for i := 0; i < 150; i++ {
		wide = append(wide, diff(fmt.Sprintf("$.wide[%03d]", i), `2`))
	}
	save(wide, cutover.VerdictMismatch)
	// One path with 40 distinct values in 40 comparisons: 5 examples and 32
	// values are kept.
	for i := 0; i < 40; i++ {
		save([]cutover.PathDiff{diff("$.id", fmt.Sprintf(`"id-%d"`, i))}, cutover.VerdictMismatch)
	}
	// 60 more distinct paths, each its own fingerprint: the path set fills
	// at 200 and the rest fold into OtherPaths.
	for i := 0; i < 60; i++ {
		save([]cutover.PathDiff{diff(fmt.Sprintf("$.p%02d", i), `3`), diff("$.id", `"same"`)}, cutover.VerdictMismatch)
	}
	// Over 200 fingerprints in all: the later ones are not tracked.
	for i := 0; i < 160; i++ {
		save([]cutover.PathDiff{diff(fmt.Sprintf("$.wide[%03d]", i%150), `4`), diff(fmt.Sprintf("$.wide[%03d]", (i+1)%150), `4`)}, cutover.VerdictMismatch)
	}
	save(nil, cutover.VerdictMatch)

	if got := len(want.Paths); got != cutover.MaxPathsTracked+1 {
		t.Fatalf("the test's fold tracks %d paths, want the cap plus OtherPaths", got)
	}
	if got := len(want.Fingerprints); got != cutover.MaxPathsTracked {
		t.Fatalf("the test's fold tracks %d fingerprints, want the cap", got)
	}
	got, err := tb.Aggregates(ctx, wf, minute, minute.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]*cutover.Aggregate{want}, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("aggregate (-want +got):\n%s", diff)
	}
	// A process that remembers nothing reads the same.
	other := openTest(t, b.cfg, testOptions())
	again, err := other.Table().Aggregates(ctx, wf, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, again); diff != "" {
		t.Errorf("aggregate read by another process (-first +second):\n%s", diff)
	}
}
