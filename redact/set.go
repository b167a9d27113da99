package redact

import (
	"fmt"

	"github.com/cutover-dev/cutover"
)

// Set holds the redactor of every workflow of a config: proxy.redact merged
// with the workflow's own redact.
type Set struct {
	base       *Redactor
	byWorkflow map[string]*Redactor
}

// NewSet builds the redactors of cfg's workflows.
func NewSet(cfg *cutover.Config) (*Set, error) {
	base, err := New(cfg.Proxy.Redact)
	if err != nil {
		return nil, fmt.Errorf("proxy.redact: %w", err)
	}
	s := &Set{base: base, byWorkflow: make(map[string]*Redactor, len(cfg.Workflows))}
	for _, w := range cfg.Workflows {
		r, err := New(cfg.Proxy.Redact, w.Redact)
		if err != nil {
			return nil, fmt.Errorf("workflow %s: %w", w.Name, err)
		}
		s.byWorkflow[w.Name] = r
	}
	return s, nil
}

// For returns the redactor of workflow; for a workflow the config does not
// know it returns the proxy-wide rules, never nothing.
func (s *Set) For(workflow string) *Redactor {
	if r, ok := s.byWorkflow[workflow]; ok {
		return r
	}
	return s.base
}

// Event returns a copy of e redacted by its workflow's rules. Its signature
// fits pipeline.Publisher.ArchiveCopy.
func (s *Set) Event(e *cutover.Event) *cutover.Event {
	if e == nil {
		return nil
	}
	return s.For(e.Workflow).Event(e)
}

// Outcome returns a copy of o redacted by workflow's rules.
func (s *Set) Outcome(workflow string, o *cutover.Outcome) *cutover.Outcome {
	return s.For(workflow).Outcome(o)
}
