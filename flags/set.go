package flags

import (
	"context"
	"fmt"
	"math"
	"strings"

	cutover "github.com/cutover-dev/cutover"
)

// SetRequest asks to move one workflow to a mode.
type SetRequest struct {
	Workflow string
	Mode     cutover.Mode
	Percent  float64 // canary only: 0.01 to 100, in steps of 0.01
	Reason   string  // required: it is the audit log's why
	By       string  // required: who asks (a token name, a user)
	// Force overrides a failed readiness gate; the history entry records
	// that and what failed.
	Force bool
}

// Set moves a workflow to req's mode. It refuses, without writing, an
// unknown workflow (ErrUnknownWorkflow), a bad field (*InvalidError) and a
// promotion past shadow whose readiness gate fails (*GateError) unless
// req.Force. A promotion is a move to canary from off or shadow, to a higher
// canary percent, or to cutover. Setting the mode a workflow is already in
// still writes a history entry: the request is recorded.
func (s *Service) Set(ctx context.Context, req SetRequest) (Result, error) {
	w, err := s.workflow(req.Workflow)
	if err != nil {
		return Result{}, err
	}
	if err := validate(&req); err != nil {
		return Result{}, err
	}
	// The gate is evaluated at most once per Set, however often a version
	// conflict makes the plan run again.
	var gate *gateAnswer
	return s.write(ctx, w, func(ctx context.Context, cur cutover.Flag) (*cutover.FlagChange, error) {
		ch := &cutover.FlagChange{By: req.By, Reason: req.Reason, ToMode: req.Mode, ToPercent: req.Percent}
		if !promotes(cur, req.Mode, req.Percent) {
			return ch, nil
		}
		if gate == nil {
			res, err := s.gate.Gate(ctx, w.Name)
			gate = &gateAnswer{res: res, err: err}
		}
		switch {
		case gate.err != nil && !req.Force:
			return nil, fmt.Errorf("flags: readiness gate of %s: %w", w.Name, gate.err)
		case gate.err != nil:
			ch.Forced, ch.GateDetail = true, "gate could not be evaluated: "+gate.err.Error()
		case gate.res.Ready:
		case !req.Force:
			return nil, &GateError{Workflow: w.Name, To: describe(req.Mode, req.Percent), Result: gate.res}
		default:
			ch.Forced, ch.GateDetail = true, gateDetail(gate.res)
		}
		return ch, nil
	})
}

type gateAnswer struct {
	res cutover.GateResult
	err error
}

// promotes reports whether moving from cur to mode and percent hands more
// traffic to the async pipeline: what the readiness gate protects.
func promotes(cur cutover.Flag, mode cutover.Mode, percent float64) bool {
	switch mode {
	case cutover.ModeCutover:
		return cur.Mode != cutover.ModeCutover
	case cutover.ModeCanary:
		return !cur.Mode.PastShadow() || (cur.Mode == cutover.ModeCanary && percent > cur.Percent)
	}
	return false
}

// validate checks a request field by field and normalises it (trimmed
// reason and by, percent rounded to its 0.01 step).
func validate(req *SetRequest) error {
	if req.Mode == "" {
		return invalid("mode", "is required (want off, shadow, canary or cutover)")
	}
	if !req.Mode.Valid() {
		return invalid("mode", "%q is unknown (want off, shadow, canary or cutover)", req.Mode)
	}
	p := req.Percent
	switch {
	case math.IsNaN(p) || p < 0 || p > 100:
		return invalid("percent", "%v is out of range (want 0.01 to 100 for canary)", p)
	case math.Abs(p*100-math.Round(p*100)) > 1e-6:
		return invalid("percent", "%v has more than two decimals (the finest step is 0.01)", p)
	case req.Mode != cutover.ModeCanary && p != 0:
		return invalid("percent", "%v was given but percent applies only to mode canary; omit it for mode %s", p, req.Mode)
	case req.Mode == cutover.ModeCanary && p == 0:
		return invalid("percent", "canary needs a percent above 0, e.g. 1 (to send no traffic to the async pipeline, use mode shadow)")
	}
	req.Percent = math.Round(p*100) / 100
	req.Reason = strings.TrimSpace(req.Reason)
	if req.Reason == "" {
		return invalid("reason", "is required: say why, for the flag history")
	}
	req.By = strings.TrimSpace(req.By)
	if req.By == "" {
		return invalid("by", "is required: who makes the change, for the flag history")
	}
	return nil
}
