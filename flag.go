package cutover

import (
	"fmt"
	"time"
)

// Flag says who serves one workflow. Version increases by one with every
// change; writes are conditional on it.
type Flag struct {
	Workflow  string    `json:"workflow"`
	Mode      Mode      `json:"mode"`
	Percent   float64   `json:"percent"` // canary share, 0..100 in steps of 0.01
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// Validate checks mode and percent.
func (f Flag) Validate() error {
	if f.Workflow == "" {
		return fmt.Errorf("flag: workflow is empty")
	}
	if !f.Mode.Valid() {
		return fmt.Errorf("flag %s: mode %q is unknown (want off, shadow, canary or cutover)", f.Workflow, f.Mode)
	}
	if f.Percent < 0 || f.Percent > 100 {
		return fmt.Errorf("flag %s: percent %v is out of range (want 0 to 100)", f.Workflow, f.Percent)
	}
	return nil
}

// FlagChange is one entry of a workflow's append-only flag history.
type FlagChange struct {
	Workflow    string    `json:"workflow"`
	Version     int64     `json:"version"` // the flag's version after the change
	At          time.Time `json:"at"`
	By          string    `json:"by"`
	Reason      string    `json:"reason"`
	FromMode    Mode      `json:"from_mode"`
	FromPercent float64   `json:"from_percent"`
	ToMode      Mode      `json:"to_mode"`
	ToPercent   float64   `json:"to_percent"`
	// Forced records that the readiness gate failed and the change was made
	// anyway with --force; GateDetail says what failed.
	Forced     bool   `json:"forced,omitempty"`
	GateDetail string `json:"gate_detail,omitempty"`
}
