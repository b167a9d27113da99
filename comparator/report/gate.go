package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cutover-dev/cutover"
)

// Gate check names, as in cutover.GateCheck.
const (
	CheckMinComparisons = "min_comparisons"
	CheckMinMatchRate   = "min_match_rate"
	CheckMaxAsyncErrors = "max_async_errors"
	CheckDLQEmpty       = "dlq_empty"
	CheckConfigured     = "configured"
)

// GateStats is what a readiness gate looks at, over the gate's window.
type GateStats struct {
	Workflow string
	Verdicts map[cutover.Verdict]int64
	// DLQ is the dead-letter depth; nil when unknown, which fails a gate
	// that requires an empty DLQ.
	DLQ *int64
}

// EvaluateGate checks a workflow's stats against its readiness gate. It is
// pure: the same stats always give the same answer.
//
//   - min_comparisons counts comparable events (match, mismatch,
//     async_error, async_missing): legacy errors and not_comparable events
//     are no evidence about the async side.
//   - min_match_rate is match over those.
//   - max_async_errors counts async_error and async_missing: an outcome
//     that never arrived is as bad as a failed one.
//   - dlq_empty, when the gate requires it.
func EvaluateGate(cfg cutover.GateConfig, s GateStats) cutover.GateResult {
	v := Verdicts(s.Verdicts)
	comparable := v.comparable()
	match := v[cutover.VerdictMatch]
	res := cutover.GateResult{Workflow: s.Workflow, Ready: true}
	add := func(name string, ok bool, want, got string) {
		res.Checks = append(res.Checks, cutover.GateCheck{Name: name, OK: ok, Want: want, Got: got})
		res.Ready = res.Ready && ok
	}

	add(CheckMinComparisons, comparable >= cfg.MinComparisons,
		">= "+strconv.FormatInt(cfg.MinComparisons, 10), strconv.FormatInt(comparable, 10))

	// match/comparable >= min, in integers where it matters: the smallest
	// number of matches that reaches the rate.
	needed := int64(math.Ceil(cfg.MinMatchRate*float64(comparable) - 1e-9))
	got := "n/a (nothing compared)"
	if comparable > 0 {
		got = percentFloor(float64(match) / float64(comparable))
	}
	add(CheckMinMatchRate, comparable > 0 && match >= needed, ">= "+percent(cfg.MinMatchRate), got)

	failed := v[cutover.VerdictAsyncError] + v[cutover.VerdictAsyncMissing]
	add(CheckMaxAsyncErrors, failed <= cfg.MaxAsyncErrors, "<= "+strconv.FormatInt(cfg.MaxAsyncErrors, 10),
		fmt.Sprintf("%d (%d async_error, %d async_missing)", failed, v[cutover.VerdictAsyncError], v[cutover.VerdictAsyncMissing]))

	if cfg.RequiresEmptyDLQ() {
		switch {
		case s.DLQ == nil:
			add(CheckDLQEmpty, false, "0", "unknown")
		default:
			add(CheckDLQEmpty, *s.DLQ == 0, "0", strconv.FormatInt(*s.DLQ, 10))
		}
	}
	return res
}

// percent formats a configured rate as written: 0.999 -> "99.9%".
func percent(rate float64) string {
	return strconv.FormatFloat(math.Round(rate*1e6)/1e4, 'f', -1, 64) + "%"
}

// percentFloor formats an observed rate with two decimals, rounded down so
// that a failing rate never prints as the threshold it missed.
func percentFloor(rate float64) string {
	return strconv.FormatFloat(math.Floor(rate*1e4+1e-9)/100, 'f', 2, 64) + "%"
}
