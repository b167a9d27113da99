// Package report turns the comparator's per-minute aggregates into the diff
// report users read before promoting a workflow (`cutover report`), renders
// it as text, JSON, Markdown or a self-contained HTML page, evaluates the
// readiness gate, suggests ignore rules for noisy paths, and renders one
// comparison side by side (`cutover diff EVENT_ID`).
package report

import (
	"time"

	"github.com/cutover-dev/cutover"
)

// Report is the whole report. Its JSON form is the operating surface
// scripts read: field names are stable; fields may be added.
type Report struct {
	GeneratedAt time.Time  `json:"generated_at"`
	Since       time.Time  `json:"since"` // the window, in whole minutes
	Until       time.Time  `json:"until"`
	Workflows   []Workflow `json:"workflows"`
}

// Workflow is one workflow's section of the report.
type Workflow struct {
	Name    string       `json:"name"`
	Mode    cutover.Mode `json:"mode"`
	Percent float64      `json:"percent"`
	// Compared counts the comparisons in the window; an event replayed in
	// the window counts once, with its latest epoch's verdict (Superseded
	// says how many earlier verdicts were replaced).
	Compared int64    `json:"compared"`
	Verdicts Verdicts `json:"verdicts"`
	// MatchRate is match / (match + mismatch + async_error + async_missing):
	// the share of events the async side got right. Legacy errors and
	// not_comparable say nothing about the async side and are left out.
	MatchRate    float64       `json:"match_rate"`
	TopDiffs     []PathCount   `json:"top_diffs"`
	Fingerprints []Fingerprint `json:"fingerprints"`
	LatencyMS    Latencies     `json:"latency_ms"`
	// DLQ is the number of messages in the workflow's dead-letter queues;
	// null when no DLQ source was given.
	DLQ        *int64             `json:"dlq"`
	Ready      bool               `json:"ready"`
	Gate       cutover.GateResult `json:"gate"`
	GateWindow string             `json:"gate_window"`
	Epochs     []Epoch            `json:"epochs"`
	Superseded int64              `json:"superseded"`
	Noise      Noise              `json:"noise"`
}

// Verdicts counts comparisons by verdict. Its JSON always has all six keys.
type Verdicts map[cutover.Verdict]int64

// newVerdicts returns counts with every verdict present.
func newVerdicts() Verdicts {
	v := Verdicts{}
	for _, k := range cutover.Verdicts() {
		v[k] = 0
	}
	return v
}

// comparable is the denominator of the match rate.
func (v Verdicts) comparable() int64 {
	return v[cutover.VerdictMatch] + v[cutover.VerdictMismatch] + v[cutover.VerdictAsyncError] + v[cutover.VerdictAsyncMissing]
}

// matchRate is match over comparable, 0 when nothing was comparable.
func (v Verdicts) matchRate() float64 {
	n := v.comparable()
	if n == 0 {
		return 0
	}
	return float64(v[cutover.VerdictMatch]) / float64(n)
}

// PathCount is a differing path: in how many comparisons it differed and a
// few example event ids to look at with `cutover diff`.
type PathCount struct {
	Path     string   `json:"path"`
	Count    int64    `json:"count"`
	Examples []string `json:"examples"`
}

// Fingerprint is a set of paths that differed together; mismatches sharing
// one most likely share a cause.
type Fingerprint struct {
	ID      string   `json:"id"`
	Paths   []string `json:"paths"`
	Count   int64    `json:"count"`
	Example string   `json:"example"`
}

// Latencies are both sides' latency quantiles in milliseconds.
type Latencies struct {
	Legacy Quantiles `json:"legacy"`
	Async  Quantiles `json:"async"`
}

// Quantiles of one side, in milliseconds; 0 without observations.
type Quantiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// Epoch is the before/after view: the verdicts of one replay epoch as
// recorded (epoch 0 is the original traffic), not superseded.
type Epoch struct {
	Epoch     int      `json:"epoch"`
	Compared  int64    `json:"compared"`
	Verdicts  Verdicts `json:"verdicts"`
	MatchRate float64  `json:"match_rate"`
}

// Noise lists paths that look like noise (ids, timestamps), and the
// workflow's ignore list with them added, ready to paste into the config.
type Noise struct {
	Paths []NoisePath `json:"paths"`
	YAML  string      `json:"yaml,omitempty"`
}

// NoisePath is one suggested ignore rule.
type NoisePath struct {
	Path string `json:"path"` // the rule to add; indices generalized to [*]
	// Share is the fraction of compared bodies in which the path differed.
	Share float64 `json:"share"`
	Count int64   `json:"count"`
	// Distinct is how many different async values were seen (the store
	// keeps at most cutover.MaxValuesTracked).
	Distinct int      `json:"distinct_values"`
	Matched  []string `json:"matched"` // the differing paths the rule covers
}
