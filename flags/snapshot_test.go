package flags

import (
	"fmt"
	"testing"
	"time"

	cutover "github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

func newTestSnapshot(t testing.TB) *Snapshot {
	t.Helper()
	s, err := NewSnapshot(testConfig(t), SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keyIn and keyOut find bucketing keys inside and outside a canary slice.
func keyIn(t testing.TB, salt string, percent float64) string {
	t.Helper()
	for i := range Buckets {
		if k := fmt.Sprintf("k%d", i); InSlice(salt, k, percent) {
			return k
		}
	}
	t.Fatalf("no key in the %v%% slice of %s", percent, salt)
	return ""
}

func keyOut(t testing.TB, salt string, percent float64) string {
	t.Helper()
	for i := range Buckets {
		if k := fmt.Sprintf("k%d", i); !InSlice(salt, k, percent) {
			return k
		}
	}
	t.Fatalf("no key outside the %v%% slice of %s", percent, salt)
	return ""
}

func TestDecide(t *testing.T) {
	s := newTestSnapshot(t)
	tests := []struct {
		name, workflow, key string
		want                cutover.Decision
	}{
		{"shadow mirrors", "create-order", "c1", cutover.Decision{Mode: cutover.ModeShadow, Mirror: true}},
		{"shadow without key", "create-order", "", cutover.Decision{Mode: cutover.ModeShadow, Mirror: true}},
		{"canary slice is async", "get-order", keyIn(t, "get-order", 10),
			cutover.Decision{Mode: cutover.ModeCanary, Percent: 10, Async: true}},
		{"canary rest is legacy and mirrored", "get-order", keyOut(t, "get-order", 10),
			cutover.Decision{Mode: cutover.ModeCanary, Percent: 10, Mirror: true}},
		{"off", "ship-order", "c1", cutover.Decision{Mode: cutover.ModeOff}},
		{"cutover", "pay-invoice", "c1", cutover.Decision{Mode: cutover.ModeCutover, Async: true}},
		{"unknown workflow is off", "nope", "c1", cutover.Decision{Mode: cutover.ModeOff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, s.Decide(tt.workflow, tt.key)); diff != "" {
				t.Errorf("Decide(%q, %q) (-want +got):\n%s", tt.workflow, tt.key, diff)
			}
		})
	}
}

func TestDecideUsesTheWorkflowSalt(t *testing.T) {
	s := newTestSnapshot(t)
	s.Apply(cutover.Flag{Workflow: "pay-invoice", Mode: cutover.ModeCanary, Percent: 10, Version: 1})
	in, out := keyIn(t, "invoices-v1", 10), keyOut(t, "invoices-v1", 10)
	if !s.Decide("pay-invoice", in).Async || s.Decide("pay-invoice", out).Async {
		t.Errorf("pay-invoice does not bucket with its salt invoices-v1")
	}
}

func TestDecideIsSticky(t *testing.T) {
	s := newTestSnapshot(t)
	for i := range 1000 {
		key := fmt.Sprintf("customer-%d", i)
		first := s.Decide("get-order", key)
		for range 3 {
			if got := s.Decide("get-order", key); got != first {
				t.Fatalf("Decide(get-order, %s) = %+v, then %+v", key, first, got)
			}
		}
	}
}

func TestDecideWithoutKeyDrawsABucket(t *testing.T) {
	s := newTestSnapshot(t)
	next := 0
	draws := []int{999, 1000, 0, 9999} // the 10% slice is buckets 0..999
	s.randBucket = func() int { b := draws[next%len(draws)]; next++; return b }
	var got []bool
	for range draws {
		got = append(got, s.Decide("get-order", "").Async)
	}
	if diff := cmp.Diff([]bool{true, false, true, false}, got); diff != "" {
		t.Errorf("async per drawn bucket (-want +got):\n%s", diff)
	}
}

func TestDecideWithoutKeySplitsByPercent(t *testing.T) {
	s := newTestSnapshot(t) // the real random draw
	const n = 10000
	async := 0
	for range n {
		if s.Decide("get-order", "").Async {
			async++
		}
	}
	// 10% of 10,000 has a standard deviation of 30: 5 points is 16 sigma.
	if share := float64(async) / n * 100; share < 5 || share > 15 {
		t.Errorf("%v%% of keyless requests were async at 10%%", share)
	}
}

func TestApply(t *testing.T) {
	s := newTestSnapshot(t)
	v2 := cutover.Flag{Workflow: "create-order", Mode: cutover.ModeCanary, Percent: 5, Version: 2}
	s.Apply(v2)
	s.Apply(cutover.Flag{Workflow: "create-order", Mode: cutover.ModeCutover, Version: 1}) // older: ignored
	s.Apply(cutover.Flag{Workflow: "create-order", Mode: cutover.ModeCutover, Version: 2}) // same: ignored
	s.Apply(cutover.Flag{Workflow: "create-order", Mode: "bogus", Version: 3})             // invalid: ignored
	s.Apply(cutover.Flag{Workflow: "nope", Mode: cutover.ModeCutover, Version: 9})         // unconfigured
	got, _ := s.Flag("create-order")
	if diff := cmp.Diff(v2, got); diff != "" {
		t.Errorf("flag after Apply (-want +got):\n%s", diff)
	}
	if _, ok := s.Flag("nope"); ok {
		t.Error("an unconfigured workflow got a flag")
	}
	if d := s.Decide("create-order", keyIn(t, "create-order", 5)); !d.Async || d.Version != 2 {
		t.Errorf("Decide after Apply = %+v, want async at version 2", d)
	}
}

func TestReplace(t *testing.T) {
	s := newTestSnapshot(t)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.Apply(cutover.Flag{Workflow: "ship-order", Mode: cutover.ModeShadow, Version: 4}) // newer than the load
	err := s.Replace([]cutover.Flag{
		{Workflow: "create-order", Mode: cutover.ModeCutover, Version: 3},
		{Workflow: "ship-order", Mode: cutover.ModeOff, Version: 3},
		{Workflow: "get-order", Mode: "bogus", Version: 1},
		{Workflow: "retired", Mode: cutover.ModeCutover, Version: 1},
	}, at)
	if err == nil {
		t.Error("Replace accepted a flag with mode bogus without reporting it")
	}
	want := []cutover.Flag{
		{Workflow: "create-order", Mode: cutover.ModeCutover, Version: 3},
		{Workflow: "get-order", Mode: cutover.ModeCanary, Percent: 10, Reason: ConfigReason}, // invalid one skipped
		{Workflow: "ship-order", Mode: cutover.ModeShadow, Version: 4},                       // Apply was newer
		{Workflow: "pay-invoice", Mode: cutover.ModeCutover, Reason: ConfigReason},
	}
	if diff := cmp.Diff(want, s.Flags()); diff != "" {
		t.Errorf("Flags after Replace (-want +got):\n%s", diff)
	}
	if !s.LoadedAt().Equal(at) {
		t.Errorf("LoadedAt = %v, want %v", s.LoadedAt(), at)
	}
}

func BenchmarkDecide(b *testing.B) {
	s := newTestSnapshot(b)
	b.Run("shadow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Decide("create-order", "customer-1234567")
		}
	})
	b.Run("canary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.Decide("get-order", "customer-1234567")
		}
	})
	b.Run("canary-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Decide("get-order", "customer-1234567")
			}
		})
	})
}
