package comparator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/prometheus/client_golang/prometheus"
)

// maxAppendAttempts bounds the optimistic loop that appends the compared
// transition; other writers (workers, replay) append to the same log, so a
// conflict or two is normal, a long run of them is not.
const maxAppendAttempts = 5

// Service records each outcome pair's comparison exactly once. Whoever
// completes a pair (the proxy, a worker, or the sweeper) hands it to
// HandlePair; the comparison store's write-once rule settles races, and the
// compared transition is appended only if the log does not have it yet, so
// HandlePair, RecordOutcome and Sweep are all safe to repeat.
type Service struct {
	st       Stores
	rules    map[string]*Rules
	fallback *Rules
	deadline time.Duration
	interval time.Duration
	batch    int
	now      func() time.Time
	log      *slog.Logger
	metrics  *metrics
}

// ServiceOptions tunes a Service; zero fields take defaults.
type ServiceOptions struct {
	Now        func() time.Time      // default time.Now
	Logger     *slog.Logger          // default: discard
	Registerer prometheus.Registerer // nil: no metrics
	SweepBatch int                   // pairs per Unpaired call; default 100
}

// New compiles the compare rules of every workflow in cfg and returns a
// Service over st. Pairs of a workflow not in cfg are compared with empty
// rules. The async deadline and sweep interval come from cfg.Comparator.
func New(cfg *cutover.Config, st Stores, opts ServiceOptions) (*Service, error) {
	if st.Outcomes == nil || st.Comparisons == nil || st.Transitions == nil {
		return nil, errors.New("comparator: Stores needs Outcomes, Comparisons and Transitions")
	}
	s := &Service{
		st: st, rules: map[string]*Rules{}, now: opts.Now, log: opts.Logger, batch: opts.SweepBatch,
		deadline: 5 * time.Minute, interval: 10 * time.Second,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.batch <= 0 {
		s.batch = 100
	}
	clock := WithClock(s.now)
	s.fallback = MustCompile(cutover.CompareConfig{}, clock)
	if cfg != nil {
		if cfg.Comparator.AsyncDeadline > 0 {
			s.deadline = cfg.Comparator.AsyncDeadline.D()
		}
		if cfg.Comparator.SweepInterval > 0 {
			s.interval = cfg.Comparator.SweepInterval.D()
		}
		for _, w := range cfg.Workflows {
			r, err := Compile(w.Compare, clock)
			if err != nil {
				return nil, fmt.Errorf("comparator: workflow %s: %w", w.Name, err)
			}
			s.rules[w.Name] = r
		}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("comparator: metrics: %w", err)
	}
	s.metrics = m
	return s, nil
}

// Rules returns the rules a workflow's pairs are compared with.
func (s *Service) Rules(workflow string) *Rules {
	if r, ok := s.rules[workflow]; ok {
		return r
	}
	return s.fallback
}

// HandlePair compares a complete pair, records the comparison and marks the
// event compared. If the comparison was already recorded (a redelivery, or
// another writer won a race) that is not an error: the stored comparison
// stands and only the transition is ensured.
//
// The pair must be complete (the sweeper records an absent side as
// Missing): comparisons are write-once, so recording half a pair would fix
// a wrong verdict for good.
func (s *Service) HandlePair(ctx context.Context, pair cutover.OutcomePair) error {
	if pair.Legacy == nil || pair.Async == nil {
		return fmt.Errorf("comparator: pair %s epoch %d is not complete", pair.EventID, pair.Epoch)
	}
	pair, err := s.loadBodies(ctx, pair)
	if err != nil {
		return err
	}
	c := s.Rules(pair.Workflow).Compare(pair)
	switch err := s.st.Comparisons.SaveComparison(ctx, c); {
	case err == nil:
		s.metrics.compared(c)
		s.log.DebugContext(ctx, "comparator: compared", "event_id", c.EventID, "epoch", c.Epoch, "workflow", c.Workflow, "verdict", c.Verdict, "diffs", len(c.Diffs))
	case errors.Is(err, cutover.ErrAlreadyRecorded):
		stored, gerr := s.st.Comparisons.Comparison(ctx, pair.EventID, pair.Epoch)
		if gerr != nil {
			return fmt.Errorf("comparator: read comparison %s epoch %d: %w", pair.EventID, pair.Epoch, gerr)
		}
		c = stored
	default:
		return fmt.Errorf("comparator: save comparison %s epoch %d: %w", pair.EventID, pair.Epoch, err)
	}
	return s.markCompared(ctx, c)
}

// RecordOutcome records one side of an event's pair and, when that makes
// the pair whole, compares it. It is what the proxy (legacy side) and the
// workers (async side) call. A redelivered side is not an error; if its pair
// is whole but not compared yet (the writer that completed it stopped
// before comparing), it is compared now.
func (s *Service) RecordOutcome(ctx context.Context, workflow, eventID string, epoch int, side cutover.Side, o *cutover.Outcome) error {
	pair, complete, err := s.st.Outcomes.PutOutcome(ctx, workflow, eventID, epoch, side, o)
	switch {
	case errors.Is(err, cutover.ErrAlreadyRecorded):
		return s.ensureCompared(ctx, eventID, epoch)
	case err != nil:
		return fmt.Errorf("comparator: record %s outcome of %s epoch %d: %w", side, eventID, epoch, err)
	case complete:
		return s.HandlePair(ctx, pair)
	}
	return nil
}

func (s *Service) ensureCompared(ctx context.Context, eventID string, epoch int) error {
	c, err := s.st.Comparisons.Comparison(ctx, eventID, epoch)
	switch {
	case err == nil:
		return s.markCompared(ctx, c)
	case !errors.Is(err, cutover.ErrNotFound):
		return fmt.Errorf("comparator: read comparison %s epoch %d: %w", eventID, epoch, err)
	}
	pair, err := s.st.Outcomes.OutcomePair(ctx, eventID, epoch)
	if err != nil {
		return fmt.Errorf("comparator: read pair %s epoch %d: %w", eventID, epoch, err)
	}
	if pair.Legacy == nil || pair.Async == nil {
		return nil // still waiting for the other side
	}
	return s.HandlePair(ctx, pair)
}

// markCompared appends the compared transition unless the log has it for
// this epoch: read, append at the version read, retry on a conflict.
func (s *Service) markCompared(ctx context.Context, c *cutover.Comparison) error {
	var err error
	for range maxAppendAttempts {
		var h []cutover.Transition
		h, err = s.st.Transitions.History(ctx, c.EventID)
		if err != nil {
			return fmt.Errorf("comparator: read history of %s: %w", c.EventID, err)
		}
		if hasCompared(h, c.Epoch) {
			return nil
		}
		t := cutover.Transition{Kind: cutover.TransitionCompared, At: s.now().UTC(), Detail: ComparedDetail(c.Verdict, c.Epoch)}
		if _, err = s.st.Transitions.Append(ctx, c.EventID, len(h), t); err == nil {
			return nil
		}
		if !errors.Is(err, cutover.ErrVersionConflict) {
			return fmt.Errorf("comparator: append compared to %s: %w", c.EventID, err)
		}
	}
	return fmt.Errorf("comparator: append compared to %s after %d attempts: %w", c.EventID, maxAppendAttempts, err)
}

// ComparedDetail is the Detail of a compared transition: the verdict, then
// the replay epoch when it is not the original run ("mismatch epoch=2").
func ComparedDetail(v cutover.Verdict, epoch int) string {
	if epoch == 0 {
		return string(v)
	}
	return string(v) + " epoch=" + strconv.Itoa(epoch)
}

// ParseComparedDetail reads ComparedDetail's format.
func ParseComparedDetail(detail string) (cutover.Verdict, int, bool) {
	v, rest, _ := strings.Cut(detail, " ")
	if !cutover.Verdict(v).Valid() {
		return "", 0, false
	}
	if rest == "" {
		return cutover.Verdict(v), 0, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(rest, "epoch="))
	if err != nil || !strings.HasPrefix(rest, "epoch=") || n < 0 {
		return "", 0, false
	}
	return cutover.Verdict(v), n, true
}

func hasCompared(h []cutover.Transition, epoch int) bool {
	for _, t := range h {
		if t.Kind != cutover.TransitionCompared {
			continue
		}
		if _, e, ok := ParseComparedDetail(t.Detail); ok && e == epoch {
			return true
		}
	}
	return false
}

// loadBodies fetches bodies stored behind a claim check. A blob that is gone
// is left out; Compare then says the pair is not comparable.
func (s *Service) loadBodies(ctx context.Context, pair cutover.OutcomePair) (cutover.OutcomePair, error) {
	if s.st.Blobs == nil {
		return pair, nil
	}
	load := func(o *cutover.Outcome) (*cutover.Outcome, error) {
		if o == nil || len(o.Body) > 0 || o.BodyRef == "" {
			return o, nil
		}
		data, err := s.st.Blobs.Blob(ctx, o.BodyRef)
		if errors.Is(err, cutover.ErrNotFound) {
			return o, nil
		}
		if err != nil {
			return nil, fmt.Errorf("comparator: load body %s of %s: %w", o.BodyRef, pair.EventID, err)
		}
		cp := *o
		cp.Body = data
		return &cp, nil
	}
	var err error
	if pair.Legacy, err = load(pair.Legacy); err != nil {
		return pair, err
	}
	if pair.Async, err = load(pair.Async); err != nil {
		return pair, err
	}
	return pair, nil
}
