package comparator

import (
	"bytes"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
)

// corpusBodies returns the bodies of the golden corpus, as fuzz seeds.
func corpusBodies(t testing.TB) [][2][]byte {
	dirs, _ := filepath.Glob("testdata/compare/*")
	var out [][2][]byte
	for _, dir := range dirs {
		if _, err := os.Stat(filepath.Join(dir, "generated")); err == nil {
			continue // 64 KiB seeds slow the fuzzer down without adding shapes
		}
		var pair [2][]byte
		for i, name := range []string{"legacy.txt", "async.txt"} {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if _, body, ok := bytes.Cut(data, []byte("\n\n")); ok {
				pair[i] = body
			}
		}
		out = append(out, pair)
	}
	small, _ := orderPair(3, 1)
	return append(out, [2][]byte{small, small})
}

// randomRules derives compare rules from seed that aim at real paths of
// the documents: ignore and unordered patterns with wildcards or concrete
// indices, keys, tolerances, headers and a status map.
func randomRules(seed uint64, docs ...[]byte) cutover.CompareConfig {
	rng := rand.New(rand.NewPCG(seed, seed*31+7))
	var paths, arrays []jsonpath.Path
	var walk func(v any, at jsonpath.Path)
	walk = func(v any, at jsonpath.Path) {
		if len(paths) > 200 {
			return
		}
		switch t := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(t)) {
				c := t[k]
				p := at.Append(jsonpath.Segment{Key: k})
				paths = append(paths, p)
				walk(c, p)
			}
		case []any:
			arrays = append(arrays, at)
			for i, c := range t {
				p := at.Append(jsonpath.Segment{Index: i, IsIndex: true})
				paths = append(paths, p)
				walk(c, p)
			}
		}
	}
	for _, d := range docs {
		if v, ok := oracleDecode(d); ok {
			walk(v, nil)
		}
	}
	generalize := func(p jsonpath.Path, odds int) jsonpath.Path {
		q := slices.Clone(p)
		for i := range q {
			if q[i].IsIndex && rng.IntN(10) < odds {
				q[i] = jsonpath.Segment{Wildcard: true}
			}
		}
		return q
	}
	var cfg cutover.CompareConfig
	if len(paths) > 0 {
		for range rng.IntN(4) {
			p := paths[rng.IntN(len(paths))]
			p = generalize(p[:1+rng.IntN(len(p))], 7)
			cfg.Ignore = append(cfg.Ignore, p.String())
		}
	}
	seen := map[string]bool{}
	if len(arrays) > 0 {
		for range rng.IntN(3) {
			p := generalize(arrays[rng.IntN(len(arrays))], 9)
			if seen[p.String()] {
				continue
			}
			seen[p.String()] = true
			u := cutover.UnorderedRule{Path: p.String()}
			if rng.IntN(2) == 0 {
				u.Key = []string{"id", "sku", "a", "k"}[rng.IntN(4)]
			}
			cfg.Unordered = append(cfg.Unordered, u)
		}
	}
	if rng.IntN(4) == 0 {
		cfg.NumericTolerance = []float64{0.001, 0.5, 10}[rng.IntN(3)]
	}
	if rng.IntN(4) == 0 {
		cfg.TimestampTolerance = cutover.Duration(time.Duration(rng.IntN(5000)) * time.Millisecond)
	}
	if rng.IntN(3) == 0 {
		cfg.Headers = []string{"content-type", "X-Request-Id"}
	}
	if rng.IntN(4) == 0 {
		cfg.StatusMap = map[int]int{404: 410, 500: 502} // the fuzzed outcomes are 200s
	}
	return cfg
}

func jsonOutcome(body []byte) *cutover.Outcome {
	return &cutover.Outcome{Status: 200, Body: slices.Clone(body), Header: map[string][]string{"Content-Type": {"application/json"}}}
}

// FuzzParse checks the parser against encoding/json: it accepts exactly
// what json.Valid accepts, and its canonical form decodes to the same value
// and is a fixed point.
func FuzzParse(f *testing.F) {
	for _, p := range corpusBodies(f) {
		f.Add(p[0])
		f.Add(p[1])
	}
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`"\ud800\u0041 \udc00\ud83d\ude00"`))
	f.Add([]byte(`[1e999999999999999999,-0.0e-5,123456789012345678901234,0.0000001]`))
	f.Add([]byte(strings.Repeat("[", 10001) + strings.Repeat("]", 10001)))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, ok := parse(data)
		if ok != json.Valid(data) {
			t.Fatalf("parse ok = %v, json.Valid = %v for %q", ok, !ok, data)
		}
		if !ok {
			return
		}
		c := canonical(&n)
		if !json.Valid(c) {
			t.Fatalf("canonical form %q is not JSON", c)
		}
		if !oracleEqual(data, c, cutover.CompareConfig{}) {
			t.Fatalf("canonical form %q does not decode to the value of %q", c, data)
		}
		n2, _ := parse(c)
		if c2 := canonical(&n2); !bytes.Equal(c, c2) {
			t.Fatalf("canonical form is not a fixed point: %q then %q", c, c2)
		}
	})
}

// FuzzCompareSelf checks that any body matches itself, and its canonical
// form, under any rules.
func FuzzCompareSelf(f *testing.F) {
	for i, p := range corpusBodies(f) {
		f.Add(p[0], uint64(i))
		f.Add(p[1], uint64(i)*7)
	}
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		cfg := randomRules(seed, body)
		r, err := Compile(cfg)
		if err != nil {
			t.Fatalf("Compile(%+v): %v", cfg, err)
		}
		pair := cutover.OutcomePair{Legacy: jsonOutcome(body), Async: jsonOutcome(body)}
		if c := r.Compare(pair); c.Verdict != cutover.VerdictMatch || len(c.Diffs) > 0 {
			t.Fatalf("body against itself under %+v: %s %+v", cfg, c.Reason, c.Diffs)
		}
		if canon, ok := Canonicalize(body); ok {
			pair.Async = jsonOutcome(canon)
			if c := r.Compare(pair); c.Verdict != cutover.VerdictMatch {
				t.Fatalf("body against its canonical form %q under %+v: %s", canon, cfg, c.Reason)
			}
		}
	})
}

// FuzzDiff compares two bodies under random rules: no panics, a verdict
// consistent with the recorded diffs, well-formed paths and values, the
// same answer both ways round, and the same answer as the go-cmp oracle
// wherever the oracle can express the rules.
func FuzzDiff(f *testing.F) {
	for i, p := range corpusBodies(f) {
		f.Add(p[0], p[1], uint64(i))
	}
	f.Fuzz(func(t *testing.T, a, b []byte, seed uint64) {
		cfg := randomRules(seed, a, b)
		r, err := Compile(cfg)
		if err != nil {
			t.Fatalf("Compile(%+v): %v", cfg, err)
		}
		pair := cutover.OutcomePair{Legacy: jsonOutcome(a), Async: jsonOutcome(b)}
		c := r.Compare(pair)
		if (c.Verdict == cutover.VerdictMatch) != (len(c.Diffs) == 0) {
			t.Fatalf("verdict %s with %d diffs", c.Verdict, len(c.Diffs))
		}
		for _, d := range c.Diffs {
			if d.Path != StatusPath && !strings.HasPrefix(d.Path, HeaderPrefix) {
				if _, err := jsonpath.Parse(d.Path); err != nil {
					t.Fatalf("diff path %q: %v", d.Path, err)
				}
			}
			for _, v := range []json.RawMessage{d.Legacy, d.Async} {
				if v != nil && !json.Valid(v) {
					t.Fatalf("diff value %q at %s is not JSON", v, d.Path)
				}
			}
		}
		if cfg.StatusMap == nil && cfg.NumericTolerance == 0 && cfg.TimestampTolerance == 0 {
			back := r.Compare(cutover.OutcomePair{Legacy: jsonOutcome(b), Async: jsonOutcome(a)})
			if back.Verdict != c.Verdict {
				t.Fatalf("a/b: %s, b/a: %s under %+v", c.Verdict, back.Verdict, cfg)
			}
		}
		if oracleApplies(cfg) && cfg.StatusMap == nil {
			if want := oracleEqual(a, b, cfg); want != (c.Verdict == cutover.VerdictMatch) {
				t.Fatalf("verdict %s (%s), go-cmp oracle says equal=%v under %+v", c.Verdict, c.Reason, want, cfg)
			}
		}
		// The side-by-side view shows every line of both sides once, in
		// order, and reaches the same verdict.
		e := r.Explain(pair, nil)
		if e.Comparison.Verdict != c.Verdict {
			t.Fatalf("Explain verdict %s, Compare %s", e.Comparison.Verdict, c.Verdict)
		}
		var left, right []Line
		for _, row := range e.Rows() {
			if row.Legacy == nil && row.Async == nil {
				t.Fatal("empty side-by-side row")
			}
			if row.Legacy != nil {
				left = append(left, *row.Legacy)
			}
			if row.Async != nil {
				right = append(right, *row.Async)
			}
		}
		if !slices.Equal(left, e.Legacy.Lines) || !slices.Equal(right, e.Async.Lines) {
			t.Fatalf("rows do not hold each line once, in order")
		}
	})
}
