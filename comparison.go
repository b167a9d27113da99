package cutover

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"
)

// Comparison is the comparator's record of one event's pair of outcomes. It
// is written once per (EventID, Epoch): a replay gets a new epoch and so a new
// comparison, and the report can show before and after.
type Comparison struct {
	EventID       string     `json:"event_id"`
	Epoch         int        `json:"epoch"`
	Workflow      string     `json:"workflow"`
	Verdict       Verdict    `json:"verdict"`
	Diffs         []PathDiff `json:"diffs,omitempty"`
	Reason        string     `json:"reason,omitempty"` // why for errors and not_comparable
	LegacyLatency Duration   `json:"legacy_latency,omitempty"`
	AsyncLatency  Duration   `json:"async_latency,omitempty"`
	ComparedAt    time.Time  `json:"compared_at"`
}

// PathDiff is one differing path. A side's value is nil when the path is
// absent on that side. Legacy and Async hold canonical JSON.
type PathDiff struct {
	Path   string          `json:"path"`
	Legacy json.RawMessage `json:"legacy,omitempty"`
	Async  json.RawMessage `json:"async,omitempty"`
}

// Paths returns the differing paths, sorted.
func (c *Comparison) Paths() []string {
	ps := make([]string, 0, len(c.Diffs))
	for _, d := range c.Diffs {
		ps = append(ps, d.Path)
	}
	sort.Strings(ps)
	return ps
}

// Fingerprint identifies the set of differing paths: mismatches with the same
// fingerprint most likely share one cause.
func Fingerprint(paths []string) string {
	if len(paths) == 0 {
		return ""
	}
	ps := append([]string(nil), paths...)
	sort.Strings(ps)
	sum := sha256.Sum256([]byte(strings.Join(ps, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// Aggregate limits keep one aggregate bounded however noisy a workflow is.
const (
	MaxExamples       = 5   // example event ids kept per path
	MaxPathsTracked   = 200 // distinct paths per aggregate; the rest count under OtherPaths
	MaxValuesTracked  = 32  // distinct value hashes per path, for the cardinality of noise
	OtherPaths        = "(other paths)"
	aggregateMinute   = time.Minute
	valueHashHexBytes = 6
)

// Aggregate folds the comparisons of one workflow, replay epoch and minute.
// Backends store aggregates (embedded: one row; DynamoDB: counters plus
// bounded exemplars) and the comparator merges them into reports.
type Aggregate struct {
	Workflow      string                `json:"workflow"`
	Epoch         int                   `json:"epoch"`
	Minute        time.Time             `json:"minute"`
	Verdicts      map[Verdict]int64     `json:"verdicts"`
	Paths         map[string]*PathStat  `json:"paths,omitempty"`
	Fingerprints  map[string]*PrintStat `json:"fingerprints,omitempty"`
	LegacyLatency Histogram             `json:"legacy_latency"`
	AsyncLatency  Histogram             `json:"async_latency"`
}

// PathStat counts comparisons in which a path differed.
type PathStat struct {
	Count    int64    `json:"count"`
	Examples []string `json:"examples,omitempty"` // event ids, at most MaxExamples
	// Values holds short hashes of the distinct async values seen, at most
	// MaxValuesTracked: high cardinality marks noise (ids, timestamps).
	Values []string `json:"values,omitempty"`
}

// PrintStat counts mismatches sharing one fingerprint.
type PrintStat struct {
	Paths   []string `json:"paths"`
	Count   int64    `json:"count"`
	Example string   `json:"example,omitempty"`
}

// MinuteOf truncates t to the aggregate window it belongs to.
func MinuteOf(t time.Time) time.Time { return t.UTC().Truncate(aggregateMinute) }

// NewAggregate returns an empty aggregate for c's workflow, epoch and minute.
func NewAggregate(workflow string, epoch int, minute time.Time) *Aggregate {
	return &Aggregate{
		Workflow: workflow, Epoch: epoch, Minute: MinuteOf(minute),
		Verdicts:     map[Verdict]int64{},
		Paths:        map[string]*PathStat{},
		Fingerprints: map[string]*PrintStat{},
	}
}

// Add folds one comparison into a.
func (a *Aggregate) Add(c *Comparison) {
	a.init()
	a.Verdicts[c.Verdict]++
	if c.LegacyLatency > 0 {
		a.LegacyLatency.Observe(c.LegacyLatency.D())
	}
	if c.AsyncLatency > 0 {
		a.AsyncLatency.Observe(c.AsyncLatency.D())
	}
	if len(c.Diffs) == 0 {
		return
	}
	for _, d := range c.Diffs {
		p := d.Path
		st, ok := a.Paths[p]
		if !ok && len(a.Paths) >= MaxPathsTracked {
			p = OtherPaths
			st = a.Paths[p]
		}
		if st == nil {
			st = &PathStat{}
			a.Paths[p] = st
		}
		st.Count++
		if len(st.Examples) < MaxExamples {
			st.Examples = append(st.Examples, c.EventID)
		}
		st.addValue(valueHash(d.Async))
	}
	paths := c.Paths()
	fp := Fingerprint(paths)
	ps, ok := a.Fingerprints[fp]
	if !ok {
		if len(a.Fingerprints) >= MaxPathsTracked {
			return
		}
		ps = &PrintStat{Paths: paths, Example: c.EventID}
		a.Fingerprints[fp] = ps
	}
	ps.Count++
}

// Merge folds b into a. Workflow, epoch and minute of a are kept.
func (a *Aggregate) Merge(b *Aggregate) {
	a.init()
	for v, n := range b.Verdicts {
		a.Verdicts[v] += n
	}
	for p, s := range b.Paths {
		st, ok := a.Paths[p]
		if !ok && len(a.Paths) >= MaxPathsTracked {
			p = OtherPaths
			st = a.Paths[p]
		}
		if st == nil {
			st = &PathStat{}
			a.Paths[p] = st
		}
		st.Count += s.Count
		for _, ex := range s.Examples {
			if len(st.Examples) >= MaxExamples {
				break
			}
			st.Examples = append(st.Examples, ex)
		}
		for _, v := range s.Values {
			st.addValue(v)
		}
	}
	for fp, s := range b.Fingerprints {
		ps, ok := a.Fingerprints[fp]
		if !ok {
			if len(a.Fingerprints) >= MaxPathsTracked {
				continue
			}
			ps = &PrintStat{Paths: s.Paths, Example: s.Example}
			a.Fingerprints[fp] = ps
		}
		ps.Count += s.Count
	}
	a.LegacyLatency.Merge(b.LegacyLatency)
	a.AsyncLatency.Merge(b.AsyncLatency)
}

// Total is the number of comparisons folded into a.
func (a *Aggregate) Total() int64 {
	var n int64
	for _, c := range a.Verdicts {
		n += c
	}
	return n
}

func (a *Aggregate) init() {
	if a.Verdicts == nil {
		a.Verdicts = map[Verdict]int64{}
	}
	if a.Paths == nil {
		a.Paths = map[string]*PathStat{}
	}
	if a.Fingerprints == nil {
		a.Fingerprints = map[string]*PrintStat{}
	}
}

func (s *PathStat) addValue(h string) {
	if len(s.Values) >= MaxValuesTracked {
		return
	}
	for _, v := range s.Values {
		if v == h {
			return
		}
	}
	s.Values = append(s.Values, h)
}

func valueHash(v json.RawMessage) string {
	sum := sha256.Sum256(v)
	return hex.EncodeToString(sum[:valueHashHexBytes])
}
