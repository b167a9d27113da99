package flags

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// The values are computed independently (Python's hashlib) and are a
// contract: if this test fails, keys would move between legacy and async on
// upgrade.
func TestBucketIsStable(t *testing.T) {
	tests := []struct {
		salt, key string
		want      int
	}{
		{"create-order", "customer-42", 4308},
		{"create-order", "", 2873},
		{"", "x", 2752},
		{"get-order", "customer-42", 4519},
		{"ab", "c", 5165},
		{"a", "bc", 7297}, // the 0x00 separator keeps it apart from ("ab", "c")
		{"create-order", "ünïcode", 4942},
		{strings.Repeat("s", 100), strings.Repeat("k", 100), 5921}, // beyond the stack buffer
	}
	for _, tt := range tests {
		if got := Bucket(tt.salt, tt.key); got != tt.want {
			t.Errorf("Bucket(%q, %q) = %d, want %d", tt.salt, tt.key, got, tt.want)
		}
	}
}

func TestThreshold(t *testing.T) {
	tests := []struct {
		percent float64
		want    int
	}{
		{0, 0}, {0.01, 1}, {1, 100}, {10, 1000}, {12.34, 1234}, {99.99, 9999}, {100, 10000},
		{0.004, 0}, {0.005, 1}, // round half away from zero
		{-1, 0}, {150, 10000}, {math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := Threshold(tt.percent); got != tt.want {
			t.Errorf("Threshold(%v) = %d, want %d", tt.percent, got, tt.want)
		}
	}
}

func TestSliceShare(t *testing.T) {
	tests := []struct {
		salt    string
		percent float64
	}{
		{"create-order", 10},
		{"create-order", 1},
		{"get-order", 50},
		{"get-order", 0.5},
	}
	const n = 10000
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%v", tt.salt, tt.percent), func(t *testing.T) {
			in := 0
			for i := range n {
				if InSlice(tt.salt, fmt.Sprintf("customer-%d", i), tt.percent) {
					in++
				}
			}
			got := float64(in) / n * 100
			if math.Abs(got-tt.percent) > 1 {
				t.Errorf("%d distinct keys at %v%%: %v%% in the slice, want within 1 point", n, tt.percent, got)
			}
		})
	}
}

func TestRaisingThePercentOnlyAddsKeys(t *testing.T) {
	const n = 10000
	steps := []float64{0, 1, 10, 20, 50, 99.99, 100}
	for i := range n {
		key := fmt.Sprintf("customer-%d", i)
		wasIn := false
		for _, p := range steps {
			in := InSlice("create-order", key, p)
			if wasIn && !in {
				t.Fatalf("key %s left the slice when the percent rose to %v", key, p)
			}
			wasIn = in
		}
		if !wasIn {
			t.Fatalf("key %s is not in the slice at 100%%", key)
		}
	}
}

func TestSaltsPickIndependentSlices(t *testing.T) {
	const n = 10000
	both := 0
	for i := range n {
		key := fmt.Sprintf("customer-%d", i)
		if InSlice("create-order", key, 10) && InSlice("get-order", key, 10) {
			both++
		}
	}
	// Independent 10% slices overlap on about 1% of keys; the same slice
	// would overlap on 10%.
	if share := float64(both) / n * 100; share > 2 {
		t.Errorf("%v%% of keys are in both workflows' 10%% slices, want about 1%%", share)
	}
}

func FuzzBucket(f *testing.F) {
	f.Add("create-order", "customer-42", 10.0)
	f.Add("", "", 0.0)
	f.Add("a", "bc", 100.0)
	f.Fuzz(func(t *testing.T, salt, key string, percent float64) {
		b := Bucket(salt, key)
		if b < 0 || b >= Buckets {
			t.Fatalf("Bucket(%q, %q) = %d, out of [0, %d)", salt, key, b, Buckets)
		}
		if b != Bucket(salt, key) {
			t.Fatalf("Bucket(%q, %q) is not deterministic", salt, key)
		}
		th := Threshold(percent)
		if th < 0 || th > Buckets {
			t.Fatalf("Threshold(%v) = %d, out of [0, %d]", percent, th, Buckets)
		}
		if InSlice(salt, key, percent) && !InSlice(salt, key, math.Min(100, math.Abs(percent)+1)) {
			t.Fatalf("key %q left the slice when the percent rose from %v", key, percent)
		}
	})
}

func BenchmarkBucket(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Bucket("create-order", "customer-1234567")
	}
}
