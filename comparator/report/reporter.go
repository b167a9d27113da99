package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cutover-dev/cutover"
)

// Comparisons is the part of the comparison store a report reads
// (cutover.ComparisonStore).
type Comparisons interface {
	Aggregates(ctx context.Context, workflow string, since, until time.Time) ([]*cutover.Aggregate, error)
	Comparisons(ctx context.Context, q cutover.ComparisonQuery) ([]*cutover.Comparison, error)
	Comparison(ctx context.Context, eventID string, epoch int) (*cutover.Comparison, error)
}

// Flags gives a workflow's current flag (cutover.FlagStore); ErrNotFound
// means no flag was set yet and the config's initial mode applies.
type Flags interface {
	Flag(ctx context.Context, workflow string) (cutover.Flag, error)
}

// DLQ gives the number of messages in a workflow's dead-letter queues.
// QueueDLQ adapts a cutover.Queue.
type DLQ interface {
	DLQDepth(ctx context.Context, workflow string) (int64, error)
}

// Sources is what a Reporter reads. Flags and DLQ may be nil: modes then
// come from the config, and the DLQ depth is unknown (which fails a gate
// that requires an empty DLQ).
type Sources struct {
	Comparisons Comparisons
	Flags       Flags
	DLQ         DLQ
}

// Reporter builds reports and evaluates readiness gates.
type Reporter struct {
	cfg  *cutover.Config
	src  Sources
	now  func() time.Time
	topN int
}

// Option configures a Reporter.
type Option func(*Reporter)

// WithClock sets the clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(r *Reporter) { r.now = now } }

// WithTop sets how many top diffs and fingerprints a workflow lists
// (default 10).
func WithTop(n int) Option { return func(r *Reporter) { r.topN = n } }

// New returns a Reporter for the workflows of cfg (which may be nil: then
// every workflow found in the store, with default gates).
func New(cfg *cutover.Config, src Sources, opts ...Option) *Reporter {
	r := &Reporter{cfg: cfg, src: src, now: time.Now, topN: 10}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Query selects what a report covers.
type Query struct {
	Workflow string        // empty: every workflow
	Since    time.Duration // the window reaches back this far; default 24h
}

// DefaultSince is the window of a report when Query.Since is zero.
const DefaultSince = 24 * time.Hour

// Report builds the report for q.
func (r *Reporter) Report(ctx context.Context, q Query) (*Report, error) {
	if q.Since <= 0 {
		q.Since = DefaultSince
	}
	now := r.now().UTC()
	since, until := window(now, q.Since)
	aggs, err := r.src.Comparisons.Aggregates(ctx, q.Workflow, since, until)
	if err != nil {
		return nil, fmt.Errorf("report: aggregates: %w", err)
	}
	byWorkflow := map[string][]*cutover.Aggregate{}
	for _, a := range aggs {
		byWorkflow[a.Workflow] = append(byWorkflow[a.Workflow], a)
	}
	rep := &Report{GeneratedAt: now, Since: since, Until: until, Workflows: []Workflow{}}
	for _, name := range r.names(q.Workflow, byWorkflow) {
		w, err := r.workflow(ctx, name, byWorkflow[name], since, until, q.Since)
		if err != nil {
			return nil, err
		}
		rep.Workflows = append(rep.Workflows, w)
	}
	return rep, nil
}

// names lists the report's workflows: the config's in config order, then
// any others the store has comparisons for, sorted.
func (r *Reporter) names(only string, found map[string][]*cutover.Aggregate) []string {
	if only != "" {
		return []string{only}
	}
	var names []string
	if r.cfg != nil {
		for _, w := range r.cfg.Workflows {
			names = append(names, w.Name)
		}
	}
	var extra []string
	for name := range found {
		if !slices.Contains(names, name) {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	return append(names, extra...)
}

// window covers whole minutes (aggregates are per minute): from the minute
// `back` before now to the end of the current minute.
func window(now time.Time, back time.Duration) (since, until time.Time) {
	return cutover.MinuteOf(now.Add(-back)), cutover.MinuteOf(now).Add(time.Minute)
}

func (r *Reporter) workflow(ctx context.Context, name string, aggs []*cutover.Aggregate, since, until time.Time, back time.Duration) (Workflow, error) {
	st, err := r.stats(ctx, name, aggs, since, until)
	if err != nil {
		return Workflow{}, err
	}
	w := Workflow{
		Name:         name,
		Compared:     st.merged.Total(),
		Verdicts:     st.verdicts(),
		TopDiffs:     topDiffs(st.merged, r.topN),
		Fingerprints: fingerprints(st.merged, r.topN),
		LatencyMS: Latencies{
			Legacy: quantiles(st.merged.LegacyLatency),
			Async:  quantiles(st.merged.AsyncLatency),
		},
		Epochs:     st.epochs(),
		Superseded: st.superseded,
	}
	w.MatchRate = roundTo(w.Verdicts.matchRate(), 6)
	if w.Mode, w.Percent, err = r.mode(ctx, name); err != nil {
		return Workflow{}, err
	}
	if w.DLQ, err = r.dlq(ctx, name); err != nil {
		return Workflow{}, err
	}
	var current []string
	if wc := r.workflowConfig(name); wc != nil {
		current = wc.Compare.Ignore
	}
	w.Noise = noise(st.merged, current)

	gcfg, ok := r.gateConfig(name)
	w.GateWindow = gcfg.Window.D().String()
	switch {
	case !ok:
		w.Gate = notConfigured(name)
	case gcfg.Window.D() == back:
		w.Gate = EvaluateGate(gcfg, GateStats{Workflow: name, Verdicts: w.Verdicts, DLQ: w.DLQ})
	default:
		if w.Gate, err = r.gate(ctx, name, gcfg, w.DLQ); err != nil {
			return Workflow{}, err
		}
	}
	w.Ready = w.Gate.Ready
	return w, nil
}

// Gate evaluates a workflow's readiness gate over the gate's window. The
// flags package calls it before promoting a workflow past shadow. A
// workflow missing from the config is an error wrapping cutover.ErrNotFound.
func (r *Reporter) Gate(ctx context.Context, workflow string) (cutover.GateResult, error) {
	gcfg, ok := r.gateConfig(workflow)
	if !ok {
		return notConfigured(workflow), fmt.Errorf("report: gate of %s: workflow is not in the config: %w", workflow, cutover.ErrNotFound)
	}
	depth, err := r.dlq(ctx, workflow)
	if err != nil {
		return cutover.GateResult{}, err
	}
	return r.gate(ctx, workflow, gcfg, depth)
}

func (r *Reporter) gate(ctx context.Context, workflow string, gcfg cutover.GateConfig, depth *int64) (cutover.GateResult, error) {
	since, until := window(r.now().UTC(), gcfg.Window.D())
	aggs, err := r.src.Comparisons.Aggregates(ctx, workflow, since, until)
	if err != nil {
		return cutover.GateResult{}, fmt.Errorf("report: gate of %s: aggregates: %w", workflow, err)
	}
	st, err := r.stats(ctx, workflow, aggs, since, until)
	if err != nil {
		return cutover.GateResult{}, err
	}
	return EvaluateGate(gcfg, GateStats{Workflow: workflow, Verdicts: st.verdicts(), DLQ: depth}), nil
}

func notConfigured(workflow string) cutover.GateResult {
	return cutover.GateResult{Workflow: workflow, Checks: []cutover.GateCheck{{
		Name: CheckConfigured, Want: "the workflow in the config", Got: "not in the config",
	}}}
}

func (r *Reporter) workflowConfig(name string) *cutover.WorkflowConfig {
	if r.cfg == nil {
		return nil
	}
	w, _ := r.cfg.Workflow(name)
	return w
}

// gateConfig is the workflow's gate with defaults filled in the way
// cutover.Config.SetDefaults does, for configs built without it.
func (r *Reporter) gateConfig(name string) (cutover.GateConfig, bool) {
	w := r.workflowConfig(name)
	if w == nil {
		return cutover.GateConfig{Window: cutover.Duration(DefaultSince)}, false
	}
	g := w.Gate
	if g.Window <= 0 {
		g.Window = cutover.Duration(DefaultSince)
	}
	return g, true
}

func (r *Reporter) mode(ctx context.Context, name string) (cutover.Mode, float64, error) {
	if r.src.Flags != nil {
		f, err := r.src.Flags.Flag(ctx, name)
		switch {
		case err == nil:
			return f.Mode, f.Percent, nil
		case !errors.Is(err, cutover.ErrNotFound):
			return "", 0, fmt.Errorf("report: flag of %s: %w", name, err)
		}
	}
	if w := r.workflowConfig(name); w != nil {
		mode := w.Mode
		if mode == "" {
			mode = cutover.ModeShadow
		}
		return mode, w.Percent, nil
	}
	return "", 0, nil
}

func (r *Reporter) dlq(ctx context.Context, name string) (*int64, error) {
	if r.src.DLQ == nil {
		return nil, nil
	}
	n, err := r.src.DLQ.DLQDepth(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("report: dlq of %s: %w", name, err)
	}
	return &n, nil
}
