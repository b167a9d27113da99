package flags

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	cutover "github.com/cutover-dev/cutover"
	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is every configured workflow's flag, held as an immutable view
// behind an atomic pointer: Decide is a lock-free read, and a refresh or a
// local change publishes a whole new view, so a request sees one consistent
// flag from start to end.
type Snapshot struct {
	cur      atomic.Pointer[view]
	order    []string                  // workflow names in config order
	defaults map[string]entry          // config flags; read-only after NewSnapshot
	changes  map[string]*atomic.Uint64 // per workflow; the map is read-only
	created  time.Time

	// randBucket draws the bucket of a request without a bucketing key.
	randBucket func() int
}

// view is one published state. It is never modified after Store.
type view struct {
	flags    map[string]entry
	loadedAt time.Time // last successful load from the store; zero: never
}

// entry is one workflow's flag with what Decide needs precomputed.
type entry struct {
	flag      cutover.Flag
	salt      string
	threshold int
}

// SnapshotOptions are NewSnapshot's optional settings.
type SnapshotOptions struct {
	// Registerer receives the flag metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// NewSnapshot returns a snapshot holding each workflow's config flag
// (DefaultFlag) until the store is loaded. It fails only when the metrics
// cannot be registered.
func NewSnapshot(cfg *cutover.Config, opt SnapshotOptions) (*Snapshot, error) {
	if cfg == nil {
		return nil, errors.New("flags: snapshot: nil config")
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	s := &Snapshot{
		defaults:   make(map[string]entry, len(cfg.Workflows)),
		changes:    make(map[string]*atomic.Uint64, len(cfg.Workflows)),
		created:    now(),
		randBucket: func() int { return rand.IntN(Buckets) },
	}
	for i := range cfg.Workflows {
		w := &cfg.Workflows[i]
		s.order = append(s.order, w.Name)
		s.defaults[w.Name] = newEntry(DefaultFlag(w), salt(w))
		s.changes[w.Name] = new(atomic.Uint64)
	}
	s.cur.Store(&view{flags: s.defaults})
	if opt.Registerer != nil {
		if err := opt.Registerer.Register(&snapshotCollector{s: s}); err != nil {
			return nil, fmt.Errorf("flags: snapshot metrics: %w", err)
		}
	}
	return s, nil
}

func newEntry(f cutover.Flag, salt string) entry {
	return entry{flag: f, salt: salt, threshold: Threshold(f.Percent)}
}

// Decide routes one request of workflow. The proxy calls it once when the
// request arrives and keeps the answer for the request's whole life.
//
//   - off: legacy answers, nothing is mirrored.
//   - shadow: legacy answers and the request is mirrored.
//   - canary: the async pipeline answers keys whose bucket is in the slice;
//     the others go to legacy and are mirrored. A request without a bucketing
//     key (empty bucketKey) gets a random bucket, so such requests still split
//     by the percent, but not stickily.
//   - cutover: the async pipeline answers.
//
// A workflow that is not configured is off.
func (s *Snapshot) Decide(workflow, bucketKey string) cutover.Decision {
	e, ok := s.cur.Load().flags[workflow]
	if !ok {
		return cutover.Decision{Mode: cutover.ModeOff}
	}
	d := cutover.Decision{Mode: e.flag.Mode, Percent: e.flag.Percent, Version: e.flag.Version}
	switch e.flag.Mode {
	case cutover.ModeShadow:
		d.Mirror = true
	case cutover.ModeCanary:
		var b int
		if bucketKey == "" {
			b = s.randBucket()
		} else {
			b = Bucket(e.salt, bucketKey)
		}
		d.Async = b < e.threshold
		d.Mirror = !d.Async
	case cutover.ModeCutover:
		d.Async = true
	}
	return d
}

// Flag returns the snapshot's flag of workflow; false if it is not
// configured.
func (s *Snapshot) Flag(workflow string) (cutover.Flag, bool) {
	e, ok := s.cur.Load().flags[workflow]
	return e.flag, ok
}

// Flags returns every configured workflow's flag, in config order.
func (s *Snapshot) Flags() []cutover.Flag {
	v := s.cur.Load()
	out := make([]cutover.Flag, 0, len(s.order))
	for _, name := range s.order {
		out = append(out, v.flags[name].flag)
	}
	return out
}

// LoadedAt is when the snapshot last loaded the store; zero if never.
func (s *Snapshot) LoadedAt() time.Time { return s.cur.Load().loadedAt }

// Apply publishes f at once, for the process that just wrote it, instead of
// waiting for the next refresh. Flags of unconfigured workflows, invalid
// flags and versions not newer than the snapshot's are ignored, so a late
// Apply cannot undo a newer refresh.
func (s *Snapshot) Apply(f cutover.Flag) {
	def, ok := s.defaults[f.Workflow]
	if !ok || f.Validate() != nil {
		return
	}
	for {
		old := s.cur.Load()
		if f.Version <= old.flags[f.Workflow].flag.Version {
			return
		}
		next := &view{flags: make(map[string]entry, len(old.flags)), loadedAt: old.loadedAt}
		for k, e := range old.flags {
			next.flags[k] = e
		}
		next.flags[f.Workflow] = newEntry(f, def.salt)
		if s.cur.CompareAndSwap(old, next) {
			s.changes[f.Workflow].Add(1)
			return
		}
	}
}

// Replace publishes the flags loaded from the store at loadedAt. Configured
// workflows without a stored flag keep their config flag. A workflow keeps
// the snapshot's flag when that is newer than the stored one: an Apply that
// raced with the load must not be undone by it. Stored flags of unconfigured
// workflows are ignored; invalid ones are skipped and reported in the error,
// while the rest is still published.
func (s *Snapshot) Replace(stored []cutover.Flag, loadedAt time.Time) error {
	var errs []error
	byName := make(map[string]cutover.Flag, len(stored))
	for _, f := range stored {
		if _, ok := s.defaults[f.Workflow]; !ok {
			continue
		}
		if err := f.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		byName[f.Workflow] = f
	}
	for {
		old := s.cur.Load()
		next := &view{flags: make(map[string]entry, len(s.defaults)), loadedAt: loadedAt}
		for name, def := range s.defaults {
			e := old.flags[name]
			if f, ok := byName[name]; ok && f.Version > e.flag.Version {
				e = newEntry(f, def.salt)
			}
			next.flags[name] = e
		}
		if !s.cur.CompareAndSwap(old, next) {
			continue
		}
		// The first load is the baseline, not a change.
		if !old.loadedAt.IsZero() {
			for name, e := range next.flags {
				if e.flag.Version > old.flags[name].flag.Version {
					s.changes[name].Add(1)
				}
			}
		}
		return errors.Join(errs...)
	}
}
