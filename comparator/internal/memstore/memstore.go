// Package memstore is an in-memory fake of the backend parts the comparator
// uses (outcome pairs, comparisons with aggregates, transition logs, blobs),
// with the same write-once and version-checked semantics as the real
// backends, for the comparator's tests. It also counts calls, so tests can
// assert that a comparison was written exactly once.
package memstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cutover-dev/cutover"
)

type pairKey struct {
	id    string
	epoch int
}

type aggKey struct {
	workflow string
	epoch    int
	minute   time.Time
}

// Store is safe for concurrent use.
type Store struct {
	// Now stamps CreatedAt of new pairs; default time.Now. Set it before use.
	Now func() time.Time

	mu          sync.Mutex
	pairs       map[pairKey]*cutover.OutcomePair
	comparisons map[pairKey]*cutover.Comparison
	aggs        map[aggKey]*cutover.Aggregate
	logs        map[string][]cutover.Transition
	blobs       map[string][]byte
	saves       int // successful SaveComparison calls
}

// New returns an empty store.
func New() *Store {
	return &Store{
		Now:         time.Now,
		pairs:       map[pairKey]*cutover.OutcomePair{},
		comparisons: map[pairKey]*cutover.Comparison{},
		aggs:        map[aggKey]*cutover.Aggregate{},
		logs:        map[string][]cutover.Transition{},
		blobs:       map[string][]byte{},
	}
}

// PutOutcome implements cutover.OutcomeStore.
func (s *Store) PutOutcome(ctx context.Context, workflow, eventID string, epoch int, side cutover.Side, o *cutover.Outcome) (cutover.OutcomePair, bool, error) {
	if err := ctx.Err(); err != nil {
		return cutover.OutcomePair{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := pairKey{eventID, epoch}
	p, ok := s.pairs[k]
	if !ok {
		p = &cutover.OutcomePair{EventID: eventID, Epoch: epoch, Workflow: workflow, CreatedAt: s.Now().UTC()}
		s.pairs[k] = p
	}
	slot := &p.Legacy
	if side == cutover.SideAsync {
		slot = &p.Async
	}
	if *slot != nil {
		return cutover.OutcomePair{}, false, fmt.Errorf("memstore: %s side of %s: %w", side, eventID, cutover.ErrAlreadyRecorded)
	}
	cp := *o
	*slot = &cp
	return *p, p.Legacy != nil && p.Async != nil, nil
}

// OutcomePair implements cutover.OutcomeStore.
func (s *Store) OutcomePair(ctx context.Context, eventID string, epoch int) (cutover.OutcomePair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pairs[pairKey{eventID, epoch}]
	if !ok {
		return cutover.OutcomePair{}, fmt.Errorf("memstore: pair %s: %w", eventID, cutover.ErrNotFound)
	}
	return *p, nil
}

// Unpaired implements cutover.OutcomeStore.
func (s *Store) Unpaired(ctx context.Context, before time.Time, limit int) ([]cutover.OutcomePair, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []cutover.OutcomePair
	for _, p := range s.pairs {
		if (p.Legacy == nil) != (p.Async == nil) && p.CreatedAt.Before(before) {
			out = append(out, *p)
		}
	}
	slices.SortFunc(out, func(a, b cutover.OutcomePair) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.Epoch, b.Epoch))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// SaveComparison implements cutover.ComparisonStore.
func (s *Store) SaveComparison(ctx context.Context, c *cutover.Comparison) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := pairKey{c.EventID, c.Epoch}
	if _, ok := s.comparisons[k]; ok {
		return fmt.Errorf("memstore: comparison %s: %w", c.EventID, cutover.ErrAlreadyRecorded)
	}
	cp := *c
	s.comparisons[k] = &cp
	ak := aggKey{c.Workflow, c.Epoch, cutover.MinuteOf(c.ComparedAt)}
	a, ok := s.aggs[ak]
	if !ok {
		a = cutover.NewAggregate(c.Workflow, c.Epoch, c.ComparedAt)
		s.aggs[ak] = a
	}
	a.Add(&cp)
	s.saves++
	return nil
}

// Comparison implements cutover.ComparisonStore.
func (s *Store) Comparison(ctx context.Context, eventID string, epoch int) (*cutover.Comparison, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.comparisons[pairKey{eventID, epoch}]
	if !ok {
		return nil, fmt.Errorf("memstore: comparison %s: %w", eventID, cutover.ErrNotFound)
	}
	cp := *c
	return &cp, nil
}

// Comparisons implements cutover.ComparisonStore, ordered by event id and
// epoch. Epoch filters when positive (0 and -1: any epoch).
func (s *Store) Comparisons(ctx context.Context, q cutover.ComparisonQuery) ([]*cutover.Comparison, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*cutover.Comparison
	for _, c := range s.comparisons {
		switch {
		case q.Workflow != "" && c.Workflow != q.Workflow,
			q.Verdict != "" && c.Verdict != q.Verdict,
			q.Epoch > 0 && c.Epoch != q.Epoch,
			!q.Since.IsZero() && c.ComparedAt.Before(q.Since),
			!q.Until.IsZero() && !c.ComparedAt.Before(q.Until),
			q.AfterID != "" && c.EventID <= q.AfterID:
			continue
		}
		cp := *c
		out = append(out, &cp)
	}
	slices.SortFunc(out, func(a, b *cutover.Comparison) int {
		return cmp.Or(cmp.Compare(a.EventID, b.EventID), cmp.Compare(a.Epoch, b.Epoch))
	})
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Aggregates implements cutover.ComparisonStore.
func (s *Store) Aggregates(ctx context.Context, workflow string, since, until time.Time) ([]*cutover.Aggregate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*cutover.Aggregate
	for k, a := range s.aggs {
		if (workflow != "" && k.workflow != workflow) || k.minute.Before(since) || !k.minute.Before(until) {
			continue
		}
		cp := cutover.NewAggregate(a.Workflow, a.Epoch, a.Minute)
		cp.Merge(a)
		out = append(out, cp)
	}
	slices.SortFunc(out, func(a, b *cutover.Aggregate) int {
		return cmp.Or(cmp.Compare(a.Workflow, b.Workflow), cmp.Compare(a.Epoch, b.Epoch), a.Minute.Compare(b.Minute))
	})
	return out, nil
}

// Append implements cutover.TransitionLog.
func (s *Store) Append(ctx context.Context, eventID string, expect int, ts ...cutover.Transition) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.logs[eventID]
	if len(log) != expect {
		return 0, fmt.Errorf("memstore: log of %s is at %d, not %d: %w", eventID, len(log), expect, cutover.ErrVersionConflict)
	}
	for _, t := range ts {
		t.Seq = len(log) + 1
		if t.At.IsZero() {
			t.At = s.Now().UTC()
		}
		log = append(log, t)
	}
	s.logs[eventID] = log
	return len(log), nil
}

// History implements cutover.TransitionLog.
func (s *Store) History(ctx context.Context, eventID string) ([]cutover.Transition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.logs[eventID]), nil
}

// PutBlob implements cutover.BlobStore.
func (s *Store) PutBlob(ctx context.Context, data []byte) (string, error) {
	ref := cutover.BlobRef(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[ref] = slices.Clone(data)
	return ref, nil
}

// Blob implements cutover.BlobStore.
func (s *Store) Blob(ctx context.Context, ref string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[ref]
	if !ok {
		return nil, fmt.Errorf("memstore: blob %s: %w", ref, cutover.ErrNotFound)
	}
	return slices.Clone(b), nil
}

// Saves is the number of successful SaveComparison calls.
func (s *Store) Saves() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.saves
}

// AllComparisons returns every stored comparison, ordered by event id and
// epoch.
func (s *Store) AllComparisons() []*cutover.Comparison {
	out, _ := s.Comparisons(context.Background(), cutover.ComparisonQuery{Limit: 1 << 30})
	return out
}

var (
	_ cutover.OutcomeStore    = (*Store)(nil)
	_ cutover.ComparisonStore = (*Store)(nil)
	_ cutover.TransitionLog   = (*Store)(nil)
	_ cutover.BlobStore       = (*Store)(nil)
)
