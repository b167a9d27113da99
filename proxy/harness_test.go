package proxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/proxy"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// baseConfig is the config tests start from; LEGACY is replaced by the
// legacy server's URL.
const baseConfig = `
legacy: LEGACY
proxy:
  batch_delay: 1ms
  redact: {headers: [X-Api-Key]}
workflows:
  - name: create-order
    route: POST /orders
    idempotency_key: header:Idempotency-Key
    bucket_by: json:$.customer_id
    redact: {json: [$.payment.card_number, $.card_number]}
  - name: get-order
    route: GET /orders/{id}
    safe: true
  - name: ship-order
    route: POST /orders/{id}/ship
    idempotency_key: json:$.shipment_ref
  - name: refund
    route: POST /refunds
    idempotency_key: query:ref
    response: accepted
`

type harness struct {
	t      testing.TB
	legacy *httptest.Server
	front  *httptest.Server
	proxy  *proxy.Proxy
	dec    *fakeDecider
	pub    *fakePublisher
	store  *memStore
	pairs  *fakePairs
	reg    *prometheus.Registry
	runErr chan error
	client *http.Client
}

type option func(*harness, *string)

// withLegacyServer adjusts the legacy server before it starts.
func withLegacyServer(f func(*http.Server)) option {
	return func(h *harness, _ *string) { f(h.legacy.Config) }
}

// withProxyKeys sets keys under proxy: in the base config, replacing a key
// the base config already sets.
func withProxyKeys(lines string) option {
	return func(_ *harness, c *string) {
		for _, line := range strings.SplitAfter(lines, "\n") {
			key, _, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			if i := strings.Index(*c, key+":"); i >= 0 {
				end := i + strings.Index((*c)[i:], "\n") + 1
				*c = (*c)[:i] + line + (*c)[end:]
				continue
			}
			*c = strings.Replace(*c, "proxy:\n", "proxy:\n"+line, 1)
		}
	}
}

func newHarness(t testing.TB, legacy http.Handler, opts ...option) *harness {
	t.Helper()
	h := &harness{t: t, dec: newDecider(), pub: &fakePublisher{}, store: newStore(), pairs: &fakePairs{},
		reg: prometheus.NewRegistry(), runErr: make(chan error, 1)}
	h.legacy = httptest.NewUnstartedServer(legacy)
	cfgText := baseConfig
	for _, o := range opts {
		o(h, &cfgText)
	}
	h.legacy.Start()
	t.Cleanup(h.legacy.Close)
	cfg, err := cutover.Parse([]byte(strings.ReplaceAll(cfgText, "LEGACY", h.legacy.URL)))
	if err != nil {
		t.Fatal(err)
	}
	h.proxy, err = proxy.New(cfg, proxy.Deps{
		Decider: h.dec, Publisher: h.pub, Outcomes: h.store, Pairs: h.pairs,
		OutcomePairs: h.store, History: h.store, Events: h.pub, Registerer: h.reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { h.runErr <- h.proxy.Run(context.Background()) }()
	h.front = httptest.NewServer(h.proxy.Handler())
	h.client = h.front.Client()
	t.Cleanup(func() { h.stop() })
	return h
}

// stop closes the front server and drains the proxy; safe to call twice.
func (h *harness) stop() {
	h.t.Helper()
	if h.front == nil {
		return
	}
	h.front.Close()
	h.front = nil
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.proxy.Shutdown(ctx); err != nil {
		h.t.Errorf("Shutdown: %v", err)
	}
	select {
	case err := <-h.runErr:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		h.t.Error("Run did not return after Shutdown")
	}
}

func (h *harness) url(path string) string { return h.front.URL + path }

// do sends a request and returns the response with its body read.
func (h *harness) do(req *http.Request) (*http.Response, string) {
	h.t.Helper()
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return res, string(b)
}

func (h *harness) newRequest(method, path, body string) *http.Request {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.url(path), r)
	if err != nil {
		h.t.Fatal(err)
	}
	return req
}

// metric returns the value of a counter or gauge with exactly these labels
// (0 if absent).
func (h *harness) metric(name string, labels map[string]string) float64 {
	h.t.Helper()
	return gather(h.t, h.reg, name, labels)
}

func gather(t testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
		return sum
	}
	return 0
}

// hasLabels matches the given labels; labels not named match anything.
func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// eventually polls cond every few milliseconds for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// cmpIgnoreAt ignores when an outcome was recorded.
var cmpIgnoreAt = cmpopts.IgnoreFields(cutover.Outcome{}, "At")
