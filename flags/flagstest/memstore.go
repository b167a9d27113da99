// Package flagstest provides an in-memory cutover.FlagStore for tests of
// code that reads or changes flags, with the same version-checked semantics
// the backends give, and a switch to make it fail like an unreachable
// backend.
package flagstest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	cutover "github.com/cutover-dev/cutover"
)

// Store is an in-memory cutover.FlagStore. It is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	flags   map[string]cutover.Flag
	history map[string][]cutover.FlagChange
	fail    error
	writes  int
}

var _ cutover.FlagStore = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{flags: map[string]cutover.Flag{}, history: map[string][]cutover.FlagChange{}}
}

// Fail makes every call return err (wrapped) until Fail(nil).
func (s *Store) Fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

// Writes counts successful SetFlag calls.
func (s *Store) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

func (s *Store) failure(op string) error {
	if s.fail != nil {
		return fmt.Errorf("flagstest: %s: %w", op, s.fail)
	}
	return nil
}

// Flags returns every stored flag, ordered by workflow.
func (s *Store) Flags(ctx context.Context) ([]cutover.Flag, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failure("flags"); err != nil {
		return nil, err
	}
	out := make([]cutover.Flag, 0, len(s.flags))
	for _, f := range s.flags {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b cutover.Flag) int { return cmp.Compare(a.Workflow, b.Workflow) })
	return out, nil
}

// Flag returns the stored flag of workflow; cutover.ErrNotFound if none.
func (s *Store) Flag(ctx context.Context, workflow string) (cutover.Flag, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failure("flag"); err != nil {
		return cutover.Flag{}, err
	}
	f, ok := s.flags[workflow]
	if !ok {
		return cutover.Flag{}, fmt.Errorf("flagstest: flag %s: %w", workflow, cutover.ErrNotFound)
	}
	return f, nil
}

// SetFlag stores f and appends change if the stored version is f.Version-1.
func (s *Store) SetFlag(ctx context.Context, f cutover.Flag, change cutover.FlagChange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failure("set flag"); err != nil {
		return err
	}
	if err := f.Validate(); err != nil {
		return fmt.Errorf("flagstest: set flag: %w", err)
	}
	if change.Workflow != f.Workflow || change.Version != f.Version {
		return fmt.Errorf("flagstest: set flag %s: change is for %s version %d, flag is version %d",
			f.Workflow, change.Workflow, change.Version, f.Version)
	}
	if have := s.flags[f.Workflow].Version; have != f.Version-1 {
		return fmt.Errorf("flagstest: set flag %s version %d over version %d: %w", f.Workflow, f.Version, have, cutover.ErrVersionConflict)
	}
	s.flags[f.Workflow] = f
	s.history[f.Workflow] = append(s.history[f.Workflow], change)
	s.writes++
	return nil
}

// FlagHistory returns workflow's changes, oldest first.
func (s *Store) FlagHistory(ctx context.Context, workflow string) ([]cutover.FlagChange, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.failure("flag history"); err != nil {
		return nil, err
	}
	return slices.Clone(s.history[workflow]), nil
}
