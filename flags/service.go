package flags

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	cutover "github.com/cutover-dev/cutover"
)

// Gate evaluates a workflow's readiness gate (the comparator implements it).
type Gate interface {
	Gate(ctx context.Context, workflow string) (cutover.GateResult, error)
}

// Applier takes a flag the Service has just written; *Snapshot is one.
type Applier interface {
	Apply(f cutover.Flag)
}

// DefaultMaxAttempts bounds the re-read and re-validate loop of a change
// that keeps losing version-checked writes to concurrent changes.
const DefaultMaxAttempts = 8

// ServiceOptions are NewService's optional settings.
type ServiceOptions struct {
	// Snapshot, when set, gets every written flag at once, so the process
	// that made a change serves it without waiting for a refresh.
	Snapshot Applier
	// MaxAttempts per change; default DefaultMaxAttempts.
	MaxAttempts int
	// Logger receives one line per written change; nil logs nothing.
	Logger *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Service reads and changes flags: the one path by which the CLI, the admin
// API and later the UI move a workflow, so every change is validated,
// gate-checked and recorded the same way.
type Service struct {
	store       cutover.FlagStore
	cfg         *cutover.Config
	gate        Gate
	snap        Applier
	maxAttempts int
	log         *slog.Logger
	now         func() time.Time
}

// Result is a change's outcome: the flag now in force and the history entry
// written, or nil when nothing needed to change.
type Result struct {
	Flag   cutover.Flag        `json:"flag"`
	Change *cutover.FlagChange `json:"change,omitempty"`
}

// NewService returns a Service over store for the workflows of cfg,
// checking promotions with gate.
func NewService(store cutover.FlagStore, cfg *cutover.Config, gate Gate, opt ServiceOptions) (*Service, error) {
	if store == nil || cfg == nil || gate == nil {
		return nil, errors.New("flags: service: store, config and gate are required")
	}
	s := &Service{store: store, cfg: cfg, gate: gate, snap: opt.Snapshot, maxAttempts: opt.MaxAttempts, log: opt.Logger, now: opt.Now}
	if s.maxAttempts <= 0 {
		s.maxAttempts = DefaultMaxAttempts
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// workflow returns the config of name or an ErrUnknownWorkflow error.
func (s *Service) workflow(name string) (*cutover.WorkflowConfig, error) {
	if w, ok := s.cfg.Workflow(name); ok {
		return w, nil
	}
	known := make([]string, 0, len(s.cfg.Workflows))
	for _, w := range s.cfg.Workflows {
		known = append(known, w.Name)
	}
	return nil, unknownWorkflow(name, known)
}

// current reads the stored flag of w, or its config flag (version 0).
func (s *Service) current(ctx context.Context, w *cutover.WorkflowConfig) (cutover.Flag, error) {
	f, err := s.store.Flag(ctx, w.Name)
	if errors.Is(err, cutover.ErrNotFound) {
		return DefaultFlag(w), nil
	}
	if err != nil {
		return cutover.Flag{}, fmt.Errorf("flags: read %s: %w", w.Name, err)
	}
	return f, nil
}

// Get returns the flag in force for workflow.
func (s *Service) Get(ctx context.Context, workflow string) (cutover.Flag, error) {
	w, err := s.workflow(workflow)
	if err != nil {
		return cutover.Flag{}, err
	}
	return s.current(ctx, w)
}

// List returns the flag of every configured workflow, in config order.
// Stored flags of workflows no longer configured are left out.
func (s *Service) List(ctx context.Context) ([]cutover.Flag, error) {
	stored, err := s.store.Flags(ctx)
	if err != nil {
		return nil, fmt.Errorf("flags: list: %w", err)
	}
	byName := make(map[string]cutover.Flag, len(stored))
	for _, f := range stored {
		byName[f.Workflow] = f
	}
	out := make([]cutover.Flag, 0, len(s.cfg.Workflows))
	for i := range s.cfg.Workflows {
		w := &s.cfg.Workflows[i]
		f, ok := byName[w.Name]
		if !ok {
			f = DefaultFlag(w)
		}
		out = append(out, f)
	}
	return out, nil
}

// History returns workflow's changes, oldest first: the audit log.
func (s *Service) History(ctx context.Context, workflow string) ([]cutover.FlagChange, error) {
	if _, err := s.workflow(workflow); err != nil {
		return nil, err
	}
	h, err := s.store.FlagHistory(ctx, workflow)
	if err != nil {
		return nil, fmt.Errorf("flags: history of %s: %w", workflow, err)
	}
	return h, nil
}
