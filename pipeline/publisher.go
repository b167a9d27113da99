package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cutover-dev/cutover"
)

// PublisherStores is what publishing needs from a backend.
type PublisherStores struct {
	Queue       cutover.Queue
	Archive     cutover.EventArchive
	Transitions cutover.TransitionLog
	Blobs       cutover.BlobStore
	// Outcomes records legacy sides given to PublishWithLegacy when the
	// archive cannot record them itself (cutover.Registrar).
	Outcomes cutover.OutcomeStore
}

// Publisher puts events into the pipeline: it checks them, moves large bodies
// to the blob store, archives them, starts their transition logs, fans intake
// events out to their workflow's fan_out steps, and enqueues everything.
type Publisher struct {
	cfg    *cutover.Config
	stores PublisherStores
	// ArchiveCopy, when set, returns the copy of an event to archive (the
	// wiring redacts live events here: their queued copy must stay whole
	// for the new implementation, the stored copy must not keep secrets).
	ArchiveCopy func(*cutover.Event) *cutover.Event
	now         func() time.Time
}

// NewPublisher returns a Publisher for the workflows of cfg.
func NewPublisher(cfg *cutover.Config, stores PublisherStores) *Publisher {
	return &Publisher{cfg: cfg, stores: stores, now: time.Now}
}

// PublishError reports an event refused before anything was written for it.
type PublishError struct {
	EventID string
	Err     error
}

func (e *PublishError) Error() string   { return "publish " + e.EventID + ": " + e.Err.Error() }
func (e *PublishError) Unwrap() []error { return []error{e.Err, cutover.ErrNotPublished} }

// Publish accepts evs. Events that are invalid (unknown workflow or step, a
// malformed envelope, a body over worker.max_body) are refused with a
// *PublishError and none of the batch is written, so a caller never has to
// guess which part of a batch landed. Storage failures are returned wrapped;
// those before the queue send also wrap cutover.ErrNotPublished (nothing
// will run the events), a failed send may have enqueued some. Publishing the
// same events again is safe (archive and queue deliveries are deduplicated
// downstream by idempotency).
func (p *Publisher) Publish(ctx context.Context, evs ...*cutover.Event) error {
	_, err := p.publish(ctx, evs, nil)
	return err
}

// PublishWithLegacy publishes evs as Publish does and records legacy[i]
// (when not nil) as the legacy side of evs[i]'s outcome pair: in the same
// write that starts the event when the backend's archive is a
// cutover.Registrar, else with one PutOutcome per event once published.
// It returns the pairs those sides completed, for the caller to compare
// (an event that ran before its publish was retried), and
// cutover.ErrAlreadyRecorded is not an error: a retried publish.
func (p *Publisher) PublishWithLegacy(ctx context.Context, evs []*cutover.Event, legacy []*cutover.Outcome) ([]cutover.OutcomePair, error) {
	if len(legacy) != len(evs) {
		return nil, fmt.Errorf("pipeline: publish: %d legacy outcomes for %d events", len(legacy), len(evs))
	}
	byID := make(map[string]*cutover.Outcome, len(evs))
	for i, ev := range evs {
		if legacy[i] != nil && ev != nil {
			byID[ev.ID] = legacy[i]
		}
	}
	return p.publish(ctx, evs, byID)
}

func (p *Publisher) publish(ctx context.Context, evs []*cutover.Event, legacy map[string]*cutover.Outcome) ([]cutover.OutcomePair, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	all := make([]*cutover.Event, 0, len(evs))
	for _, ev := range evs {
		if err := p.check(ev); err != nil {
			return nil, &PublishError{EventID: ev.ID, Err: err}
		}
		all = append(all, ev)
		all = append(all, p.fanOut(ev)...)
	}
	for i, ev := range all {
		out, err := p.claimCheck(ctx, ev)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", cutover.ErrNotPublished, err)
		}
		all[i] = out
	}
	archived := all
	if p.ArchiveCopy != nil {
		archived = make([]*cutover.Event, len(all))
		for i, ev := range all {
			archived[i] = p.ArchiveCopy(ev)
		}
	}
	// Each event is encoded once: for its message, and for its archive
	// when the archived copy is the event itself.
	bodies := make([][]byte, len(all))
	for i, ev := range all {
		var err error
		if bodies[i], err = cutover.EncodeEvent(ev); err != nil {
			return nil, fmt.Errorf("pipeline: publish: %w: %w", cutover.ErrNotPublished, err)
		}
	}
	regs := make([]cutover.Registration, len(all))
	for i, ev := range all {
		regs[i] = cutover.Registration{Event: archived[i], Legacy: legacy[ev.ID]}
		if archived[i] == ev && ev.ReceivedAt.Location() == time.UTC {
			regs[i].Encoded = bodies[i]
		}
	}
	if in, ok := p.intaker(); ok && legacy != nil && shadowIntake(evs) {
		return nil, p.intake(ctx, in, all, regs, bodies)
	}
	var pairs []cutover.OutcomePair
	var attrs map[string]map[string]string
	recorded := false
	if d, ok := p.stores.Archive.(cutover.StartDeferrer); ok && legacy != nil && shadowIntake(evs) {
		var err error
		if attrs, err = p.deferStart(ctx, d, all, regs, legacy); err != nil {
			return nil, err
		}
		recorded = true
	} else {
		var err error
		if pairs, recorded, err = p.start(ctx, all, archived, regs); err != nil {
			return nil, err
		}
	}
	byQueue := map[string][]cutover.OutgoingMessage{}
	var order []string
	for i, ev := range all {
		body := bodies[i]
		q := cutover.QueueName(ev.Workflow, ev.Step)
		if _, ok := byQueue[q]; !ok {
			order = append(order, q)
		}
		byQueue[q] = append(byQueue[q], cutover.OutgoingMessage{ID: ev.ID, Body: body, Attributes: attrs[ev.ID]})
	}
	for _, q := range order {
		if err := p.stores.Queue.Send(ctx, q, byQueue[q]); err != nil {
			return nil, fmt.Errorf("pipeline: publish: send to %s: %w", q, err)
		}
	}
	if recorded || len(legacy) == 0 {
		return pairs, nil
	}
	return p.recordLegacy(ctx, evs, legacy)
}

// start archives the events and starts their logs, recording the legacy
// sides with them when the archive can (cutover.Registrar); recorded says
// whether it did.
func (p *Publisher) start(ctx context.Context, all, archived []*cutover.Event, regs []cutover.Registration) (pairs []cutover.OutcomePair, recorded bool, err error) {
	reg, ok := p.stores.Archive.(cutover.Registrar)
	if !ok {
		if err := p.stores.Archive.Archive(ctx, archived...); err != nil {
			return nil, false, fmt.Errorf("pipeline: publish: archive: %w: %w", cutover.ErrNotPublished, err)
		}
		if err := p.received(ctx, all); err != nil {
			return nil, false, fmt.Errorf("%w: %w", cutover.ErrNotPublished, err)
		}
		return nil, false, nil
	}
	now := p.now().UTC()
	var replays []*cutover.Event
	for i, ev := range all {
		if ev.ReplayEpoch > 0 {
			replays = append(replays, ev) // its log goes on: see received
			continue
		}
		regs[i].First = receivedEntry(ev, now)
	}
	if pairs, err = reg.Register(ctx, regs); err != nil {
		return nil, false, fmt.Errorf("pipeline: publish: register: %w: %w", cutover.ErrNotPublished, err)
	}
	if err := p.received(ctx, replays); err != nil {
		return nil, false, fmt.Errorf("%w: %w", cutover.ErrNotPublished, err)
	}
	return pairs, true, nil
}

// recordParallel bounds the PutOutcome calls of one publish.
const recordParallel = 16

// recordLegacy records legacy sides one PutOutcome each, for archives that
// cannot record them when they start the events.
func (p *Publisher) recordLegacy(ctx context.Context, evs []*cutover.Event, legacy map[string]*cutover.Outcome) ([]cutover.OutcomePair, error) {
	if p.stores.Outcomes == nil {
		return nil, errors.New("pipeline: publish: legacy outcomes given, but the publisher has no outcome store")
	}
	var mu sync.Mutex
	var pairs []cutover.OutcomePair
	var errs []error
	sem := make(chan struct{}, recordParallel)
	var wg sync.WaitGroup
	for _, ev := range evs {
		o := legacy[ev.ID]
		if o == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			pair, complete, err := p.stores.Outcomes.PutOutcome(ctx, ev.Workflow, ev.ID, ev.ReplayEpoch, cutover.SideLegacy, o)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, cutover.ErrAlreadyRecorded):
			case err != nil:
				errs = append(errs, fmt.Errorf("pipeline: publish: legacy outcome: %w", err))
			case complete:
				pairs = append(pairs, pair)
			}
		}()
	}
	wg.Wait()
	return pairs, errors.Join(errs...)
}

// received starts each event's log. An event published again (a retried
// publish) already has its entry; that is not an error. Backends that can
// (cutover.LogStarter) start every log of the batch in one write.
func (p *Publisher) received(ctx context.Context, evs []*cutover.Event) error {
	now := p.now().UTC()
	first := make([]cutover.LogStart, 0, len(evs))
	var replays []*cutover.Event
	for _, ev := range evs {
		if ev.ReplayEpoch > 0 {
			replays = append(replays, ev)
			continue
		}
		first = append(first, cutover.LogStart{EventID: ev.ID, Transition: receivedEntry(ev, now)})
	}
	if starter, ok := p.stores.Transitions.(cutover.LogStarter); ok && len(first) > 0 {
		if err := starter.StartLogs(ctx, first); err != nil {
			return fmt.Errorf("pipeline: publish: transition: %w", err)
		}
		first = nil
	}
	errs := make(chan error, len(first)+len(replays))
	for _, f := range first {
		go func() {
			_, err := p.stores.Transitions.Append(ctx, f.EventID, 0, f.Transition)
			if errors.Is(err, cutover.ErrVersionConflict) {
				err = nil
			}
			errs <- err
		}()
	}
	for _, ev := range replays {
		go func() {
			t := cutover.Transition{Kind: cutover.TransitionReplayed, At: now, Detail: receivedDetail(ev)}
			_, err := appendLatest(ctx, p.stores.Transitions, ev.ID, t)
			errs <- err
		}()
	}
	var first0 error
	for range len(first) + len(replays) {
		if err := <-errs; err != nil && first0 == nil {
			first0 = fmt.Errorf("pipeline: publish: transition: %w", err)
		}
	}
	return first0
}

func receivedDetail(ev *cutover.Event) string {
	d := string(ev.Mode) + " " + ev.Workflow + "/" + ev.Step
	if ev.ReplayEpoch > 0 {
		d += fmt.Sprintf(" epoch %d", ev.ReplayEpoch)
	}
	return d
}

func (p *Publisher) check(ev *cutover.Event) error {
	if ev == nil {
		return fmt.Errorf("%w: nil event", cutover.ErrMalformedEvent)
	}
	if err := ev.Validate(); err != nil {
		return err
	}
	if _, ok := p.cfg.Step(ev.Workflow, ev.Step); !ok {
		if _, known := p.cfg.Workflow(ev.Workflow); !known {
			return fmt.Errorf("%w: unknown workflow %q", cutover.ErrMalformedEvent, ev.Workflow)
		}
		return fmt.Errorf("%w: workflow %s has no step %q", cutover.ErrMalformedEvent, ev.Workflow, ev.Step)
	}
	size := int64(len(ev.Request.Body))
	if ev.Request.BodyRef != "" {
		size = ev.Request.BodySize
	}
	if max := int64(p.cfg.Worker.MaxBody); size > max {
		return fmt.Errorf("%w: request body is %d bytes, worker.max_body is %d", cutover.ErrBodyTooLarge, size, max)
	}
	return nil
}

// fanOut derives the events an intake event sends to its workflow's fan_out
// steps. They share the intake's idempotency key: each step has its own key
// space.
func (p *Publisher) fanOut(ev *cutover.Event) []*cutover.Event {
	if ev.Step != cutover.RespondStep || ev.CausationID != "" {
		return nil
	}
	w, _ := p.cfg.Workflow(ev.Workflow)
	out := make([]*cutover.Event, 0, len(w.FanOut))
	for _, step := range w.FanOut {
		child := ev.Child(step, ev.IdempotencyKey, ev.Request, ev.ReceivedAt)
		out = append(out, child)
	}
	return out
}

// claimCheck moves a body above worker.inline_limit to the blob store so that
// queue messages stay small (SQS takes 256 KiB at most).
func (p *Publisher) claimCheck(ctx context.Context, ev *cutover.Event) (*cutover.Event, error) {
	if int64(len(ev.Request.Body)) <= int64(p.cfg.Worker.InlineLimit) {
		return ev, nil
	}
	ref, err := p.stores.Blobs.PutBlob(ctx, ev.Request.Body)
	if err != nil {
		return nil, fmt.Errorf("pipeline: publish %s: claim check: %w", ev.ID, err)
	}
	cp := *ev
	cp.Request.BodySize = int64(len(ev.Request.Body))
	cp.Request.Body = nil
	cp.Request.BodyRef = ref
	return &cp, nil
}
