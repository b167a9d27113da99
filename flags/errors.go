package flags

import (
	"errors"
	"fmt"
	"strings"

	cutover "github.com/cutover-dev/cutover"
)

// ErrUnknownWorkflow is wrapped by errors about a workflow name that the
// config does not define; the message lists the ones it does.
var ErrUnknownWorkflow = errors.New("unknown workflow")

func unknownWorkflow(name string, known []string) error {
	if len(known) == 0 {
		return fmt.Errorf("%w %q (no workflows are configured)", ErrUnknownWorkflow, name)
	}
	return fmt.Errorf("%w %q (configured: %s)", ErrUnknownWorkflow, name, strings.Join(known, ", "))
}

// InvalidError refuses a change request because of one field.
type InvalidError struct {
	Field string // workflow, mode, percent, reason or by
	Msg   string
}

func (e *InvalidError) Error() string { return "invalid " + e.Field + ": " + e.Msg }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// GateError refuses a promotion past shadow because the workflow's readiness
// gate failed; Result holds every check. Setting Force overrides it.
type GateError struct {
	Workflow string
	To       string // the refused target, e.g. "canary 10%"
	Result   cutover.GateResult
}

func (e *GateError) Error() string {
	return fmt.Sprintf("readiness gate of %s refuses %s: %s (force overrides it and records that in the history)",
		e.Workflow, e.To, gateDetail(e.Result))
}

// gateDetail says what failed, for errors and the history's GateDetail.
func gateDetail(g cutover.GateResult) string {
	if failed := g.Failed(); len(failed) > 0 {
		return strings.Join(failed, "; ")
	}
	return "not ready"
}
