package cutover

// Verdict is the comparator's conclusion about one event's pair of outcomes.
type Verdict string

const (
	VerdictMatch         Verdict = "match"
	VerdictMismatch      Verdict = "mismatch"
	VerdictAsyncError    Verdict = "async_error"
	VerdictLegacyError   Verdict = "legacy_error"
	VerdictAsyncMissing  Verdict = "async_missing"
	VerdictNotComparable Verdict = "not_comparable"
)

// Verdicts lists every verdict in report order.
func Verdicts() []Verdict {
	return []Verdict{VerdictMatch, VerdictMismatch, VerdictAsyncError, VerdictLegacyError, VerdictAsyncMissing, VerdictNotComparable}
}

// Valid reports whether v is a known verdict.
func (v Verdict) Valid() bool {
	for _, k := range Verdicts() {
		if v == k {
			return true
		}
	}
	return false
}
