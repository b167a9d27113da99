package proxy

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/redact"
)

// serveLegacy lets legacy answer. With mirror, it captures the request and
// the response as they stream and hands them to the writer, which builds
// the shadow event and the legacy outcome off the request path.
func (p *Proxy) serveLegacy(w http.ResponseWriter, rq *request, mirror bool) {
	wf, r := rq.wf, rq.r
	reqCap := rq.body
	switch {
	case !mirror:
	case reqCap != nil:
	case r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0:
		reqCap = emptyCapture() // ReverseProxy sends no body, so none is read
	case r.ContentLength > p.captureLimit:
		reqCap = nil // known too large: stream it untouched
		p.notMirrored(wf.name, reasonTooLarge)
		mirror = false
	default:
		reqCap = newCapture(p.captureLimit, r.ContentLength)
		r.Body = &teeBody{rc: r.Body, c: reqCap}
	}
	if mirror && reqCap.tooLargeNow() {
		p.notMirrored(wf.name, reasonTooLarge)
		mirror = false
	}

	ex := &exchange{}
	if mirror {
		ex.resp = newCapture(p.captureLimit, -1)
	}
	done := false
	defer func() {
		p.observeLegacy(wf.m, ex)
		if p.log.Enabled(r.Context(), slog.LevelDebug) {
			p.log.DebugContext(r.Context(), "proxy: request", "event_id", rq.id, "correlation_id", rq.correlationID(), "workflow", wf.name, "method", r.Method, "path", r.URL.Path,
				"target", targetLegacy, "status", ex.status, "mirrored", mirror, "duration", time.Since(rq.arrival).String())
		}
		if !done && mirror { // the response was cut off: ReverseProxy panicked
			p.notMirrored(wf.name, reasonAborted)
		}
	}()
	p.forward(w, r, ex)
	done = true
	if mirror {
		p.mirror(rq, reqCap, ex)
	}
}

// mirror checks the captures and queues the shadow material. Only cheap
// work happens here: the client's response is not finished until the
// handler returns.
func (p *Proxy) mirror(rq *request, reqCap *capture, ex *exchange) {
	name := rq.wf.name
	if ex.upgraded {
		p.notMirrored(name, reasonUpgrade)
		return
	}
	if ex.err != nil && ex.status == statusClientClosed {
		p.notMirrored(name, reasonCanceled)
		return
	}
	body := reqCap.freeze()
	switch {
	case body.tooLarge:
		p.notMirrored(name, reasonTooLarge)
		return
	case !body.complete:
		p.notMirrored(name, reasonIncomplete)
		return
	}
	leg, ok := legacySnapshot(ex)
	if !ok {
		p.notMirrored(name, reasonAborted)
		return
	}
	snap := snapshot(rq.r, body.body)
	p.enqueue(item{wf: rq.wf, id: rq.id, arrival: rq.arrival, req: &snap, legacy: leg})
}

// legacySnap is a legacy response as captured, before decoding and
// redaction.
type legacySnap struct {
	status   int
	header   http.Header
	body     []byte
	tooLarge bool
	latency  time.Duration
	err      error
}

// legacySnapshot freezes the response capture; ok is false when the
// response was not seen to the end.
func legacySnapshot(ex *exchange) (*legacySnap, bool) {
	if ex.err != nil {
		return &legacySnap{status: ex.status, err: ex.err, latency: ex.latency(time.Time{})}, true
	}
	res := ex.resp.freeze()
	if !res.complete && !res.tooLarge {
		return nil, false
	}
	return &legacySnap{status: ex.status, header: ex.header, body: res.body, tooLarge: res.tooLarge, latency: ex.latency(res.eofAt)}, true
}

// tooLargeNow reports whether a capture is already known to be over its
// cap (a prefetch that hit it, or a declared length above it).
func (c *capture) tooLargeNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n > c.limit
}

func (p *Proxy) observeLegacy(m *routeMetrics, ex *exchange) {
	status := ex.status
	if status == 0 {
		status = statusClientClosed // cut off before any status was known
	}
	m.count(targetLegacy, status)
	p.observeLatency(m, ex)
}

func (p *Proxy) observeLatency(m *routeMetrics, ex *exchange) {
	if !ex.start.IsZero() && ex.err == nil {
		m.legacy.Observe(ex.latency(time.Time{}).Seconds())
	}
}

// legacyOutcome turns a captured legacy response into the outcome the
// comparator diffs: bodies decoded from gzip, then redacted. A body that
// cannot be decoded is kept as it is unless the workflow redacts JSON
// paths, which could then not be honoured.
func legacyOutcome(wf *workflow, s *legacySnap, limit int64, now time.Time) *cutover.Outcome {
	o := &cutover.Outcome{Status: s.status, Latency: cutover.Duration(s.latency), At: now.UTC()}
	if s.err != nil {
		o.Status = 0
		o.Error = "legacy: " + legacyErrorText(s.status)
		return o
	}
	h := s.header
	dropHopHeaders(h)
	if s.tooLarge {
		o.Header = wf.redactor.Strip(h) // h is the capture's own copy
		o.Skipped = "legacy response body is over proxy.capture_limit"
		return o
	}
	body := s.body
	enc := h.Get("Content-Encoding")
	switch decoded, res := decodeBody(enc, body, limit); res {
	case decodeOK:
		if enc != "" {
			delete(h, "Content-Encoding") // canonical: Del would canonicalize them again
			delete(h, "Content-Length")
		}
		body = decoded
	case decodeTooLarge:
		o.Header = wf.redactor.Strip(h) // h is the capture's own copy
		o.Skipped = "legacy response body is over proxy.capture_limit once decoded"
		return o
	case decodeUnsupported:
		if wf.redactor.HasJSONPaths() {
			o.Header = wf.redactor.Strip(h) // h is the capture's own copy
			o.Skipped = "legacy response Content-Encoding " + enc + " cannot be redacted"
			return o
		}
	}
	o.Header = wf.redactor.Strip(h) // h is the capture's own copy
	if len(body) > 0 {
		var ok bool
		if o.Body, ok = wf.redactor.Check(body); !ok {
			o.Body = nil
			o.Skipped = "legacy response " + redact.SkippedInvalidJSON
		}
	}
	return o
}

// legacyErrorText describes a failed round trip without the transport's
// error text, which can carry request details.
func legacyErrorText(status int) string {
	if status == http.StatusGatewayTimeout {
		return "timed out"
	}
	return "unreachable or failed before responding"
}
