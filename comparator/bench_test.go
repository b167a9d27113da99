package comparator

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

// Benchmark documents: realistic order responses of about 1 KiB and 64 KiB
// with a few real differences, compared under orderRules (ignore with a
// wildcard, unordered items keyed by sku, a numeric tolerance).
var benchSizes = []struct {
	name  string
	items int
}{{"1KiB", 5}, {"64KiB", 520}}

func TestBenchmarkDocuments(t *testing.T) {
	for _, s := range benchSizes {
		legacy, async := orderPair(s.items, 42)
		c := MustCompile(orderRules).Compare(cutover.OutcomePair{Legacy: jsonOutcome(legacy), Async: jsonOutcome(async)})
		t.Logf("%s: legacy %d bytes, async %d bytes, %s", s.name, len(legacy), len(async), c.Reason)
		if c.Verdict != cutover.VerdictMismatch || len(c.Paths()) != 2 {
			t.Errorf("%s: %s %v, want a mismatch on the wrong price and the dropped null", s.name, c.Verdict, c.Paths())
		}
	}
}

// BenchmarkCompare measures comparisons per second (cmp/s). The baselines
// run in the same process on the same documents, so that ratios hold on a
// shared, noisy machine: decode-both is what encoding/json alone costs to
// read both bodies into interface values; bytes-equal is the floor; gocmp is
// the same comparison done by go-cmp over encoding/json's values (ignore
// and unordered only, as go-cmp has no keyed matching).
func BenchmarkCompare(b *testing.B) {
	for _, s := range benchSizes {
		legacy, async := orderPair(s.items, 42)
		pair := cutover.OutcomePair{Legacy: jsonOutcome(legacy), Async: jsonOutcome(async)}
		rules := MustCompile(orderRules)
		size := int64(len(legacy) + len(async))
		run := func(name string, f func()) {
			b.Run(s.name+"/"+name, func(b *testing.B) {
				b.SetBytes(size)
				b.ReportAllocs()
				for b.Loop() {
					f()
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmp/s")
			})
		}
		run("compare", func() { rules.Compare(pair) })
		run("baseline-decode-both", func() {
			for _, body := range [][]byte{legacy, async} {
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.UseNumber()
				var v any
				if err := dec.Decode(&v); err != nil {
					b.Fatal(err)
				}
			}
		})
		run("baseline-bytes-equal", func() { _ = bytes.Equal(legacy, async) })
		oracleCfg := cutover.CompareConfig{Ignore: orderRules.Ignore, Unordered: []cutover.UnorderedRule{{Path: "$.items"}}}
		run("gocmp", func() { oracleEqual(legacy, async, oracleCfg) })
		var l, a any
		_ = json.Unmarshal(legacy, &l)
		_ = json.Unmarshal(async, &a)
		run("gocmp-equal-only", func() { cmp.Equal(l, a) }) // no decoding, no rules
	}
}
