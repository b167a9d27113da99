package proxy_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestShadowEventAndLegacyOutcome(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Legacy", "1")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"order_id":"o-1","total":12.5}`))
	}))
	h.dec.set("create-order", shadow)
	body := `{"customer_id":"c-1","items":[{"sku":"x"}]}`
	req := h.newRequest("POST", "/orders?src=web&x=%20y", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "k-1")
	req.Header.Set("X-Correlation-Id", "corr-1")
	req.Header.Set("Traceparent", traceparent)
	req.Header.Set("Tracestate", "vendor=1")
	req.Header.Set("User-Agent", "test")
	before := time.Now().UTC()
	res, got := h.do(req)
	after := time.Now().UTC()
	if res.StatusCode != http.StatusCreated || got != `{"order_id":"o-1","total":12.5}` {
		t.Fatalf("client got %d %q", res.StatusCode, got)
	}
	h.stop()

	evs, _ := h.pub.published()
	if len(evs) != 1 {
		t.Fatalf("published %d events, want 1", len(evs))
	}
	ev := evs[0]
	if _, err := uuid.Parse(ev.ID); err != nil {
		t.Errorf("event id %q: %v", ev.ID, err)
	}
	if ev.ReceivedAt.Before(before) || ev.ReceivedAt.After(after) {
		t.Errorf("received_at %v is not within the request [%v, %v]", ev.ReceivedAt, before, after)
	}
	want := &cutover.Event{
		Workflow: "create-order", Step: cutover.RespondStep, Mode: cutover.EventShadow,
		IdempotencyKey: "k-1", CorrelationID: "corr-1", TraceParent: traceparent, TraceState: "vendor=1",
		Request: cutover.Request{
			Method: "POST", Path: "/orders", Query: "src=web&x=%20y",
			Header: http.Header{
				"Content-Type": {"application/json"}, "Idempotency-Key": {"k-1"}, "X-Correlation-Id": {"corr-1"},
				"Traceparent": {traceparent}, "Tracestate": {"vendor=1"}, "User-Agent": {"test"},
			},
			Body: cutover.Body(body),
		},
	}
	if diff := cmp.Diff(want, ev, cmpopts.IgnoreFields(cutover.Event{}, "ID", "ReceivedAt")); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	if err := ev.Validate(); err != nil {
		t.Errorf("event does not validate: %v", err)
	}

	p, ok := h.store.pair(ev.ID)
	if !ok || p.Legacy == nil {
		t.Fatal("no legacy outcome recorded")
	}
	wantOut := &cutover.Outcome{
		Status: http.StatusCreated,
		Header: http.Header{"Content-Type": {"application/json"}, "X-Legacy": {"1"}, "Content-Length": {"31"}},
		Body:   cutover.Body(`{"order_id":"o-1","total":12.5}`),
	}
	if diff := cmp.Diff(wantOut, p.Legacy, cmpopts.IgnoreFields(cutover.Outcome{}, "Latency", "At"),
		cmpopts.IgnoreMapEntries(func(k string, _ []string) bool { return k == "Date" })); diff != "" {
		t.Errorf("legacy outcome (-want +got):\n%s", diff)
	}
	if p.Legacy.Latency <= 0 || p.Legacy.At.IsZero() {
		t.Errorf("legacy outcome latency %v at %v, want both set", p.Legacy.Latency, p.Legacy.At)
	}
	if n := h.metric("cutover_proxy_shadow_published_total", map[string]string{"workflow": "create-order"}); n != 1 {
		t.Errorf("published metric = %v, want 1", n)
	}
	if n := h.metric("cutover_proxy_legacy_duration_seconds", map[string]string{"workflow": "create-order"}); n != 1 {
		t.Errorf("legacy latency observations = %v, want 1", n)
	}
}

func TestKeysAndCorrelation(t *testing.T) {
	tests := []struct {
		name, workflow, method, path, body string
		header                             map[string]string
		wantKey, wantBucket, wantCorr      string // "ID" stands for the event id
		wantTrace                          string
	}{
		{"header key, json bucket", "create-order", "POST", "/orders", `{"customer_id":"c-1"}`,
			map[string]string{"Idempotency-Key": "k-1", "X-Correlation-Id": "corr"}, "k-1", "c-1", "corr", ""},
		{"missing header: the event id", "create-order", "POST", "/orders", `{"customer_id":7}`,
			nil, "ID", "7", "ID", ""},
		{"json key also buckets", "ship-order", "POST", "/orders/9/ship", `{"shipment_ref":"s-9"}`,
			map[string]string{"Traceparent": traceparent}, "s-9", "s-9", "ID", traceparent},
		{"query key", "refund", "POST", "/refunds?ref=r-7", `not json`,
			map[string]string{"Traceparent": "garbage"}, "r-7", "r-7", "ID", ""},
		{"no spec: the event id", "get-order", "GET", "/orders/1", "",
			nil, "ID", "ID", "ID", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, http.HandlerFunc(echo))
			h.dec.set(tt.workflow, shadow)
			req := h.newRequest(tt.method, tt.path, tt.body)
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			h.do(req)
			h.stop()
			evs, _ := h.pub.published()
			if len(evs) != 1 {
				t.Fatalf("published %d events, want 1", len(evs))
			}
			ev := evs[0]
			sub := func(s string) string {
				if s == "ID" {
					return ev.ID
				}
				return s
			}
			want := []string{sub(tt.wantKey), sub(tt.wantBucket), sub(tt.wantCorr), tt.wantTrace}
			got := []string{ev.IdempotencyKey, h.dec.bucketKeys()[0], ev.CorrelationID, ev.TraceParent}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("[key bucket correlation traceparent] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPairCompletedByProxyIsCompared(t *testing.T) {
	for _, tt := range []struct {
		name      string
		asyncDone bool
	}{{"async side first", true}, {"legacy side first", false}} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, http.HandlerFunc(echo))
			h.dec.set("get-order", shadow)
			if tt.asyncDone {
				h.pub.onPublish = func(ev *cutover.Event) {
					_, _, _ = h.store.PutOutcome(t.Context(), ev.Workflow, ev.ID, 0, cutover.SideAsync, &cutover.Outcome{Status: 200})
				}
			}
			h.do(h.newRequest("GET", "/orders/1", ""))
			h.stop()
			pairs := h.pairs.handled()
			if !tt.asyncDone {
				if len(pairs) != 0 {
					t.Errorf("HandlePair called %d times for an incomplete pair", len(pairs))
				}
				return
			}
			if len(pairs) != 1 {
				t.Fatalf("HandlePair called %d times, want 1", len(pairs))
			}
			if pairs[0].Legacy == nil || pairs[0].Async == nil || pairs[0].Legacy.Status != 200 {
				t.Errorf("pair = %+v, want both sides", pairs[0])
			}
		})
	}
}

func TestCaptureLimit(t *testing.T) {
	big := strings.Repeat("x", 2048)
	exact := strings.Repeat("y", 1024)
	for _, tt := range []struct {
		name       string
		body       string
		chunked    bool
		wantEvents int
		wantReason string
	}{
		{"over, length known", big, false, 0, "too_large"},
		{"over, chunked", big, true, 0, "too_large"},
		{"at the limit", exact, false, 1, ""},
		{"at the limit, chunked", exact, true, 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, http.HandlerFunc(echo), withProxyKeys("  capture_limit: 1KiB\n"))
			h.dec.set("refund", shadow)
			req := h.newRequest("POST", "/refunds?ref=r-1", tt.body)
			if tt.chunked {
				req.Body = io.NopCloser(strings.NewReader(tt.body)) // unknown length: sent chunked
				req.ContentLength = -1
			}
			res, out := h.do(req)
			if res.StatusCode != 200 || !strings.Contains(out, `"body":"`+tt.body+`"`) {
				t.Fatalf("legacy did not get the body intact: %d %.80s", res.StatusCode, out)
			}
			h.stop()
			evs, _ := h.pub.published()
			if len(evs) != tt.wantEvents {
				t.Errorf("published %d events, want %d", len(evs), tt.wantEvents)
			}
			if tt.wantEvents == 1 && string(evs[0].Request.Body) != tt.body {
				t.Errorf("event body has %d bytes, want %d", len(evs[0].Request.Body), len(tt.body))
			}
			if tt.wantReason != "" {
				if n := h.metric("cutover_proxy_shadow_not_mirrored_total", map[string]string{"workflow": "refund", "reason": tt.wantReason}); n != 1 {
					t.Errorf("not mirrored (%s) = %v, want 1", tt.wantReason, n)
				}
			}
		})
	}
}

func TestResponseOverCaptureLimitIsNotComparable(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("z"), 4096))
	}), withProxyKeys("  capture_limit: 1KiB\n"))
	h.dec.set("get-order", shadow)
	res, body := h.do(h.newRequest("GET", "/orders/1", ""))
	if res.StatusCode != 200 || len(body) != 4096 {
		t.Fatalf("client got %d with %d bytes", res.StatusCode, len(body))
	}
	h.stop()
	evs, _ := h.pub.published()
	if len(evs) != 1 {
		t.Fatalf("published %d events, want 1", len(evs))
	}
	p, _ := h.store.pair(evs[0].ID)
	if p.Legacy == nil || p.Legacy.Status != 200 || p.Legacy.Skipped == "" || len(p.Legacy.Body) != 0 {
		t.Errorf("legacy outcome = %+v, want status 200, skipped, no body", p.Legacy)
	}
}

func TestGzipResponseIsDecodedForTheOutcome(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"card_number":"4111111111111111","ok":true}`))
	_ = zw.Close()
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(gz.Bytes())
	}))
	h.dec.set("create-order", shadow)
	req := h.newRequest("POST", "/orders", `{"customer_id":"c"}`)
	req.Header.Set("Accept-Encoding", "gzip") // set by hand: the client keeps the bytes compressed
	res, body := h.do(req)
	if res.Header.Get("Content-Encoding") != "gzip" || body != gz.String() {
		t.Fatalf("client did not get legacy's gzip bytes untouched: %v", res.Header)
	}
	h.stop()
	evs, _ := h.pub.published()
	if len(evs) != 1 {
		t.Fatalf("published %d events, want 1", len(evs))
	}
	if v := evs[0].Request.Header.Get("Accept-Encoding"); v != "" {
		t.Errorf("event keeps Accept-Encoding %q; the worker negotiates its own", v)
	}
	p, _ := h.store.pair(evs[0].ID)
	if p.Legacy == nil {
		t.Fatal("no legacy outcome")
	}
	if diff := cmp.Diff(`{"card_number":"[REDACTED]","ok":true}`, string(p.Legacy.Body)); diff != "" {
		t.Errorf("outcome body (-want +got):\n%s", diff)
	}
	if v := p.Legacy.Header.Get("Content-Encoding"); v != "" {
		t.Errorf("outcome keeps Content-Encoding %q for a decoded body", v)
	}
}
