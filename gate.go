package cutover

// GateResult is a readiness gate's answer for one workflow: whether it may
// leave shadow, and each condition with what was wanted and what was seen.
type GateResult struct {
	Workflow string      `json:"workflow"`
	Ready    bool        `json:"ready"`
	Checks   []GateCheck `json:"checks"`
}

// GateCheck is one condition of a readiness gate.
type GateCheck struct {
	Name string `json:"name"` // min_comparisons, min_match_rate, max_async_errors, dlq_empty
	OK   bool   `json:"ok"`
	Want string `json:"want"`
	Got  string `json:"got"`
}

// Failed returns the checks that did not pass, as "name: got X, want Y".
func (g GateResult) Failed() []string {
	var out []string
	for _, c := range g.Checks {
		if !c.OK {
			out = append(out, c.Name+": got "+c.Got+", want "+c.Want)
		}
	}
	return out
}
