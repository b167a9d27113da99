package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// leanBodyMax is the largest request body the lean path takes: it is read
// whole before legacy sees the request. Larger and chunked bodies stream
// through ReverseProxy, which sends both directions at once.
const leanBodyMax = 64 << 10

// max1xx bounds the informational responses forwarded before the final one,
// as http.Transport does.
const max1xx = 5

// leanTarget reports whether the lean path can reach target: plain HTTP,
// no path or query of its own to merge.
func leanTarget(target *url.URL) bool {
	return target.Scheme == "http" && (target.Path == "" || target.Path == "/") && target.RawQuery == "" && target.User == nil
}

// leanable reports whether r is an ordinary request the lean path serves
// exactly as ReverseProxy would. Protocol switches, 100-continue, request
// trailers and streamed bodies go to ReverseProxy.
func leanable(r *http.Request) bool {
	if r.ContentLength < 0 || r.ContentLength > leanBodyMax || r.Trailer != nil || r.URL.Opaque != "" || !strings.HasPrefix(r.URL.Path, "/") {
		return false
	}
	h := r.Header
	return len(h["Upgrade"]) == 0 && len(h["Expect"]) == 0
}

// serveLean forwards r over a pooled connection on the request's own
// goroutine: one write for the request, the response read and streamed
// back, no per-request goroutines or channel handoffs. It behaves as
// forward through ReverseProxy does: same headers, 502/504, cancellation
// passed on (by cutting the connection), a panic on a cut-off body.
func (p *Proxy) serveLean(w http.ResponseWriter, r *http.Request, ex *exchange) {
	ctx := r.Context()
	rt, res, err := p.leanRoundTrip(ctx, w, r, ex)
	if err != nil {
		p.leanError(w, r, ex, err)
		return
	}
	reuse := false
	defer func() { rt.release(p.up, reuse) }()
	if res.StatusCode == http.StatusSwitchingProtocols {
		// Nothing asked to switch; legacy is confused.
		p.leanError(w, r, ex, errors.New("proxy: legacy switched protocols unasked"))
		return
	}
	dropHopHeaders(res.Header)
	length := res.ContentLength
	ex.status = res.StatusCode
	ex.headerAt = time.Now()
	body := io.Reader(res.Body)
	if ex.resp != nil {
		// No copy: w's header map is another map, and the server sends a
		// snapshot of it, so nothing changes these values.
		ex.header = res.Header
		ex.resp.expectLength(length)
		body = &teeBody{rc: res.Body, c: ex.resp}
	}
	h := w.Header()
	for k, vs := range res.Header {
		if prior, dup := h[k]; dup {
			h[k] = append(prior, vs...)
		} else {
			h[k] = vs // res is ours alone: share rather than copy
		}
	}
	announced := len(res.Trailer)
	if announced > 0 {
		keys := make([]string, 0, announced)
		for k := range res.Trailer {
			keys = append(keys, k)
		}
		h.Add("Trailer", strings.Join(keys, ", "))
	}
	w.WriteHeader(res.StatusCode)
	stream := length < 0 || length > streamAbove || isEventStream(res.Header.Get("Content-Type"))
	if err := p.copyBody(w, body, stream); err != nil {
		if ctx.Value(http.ServerContextKey) != nil {
			panic(http.ErrAbortHandler) // the server cuts the client's response short
		}
		return
	}
	reuse = !res.Close
	if len(res.Trailer) == 0 {
		return
	}
	// As ReverseProxy: force chunking so that the trailers can follow.
	_ = http.NewResponseController(w).Flush()
	if len(res.Trailer) == announced {
		for k, vs := range res.Trailer {
			h[k] = append(h[k], vs...)
		}
		return
	}
	for k, vs := range res.Trailer {
		h[http.TrailerPrefix+k] = append(h[http.TrailerPrefix+k], vs...)
	}
}

// roundTrip is a connection carrying one exchange, watched for the
// client going away. A value: a pointer cost an allocation per request.
type roundTrip struct {
	pc   *upConn
	stop func() bool // nil: nothing watches
}

// release pools the connection after a clean exchange, else closes it.
func (rt *roundTrip) release(up *upstream, reuse bool) {
	if rt.stop != nil && !rt.stop() {
		reuse = false // the client left: the connection was cut
	}
	if reuse && rt.pc.br.Buffered() == 0 { // bytes past the response: legacy is out of step
		up.put(rt.pc, time.Now())
		return
	}
	rt.pc.c.Close()
}

// leanRoundTrip sends r and reads legacy's final response header,
// forwarding informational responses. A reused connection that turns out
// to be closed before anything came back is replaced once when sending the
// request again is safe, as http.Transport does.
func (p *Proxy) leanRoundTrip(ctx context.Context, w http.ResponseWriter, r *http.Request, ex *exchange) (roundTrip, *http.Response, error) {
	body, err := readBody(r)
	if err != nil {
		return roundTrip{}, nil, err
	}
	deadline := ex.start.Add(p.legacyTimeout)
	slack := min(maxDeadlineSlack, p.legacyTimeout/64) // a kept deadline has not passed
	for try := 0; ; try++ {
		pc, err := p.up.get(ctx, ex.start)
		if err != nil {
			return roundTrip{}, nil, err
		}
		rt := roundTrip{pc: pc}
		if ctx.Done() != nil {
			// Cutting the connection wakes whatever waits on it and tells
			// legacy the client is gone.
			rt.stop = context.AfterFunc(ctx, func() { _ = pc.c.SetDeadline(aLongTimeAgo) })
		}
		res, err := exchangeOn(pc, w, r, p.legacyHost, body, deadline, slack)
		if err == nil {
			return rt, res, nil
		}
		rt.release(p.up, false)
		if try > 0 || !pc.reused || !errors.Is(err, errNoResponse) || timedOut(err) || !replayable(r) || ctx.Err() != nil {
			return roundTrip{}, nil, err
		}
	}
}

func timedOut(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errNoResponse marks a connection that failed before legacy sent a byte.
var errNoResponse = errors.New("connection closed before any response")

// aLongTimeAgo is a deadline that has passed: it wakes a blocked read.
var aLongTimeAgo = time.Unix(1, 0)

// exchangeOn writes the request on pc and reads the final response header,
// passing informational responses on to w.
func exchangeOn(pc *upConn, w http.ResponseWriter, r *http.Request, host string, body []byte, deadline time.Time, slack time.Duration) (*http.Response, error) {
	if err := pc.setDeadline(deadline, slack); err != nil {
		return nil, fmt.Errorf("proxy: legacy: %w", err)
	}
	writeRequest(pc.bw, r, host, body)
	if err := pc.bw.Flush(); err != nil {
		return nil, fmt.Errorf("proxy: legacy: write: %w: %w", errNoResponse, err)
	}
	for n := 0; ; n++ {
		if _, err := pc.br.Peek(1); err != nil && n == 0 {
			return nil, fmt.Errorf("proxy: legacy: read: %w: %w", errNoResponse, err)
		}
		res, err := http.ReadResponse(pc.br, r)
		if err != nil {
			return nil, fmt.Errorf("proxy: legacy: read response: %w", err)
		}
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols || res.StatusCode < 100 {
			return res, nil
		}
		if n >= max1xx {
			return nil, errors.New("proxy: legacy: too many 1xx responses")
		}
		h := w.Header()
		for k, vs := range res.Header {
			h[k] = append(h[k], vs...)
		}
		w.WriteHeader(res.StatusCode)
		clear(h) // as ReverseProxy: 1xx headers are not the final response's
	}
}

// readBody reads a lean request's body whole (at most leanBodyMax).
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		return nil, fmt.Errorf("proxy: read request body: %w", err)
	}
	return b, nil
}

// replayable is http.Transport's rule for sending a request again.
func replayable(r *http.Request) bool {
	switch r.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	h := r.Header
	return len(h["Idempotency-Key"]) > 0 || len(h["X-Idempotency-Key"]) > 0
}

// leanError answers a failed round trip as ReverseProxy's ErrorHandler
// does: a passed deadline is legacy_timeout (504), a context ended is the
// client leaving.
func (p *Proxy) leanError(w http.ResponseWriter, r *http.Request, ex *exchange, err error) {
	errorHandler(w, r, err)
	ex.err, ex.status = err, classify(r.Context(), err)
}

func isEventStream(ct string) bool {
	const es = "text/event-stream"
	return len(ct) >= len(es) && strings.EqualFold(ct[:len(es)], es)
}

// copyBody streams a response body to the client, flushing each write of
// a stream. It fails as ReverseProxy's copy does: on a failed read or
// write.
func (p *Proxy) copyBody(w http.ResponseWriter, body io.Reader, stream bool) error {
	bp := p.bufs.get()
	defer p.bufs.put(bp)
	buf := *bp
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if stream {
				flush(w)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
	}
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w).Flush()
}
