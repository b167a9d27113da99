package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover"
)

// BenchmarkProxy sends the same small JSON POST straight to legacy, through
// a bare httputil.ReverseProxy (the floor for any Go proxy: a second
// loopback hop), and through the proxy with the workflow off and in shadow,
// all against one legacy server in one run. Each reports x-direct, the
// ratio of its ns/op to the direct call's.
//
//	go test -run '^$' -bench BenchmarkProxy -benchtime 3s ./proxy
func BenchmarkProxy(b *testing.B) {
	h := newHarness(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"order_id":"o-1","status":"created","total":42.5}`))
	}))
	target, err := url.Parse(h.legacy.URL)
	if err != nil {
		b.Fatal(err)
	}
	bare := httputil.NewSingleHostReverseProxy(target)
	bare.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	bareFront := httptest.NewServer(bare)
	defer bareFront.Close()
	body := `{"customer_id":"c-1","items":[{"sku":"a-1","qty":2},{"sku":"b-2","qty":1}],"payment":{"card_number":"4111111111111111"}}`
	var directNs float64
	for _, bc := range []struct {
		name     string
		base     string
		decision cutover.Decision
	}{
		{"direct", h.legacy.URL, off},
		{"httputil", bareFront.URL, off},
		{"off", h.front.URL, off},
		{"shadow", h.front.URL, shadow},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h.dec.set("create-order", bc.decision)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
			defer client.CloseIdleConnections()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req, err := http.NewRequest("POST", bc.base+"/orders", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("status %d", res.StatusCode)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if bc.name == "direct" {
				directNs = ns
			} else if directNs > 0 {
				b.ReportMetric(ns/directNs, "x-direct")
			}
		})
	}
	h.stop()
	if dropped := h.metric("cutover_proxy_shadow_dropped_total", nil); dropped > 0 {
		b.Logf("shadow events dropped during the benchmark: %v", dropped)
	}
}
