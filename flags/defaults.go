package flags

import cutover "github.com/cutover-dev/cutover"

// ConfigReason is the reason a flag carries while it comes from the config
// (version 0): no change was ever stored for its workflow.
const ConfigReason = "initial mode from config"

// DefaultFlag is a workflow's flag before anything is stored: its config
// mode, and its config percent when that mode is canary (a percent means
// nothing in the other modes).
func DefaultFlag(w *cutover.WorkflowConfig) cutover.Flag {
	f := cutover.Flag{Workflow: w.Name, Mode: w.Mode, Reason: ConfigReason}
	if f.Mode == "" {
		f.Mode = cutover.ModeShadow
	}
	if f.Mode == cutover.ModeCanary {
		f.Percent = w.Percent
	}
	return f
}

// salt is the bucketing salt of a workflow: its `salt`, by default its name
// (SetDefaults fills it; this guards configs built in code).
func salt(w *cutover.WorkflowConfig) string {
	if w.Salt != "" {
		return w.Salt
	}
	return w.Name
}
