package backendtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func testComparisons(t *testing.T, s cutover.Stores) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, cutover.ComparisonStore)
	}{
		{"SaveOnce", cmpSaveOnce},
		{"ConcurrentSavesOneWins", cmpConcurrent},
		{"AggregatesEqualAggregateAdd", cmpAggregates},
		{"Query", cmpQuery},
		{"NotFound", cmpNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s.Comparisons)
		})
	}
}

// comparison returns a comparison whose content varies with n: verdicts,
// differing paths (with raw JSON values kept byte for byte) and latencies.
func comparison(workflow string, epoch, n int, at time.Time) *cutover.Comparison {
	c := &cutover.Comparison{
		EventID:       cutover.NewEventID(),
		Epoch:         epoch,
		Workflow:      workflow,
		Verdict:       cutover.VerdictMatch,
		LegacyLatency: cutover.Duration(time.Duration(5+n) * time.Millisecond),
		AsyncLatency:  cutover.Duration(time.Duration(7+3*n) * time.Millisecond),
		ComparedAt:    at,
	}
	switch n % 3 {
	case 1:
		c.Verdict = cutover.VerdictMismatch
		c.Diffs = []cutover.PathDiff{
			{Path: "$.total", Legacy: json.RawMessage(`10`), Async: json.RawMessage(fmt.Sprintf(`%d`, 10+n))},
			{Path: "$.note", Legacy: json.RawMessage(`"<b>&"`), Async: nil},
		}
	case 2:
		c.Verdict = cutover.VerdictAsyncError
		c.Reason = "async: upstream 503"
		c.AsyncLatency = 0
	}
	return c
}

func save(t *testing.T, st cutover.ComparisonStore, c *cutover.Comparison) {
	t.Helper()
	if err := st.SaveComparison(testContext(t), c); err != nil {
		t.Fatalf("SaveComparison(%s/%d): %v", c.EventID, c.Epoch, err)
	}
}

func aggregates(t *testing.T, st cutover.ComparisonStore, workflow string, since, until time.Time) []*cutover.Aggregate {
	t.Helper()
	as, err := st.Aggregates(testContext(t), workflow, since, until)
	if err != nil {
		t.Fatalf("Aggregates: %v", err)
	}
	return as
}

func cmpSaveOnce(t *testing.T, st cutover.ComparisonStore) {
	ctx := testContext(t)
	wf := uniq("wf")
	at := fixedTime()
	c := comparison(wf, 0, 1, at)
	save(t, st, c)
	got, err := st.Comparison(ctx, c.EventID, 0)
	if err != nil {
		t.Fatalf("Comparison: %v", err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("stored comparison (-want +got):\n%s", diff)
	}
	again := *c
	again.Verdict = cutover.VerdictMatch
	again.Diffs = nil
	if err := st.SaveComparison(ctx, &again); !errors.Is(err, cutover.ErrAlreadyRecorded) {
		t.Errorf("second SaveComparison: %v, want ErrAlreadyRecorded", err)
	}
	got, err = st.Comparison(ctx, c.EventID, 0)
	if err != nil {
		t.Fatalf("Comparison: %v", err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("a refused save changed the comparison (-first +stored):\n%s", diff)
	}
	want := cutover.NewAggregate(wf, 0, at)
	want.Add(c)
	if diff := cmp.Diff([]*cutover.Aggregate{want}, aggregates(t, st, wf, time.Time{}, time.Time{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("aggregates after a refused save (-want +got):\n%s", diff)
	}
	// The same event in another epoch is another comparison.
	c1 := *c
	c1.Epoch = 1
	save(t, st, &c1)
}

func cmpConcurrent(t *testing.T, st cutover.ComparisonStore) {
	ctx := testContext(t)
	wf := uniq("wf")
	c := comparison(wf, 0, 1, fixedTime())
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			cc := *c
			errs[i] = st.SaveComparison(ctx, &cc)
		}()
	}
	close(start)
	wg.Wait()
	saved := 0
	for i, err := range errs {
		switch {
		case err == nil:
			saved++
		case !errors.Is(err, cutover.ErrAlreadyRecorded):
			t.Errorf("save %d: %v, want nil or ErrAlreadyRecorded", i, err)
		}
	}
	if saved != 1 {
		t.Errorf("%d of %d concurrent saves succeeded, want 1", saved, n)
	}
	want := cutover.NewAggregate(wf, 0, c.ComparedAt)
	want.Add(c)
	if diff := cmp.Diff([]*cutover.Aggregate{want}, aggregates(t, st, wf, time.Time{}, time.Time{}), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("aggregate after concurrent saves (-want +got):\n%s", diff)
	}
}

// cmpAggregates saves comparisons over two workflows, two epochs and three
// minutes and checks every aggregate against cutover.Aggregate.Add.
func cmpAggregates(t *testing.T, st cutover.ComparisonStore) {
	// A random minute far in the past: no other subtest, and no earlier run
	// against the same backend, has aggregates there.
	base := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rand.IntN(5_000_000)) * time.Minute)
	tag := uniq("agg")
	wfs := []string{tag + "-a", tag + "-b"}
	type key struct {
		wf     string
		epoch  int
		minute int
	}
	want := map[key]*cutover.Aggregate{}
	n := 0
	for _, wf := range wfs {
		for epoch := 0; epoch < 2; epoch++ {
			for minute := 0; minute < 3; minute++ {
				k := key{wf, epoch, minute}
				m := base.Add(time.Duration(minute) * time.Minute)
				want[k] = cutover.NewAggregate(wf, epoch, m)
				for i := 0; i < 2+minute; i++ {
					n++
					c := comparison(wf, epoch, n, m.Add(time.Duration(10*i+1)*time.Second+time.Duration(n)*time.Millisecond))
					save(t, st, c)
					want[k].Add(c)
				}
			}
		}
	}
	collect := func(keep func(k key) bool) []*cutover.Aggregate {
		var as []*cutover.Aggregate
		for _, wf := range wfs { // ordered by workflow, epoch, minute
			for epoch := 0; epoch < 2; epoch++ {
				for minute := 0; minute < 3; minute++ {
					if k := (key{wf, epoch, minute}); keep(k) {
						as = append(as, want[k])
					}
				}
			}
		}
		return as
	}
	end := base.Add(3 * time.Minute)
	for _, tc := range []struct {
		name         string
		workflow     string
		since, until time.Time
		want         []*cutover.Aggregate
	}{
		{"one workflow", wfs[0], base, end, collect(func(k key) bool { return k.wf == wfs[0] })},
		{"one minute", wfs[1], base.Add(time.Minute), base.Add(2 * time.Minute),
			collect(func(k key) bool { return k.wf == wfs[1] && k.minute == 1 })},
		{"until is exclusive", wfs[0], base, base.Add(2 * time.Minute),
			collect(func(k key) bool { return k.wf == wfs[0] && k.minute < 2 })},
		{"every workflow", "", base, end, collect(func(key) bool { return true })},
	} {
		got := aggregates(t, st, tc.workflow, tc.since, tc.until)
		if tc.workflow == "" {
			// Keep ours: aggregates of other runs may share the minutes.
			var mine []*cutover.Aggregate
			for _, a := range got {
				if a.Workflow == wfs[0] || a.Workflow == wfs[1] {
					mine = append(mine, a)
				}
			}
			got = mine
		}
		if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func cmpQuery(t *testing.T, st cutover.ComparisonStore) {
	ctx := testContext(t)
	wf := uniq("wf")
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	verdicts := []cutover.Verdict{cutover.VerdictMatch, cutover.VerdictMismatch, cutover.VerdictMatch,
		cutover.VerdictAsyncError, cutover.VerdictMismatch, cutover.VerdictMatch}
	epochs := []int{0, 0, 1, 0, 1, 0}
	var cs []*cutover.Comparison
	for i := range verdicts {
		c := comparison(wf, epochs[i], i, base.Add(time.Duration(i)*time.Minute))
		c.Verdict = verdicts[i]
		cs = append(cs, c)
	}
	for _, i := range []int{4, 0, 5, 2, 1, 3} { // order comes from the ids
		save(t, st, cs[i])
	}
	ids := func(idx ...int) []string {
		var s []string
		for _, i := range idx {
			s = append(s, cs[i].EventID)
		}
		return s
	}
	for _, tc := range []struct {
		name string
		q    cutover.ComparisonQuery
		want []string
	}{
		{"any epoch", cutover.ComparisonQuery{Workflow: wf, Epoch: -1}, ids(0, 1, 2, 3, 4, 5)},
		{"epoch 0", cutover.ComparisonQuery{Workflow: wf, Epoch: 0}, ids(0, 1, 3, 5)},
		{"epoch 1", cutover.ComparisonQuery{Workflow: wf, Epoch: 1}, ids(2, 4)},
		{"verdict", cutover.ComparisonQuery{Workflow: wf, Epoch: -1, Verdict: cutover.VerdictMismatch}, ids(1, 4)},
		{"verdict and epoch", cutover.ComparisonQuery{Workflow: wf, Epoch: 0, Verdict: cutover.VerdictMatch}, ids(0, 5)},
		{"time range is [since, until)", cutover.ComparisonQuery{Workflow: wf, Epoch: -1, Since: base.Add(time.Minute), Until: base.Add(3 * time.Minute)}, ids(1, 2)},
		{"after id", cutover.ComparisonQuery{Workflow: wf, Epoch: -1, AfterID: cs[2].EventID, Limit: 2}, ids(3, 4)},
		{"limit", cutover.ComparisonQuery{Workflow: wf, Epoch: -1, Limit: 3}, ids(0, 1, 2)},
		{"other workflow", cutover.ComparisonQuery{Workflow: uniq("wf"), Epoch: -1}, nil},
	} {
		got, err := st.Comparisons(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: Comparisons: %v", tc.name, err)
		}
		var gotIDs []string
		for _, c := range got {
			gotIDs = append(gotIDs, c.EventID)
		}
		if diff := cmp.Diff(tc.want, gotIDs); diff != "" {
			t.Errorf("%s: ids (-want +got):\n%s", tc.name, diff)
		}
	}
	got, err := st.Comparisons(ctx, cutover.ComparisonQuery{Workflow: wf, Epoch: -1})
	if err != nil {
		t.Fatalf("Comparisons: %v", err)
	}
	if diff := cmp.Diff(cs, got); diff != "" {
		t.Errorf("queried comparisons (-want +got):\n%s", diff)
	}
}

func cmpNotFound(t *testing.T, st cutover.ComparisonStore) {
	if _, err := st.Comparison(testContext(t), cutover.NewEventID(), 0); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("Comparison of an unknown event: %v, want ErrNotFound", err)
	}
}
