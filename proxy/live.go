package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cutover-dev/cutover"
)

// Live serving tuning.
const (
	pollFirst     = 2 * time.Millisecond
	pollMax       = 50 * time.Millisecond
	maxBackground = 256 // background legacy calls of safe live requests
)

// skippedLegacy is the legacy side of a live request of a write workflow:
// a write is never executed on both sides.
const skippedLegacy = "live request: legacy not called"

// serveLive lets the async pipeline answer: it publishes a live event, then
// awaits its outcome or answers 202 with a status URL. If the event surely
// was not published (cutover.ErrNotPublished), legacy serves the request
// instead: nothing reached the pipeline, so the write still happens exactly
// once. If the failure leaves that unknown (a timeout during the queue
// send), a write workflow answers 503 rather than risk running twice.
func (p *Proxy) serveLive(w http.ResponseWriter, rq *request) {
	wf, r := rq.wf, rq.r
	if rq.body == nil {
		rq.body = prefetch(r, p.captureLimit)
	}
	body := rq.body.freeze()
	switch {
	case body.tooLarge:
		p.fallback(w, rq, fallbackTooLarge)
		return
	case !body.complete:
		wf.m.count(targetAsync, http.StatusBadRequest)
		http.Error(w, "request body could not be read", http.StatusBadRequest)
		return
	}
	snap := snapshot(r, body.body)
	ev := buildEvent(wf, rq.id, rq.arrival, cutover.EventLive, snap)

	// Detached from the client: a publish cut short by a disconnect would
	// leave it unknown whether the pipeline got the event.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), p.livePublishTimeout)
	err := p.publisher.Publish(ctx, ev)
	cancel()
	if err != nil {
		// Legacy may serve only when the pipeline surely does not have the
		// event, or when running it twice is harmless (a safe workflow).
		// Otherwise the client retries, with its idempotency key.
		if !wf.safe && !errors.Is(err, cutover.ErrNotPublished) {
			p.log.Error("proxy: live publish failed and may have reached the pipeline; answering 503",
				"event_id", ev.ID, "workflow", wf.name, "correlation_id", ev.CorrelationID, "error", err)
			p.m.fallbacks.WithLabelValues(wf.name, fallbackUnknown).Inc()
			wf.m.count(targetAsync, http.StatusServiceUnavailable)
			w.Header().Set("Retry-After", "1")
			w.Header().Set(HeaderEventID, ev.ID)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the request could not be accepted; retry it", "id": ev.ID})
			return
		}
		p.log.Warn("proxy: live publish failed; legacy serves the request",
			"event_id", ev.ID, "workflow", wf.name, "correlation_id", ev.CorrelationID, "error", err)
		p.fallback(w, rq, fallbackPublishFailed)
		return
	}
	if wf.safe {
		p.background(rq, ev, body.body)
	} else {
		p.enqueue(item{wf: wf, id: rq.id, arrival: rq.arrival, ev: ev, skipped: skippedLegacy})
	}
	if wf.accepted {
		p.accepted(w, wf, ev.ID)
		return
	}
	p.await(w, r, wf, ev.ID)
}

// fallback serves a live request from legacy, unmirrored. The body was
// read ahead (prefetch), and its replay is still unread.
func (p *Proxy) fallback(w http.ResponseWriter, rq *request, reason string) {
	p.m.fallbacks.WithLabelValues(rq.wf.name, reason).Inc()
	p.serveLegacy(w, rq, false)
}

// await polls the outcome pair with a growing delay until the async side is
// there, the workflow's await_timeout passes (202), or the client leaves.
func (p *Proxy) await(w http.ResponseWriter, r *http.Request, wf *workflow, id string) {
	ctx, cancel := context.WithTimeout(r.Context(), wf.awaitTimeout)
	defer cancel()
	delay := pollFirst
	timer := time.NewTimer(delay)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			if r.Context().Err() != nil {
				wf.m.count(targetAsync, statusClientClosed)
				return
			}
			p.accepted(w, wf, id)
			return
		case <-timer.C:
		}
		pair, err := p.pairsR.OutcomePair(ctx, id, 0)
		if err == nil && pair.Async != nil {
			p.writeOutcome(r.Context(), w, wf, id, pair.Async)
			return
		}
		if err != nil && !errors.Is(err, cutover.ErrNotFound) && ctx.Err() == nil {
			p.log.Debug("proxy: await outcome", "event_id", id, "workflow", wf.name, "error", err)
		}
		delay = min(delay*2, pollMax)
		timer.Reset(delay)
	}
}

// writeOutcome answers with the async outcome as legacy would have.
func (p *Proxy) writeOutcome(ctx context.Context, w http.ResponseWriter, wf *workflow, id string, o *cutover.Outcome) {
	body, err := p.outcomeBody(ctx, o)
	if err != nil {
		p.log.Warn("proxy: async outcome body", "event_id", id, "workflow", wf.name, "error", err)
	}
	if err != nil || o.Failed() {
		wf.m.count(targetAsync, http.StatusBadGateway)
		w.Header().Set(HeaderEventID, id)
		writeJSON(w, http.StatusBadGateway, map[string]string{
			"id": id, "error": "the request could not be processed", "status_url": p.statusURL(id),
		})
		return
	}
	h := w.Header()
	for k, vs := range o.Header {
		h[k] = append([]string(nil), vs...)
	}
	dropHopHeaders(h)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set(HeaderEventID, id)
	status := o.Status
	if status == 0 {
		status = http.StatusOK // a Go handler may leave it unset
	}
	wf.m.count(targetAsync, status)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// outcomeBody returns an outcome's body, fetching a claim-checked one.
func (p *Proxy) outcomeBody(ctx context.Context, o *cutover.Outcome) ([]byte, error) {
	if o.BodyRef == "" {
		return o.Body, nil
	}
	if p.blobs == nil {
		return nil, errors.New("proxy: outcome body is in the blob store and no blob reader is configured")
	}
	b, err := p.blobs.Blob(ctx, o.BodyRef)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// accepted answers 202 with where to ask for the outcome.
func (p *Proxy) accepted(w http.ResponseWriter, wf *workflow, id string) {
	loc := p.statusURL(id)
	w.Header().Set("Location", loc)
	w.Header().Set(HeaderEventID, id)
	wf.m.count(targetAsync, http.StatusAccepted)
	writeJSON(w, http.StatusAccepted, acceptedBody{ID: id, Workflow: wf.name, State: cutover.StateQueued, StatusURL: loc})
}

type acceptedBody struct {
	ID        string             `json:"id"`
	Workflow  string             `json:"workflow"`
	State     cutover.EventState `json:"state"`
	StatusURL string             `json:"status_url"`
}

func (p *Proxy) statusURL(id string) string { return p.statusPrefix + "/requests/" + id }

// background calls legacy for a live request of a safe (read-only)
// workflow, so the diff keeps running after cutover; the client already
// has the async answer. The calls are bounded; past the bound they are
// skipped and counted.
func (p *Proxy) background(rq *request, ev *cutover.Event, body []byte) {
	wf := rq.wf
	p.mu.RLock()
	stopping := p.stopping
	if !stopping {
		select {
		case p.bgSlots <- struct{}{}:
			p.bg.Add(1)
		default:
			p.mu.RUnlock()
			p.notMirrored(wf.name, reasonBackgroundBusy)
			return
		}
	}
	p.mu.RUnlock()
	if stopping {
		p.drop(wf.name, dropShutdown)
		return
	}
	// The request is not ours once the handler returns: take a copy now,
	// detached from the client's context (and from the server's, so that
	// ReverseProxy reports a cut-off body instead of panicking).
	req := rq.r.Clone(context.Background())
	req.Body, req.ContentLength = http.NoBody, 0
	if len(body) > 0 {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	go func() {
		defer p.bg.Done()
		defer func() { <-p.bgSlots }()
		ex := &exchange{resp: newCapture(p.captureLimit, -1)}
		p.forward(discardWriter{h: http.Header{}}, req, ex)
		p.observeLatency(wf.m, ex)
		leg, ok := legacySnapshot(ex)
		if !ok {
			p.notMirrored(wf.name, reasonBackgroundFailed)
			return
		}
		p.enqueue(item{wf: wf, id: ev.ID, arrival: rq.arrival, ev: ev, legacy: leg})
	}()
}

// discardWriter is the client of a background legacy call.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
func (d discardWriter) Flush()                      {}
