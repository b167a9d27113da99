package flags

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	cutover "github.com/cutover-dev/cutover"
	"github.com/prometheus/client_golang/prometheus"
)

// FlagLoader is the part of cutover.FlagStore a Refresher reads.
type FlagLoader interface {
	Flags(ctx context.Context) ([]cutover.Flag, error)
}

// Refresher defaults.
const (
	DefaultRefreshInterval = time.Second     // proxy.flag_refresh
	DefaultRefreshTimeout  = 5 * time.Second // one load of the store
	staleIntervals         = 3               // default StaleAfter, in intervals
)

// RefresherOptions are NewRefresher's optional settings.
type RefresherOptions struct {
	// Interval between loads; default DefaultRefreshInterval. Pass the
	// config's proxy.flag_refresh.
	Interval time.Duration
	// StaleAfter is the snapshot age past which it counts as stale; default
	// three intervals, so one slow or failed load is not an alarm.
	StaleAfter time.Duration
	// Timeout bounds one load; default DefaultRefreshTimeout.
	Timeout time.Duration
	// Logger receives one warning when the store becomes unreachable and one
	// notice when it is back; nil logs nothing.
	Logger *slog.Logger
	// Registerer receives the snapshot age, staleness and refresh error
	// metrics; nil registers none.
	Registerer prometheus.Registerer
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Refresher keeps a Snapshot in step with the store. When the store cannot
// be read it leaves the snapshot alone, so the proxy keeps serving the last
// known good flags, and reports the snapshot's growing age instead.
type Refresher struct {
	store      FlagLoader
	snap       *Snapshot
	interval   time.Duration
	staleAfter time.Duration
	timeout    time.Duration
	log        *slog.Logger
	now        func() time.Time

	errors atomic.Uint64

	mu          sync.Mutex // serialises loads; guards the fields below
	outageSince time.Time  // zero: the last load succeeded
	lastInvalid string     // invalid stored flags last reported
}

// NewRefresher returns a Refresher of snap over store. It fails only when
// the metrics cannot be registered.
func NewRefresher(store FlagLoader, snap *Snapshot, opt RefresherOptions) (*Refresher, error) {
	if store == nil || snap == nil {
		return nil, errors.New("flags: refresher: nil store or snapshot")
	}
	r := &Refresher{
		store:      store,
		snap:       snap,
		interval:   opt.Interval,
		staleAfter: opt.StaleAfter,
		timeout:    opt.Timeout,
		log:        opt.Logger,
		now:        opt.Now,
	}
	if r.interval <= 0 {
		r.interval = DefaultRefreshInterval
	}
	if r.staleAfter <= 0 {
		r.staleAfter = staleIntervals * r.interval
	}
	if r.timeout <= 0 {
		r.timeout = DefaultRefreshTimeout
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if opt.Registerer != nil {
		if err := opt.Registerer.Register(&refresherCollector{r: r}); err != nil {
			return nil, fmt.Errorf("flags: refresher metrics: %w", err)
		}
	}
	return r, nil
}

// Refresh loads the store once and publishes the result. On failure the
// snapshot is kept as it is and the error is returned (and logged once per
// outage).
func (r *Refresher) Refresh(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	lctx, cancel := context.WithTimeout(ctx, r.timeout)
	flags, err := r.store.Flags(lctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down is not an outage.
			return fmt.Errorf("flags: refresh: %w", err)
		}
		r.errors.Add(1)
		if r.outageSince.IsZero() {
			r.outageSince = r.now()
			r.log.Warn("flags: cannot load flags; serving the last known good snapshot",
				"err", err, "snapshot_age", r.Age().Round(time.Millisecond).String())
		}
		return fmt.Errorf("flags: refresh: %w", err)
	}
	now := r.now()
	// Invalid stored flags are reported when they change, not every second.
	invalid := ""
	if err := r.snap.Replace(flags, now); err != nil {
		invalid = err.Error()
	}
	if invalid != "" && invalid != r.lastInvalid {
		r.log.Warn("flags: ignored invalid stored flags; their workflows keep their previous flag", "err", invalid)
	}
	r.lastInvalid = invalid
	if !r.outageSince.IsZero() {
		r.log.Info("flags: store reachable again; snapshot refreshed",
			"outage", now.Sub(r.outageSince).Round(time.Millisecond).String())
		r.outageSince = time.Time{}
	}
	return nil
}

// Run refreshes at once and then every interval until ctx is done, then
// returns nil. Failed loads are logged and counted, never fatal.
func (r *Refresher) Run(ctx context.Context) error {
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		_ = r.Refresh(ctx) // reported by Refresh
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Age is how long ago the snapshot last loaded the store; before the first
// load, how long ago it was created.
func (r *Refresher) Age() time.Duration {
	at := r.snap.LoadedAt()
	if at.IsZero() {
		at = r.snap.created
	}
	return r.now().Sub(at)
}

// Stale reports whether the snapshot never loaded the store or is older than
// the stale threshold, i.e. the flags served may not be the stored ones.
func (r *Refresher) Stale() bool {
	return r.snap.LoadedAt().IsZero() || r.Age() > r.staleAfter
}
