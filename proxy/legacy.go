package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// statusClientClosed is recorded (never meaningfully sent) when the client
// went away before legacy answered; nginx calls it 499.
const statusClientClosed = 499

var errLegacyTimeout = errors.New("proxy.legacy_timeout exceeded")

// newTransport is tuned for one upstream: many idle keep-alive connections,
// no transparent compression (the client's Accept-Encoding decides, as if it
// talked to legacy directly), and bounded dial and header waits.
func newTransport(idlePerHost int, legacyTimeout time.Duration) *http.Transport {
	dialTimeout := min(5*time.Second, legacyTimeout)
	return &http.Transport{
		Proxy:                 nil, // legacy is reached directly, whatever HTTP_PROXY says
		DialContext:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no global cap: MaxIdleConnsPerHost bounds the one host
		MaxIdleConnsPerHost:   idlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   min(10*time.Second, legacyTimeout),
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: legacyTimeout,
		DisableCompression:    true,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

// newReverseProxy forwards to target. Hooks find the request's exchange in
// its context.
func newReverseProxy(target *url.URL, tr http.RoundTripper, bufs *bufferPool, log *slog.Logger) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// Legacy keeps seeing the Host clients ask for, as it did
			// before the proxy; X-Forwarded-Host says it too.
			pr.Out.Host = pr.In.Host
			// Extend the chain of earlier proxies rather than replace it.
			if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
				pr.Out.Header["X-Forwarded-For"] = append([]string(nil), prior...)
			}
			pr.SetXForwarded()
		},
		Transport:  tr,
		BufferPool: bufs,
		// No flush per write: ReverseProxy flushes every write of streams
		// (unknown length, SSE), and modifyResponse marks large responses
		// as streams. Small answers, the common case, go out in one write
		// instead of paying a flush (a syscall) for each piece.
		FlushInterval:  0,
		ModifyResponse: modifyResponse,
		ErrorHandler:   errorHandler,
		ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
}

// modifyResponse notes the legacy status and, when the exchange is
// captured, copies the headers and tees the body as it streams to the
// client.
// streamAbove is the response size above which every write is flushed at
// once, so large bodies stream instead of waiting in the server's buffer.
const streamAbove = 32 << 10

func modifyResponse(res *http.Response) error {
	length := res.ContentLength
	if length > streamAbove {
		// Stream it: ReverseProxy flushes every write of a response of
		// unknown length. The Content-Length header is still copied, so
		// the client sees the length legacy sent.
		res.ContentLength = -1
	}
	ex := exchangeFrom(res.Request.Context())
	if ex == nil {
		return nil
	}
	ex.status = res.StatusCode
	ex.headerAt = time.Now()
	if ex.resp == nil {
		return nil
	}
	if res.StatusCode == http.StatusSwitchingProtocols {
		// The body is the upgraded connection; wrapping it would break
		// the upgrade, and there is no response to compare.
		ex.upgraded = true
		ex.resp = nil
		return nil
	}
	ex.header = res.Header.Clone()
	ex.resp.expectLength(length)
	res.Body = &teeBody{rc: res.Body, c: ex.resp}
	return nil
}

// errorHandler answers 504 when legacy timed out and 502 when it could not
// be reached or failed, and notes why for the shadow outcome.
func errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	code := classify(r.Context(), err)
	if ex := exchangeFrom(r.Context()); ex != nil {
		ex.err, ex.status = err, code
	}
	if code == statusClientClosed {
		w.WriteHeader(code) // nobody is listening; keep the server's accounting sane
		return
	}
	http.Error(w, http.StatusText(code), code)
}

func classify(ctx context.Context, err error) int {
	if errors.Is(context.Cause(ctx), errLegacyTimeout) {
		return http.StatusGatewayTimeout
	}
	if ctx.Err() != nil {
		return statusClientClosed
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return http.StatusBadGateway // unreachable, even when the dial timed out
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

// hostPort is target's address with the scheme's port made explicit.
func hostPort(target *url.URL) string {
	if target.Port() != "" {
		return target.Host
	}
	return net.JoinHostPort(target.Hostname(), "80")
}

// bufferPool recycles the 32 KiB copy buffers of ReverseProxy.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (b *bufferPool) Get() []byte  { return *b.p.Get().(*[]byte) }
func (b *bufferPool) Put(p []byte) { b.p.Put(&p) }

// get and put pass the pooled pointer itself: Put, which ReverseProxy's
// interface makes take a slice, allocates a pointer per call.
func (b *bufferPool) get() *[]byte  { return b.p.Get().(*[]byte) }
func (b *bufferPool) put(p *[]byte) { b.p.Put(p) }
