package report

import (
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
)

// Noise thresholds.
//
// A path is suggested when it differs in at least NoiseShare of the
// compared bodies and its async values are many and different. Ids,
// timestamps and nonces take a new value per request, so the distinct value
// hashes the store keeps per path (at most cutover.MaxValuesTracked = 32)
// fill up; a real bug that always produces the same wrong value, or one of a
// few (an enum, a boolean, a constant), shows a handful. High cardinality
// is therefore "at least half of the slots that could be filled":
// distinct >= ceil(min(count, 32) / 2), so at least 16 once 32 values were
// possible. Half, not all, because timestamps of requests in the same second
// repeat, and because minute aggregates each keep their own first 32. Below
// NoiseMinSample compared bodies there is not enough evidence either way.
//
// This cannot tell noise from a bug in a per-request value (a total
// computed wrongly for every order also differs always, with many values),
// which is why these are suggestions a person accepts into the config.
const (
	NoiseShare     = 0.95
	NoiseMinSample = 20
)

// noise finds the noisy paths of agg (one workflow, merged over the
// window) and returns them with the ignore list to paste: the workflow's
// current ignore rules followed by the new ones.
func noise(agg *cutover.Aggregate, current []string) Noise {
	compared := agg.Verdicts[cutover.VerdictMatch] + agg.Verdicts[cutover.VerdictMismatch]
	out := Noise{Paths: []NoisePath{}}
	if compared < NoiseMinSample {
		return out
	}
	type candidate struct {
		path     string
		count    int64
		distinct int
	}
	var found []candidate
	for p, st := range agg.Paths {
		if !strings.HasPrefix(p, "$") || p == "$" { // status, headers and whole bodies are not ignore rules
			continue
		}
		share := float64(st.Count) / float64(compared)
		if share < NoiseShare {
			continue
		}
		slots := min(st.Count, int64(cutover.MaxValuesTracked))
		if int64(len(st.Values)) < max(2, (slots+1)/2) {
			continue
		}
		found = append(found, candidate{p, st.Count, len(st.Values)})
	}
	// Generalize indices: $.items[0].id and $.items[1].id become one
	// $.items[*].id rule, which also covers the next response's third item.
	groups := map[string]*NoisePath{}
	for _, c := range found {
		rule := generalize(c.path)
		g, ok := groups[rule]
		if !ok {
			g = &NoisePath{Path: rule}
			groups[rule] = g
		}
		g.Count = max(g.Count, c.count)
		g.Distinct = max(g.Distinct, c.distinct)
		g.Matched = append(g.Matched, c.path)
	}
	for _, g := range groups {
		slices.Sort(g.Matched)
		g.Share = roundTo(float64(g.Count)/float64(compared), 4)
		out.Paths = append(out.Paths, *g)
	}
	slices.SortFunc(out.Paths, func(a, b NoisePath) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Path, b.Path)) })
	if len(out.Paths) > 0 {
		rules := slices.Clone(current)
		for _, p := range out.Paths {
			if !slices.Contains(rules, p.Path) {
				rules = append(rules, p.Path)
			}
		}
		out.YAML = ignoreYAML(rules)
	}
	return out
}

// generalize replaces an index followed by more path with [*]: what varies
// per element is noise for every element. A path ending in an index (a
// whole element) is kept as it is.
func generalize(path string) string {
	p, err := jsonpath.Parse(path)
	if err != nil {
		return path
	}
	for i := range p {
		if p[i].IsIndex && i < len(p)-1 {
			p[i] = jsonpath.Segment{Wildcard: true}
		}
	}
	return p.String()
}

var plainYAML = regexp.MustCompile(`^\$[A-Za-z0-9_.*-]*$`)

// ignoreYAML renders an ignore list in the config's flow style, quoting
// paths that YAML would misread (brackets and quotes are flow indicators).
func ignoreYAML(rules []string) string {
	items := make([]string, len(rules))
	for i, r := range rules {
		if plainYAML.MatchString(r) {
			items[i] = r
			continue
		}
		items[i] = strconv.Quote(r) // Go's escapes are a subset of YAML's double-quoted ones
	}
	return "compare:\n  ignore: [" + strings.Join(items, ", ") + "]\n"
}
