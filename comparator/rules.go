package comparator

import (
	"fmt"
	"hash/maphash"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
)

// maxPatterns bounds ignore and unordered rules per workflow: the diff tracks
// which patterns can still match as a bit set, which keeps rule checks off
// the hot path's profile.
const maxPatterns = 64

// Rules are a workflow's compiled comparison rules. They are immutable and
// safe for concurrent use.
type Rules struct {
	ignore     []jsonpath.Path
	unordered  []unorderedRule
	numTol     float64
	tsTol      time.Duration
	headers    []string // canonical names, sorted
	statusMap  map[int]int
	now        func() time.Time
	seed       maphash.Seed
	allIgnore  uint64 // every ignore pattern, alive at the root
	allUnorder uint64
}

type unorderedRule struct {
	path jsonpath.Path
	key  jsonpath.Path // relative to the element; nil: multiset comparison
}

// Option configures Compile.
type Option func(*Rules)

// WithClock sets the clock that stamps ComparedAt (default time.Now).
func WithClock(now func() time.Time) Option { return func(r *Rules) { r.now = now } }

// Compile checks and compiles a workflow's compare rules. An error names the
// rule at fault, e.g. `compare.ignore[2]: ...`.
func Compile(cfg cutover.CompareConfig, opts ...Option) (*Rules, error) {
	r := &Rules{now: time.Now, seed: maphash.MakeSeed(), statusMap: map[int]int{}}
	for _, o := range opts {
		o(r)
	}
	if len(cfg.Ignore) > maxPatterns {
		return nil, fmt.Errorf("compare.ignore: %d patterns, at most %d are supported", len(cfg.Ignore), maxPatterns)
	}
	for i, s := range cfg.Ignore {
		p, err := jsonpath.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("compare.ignore[%d]: %w", i, err)
		}
		if len(p) == 0 {
			return nil, fmt.Errorf("compare.ignore[%d]: %q names the whole body; name a field", i, s)
		}
		r.allIgnore |= 1 << len(r.ignore)
		r.ignore = append(r.ignore, p)
	}
	if len(cfg.Unordered) > maxPatterns {
		return nil, fmt.Errorf("compare.unordered: %d rules, at most %d are supported", len(cfg.Unordered), maxPatterns)
	}
	seen := map[string]int{}
	for i, u := range cfg.Unordered {
		p, err := jsonpath.Parse(u.Path)
		if err != nil {
			return nil, fmt.Errorf("compare.unordered[%d].path: %w", i, err)
		}
		if j, dup := seen[p.String()]; dup {
			return nil, fmt.Errorf("compare.unordered[%d].path: %q is also compare.unordered[%d]", i, u.Path, j)
		}
		seen[p.String()] = i
		key, err := parseKey(u.Key)
		if err != nil {
			return nil, fmt.Errorf("compare.unordered[%d].key: %w", i, err)
		}
		r.allUnorder |= 1 << len(r.unordered)
		r.unordered = append(r.unordered, unorderedRule{path: p, key: key})
	}
	if math.IsNaN(cfg.NumericTolerance) || math.IsInf(cfg.NumericTolerance, 0) || cfg.NumericTolerance < 0 {
		return nil, fmt.Errorf("compare.numeric_tolerance: %v must be a finite number, 0 or more", cfg.NumericTolerance)
	}
	r.numTol = cfg.NumericTolerance
	if cfg.TimestampTolerance < 0 {
		return nil, fmt.Errorf("compare.timestamp_tolerance: %s must not be negative", cfg.TimestampTolerance)
	}
	r.tsTol = cfg.TimestampTolerance.D()
	for i, h := range cfg.Headers {
		if h == "" || strings.ContainsAny(h, " :\t\r\n") {
			return nil, fmt.Errorf("compare.headers[%d]: %q is not a header name", i, h)
		}
		name := http.CanonicalHeaderKey(h)
		if !slices.Contains(r.headers, name) {
			r.headers = append(r.headers, name)
		}
	}
	slices.Sort(r.headers)
	for _, from := range slices.Sorted(maps.Keys(cfg.StatusMap)) {
		to := cfg.StatusMap[from]
		if from < 100 || from > 599 || to < 100 || to > 599 {
			return nil, fmt.Errorf("compare.status_map: %d: %d is not a pair of HTTP status codes", from, to)
		}
		r.statusMap[from] = to
	}
	return r, nil
}

// MustCompile is Compile for rules known to be valid; it panics otherwise.
func MustCompile(cfg cutover.CompareConfig, opts ...Option) *Rules {
	r, err := Compile(cfg, opts...)
	if err != nil {
		panic(err)
	}
	return r
}

// parseKey reads an unordered rule's key: a field name ("sku") or a path
// relative to the element ("$.sku", "$.ref.id").
func parseKey(s string) (jsonpath.Path, error) {
	if s == "" {
		return nil, nil
	}
	if !strings.HasPrefix(s, "$") {
		return jsonpath.Path{{Key: s}}, nil
	}
	p, err := jsonpath.Parse(s)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, fmt.Errorf("%q names the whole element; name a field of it", s)
	}
	for _, seg := range p {
		if seg.Wildcard {
			return nil, fmt.Errorf("%q: a key cannot contain a wildcard", s)
		}
	}
	return p, nil
}

// expectedStatus is the async status that matches a legacy status.
func (r *Rules) expectedStatus(legacy int) int {
	if to, ok := r.statusMap[legacy]; ok {
		return to
	}
	return legacy
}

// Headers returns the compared header names, canonical and sorted.
func (r *Rules) Headers() []string { return slices.Clone(r.headers) }
