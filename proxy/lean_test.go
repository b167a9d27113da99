package proxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// legacySaw is what the legacy server of the lean tests reports.
type legacySaw struct {
	Method, URI, Host, Body string
	Header                  http.Header
}

// leanLegacy echoes what it received, and on some paths answers with
// informational responses, trailers or a stream.
func leanLegacy(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	saw, _ := json.Marshal(legacySaw{Method: r.Method, URI: r.RequestURI, Host: r.Host, Body: string(b), Header: r.Header})
	h := w.Header()
	h.Set("Connection", "X-Legacy-Hop")
	h.Set("X-Legacy-Hop", "1")
	h.Set("X-Legacy", "kept")
	switch r.URL.Path {
	case "/early":
		h.Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		h.Del("Link")
	case "/trailers":
		h.Set("Trailer", "X-Sum")
		_, _ = w.Write(saw)
		w.(http.Flusher).Flush()
		h.Set("X-Sum", "42")
		h.Set(http.TrailerPrefix+"X-Late", "late")
		return
	case "/stream":
		for range 3 {
			_, _ = w.Write([]byte("chunk\n"))
			w.(http.Flusher).Flush()
		}
		return
	case "/close":
		h.Set("Connection", "close")
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(saw)
}

// forwarder is a proxy with only its forwarding path, lean or not.
func forwarder(t *testing.T, legacyURL string, lean bool) (*Proxy, *httptest.Server) {
	t.Helper()
	target, err := url.Parse(legacyURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{legacyTimeout: 5 * time.Second, bufs: newBufferPool(), transport: newTransport(16, 5*time.Second)}
	p.rp = newReverseProxy(target, p.transport, p.bufs, slog.New(slog.DiscardHandler))
	if lean {
		if !leanTarget(target) {
			t.Fatalf("%s is not a lean target", legacyURL)
		}
		p.up, p.legacyHost = newUpstream(hostPort(target), 16, time.Second), target.Host
	}
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.forward(w, r, &exchange{})
	}))
	t.Cleanup(func() {
		front.Close()
		p.transport.CloseIdleConnections()
		if p.up != nil {
			p.up.closeIdle()
		}
	})
	return p, front
}

// got is what a client of the lean tests sees, with the front's address
// replaced so that two fronts compare.
type got struct {
	Status        int
	Header        http.Header
	Body          string
	Trailer       http.Header
	Informational []int
	Saw           legacySaw
}

func fetch(t *testing.T, front string, method, path, body string, header http.Header) got {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var g got
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, _ textproto.MIMEHeader) error {
		g.Informational = append(g.Informational, code)
		return nil
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), method, front+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(front, "http://")
	g.Status, g.Header, g.Trailer = res.StatusCode, res.Header, res.Trailer
	g.Header.Del("Date")
	if err := json.Unmarshal(b, &g.Saw); err != nil {
		g.Body = string(b)
	}
	g.Saw.Host = strings.ReplaceAll(g.Saw.Host, host, "FRONT")
	for k, vs := range g.Saw.Header {
		for i, v := range vs {
			vs[i] = strings.ReplaceAll(v, host, "FRONT")
		}
		g.Saw.Header[k] = vs
	}
	return g
}

// TestLeanMatchesReverseProxy sends the same requests through the lean
// path and through ReverseProxy and expects legacy and the client to see
// the same thing.
func TestLeanMatchesReverseProxy(t *testing.T) {
	legacy := httptest.NewServer(http.HandlerFunc(leanLegacy))
	defer legacy.Close()
	lean, leanFront := forwarder(t, legacy.URL, true)
	_, rpFront := forwarder(t, legacy.URL, false)
	for _, tt := range []struct {
		name, method, path, body string
		header                   http.Header
	}{
		{"hop-by-hop and forwarded", "GET", "/orders/7?x=1", "", http.Header{
			"Connection": {"X-Hop, keep-alive"}, "X-Hop": {"1"}, "Te": {"trailers"}, "Proxy-Authorization": {"Basic eA=="},
			"X-Forwarded-For": {"203.0.113.9", "198.51.100.1"}, "X-Forwarded-Host": {"spoofed"}, "X-Forwarded-Proto": {"https"},
			"Forwarded": {"for=192.0.2.1"}, "User-Agent": {"ua/1"}, "X-Multi": {"a", "b"},
		}},
		{"json post", "POST", "/orders", `{"customer_id":"c-1"}`, http.Header{"Content-Type": {"application/json"}, "Idempotency-Key": {"k-1"}}},
		{"unparsable query", "GET", "/q?a=1;b=2&c=%zz&d=4", "", nil},
		{"encoded slash", "GET", "/files/a%2Fb?download=1", "", nil},
		{"force query", "GET", "/empty?", "", nil},
		{"head", "HEAD", "/orders/7", "", nil},
		{"delete without body", "DELETE", "/orders/7", "", nil},
		{"put without body", "PUT", "/orders/7", "", nil},
		{"no user agent", "GET", "/orders/7", "", http.Header{"User-Agent": {""}}},
		{"client closes", "GET", "/orders/7", "", http.Header{"Connection": {"close"}}},
		{"legacy closes", "GET", "/close", "", nil},
		{"informational", "GET", "/early", "", nil},
		{"trailers", "GET", "/trailers", "", http.Header{"Te": {"trailers"}}},
		{"stream", "GET", "/stream", "", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want := fetch(t, rpFront.URL, tt.method, tt.path, tt.body, tt.header)
			g := fetch(t, leanFront.URL, tt.method, tt.path, tt.body, tt.header)
			if diff := cmp.Diff(want, g); diff != "" {
				t.Errorf("lean path differs from ReverseProxy (-ReverseProxy +lean):\n%s", diff)
			}
		})
	}
	lean.up.mu.Lock()
	idle := len(lean.up.idle)
	lean.up.mu.Unlock()
	if idle == 0 {
		t.Error("the lean path pooled no connection: were the requests served by ReverseProxy?")
	}
}

// TestLeanSurvivesLegacyClosingIdle has legacy close idle connections
// quickly; a POST without an idempotency key (never retried) on the next
// request must not land on a closed connection.
func TestLeanSurvivesLegacyClosingIdle(t *testing.T) {
	var conns atomic.Int64
	legacy := httptest.NewUnstartedServer(http.HandlerFunc(leanLegacy))
	legacy.Config.IdleTimeout = 20 * time.Millisecond
	legacy.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	legacy.Start()
	defer legacy.Close()
	_, front := forwarder(t, legacy.URL, true)
	for i := range 3 {
		if g := fetch(t, front.URL, "POST", "/orders", `{"n":1}`, nil); g.Status != http.StatusCreated {
			t.Fatalf("request %d: status %d", i, g.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("legacy saw %d connections, want 3 (one per request, each closed when idle)", n)
	}
}

// TestLeanRetriesReplayableOnClosedConnection has legacy close each
// connection after its response without saying so, and the pool skip its
// peek: the next request finds its connection closed before any answer. A
// GET is sent again on a new connection, as http.Transport would; a POST
// without an idempotency key is not (it might run twice) and fails as it
// would there.
func TestLeanRetriesReplayableOnClosedConnection(t *testing.T) {
	legacy := httptest.NewServer(closeAfterResponse(t, nil))
	defer legacy.Close()
	p, front := forwarder(t, legacy.URL, true)
	p.up.probeAfter = time.Hour // no peek: it would catch most closed connections first
	for i := range 3 {
		if g := fetch(t, front.URL, "GET", "/orders/1", "", nil); g.Status != http.StatusOK || g.Body != "ok" {
			t.Fatalf("GET %d: %d %q", i, g.Status, g.Body)
		}
	}
	fetch(t, front.URL, "GET", "/orders/1", "", nil) // leaves a closed connection in the pool
	if g := fetch(t, front.URL, "POST", "/orders", `{}`, nil); g.Status != http.StatusBadGateway {
		t.Errorf("POST without idempotency key on a closed connection: %d, want 502", g.Status)
	}
	fetch(t, front.URL, "GET", "/orders/1", "", nil)
	if g := fetch(t, front.URL, "POST", "/orders", `{}`, http.Header{"Idempotency-Key": {"k-1"}}); g.Status != http.StatusOK {
		t.Errorf("POST with an idempotency key on a closed connection: %d, want 200", g.Status)
	}
}

// TestLeanPeeksBeforeReuse: with the peek on (the default), a connection
// legacy closed without saying so is not used, so even a POST without an
// idempotency key gets through.
func TestLeanPeeksBeforeReuse(t *testing.T) {
	closed := make(chan struct{}, 8) // room for every close: the handler never waits
	legacy := httptest.NewServer(closeAfterResponse(t, closed))
	defer legacy.Close()
	_, front := forwarder(t, legacy.URL, true)
	for i := range 3 {
		fetch(t, front.URL, "GET", "/orders/1", "", nil)
		<-closed // legacy's FIN is on its way; on loopback, already there
		time.Sleep(time.Millisecond)
		if g := fetch(t, front.URL, "POST", "/orders", `{}`, nil); g.Status != http.StatusOK {
			t.Fatalf("POST %d after legacy closed the pooled connection: %d, want 200", i, g.Status)
		}
	}
}

// closeAfterResponse answers "ok" and closes the connection without a
// Connection: close, as a legacy server that drops keep-alive unannounced;
// closed, when not nil, hears of each close.
func closeAfterResponse(t *testing.T, closed chan<- struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_ = buf.Flush()
		c.Close()
		if closed != nil {
			closed <- struct{}{}
		}
	}
}
