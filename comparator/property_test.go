package comparator

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
	"github.com/google/go-cmp/cmp"
)

// randomDoc builds a JSON-like tree of bounded size: objects with a few
// keys from a small alphabet (so paths recur across documents), arrays of
// objects or scalars, and numbers written in varied forms.
func randomDoc(rng *rand.Rand, depth int) any {
	if depth == 0 || rng.IntN(4) == 0 {
		switch rng.IntN(6) {
		case 0:
			return nil
		case 1:
			return rng.IntN(2) == 0
		case 2, 3:
			return json.Number(fmt.Sprint(rng.IntN(5)))
		default:
			return []string{"x", "y", "z", "2026-11-27T10:00:00Z"}[rng.IntN(4)]
		}
	}
	if rng.IntN(2) == 0 {
		m := map[string]any{}
		for range 1 + rng.IntN(4) {
			m[[]string{"id", "a", "b", "sku", "k"}[rng.IntN(5)]] = randomDoc(rng, depth-1)
		}
		return m
	}
	var arr []any
	for range rng.IntN(5) {
		arr = append(arr, randomDoc(rng, depth-1))
	}
	return arr
}

// mutate returns a changed copy of v: array orders shuffled, numbers
// respelled, and with some probability one real change.
func mutate(rng *rand.Rand, v any, change *bool) any {
	switch t := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for _, k := range slices.Sorted(maps.Keys(t)) { // map order would make the run random
			c := t[k]
			if !*change && rng.IntN(12) == 0 {
				*change = true
				if rng.IntN(2) == 0 {
					continue // drop the member
				}
				out[k] = nil // null instead
				continue
			}
			out[k] = mutate(rng, c, change)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, c := range t {
			out[i] = mutate(rng, c, change)
		}
		if rng.IntN(2) == 0 {
			rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		}
		return out
	case json.Number:
		if !*change && rng.IntN(10) == 0 {
			*change = true
			return json.Number("7")
		}
		if rng.IntN(2) == 0 {
			return json.Number(string(t) + ".0")
		}
	}
	return v
}

// TestOracleAgreement checks the diff against the go-cmp oracle on
// structured documents, where byte-level fuzzing rarely reaches: reordered
// arrays with and without unordered rules, ignored members inside unordered
// elements, nulls against absent members, respelled numbers.
func TestOracleAgreement(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	checked, matches, withUnordered, withIgnore := 0, 0, 0, 0
	for i := range 4000 {
		doc := randomDoc(rng, 4)
		changed := false
		a, b := mustJSON(doc), mustJSON(mutate(rng, doc, &changed))
		cfg := randomRules(uint64(i), a, b)
		cfg.NumericTolerance, cfg.TimestampTolerance, cfg.StatusMap = 0, 0, nil
		for j := range cfg.Unordered {
			cfg.Unordered[j].Key = "" // the oracle compares multisets
		}
		cfg.Unordered = slices.DeleteFunc(cfg.Unordered, func(u cutover.UnorderedRule) bool {
			return !oracleApplies(cutover.CompareConfig{Unordered: []cutover.UnorderedRule{u}})
		})
		cfg.Ignore = slices.DeleteFunc(cfg.Ignore, func(s string) bool { return !oracleApplies(cutover.CompareConfig{Ignore: []string{s}}) })
		r := MustCompile(cfg)
		c := r.Compare(cutover.OutcomePair{Legacy: jsonOutcome(a), Async: jsonOutcome(b)})
		want, regions := oracleDiff(a, b, cfg)
		if got := c.Verdict == cutover.VerdictMatch; got != want {
			t.Fatalf("case %d: verdict %s (%s), oracle equal=%v\nrules %+v\nlegacy %s\nasync  %s", i, c.Verdict, c.Reason, want, cfg, a, b)
		}
		// And the differences are in the same places.
		if len(c.Diffs) < MaxDiffs {
			var mine []string
			for _, d := range c.Diffs {
				mine = append(mine, region(jsonpath.MustParse(d.Path)))
			}
			mine = slices.Compact(slices.Sorted(slices.Values(mine)))
			if diff := cmp.Diff(regions, mine); diff != "" {
				t.Fatalf("case %d: differing regions, go-cmp (-) vs diff (+):\n%s\nrules %+v\nlegacy %s\nasync  %s\ndiffs %+v", i, diff, cfg, a, b, c.Diffs)
			}
		}
		back := r.Compare(cutover.OutcomePair{Legacy: jsonOutcome(b), Async: jsonOutcome(a)})
		if back.Verdict != c.Verdict {
			t.Fatalf("case %d: not symmetric: %s then %s\nrules %+v\nlegacy %s\nasync  %s", i, c.Verdict, back.Verdict, cfg, a, b)
		}
		checked++
		if len(cfg.Unordered) > 0 {
			withUnordered++
		}
		if len(cfg.Ignore) > 0 {
			withIgnore++
		}
		if want {
			matches++
		}
	}
	// Both outcomes must be well represented, or the test proves little.
	if matches < checked/10 || matches > checked*9/10 {
		t.Errorf("%d of %d cases matched; the generator is unbalanced", matches, checked)
	}
	if withUnordered < checked/5 || withIgnore < checked/5 {
		t.Errorf("only %d cases with unordered rules and %d with ignore rules of %d", withUnordered, withIgnore, checked)
	}
	t.Logf("%d cases, %d equal, %d with unordered rules, %d with ignore rules", checked, matches, withUnordered, withIgnore)
}
