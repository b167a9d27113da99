package proxy_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/cutover-dev/cutover"
)

// fakeDecider returns a fixed decision per workflow and counts calls.
type fakeDecider struct {
	mu      sync.Mutex
	byWF    map[string]cutover.Decision
	calls   map[string]int
	buckets []string
}

func newDecider() *fakeDecider {
	return &fakeDecider{byWF: map[string]cutover.Decision{}, calls: map[string]int{}}
}

func (d *fakeDecider) set(workflow string, dec cutover.Decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.byWF[workflow] = dec
}

func (d *fakeDecider) Decide(workflow, bucketKey string) cutover.Decision {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[workflow]++
	d.buckets = append(d.buckets, bucketKey)
	return d.byWF[workflow]
}

func (d *fakeDecider) count(workflow string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[workflow]
}

func (d *fakeDecider) bucketKeys() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.buckets...)
}

var (
	shadow  = cutover.Decision{Mode: cutover.ModeShadow, Mirror: true}
	off     = cutover.Decision{Mode: cutover.ModeOff}
	cutOver = cutover.Decision{Mode: cutover.ModeCutover, Percent: 100, Async: true}
)

// fakePublisher records what it was handed, as encoded bytes too. fail
// makes it return an error; stall makes it block, ignoring ctx, until the
// channel is closed; onPublish plays the pipeline.
type fakePublisher struct {
	mu        sync.Mutex
	events    []*cutover.Event
	encoded   [][]byte
	batches   []int
	fail      func(evs []*cutover.Event) error
	stall     chan struct{}
	onPublish func(ev *cutover.Event)
}

func (p *fakePublisher) Publish(ctx context.Context, evs ...*cutover.Event) error {
	if p.stall != nil {
		<-p.stall
	}
	if p.fail != nil {
		if err := p.fail(evs); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.batches = append(p.batches, len(evs))
	for _, ev := range evs {
		b, err := cutover.EncodeEvent(ev)
		if err != nil {
			p.mu.Unlock()
			return err
		}
		p.events = append(p.events, ev)
		p.encoded = append(p.encoded, b)
	}
	hook := p.onPublish
	p.mu.Unlock()
	if hook != nil {
		for _, ev := range evs {
			hook(ev)
		}
	}
	return nil
}

// Event reads what was published, as the archive would.
func (p *fakePublisher) Event(_ context.Context, id string) (*cutover.Event, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range p.events {
		if ev.ID == id {
			return ev, nil
		}
	}
	return nil, cutover.ErrNotFound
}

func (p *fakePublisher) published() ([]*cutover.Event, [][]byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*cutover.Event(nil), p.events...), append([][]byte(nil), p.encoded...)
}

func (p *fakePublisher) batchSizes() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.batches...)
}

type pairKey struct {
	id    string
	epoch int
}

// memStore is an in-memory outcome store and transition log with the
// contract's pairing semantics.
type memStore struct {
	mu       sync.Mutex
	pairs    map[pairKey]*cutover.OutcomePair
	history  map[string][]cutover.Transition
	encoded  [][]byte // every outcome handed to PutOutcome, as JSON
	fail     error
	stall    chan struct{}
	readFail error
}

func newStore() *memStore {
	return &memStore{pairs: map[pairKey]*cutover.OutcomePair{}, history: map[string][]cutover.Transition{}}
}

func (s *memStore) PutOutcome(ctx context.Context, workflow, id string, epoch int, side cutover.Side, o *cutover.Outcome) (cutover.OutcomePair, bool, error) {
	if s.stall != nil {
		<-s.stall
	}
	if s.fail != nil {
		return cutover.OutcomePair{}, false, s.fail
	}
	b, err := json.Marshal(o)
	if err != nil {
		return cutover.OutcomePair{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.encoded = append(s.encoded, b)
	k := pairKey{id, epoch}
	p, ok := s.pairs[k]
	if !ok {
		p = &cutover.OutcomePair{EventID: id, Epoch: epoch, Workflow: workflow}
		s.pairs[k] = p
	}
	slot := &p.Legacy
	if side == cutover.SideAsync {
		slot = &p.Async
	}
	if *slot != nil {
		return *p, false, cutover.ErrAlreadyRecorded
	}
	*slot = o
	return *p, p.Legacy != nil && p.Async != nil, nil
}

func (s *memStore) OutcomePair(ctx context.Context, id string, epoch int) (cutover.OutcomePair, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readFail != nil {
		return cutover.OutcomePair{}, s.readFail
	}
	p, ok := s.pairs[pairKey{id, epoch}]
	if !ok {
		return cutover.OutcomePair{}, cutover.ErrNotFound
	}
	return *p, nil
}

func (s *memStore) History(ctx context.Context, id string) ([]cutover.Transition, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readFail != nil {
		return nil, s.readFail
	}
	return append([]cutover.Transition(nil), s.history[id]...), nil
}

func (s *memStore) appendHistory(id string, kinds ...cutover.TransitionKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range kinds {
		s.history[id] = append(s.history[id], cutover.Transition{Seq: len(s.history[id]) + 1, Kind: k})
	}
}

func (s *memStore) pair(id string) (cutover.OutcomePair, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.pairs[pairKey{id, 0}]
	if !ok {
		return cutover.OutcomePair{}, false
	}
	return *p, true
}

func (s *memStore) outcomes() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.encoded...)
}

// fakePairs records the pairs it is asked to compare.
type fakePairs struct {
	mu    sync.Mutex
	pairs []cutover.OutcomePair
}

func (f *fakePairs) HandlePair(ctx context.Context, p cutover.OutcomePair) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pairs = append(f.pairs, p)
	return nil
}

func (f *fakePairs) handled() []cutover.OutcomePair {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]cutover.OutcomePair(nil), f.pairs...)
}

var errDown = errors.New("backend down")
