package comparator

import (
	"bytes"
	"encoding/json"
	"math/big"
	"slices"
	"strings"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The oracle decides equality the slow, obvious way: encoding/json decodes
// both bodies, ignored members are deleted, and go-cmp compares the trees
// with a Comparer for numbers and cmpopts.SortSlices for unordered arrays.
// It shares no code with the parser or the diff, so the fuzzers can check
// one against the other. It covers the rules whose meaning go-cmp can
// express directly (see oracleApplies).

// oracleApplies reports whether the oracle's semantics equal the rules':
// exact numbers (no tolerances), multiset unordered arrays without a key,
// index-free unordered paths, and ignore patterns that end in a key and use
// no concrete index (the oracle deletes members; it cannot delete elements
// without shifting the rest).
func oracleApplies(cfg cutover.CompareConfig) bool {
	if cfg.NumericTolerance != 0 || cfg.TimestampTolerance != 0 {
		return false
	}
	for _, u := range cfg.Unordered {
		p, err := jsonpath.Parse(u.Path)
		if err != nil || u.Key != "" || hasIndex(p) {
			return false
		}
	}
	for _, s := range cfg.Ignore {
		p, err := jsonpath.Parse(s)
		if err != nil || len(p) == 0 || hasIndex(p) {
			return false
		}
		if last := p[len(p)-1]; last.IsIndex || last.Wildcard {
			return false
		}
	}
	return true
}

func hasIndex(p jsonpath.Path) bool {
	return slices.ContainsFunc(p, func(s jsonpath.Segment) bool { return s.IsIndex })
}

// oracleEqual decodes and compares two JSON bodies under cfg.
func oracleEqual(legacy, async []byte, cfg cutover.CompareConfig) bool {
	eq, _ := oracleDiff(legacy, async, cfg)
	return eq
}

// oracleDiff also returns the regions in which go-cmp found differences:
// the differing paths cut at their first array index, since go-cmp's
// indices (edit scripts, sorted slices) need not be the diff's.
func oracleDiff(legacy, async []byte, cfg cutover.CompareConfig) (bool, []string) {
	l, lok := oracleDecode(legacy)
	a, aok := oracleDecode(async)
	if !lok || !aok {
		if bytes.Equal(legacy, async) {
			return true, nil
		}
		return false, []string{"$"}
	}
	var ignore, unordered []jsonpath.Path
	for _, s := range cfg.Ignore {
		ignore = append(ignore, jsonpath.MustParse(s))
	}
	for _, u := range cfg.Unordered {
		unordered = append(unordered, jsonpath.MustParse(u.Path))
	}
	l = strip(l, nil, ignore)
	a = strip(a, nil, ignore)
	opts := cmp.Options{
		cmp.Comparer(func(x, y json.Number) bool { return oracleNumber(x) == oracleNumber(y) }),
	}
	for i, u := range unordered {
		elem := u.Append(jsonpath.Segment{IsIndex: true}) // any index: oracle patterns use wildcards
		// The first matching rule applies: go-cmp refuses two transformers
		// for one path.
		first := func(p cmp.Path) bool {
			c := concretePath(p)
			return u.Match(c) && !slices.ContainsFunc(unordered[:i], func(v jsonpath.Path) bool { return v.Match(c) })
		}
		opts = append(opts, cmp.FilterPath(first,
			cmpopts.SortSlices(func(x, y any) bool { return oracleKey(x, elem, unordered) < oracleKey(y, elem, unordered) })))
	}
	rep := &pathReporter{}
	eq := cmp.Equal(l, a, append(opts, cmp.Reporter(rep)))
	return eq, slices.Compact(slices.Sorted(slices.Values(rep.regions)))
}

// pathReporter collects where go-cmp found unequal values.
type pathReporter struct {
	path    cmp.Path
	regions []string
}

func (r *pathReporter) PushStep(ps cmp.PathStep) { r.path = append(r.path, ps) }
func (r *pathReporter) PopStep()                 { r.path = r.path[:len(r.path)-1] }
func (r *pathReporter) Report(rs cmp.Result) {
	if !rs.Equal() {
		r.regions = append(r.regions, region(concretePath(r.path)))
	}
}

// region cuts a path before its first array index.
func region(p jsonpath.Path) string {
	for i, s := range p {
		if s.IsIndex || s.Wildcard {
			return p[:i].String()
		}
	}
	return p.String()
}

func oracleDecode(b []byte) (any, bool) {
	if !json.Valid(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// strip deletes the members that an ignore pattern matches.
func strip(v any, at jsonpath.Path, ignore []jsonpath.Path) any {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			p := at.Append(jsonpath.Segment{Key: k})
			if slices.ContainsFunc(ignore, func(ig jsonpath.Path) bool { return ig.Match(p) }) {
				delete(t, k)
				continue
			}
			t[k] = strip(child, p, ignore)
		}
	case []any:
		for i, child := range t {
			t[i] = strip(child, at.Append(jsonpath.Segment{Index: i, IsIndex: true}), ignore)
		}
	}
	return v
}

// concretePath turns go-cmp's path into a jsonpath (indices of sorted
// slices are sorted positions; oracle rules use wildcards there).
func concretePath(p cmp.Path) jsonpath.Path {
	var out jsonpath.Path
	for _, s := range p {
		switch s := s.(type) {
		case cmp.MapIndex:
			out = append(out, jsonpath.Segment{Key: s.Key().String()})
		case cmp.SliceIndex:
			k, k2 := s.SplitKeys() // -1 on the side without the element
			if k < 0 {
				k = k2
			}
			out = append(out, jsonpath.Segment{Index: max(k, 0), IsIndex: true})
		}
	}
	return out
}

// oracleNumber is a number's exact value as sign, significant digits and
// a big.Int exponent: "-1.50e3" -> "-15e2".
func oracleNumber(n json.Number) string {
	s := string(n)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	e := new(big.Int)
	if exp != "" {
		e.SetString(strings.TrimPrefix(exp, "+"), 10)
	}
	e.Sub(e, big.NewInt(int64(len(frac))))
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return "0"
	}
	for strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		e.Add(e, big.NewInt(1))
	}
	return sign + digits + "e" + e.String()
}

// oracleKey orders values for SortSlices, consistently with equality under
// the rules: nested unordered arrays contribute their elements' keys sorted.
func oracleKey(v any, at jsonpath.Path, unordered []jsonpath.Path) string {
	switch t := v.(type) {
	case nil:
		return "n"
	case bool:
		if t {
			return "t"
		}
		return "f"
	case json.Number:
		return "#" + oracleNumber(t) + ";"
	case string:
		q, _ := json.Marshal(t)
		return string(q)
	case []any:
		isUnordered := slices.ContainsFunc(unordered, func(u jsonpath.Path) bool { return u.Match(at) })
		keys := make([]string, len(t))
		for i, e := range t {
			keys[i] = oracleKey(e, at.Append(jsonpath.Segment{Index: i, IsIndex: true}), unordered)
		}
		if isUnordered {
			slices.Sort(keys)
		}
		return "[" + strings.Join(keys, ",") + "]"
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var b strings.Builder
		b.WriteString("{")
		for _, k := range keys {
			q, _ := json.Marshal(k)
			b.Write(q)
			b.WriteString(":")
			b.WriteString(oracleKey(t[k], at.Append(jsonpath.Segment{Key: k}), unordered))
			b.WriteString(",")
		}
		b.WriteString("}")
		return b.String()
	}
	return "?"
}
