package proxy

import (
	"context"
	"net/http"
	"time"
)

// exchange is one legacy round trip as the ReverseProxy hooks see it. Only
// the request goroutine touches it (the hooks run on it), except the
// captures, which lock.
type exchange struct {
	start    time.Time
	end      time.Time
	headerAt time.Time
	status   int         // legacy's, or the one the error handler wrote
	header   http.Header // captured exchanges only
	resp     *capture    // nil: the response is not captured
	err      error       // set when legacy gave no response
	upgraded bool
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// forward sends r to legacy within proxy.legacy_timeout and streams the
// answer to w: ordinary requests over the lean path, the rest (protocol
// switches, 100-continue, streamed or large request bodies, a legacy that
// is not plain HTTP) through ReverseProxy. It panics with
// http.ErrAbortHandler when a response is cut off mid-body, as
// ReverseProxy does.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, ex *exchange) {
	if p.up != nil && leanable(r) {
		ex.start = time.Now()
		defer func() { ex.end = time.Now() }()
		p.serveLean(w, r, ex)
		return
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), p.legacyTimeout, errLegacyTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, exchangeKey{}, ex)
	if r.ContentLength != 0 {
		// Let legacy's answer start while the request body is still
		// streaming, as it would without the proxy; Go's HTTP/1 server
		// otherwise drains the request before the first response byte.
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	ex.start = time.Now()
	defer func() { ex.end = time.Now() }()
	p.rp.ServeHTTP(w, r.WithContext(ctx))
}

// latency is the legacy round trip up to the end of the response body.
func (ex *exchange) latency(eofAt time.Time) time.Duration {
	switch {
	case !eofAt.IsZero():
		return eofAt.Sub(ex.start)
	case !ex.end.IsZero():
		return ex.end.Sub(ex.start)
	}
	return time.Since(ex.start)
}
