package cutover

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestHistogramQuantile(t *testing.T) {
	var h Histogram
	for i := 1; i <= 1000; i++ {
		h.Observe(time.Duration(i) * time.Millisecond)
	}
	for _, q := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}} {
		got := h.Quantile(q.q)
		if ratio := float64(got) / float64(q.want); ratio < 0.9 || ratio > 1.1 {
			t.Errorf("Quantile(%v) = %v, want within 10%% of %v", q.q, got, q.want)
		}
	}
	if (Histogram{}).Quantile(0.5) != 0 {
		t.Error("empty histogram quantile not 0")
	}
}

func TestAggregateAddMerge(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 30, 0, time.UTC)
	mk := func(id string, v Verdict, paths ...string) *Comparison {
		c := &Comparison{EventID: id, Workflow: "w", Verdict: v, ComparedAt: now, LegacyLatency: Duration(time.Millisecond), AsyncLatency: Duration(3 * time.Millisecond)}
		for _, p := range paths {
			c.Diffs = append(c.Diffs, PathDiff{Path: p, Async: json.RawMessage(`"` + id + `"`)})
		}
		return c
	}
	a := NewAggregate("w", 0, now)
	b := NewAggregate("w", 0, now)
	a.Add(mk("e1", VerdictMatch))
	a.Add(mk("e2", VerdictMismatch, "$.total", "$.id"))
	for i := 0; i < 7; i++ {
		b.Add(mk("f"+string(rune('0'+i)), VerdictMismatch, "$.id"))
	}
	a.Merge(b)
	if a.Minute != now.Truncate(time.Minute) {
		t.Errorf("minute = %v", a.Minute)
	}
	if diff := cmp.Diff(map[Verdict]int64{VerdictMatch: 1, VerdictMismatch: 8}, a.Verdicts); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	id := a.Paths["$.id"]
	if id.Count != 8 || len(id.Examples) != MaxExamples || len(id.Values) != 8 {
		t.Errorf("$.id stat = %+v", id)
	}
	if fp := a.Fingerprints[Fingerprint([]string{"$.id"})]; fp == nil || fp.Count != 7 {
		t.Errorf("fingerprint $.id = %+v", fp)
	}
	if a.AsyncLatency.Count() != 9 || a.Total() != 9 {
		t.Errorf("latency count %d, total %d", a.AsyncLatency.Count(), a.Total())
	}
	// Aggregates survive a JSON round trip, which is how backends store them.
	data, _ := json.Marshal(a)
	var back Aggregate
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, &back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func TestAggregateBoundsPaths(t *testing.T) {
	a := NewAggregate("w", 0, time.Now())
	for i := 0; i < MaxPathsTracked+50; i++ {
		a.Add(&Comparison{EventID: "e", Verdict: VerdictMismatch, Diffs: []PathDiff{{Path: "$.p" + itoa(i)}}})
	}
	if len(a.Paths) != MaxPathsTracked+1 || a.Paths[OtherPaths].Count != 50 {
		t.Errorf("paths = %d, other = %+v", len(a.Paths), a.Paths[OtherPaths])
	}
}

func TestStateOf(t *testing.T) {
	h := []Transition{{Kind: TransitionReceived}, {Kind: TransitionStarted}, {Kind: TransitionRetryScheduled}, {Kind: TransitionStarted}, {Kind: TransitionSucceeded}, {Kind: TransitionCompared}}
	if got := StateOf(h); got != StateSucceeded {
		t.Errorf("StateOf = %s", got)
	}
	if got := StateOf(h[:3]); got != StateRetrying {
		t.Errorf("StateOf = %s", got)
	}
}
