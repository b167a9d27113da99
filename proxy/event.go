package proxy

import (
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"github.com/cutover-dev/cutover"
)

// HeaderCorrelationID carries a caller's correlation id; without it the
// event id is the correlation id.
const HeaderCorrelationID = "X-Correlation-Id"

// HeaderEventID names the event on responses the async pipeline served.
const HeaderEventID = "Cutover-Event-Id"

// request is one request to a workflow route, decided once at arrival.
type request struct {
	wf      *workflow
	r       *http.Request
	id      string
	arrival time.Time
	body    *capture // prefetched before deciding, or nil
}

// correlationID is the request's X-Correlation-Id, else its event id: what
// the event will carry.
func (rq *request) correlationID() string {
	if c := rq.r.Header.Get(HeaderCorrelationID); c != "" {
		return c
	}
	return rq.id
}

// requestSnap is what an event is built from, copied off the request so
// that the writer can build the event after the handler returned.
type requestSnap struct {
	method, path, query string
	header              http.Header
	body                []byte
}

func snapshot(r *http.Request, body []byte) requestSnap {
	return requestSnap{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body}
}

// bucketKey is the key the flag's percentage buckets on: from the
// workflow's spec, else the event id (every request its own bucket).
func (rq *request) bucketKey() string {
	var body []byte
	if rq.body != nil {
		if c := rq.body.freeze(); c.complete {
			body = c.body
		}
	}
	if k, ok := rq.wf.bucket.Extract(rq.r.Header, rq.r.URL.RawQuery, body); ok {
		return k
	}
	return rq.id
}

// buildEvent returns the intake event of a request. Keys are read from the
// raw request; the header copy loses hop-by-hop fields, Content-Length
// (framing, and stale once a body is redacted) and Accept-Encoding (the
// worker negotiates its own encoding). snap.header is consumed.
func buildEvent(wf *workflow, id string, arrival time.Time, mode cutover.EventMode, snap requestSnap) *cutover.Event {
	key, ok := wf.idem.Extract(snap.header, snap.query, snap.body)
	if !ok {
		key = id
	}
	corr := snap.header.Get(HeaderCorrelationID)
	if corr == "" {
		corr = id
	}
	tp, ts := traceContext(snap.header)
	h := snap.header
	dropHopHeaders(h)
	delete(h, "Content-Length") // canonical: Del would canonicalize it again
	delete(h, "Accept-Encoding")
	var body cutover.Body
	if len(snap.body) > 0 {
		body = snap.body
	}
	return &cutover.Event{
		ID: id, Workflow: wf.name, Step: cutover.RespondStep, Mode: mode,
		IdempotencyKey: key, CorrelationID: corr, TraceParent: tp, TraceState: ts,
		ReceivedAt: arrival.UTC(),
		Request:    cutover.Request{Method: snap.method, Path: snap.path, Query: snap.query, Header: h, Body: body},
	}
}

// validTraceparent reports whether tp has the W3C trace-context version-00
// shape, 00-<32 hex>-<16 hex>-<2 hex> in lower case (future versions keep
// the prefix and may add "-" and more). By hand: it runs on every mirrored
// request, where a regexp cost a tenth of building the event.
func validTraceparent(tp string) bool {
	if len(tp) < 55 || len(tp) > 55 && tp[55] != '-' {
		return false
	}
	for i := range 55 {
		switch c := tp[i]; i {
		case 2, 35, 52:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func traceContext(h http.Header) (traceparent, tracestate string) {
	tp := strings.TrimSpace(h.Get("Traceparent"))
	if !validTraceparent(tp) || strings.HasPrefix(tp, "ff") {
		return "", ""
	}
	return tp, strings.Join(h.Values("Tracestate"), ",")
}

// hopHeaders are meaningful for one connection only (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func dropHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for name := range strings.SplitSeq(f, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name) // as the peer spelled it: canonicalize
			}
		}
	}
	// Canonical already: Del would canonicalize each one on every call.
	for _, k := range hopHeaders {
		delete(h, k)
	}
}
