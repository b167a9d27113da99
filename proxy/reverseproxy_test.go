package proxy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

// seen is what an echoing legacy handler reports about the request it got.
type seen struct {
	Method     string              `json:"method"`
	RequestURI string              `json:"request_uri"`
	Host       string              `json:"host"`
	Header     map[string][]string `json:"header"`
	Body       string              `json:"body"`
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	// Hop-by-hop fields legacy sends must not reach the client.
	w.Header().Set("Connection", "X-Legacy-Hop")
	w.Header().Set("X-Legacy-Hop", "1")
	w.Header().Set("Keep-Alive", "timeout=5")
	w.Header().Set("X-Legacy", "kept")
	_ = json.NewEncoder(w).Encode(seen{Method: r.Method, RequestURI: r.RequestURI, Host: r.Host, Header: r.Header, Body: string(b)})
}

func TestHopByHopAndForwardedHeaders(t *testing.T) {
	for _, tt := range []struct {
		name     string
		decision cutover.Decision
		path     string
	}{
		{"off", off, "/orders/7"},
		{"shadow", shadow, "/orders/7"},
		{"unmatched", off, "/elsewhere"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, http.HandlerFunc(echo))
			h.dec.set("get-order", tt.decision)
			req := h.newRequest("GET", tt.path, "")
			req.Header.Set("Connection", "X-Client-Hop")
			req.Header.Set("X-Client-Hop", "1")
			req.Header.Set("Proxy-Authorization", "Basic eA==")
			req.Header.Set("Te", "gzip")
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			req.Header.Set("X-End-To-End", "yes")
			res, body := h.do(req)
			var got seen
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("legacy reply %q: %v", body, err)
			}
			for _, k := range []string{"X-Client-Hop", "Proxy-Authorization", "Te"} {
				if v, ok := got.Header[k]; ok {
					t.Errorf("legacy received hop-by-hop %s: %q", k, v)
				}
			}
			frontHost := strings.TrimPrefix(h.front.URL, "http://")
			wantFwd := map[string][]string{
				"X-Forwarded-For":   {"203.0.113.9, 127.0.0.1"},
				"X-Forwarded-Host":  {frontHost},
				"X-Forwarded-Proto": {"http"},
				"X-End-To-End":      {"yes"},
			}
			gotFwd := map[string][]string{}
			for k := range wantFwd {
				gotFwd[k] = got.Header[k]
			}
			if diff := cmp.Diff(wantFwd, gotFwd); diff != "" {
				t.Errorf("forwarded headers (-want +got):\n%s", diff)
			}
			if got.Host != frontHost {
				t.Errorf("legacy saw Host %q, want the client's %q", got.Host, frontHost)
			}
			for _, k := range []string{"X-Legacy-Hop", "Keep-Alive"} {
				if v := res.Header.Get(k); v != "" {
					t.Errorf("client received hop-by-hop %s: %q", k, v)
				}
			}
			if res.Header.Get("X-Legacy") != "kept" {
				t.Errorf("client lost end-to-end header X-Legacy: %v", res.Header)
			}
		})
	}
}

// TestLargeBodyStreamedBothWays sends 8 MiB up and 8 MiB down. Legacy
// answers its first bytes only after reading the first request bytes and
// before the client has sent the rest, and the client sends the rest only
// after reading those first response bytes: that only completes if both
// directions stream instead of buffering.
func TestLargeBodyStreamedBothWays(t *testing.T) {
	const size = 8 << 20
	up := make([]byte, size)
	down := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(up)
	_, _ = rng.Read(down)
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := http.NewResponseController(w).EnableFullDuplex(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		first := make([]byte, 64<<10)
		if _, err := io.ReadFull(r.Body, first); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(down[:64<<10])
		http.NewResponseController(w).Flush()
		rest, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if got := sum(append(first, rest...)); got != sum(up) {
			return // the client sees a short body
		}
		_, _ = w.Write(down[64<<10:])
	})
	for _, tt := range []struct {
		name     string
		decision cutover.Decision
		chunked  bool
	}{
		{"off", off, false},
		{"shadow", shadow, false},
		{"shadow chunked", shadow, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, legacy)
			// refund keys on the query: the route is decided without
			// reading the body (a JSON bucketing key would read up to
			// the capture limit first).
			h.dec.set("refund", tt.decision)
			pr, pw := io.Pipe()
			req := h.newRequest("POST", "/refunds?ref=r-1", "")
			req.Body = pr
			req.ContentLength = size
			if tt.chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/octet-stream")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req = req.WithContext(ctx)
			go func() {
				_, _ = pw.Write(up[:64<<10]) // unblocks legacy's first read
			}()
			res, err := h.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			head := make([]byte, 64<<10)
			if _, err := io.ReadFull(res.Body, head); err != nil {
				t.Fatalf("first response bytes: %v", err)
			}
			// Only now send the rest of the request.
			go func() {
				_, err := pw.Write(up[64<<10:])
				pw.CloseWithError(err)
			}()
			rest, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if got := sum(append(head, rest...)); got != sum(down) {
				t.Fatalf("response body: got %d bytes, sha256 %s; want %d bytes", len(head)+len(rest), got, size)
			}
			h.stop()
			if evs, _ := h.pub.published(); len(evs) != 0 {
				t.Errorf("published %d events for a body over the capture limit", len(evs))
			}
			wantNot := 0.0
			if tt.decision.Mirror {
				wantNot = 1
			}
			if got := h.metric("cutover_proxy_shadow_not_mirrored_total", map[string]string{"workflow": "refund", "reason": "too_large"}); got != wantNot {
				t.Errorf("not mirrored (too_large) = %v, want %v", got, wantNot)
			}
		})
	}
}

func TestUnmatchedPassesThroughUntouched(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(echo))
	h.dec.set("create-order", shadow)
	h.dec.set("get-order", shadow)
	tests := []struct {
		method, path, body string
	}{
		{"PUT", "/inventory/42?x=1&y=%20z", `{"qty":3}`},
		{"GET", "/orders", ""},                         // route exists for POST only
		{"DELETE", "/orders/7", ""},                    // route exists for GET only
		{"GET", "/files/a%2Fb?download=1", ""},         // encoded slash kept
		{"PATCH", "/orders/7/ship", "not json at all"}, // route exists for POST only
	}
	for _, tt := range tests {
		req := h.newRequest(tt.method, tt.path, tt.body)
		req.Header.Set("X-Custom", "v1")
		req.Header.Add("X-Multi", "a")
		req.Header.Add("X-Multi", "b")
		res, body := h.do(req)
		if res.StatusCode != 200 {
			t.Fatalf("%s %s: status %d", tt.method, tt.path, res.StatusCode)
		}
		var got seen
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		want := seen{Method: tt.method, RequestURI: tt.path, Body: tt.body}
		sub := seen{Method: got.Method, RequestURI: got.RequestURI, Body: got.Body}
		if diff := cmp.Diff(want, sub); diff != "" {
			t.Errorf("%s %s: legacy got (-want +got):\n%s", tt.method, tt.path, diff)
		}
		if diff := cmp.Diff([]string{"v1"}, got.Header["X-Custom"]); diff != "" {
			t.Errorf("X-Custom (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"a", "b"}, got.Header["X-Multi"]); diff != "" {
			t.Errorf("X-Multi (-want +got):\n%s", diff)
		}
	}
	if n := h.dec.count("create-order") + h.dec.count("get-order"); n != 0 {
		t.Errorf("Decide called %d times for unmatched requests", n)
	}
	h.stop()
	if evs, _ := h.pub.published(); len(evs) != 0 {
		t.Errorf("unmatched requests published %d events", len(evs))
	}
	if got := h.metric("cutover_proxy_requests_total", map[string]string{"workflow": "(unmatched)", "target": "legacy", "code": "2xx"}); got != float64(len(tests)) {
		t.Errorf("unmatched requests counted %v, want %d", got, len(tests))
	}
}

func TestDeadLegacyIs502(t *testing.T) {
	h := newHarness(t, http.NotFoundHandler())
	h.legacy.Close() // nothing listens there any more
	h.dec.set("get-order", shadow)
	for _, path := range []string{"/orders/1", "/elsewhere"} {
		res, _ := h.do(h.newRequest("GET", path, ""))
		if res.StatusCode != http.StatusBadGateway {
			t.Errorf("GET %s: status %d, want 502", path, res.StatusCode)
		}
	}
	h.stop()
	// The mirrored request still makes an event; its legacy side is an error.
	evs, _ := h.pub.published()
	if len(evs) != 1 {
		t.Fatalf("published %d events, want 1", len(evs))
	}
	p, ok := h.store.pair(evs[0].ID)
	if !ok || p.Legacy == nil {
		t.Fatalf("no legacy outcome for %s", evs[0].ID)
	}
	if diff := cmp.Diff("legacy: unreachable or failed before responding", p.Legacy.Error); diff != "" {
		t.Errorf("legacy outcome error (-want +got):\n%s", diff)
	}
}

func TestSlowLegacyIs504(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}), withProxyKeys("  legacy_timeout: 100ms\n"))
	h.dec.set("get-order", off)
	start := time.Now()
	res, _ := h.do(h.newRequest("GET", "/orders/1", ""))
	if res.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status %d, want 504", res.StatusCode)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("504 took %v with a 100ms legacy_timeout", d)
	}
	if got := h.metric("cutover_proxy_requests_total", map[string]string{"workflow": "get-order", "code": "5xx"}); got != 1 {
		t.Errorf("5xx requests = %v, want 1", got)
	}
}

func TestClientCancellationReachesLegacy(t *testing.T) {
	started := make(chan struct{})
	canceled := make(chan struct{})
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			close(canceled)
		case <-time.After(10 * time.Second):
		}
	}))
	h.dec.set("get-order", shadow)
	ctx, cancel := context.WithCancel(context.Background())
	req := h.newRequest("GET", "/orders/1", "").WithContext(ctx)
	errc := make(chan error, 1)
	go func() {
		res, err := h.client.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	select {
	case <-canceled:
	case <-time.After(5 * time.Second):
		t.Fatal("legacy did not see the client's cancellation")
	}
	if err := <-errc; err == nil {
		t.Error("client request succeeded after cancel")
	}
	h.stop()
	if got := h.metric("cutover_proxy_shadow_not_mirrored_total", map[string]string{"reason": "canceled"}); got != 1 {
		t.Errorf("not mirrored (canceled) = %v, want 1", got)
	}
}

func TestConnectionReuse(t *testing.T) {
	for _, tt := range []struct {
		name     string
		decision cutover.Decision
	}{{"off", off}, {"shadow", shadow}} {
		t.Run(tt.name, func(t *testing.T) {
			var conns atomic.Int64
			h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = w.Write([]byte(`{"ok":true}`))
			}), withLegacyServer(func(s *http.Server) {
				s.ConnState = func(_ net.Conn, s http.ConnState) {
					if s == http.StateNew {
						conns.Add(1)
					}
				}
			}))
			h.dec.set("create-order", tt.decision)
			for i := range 200 {
				req := h.newRequest("POST", "/orders", `{"customer_id":"c-`+strconv.Itoa(i)+`"}`)
				res, body := h.do(req)
				if res.StatusCode != 200 || body != `{"ok":true}` {
					t.Fatalf("request %d: %d %q", i, res.StatusCode, body)
				}
			}
			if n := conns.Load(); n > 2 {
				t.Errorf("legacy saw %d new connections for 200 sequential requests, want at most 2", n)
			}
		})
	}
}

func TestDecideOncePerRequest(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(echo))
	h.dec.set("create-order", shadow)
	for i := range 5 {
		h.do(h.newRequest("POST", "/orders", `{"customer_id":"c-`+strconv.Itoa(i)+`"}`))
	}
	h.do(h.newRequest("GET", "/orders/1", ""))
	if got := h.dec.count("create-order"); got != 5 {
		t.Errorf("Decide(create-order) called %d times for 5 requests", got)
	}
	if got := h.dec.count("get-order"); got != 1 {
		t.Errorf("Decide(get-order) called %d times for 1 request", got)
	}
	// create-order buckets by $.customer_id, read before deciding.
	keys := h.dec.bucketKeys()
	if diff := cmp.Diff([]string{"c-0", "c-1", "c-2", "c-3", "c-4"}, keys[:5]); diff != "" {
		t.Errorf("bucket keys (-want +got):\n%s", diff)
	}
}
