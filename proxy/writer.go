package proxy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/telemetry"
)

// Writer tuning. Publishing the same events again is safe, so a failed batch
// is retried a little; a backend that stays down fills the buffer, and the
// buffer drops instead of waiting.
const (
	writers        = 4               // batches flushed concurrently
	recordParallel = 16              // PutOutcome calls in flight per batch
	writeTimeout   = 5 * time.Second // one backend call
	publishTries   = 3
	publishBackoff = 25 * time.Millisecond
)

// item is handed from a request to the writer. A shadow item carries the
// raw request and legacy response, from which the writer builds the
// redacted event and outcome. A live item's event is already published:
// only its legacy side is recorded.
type item struct {
	wf      *workflow
	id      string
	arrival time.Time
	req     *requestSnap     // shadow: build and publish an event
	ev      *cutover.Event   // live: the published event
	legacy  *legacySnap      // the legacy response, if legacy was called
	skipped string           // live write: legacy deliberately not called
	ready   *cutover.Outcome // built by prepare
}

// enqueue hands it to the writer without ever blocking: a full buffer drops.
func (p *Proxy) enqueue(it item) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		p.drop(it.wf.name, dropShutdown)
		return
	}
	select {
	case p.in <- it:
	default:
		p.drop(it.wf.name, dropBufferFull)
		p.log.Debug("proxy: shadow buffer full, dropped", "event_id", it.id, "workflow", it.wf.name)
	}
}

func (p *Proxy) drop(workflow, reason string) { p.m.dropped.WithLabelValues(workflow, reason).Inc() }

func (p *Proxy) notMirrored(workflow, reason string) {
	p.m.notMirrored.WithLabelValues(workflow, reason).Inc()
}

// writeLoop collects batches of up to proxy.batch_size items, waiting at
// most proxy.batch_delay after the first, and hands them to a pool of
// flushers, until the buffer is closed and empty or ctx ends. One collector
// keeps batches full however many flushers there are; when every flusher
// is busy the buffer fills and drops.
//
// After the first item of a batch the collector sleeps out the delay
// instead of receiving the rest one by one: a request handing over its
// item then only copies it into the buffer, without waking anyone, and the
// collector wakes twice per batch rather than once per item.
func (p *Proxy) writeLoop(ctx context.Context) {
	batches := make(chan []item)
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range batches {
				p.flush(ctx, b)
			}
		}()
	}
	defer wg.Wait()
	defer close(batches)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var batch []item
		select {
		case it, ok := <-p.in:
			if !ok {
				return
			}
			batch = make([]item, 0, p.batchSize)
			batch = append(batch, it)
		case <-ctx.Done():
			return
		}
		open := true
		if len(p.in) < p.batchSize-1 { // not a full batch waiting already
			timer.Reset(p.batchDelay)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
			}
		}
	fill:
		for len(batch) < p.batchSize {
			select {
			case it, ok := <-p.in:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, it)
			default:
				break fill
			}
		}
		select {
		case batches <- batch:
		case <-ctx.Done():
			for _, it := range batch {
				p.drop(it.wf.name, dropShutdown)
			}
			return
		}
		if !open {
			return
		}
	}
}

// flush builds the batch's events and outcomes, publishes the events, and
// records the legacy outcomes of the events that were published (an
// unpublished event has no async side, and a lone legacy side would only
// turn into a false async_missing).
func (p *Proxy) flush(ctx context.Context, batch []item) {
	if ctx.Err() != nil {
		for _, it := range batch {
			p.drop(it.wf.name, dropShutdown)
		}
		return
	}
	var evs []*cutover.Event
	keep := batch[:0]
	for _, it := range batch {
		if !p.prepare(&it) {
			continue
		}
		if it.req != nil {
			evs = append(evs, it.ev)
		}
		keep = append(keep, it)
	}
	withLegacy := p.legacyPublisher != nil
	legacy := map[string]*cutover.Outcome{}
	if withLegacy {
		// The legacy sides go with the events: one write per event (or
		// none, deferred to the worker) instead of one more per outcome.
		for _, it := range keep {
			if it.req != nil && it.ready != nil {
				legacy[it.id] = it.ready
			}
		}
	}
	failed, pairs := p.publish(ctx, evs, legacy)
	if withLegacy && p.log.Enabled(ctx, slog.LevelDebug) {
		for _, it := range keep {
			if it.req != nil && it.ready != nil && !failed[it.id] {
				p.logPublished(ctx, it)
			}
		}
	}
	for _, pair := range pairs {
		p.compare(ctx, pair) // a publish retried after the event ran
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, recordParallel)
	for _, it := range keep {
		if it.ready == nil || failed[it.id] || withLegacy && it.req != nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			p.record(ctx, it)
		}()
	}
	wg.Wait()
}

// prepare builds a shadow item's redacted event and the legacy outcome;
// false when the item cannot be mirrored after all.
func (p *Proxy) prepare(it *item) bool {
	wf := it.wf
	if it.req != nil {
		if enc := it.req.header.Get("Content-Encoding"); enc != "" && enc != "identity" && wf.redactor.HasJSONPaths() {
			p.notMirrored(wf.name, reasonEncoded) // compressed JSON would escape redaction
			return false
		}
		ev := buildEvent(wf, it.id, it.arrival, cutover.EventShadow, *it.req)
		ev.Request.Header = wf.redactor.Strip(ev.Request.Header) // the snapshot's own copy
		body, ok := wf.redactor.Check(ev.Request.Body)
		if !ok {
			p.notMirrored(wf.name, reasonInvalidJSON) // the worker would get a placeholder, not the request
			return false
		}
		ev.Request.Body = body
		it.ev = ev
	}
	switch {
	case it.skipped != "":
		it.ready = &cutover.Outcome{Skipped: it.skipped, At: time.Now().UTC()}
	case it.legacy != nil:
		if it.legacy.err != nil {
			p.log.Debug("proxy: legacy failed", "event_id", it.id, "workflow", wf.name, "error", it.legacy.err)
		}
		it.ready = legacyOutcome(wf, it.legacy, p.captureLimit, time.Now())
	}
	return true
}

// publish hands evs to the Publisher, with their legacy sides when it
// takes them, and returns the ids that did not make it and the pairs the
// legacy sides completed. Permanent refusals are isolated by publishing one
// by one, so one bad event does not sink its batch.
func (p *Proxy) publish(ctx context.Context, evs []*cutover.Event, legacy map[string]*cutover.Outcome) (map[string]bool, []cutover.OutcomePair) {
	if len(evs) == 0 {
		return nil, nil
	}
	var pairs []cutover.OutcomePair
	err := p.publishRetry(ctx, evs, legacy, &pairs)
	failed := map[string]bool{}
	var be *cutover.BatchError
	switch {
	case err == nil:
	case errors.As(err, &be):
		for id := range be.Failed {
			failed[id] = true
		}
	case permanent(err) && len(evs) > 1:
		for _, ev := range evs {
			if err := p.publishRetry(ctx, []*cutover.Event{ev}, legacy, &pairs); err != nil {
				failed[ev.ID] = true
			}
		}
	default:
		for _, ev := range evs {
			failed[ev.ID] = true
		}
	}
	for _, ev := range evs {
		if failed[ev.ID] {
			p.drop(ev.Workflow, dropPublishFailed)
		} else {
			p.m.published.WithLabelValues(ev.Workflow).Inc()
		}
	}
	if err != nil {
		p.log.Warn("proxy: publish shadow events", "events", len(evs), "failed", len(failed), "error", err)
	}
	return failed, pairs
}

// publishRetry publishes evs, retrying what may be transient; pairs the
// legacy sides completed are added to *pairs.
func (p *Proxy) publishRetry(ctx context.Context, evs []*cutover.Event, legacy map[string]*cutover.Outcome, pairs *[]cutover.OutcomePair) error {
	var err error
	for try := range publishTries {
		if try > 0 {
			t := time.NewTimer(publishBackoff << (try - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
		}
		cctx, cancel := context.WithTimeout(ctx, writeTimeout)
		if p.legacyPublisher != nil {
			outs := make([]*cutover.Outcome, len(evs))
			for i, ev := range evs {
				outs[i] = legacy[ev.ID]
			}
			var got []cutover.OutcomePair
			got, err = p.legacyPublisher.PublishWithLegacy(cctx, evs, outs)
			*pairs = append(*pairs, got...)
		} else {
			err = p.publisher.Publish(cctx, evs...)
		}
		cancel()
		var be *cutover.BatchError
		if err == nil || permanent(err) || errors.As(err, &be) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// permanent reports refusals that retrying cannot fix.
func permanent(err error) bool {
	return errors.Is(err, cutover.ErrMalformedEvent) || errors.Is(err, cutover.ErrBodyTooLarge) || cutover.IsPermanent(err)
}

// record stores the legacy side and, if that completed the pair, has it
// compared: whoever completes a pair compares it.
func (p *Proxy) record(ctx context.Context, it item) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	epoch := 0
	if it.ev != nil {
		epoch = it.ev.ReplayEpoch
	}
	attrs := []any{"event_id", it.id, "workflow", it.wf.name}
	if it.ev != nil {
		// The event's trace and correlation: this line and the
		// comparison's (when this write completes the pair) carry them.
		ctx = telemetry.EventContext(ctx, it.ev)
		p.logPublished(ctx, it)
	}
	pair, complete, err := p.outcomes.PutOutcome(ctx, it.wf.name, it.id, epoch, cutover.SideLegacy, it.ready)
	switch {
	case errors.Is(err, cutover.ErrAlreadyRecorded):
		return // a retried batch: the first write stands
	case err != nil:
		p.m.recordErrs.WithLabelValues(it.wf.name).Inc()
		p.log.WarnContext(ctx, "proxy: record legacy outcome", append(attrs, "error", err)...)
		return
	case !complete:
		return
	}
	if err := p.pairs.HandlePair(ctx, pair); err != nil {
		p.m.recordErrs.WithLabelValues(it.wf.name).Inc()
		p.log.WarnContext(ctx, "proxy: compare pair", append(attrs, "error", err)...)
	}
}

// logPublished logs a published shadow event with its legacy outcome, in
// the event's trace and correlation.
func (p *Proxy) logPublished(ctx context.Context, it item) {
	if !p.log.Enabled(ctx, slog.LevelDebug) {
		return // before building the event's context: this runs per event
	}
	ctx = telemetry.EventContext(ctx, it.ev)
	p.log.DebugContext(ctx, "proxy: shadow event published", "event_id", it.id, "workflow", it.wf.name,
		"legacy_status", it.ready.Status, "legacy_latency", it.ready.Latency.String())
}

// compare has a pair that a publish completed compared.
func (p *Proxy) compare(ctx context.Context, pair cutover.OutcomePair) {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := p.pairs.HandlePair(ctx, pair); err != nil {
		p.m.recordErrs.WithLabelValues(pair.Workflow).Inc()
		p.log.WarnContext(ctx, "proxy: compare pair", "event_id", pair.EventID, "workflow", pair.Workflow, "error", err)
	}
}

// discard counts the items left in a closed buffer that nobody will write.
func (p *Proxy) discard() {
	for it := range p.in {
		p.drop(it.wf.name, dropShutdown)
	}
}
