package proxy_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

// withWorkflowKeys adds keys to the workflow whose route line is given.
func withWorkflowKeys(route, lines string) option {
	return func(_ *harness, c *string) {
		*c = strings.Replace(*c, "route: "+route+"\n", "route: "+route+"\n"+lines, 1)
	}
}

// fakePipeline plays the worker: each live event is received at once and
// its async outcome recorded after delay; whoever completes a pair has it
// compared.
func fakePipeline(t *testing.T, h *harness, delay time.Duration, o *cutover.Outcome) {
	h.pub.onPublish = func(ev *cutover.Event) {
		if ev.Mode != cutover.EventLive {
			return
		}
		h.store.appendHistory(ev.ID, cutover.TransitionReceived)
		go func() {
			time.Sleep(delay)
			h.store.appendHistory(ev.ID, cutover.TransitionStarted, cutover.TransitionSucceeded)
			pair, complete, err := h.store.PutOutcome(t.Context(), ev.Workflow, ev.ID, 0, cutover.SideAsync, o)
			if err != nil {
				t.Errorf("record async outcome: %v", err)
				return
			}
			if complete {
				_ = h.pairs.HandlePair(t.Context(), pair)
			}
		}()
	}
}

var asyncCreated = &cutover.Outcome{
	Status: http.StatusCreated,
	Header: http.Header{"Content-Type": {"application/json"}, "X-Async": {"1"}},
	Body:   cutover.Body(`{"order_id":"a-1"}`),
}

func countingLegacy(calls *atomic.Int64, body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	})
}

func TestLiveAwaitServesTheAsyncOutcome(t *testing.T) {
	var legacyCalls atomic.Int64
	h := newHarness(t, countingLegacy(&legacyCalls, `{"legacy":true}`))
	h.dec.set("create-order", cutOver)
	fakePipeline(t, h, 5*time.Millisecond, asyncCreated)
	req := h.newRequest("POST", "/orders", `{"customer_id":"c-1","payment":{"card_number":"4111"}}`)
	req.Header.Set("Authorization", "Bearer live")
	res, body := h.do(req)
	if res.StatusCode != http.StatusCreated || body != `{"order_id":"a-1"}` || res.Header.Get("X-Async") != "1" {
		t.Fatalf("client got %d %v %q, want the async outcome", res.StatusCode, res.Header, body)
	}
	h.stop()
	if n := legacyCalls.Load(); n != 0 {
		t.Errorf("legacy called %d times for a live write", n)
	}
	evs, _ := h.pub.published()
	if len(evs) != 1 || evs[0].Mode != cutover.EventLive {
		t.Fatalf("published %+v, want one live event", evs)
	}
	ev := evs[0]
	if got := res.Header.Get("Cutover-Event-Id"); got != ev.ID {
		t.Errorf("Cutover-Event-Id = %q, want %q", got, ev.ID)
	}
	// A live event runs for real: its queued copy stays whole (the archive
	// copy is redacted by the pipeline wiring with redact.Set.Event).
	if ev.Request.Header.Get("Authorization") != "Bearer live" || !strings.Contains(string(ev.Request.Body), "4111") {
		t.Errorf("live event lost request data: %+v", ev.Request)
	}
	p, _ := h.store.pair(ev.ID)
	want := &cutover.Outcome{Skipped: "live request: legacy not called"}
	if diff := cmp.Diff(want, p.Legacy, cmpIgnoreAt); diff != "" {
		t.Errorf("legacy side (-want +got):\n%s", diff)
	}
	if n := len(h.pairs.handled()); n != 1 {
		t.Errorf("pair compared %d times, want once", n)
	}
	if n := h.metric("cutover_proxy_requests_total", map[string]string{"workflow": "create-order", "target": "async", "code": "2xx"}); n != 1 {
		t.Errorf("async 2xx requests = %v, want 1", n)
	}
}

func TestLiveSlowAsyncAnswers202ThenStatusShowsOutcome(t *testing.T) {
	h := newHarness(t, http.NotFoundHandler(), withWorkflowKeys("POST /orders", "    await_timeout: 30ms\n"))
	h.dec.set("create-order", cutOver)
	fakePipeline(t, h, 300*time.Millisecond, asyncCreated)
	res, body := h.do(h.newRequest("POST", "/orders", `{"customer_id":"c-1"}`))
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202", res.StatusCode)
	}
	var acc struct {
		ID        string `json:"id"`
		Workflow  string `json:"workflow"`
		State     string `json:"state"`
		StatusURL string `json:"status_url"`
	}
	if err := json.Unmarshal([]byte(body), &acc); err != nil {
		t.Fatalf("202 body %q: %v", body, err)
	}
	loc := res.Header.Get("Location")
	if want := "/_cutover/requests/" + acc.ID; loc != want || acc.StatusURL != want || acc.Workflow != "create-order" {
		t.Errorf("Location %q, body %+v; want %s", loc, acc, want)
	}

	type status struct {
		ID       string           `json:"id"`
		Workflow string           `json:"workflow"`
		State    string           `json:"state"`
		Outcome  *cutover.Outcome `json:"outcome"`
	}
	get := func() (int, status) {
		res, body := h.do(h.newRequest("GET", loc, ""))
		var s status
		if res.StatusCode == 200 {
			if err := json.Unmarshal([]byte(body), &s); err != nil {
				t.Fatalf("status body %q: %v", body, err)
			}
		}
		return res.StatusCode, s
	}
	if code, s := get(); code != 200 || s.State != "queued" || s.Outcome != nil {
		t.Errorf("status right after 202 = %d %+v, want queued without outcome", code, s)
	}
	var final status
	eventually(t, "the async outcome on the status URL", func() bool {
		_, final = get()
		return final.Outcome != nil
	})
	want := status{ID: acc.ID, Workflow: "create-order", State: "succeeded", Outcome: asyncCreated}
	if diff := cmp.Diff(want, final, cmpIgnoreAt); diff != "" {
		t.Errorf("final status (-want +got):\n%s", diff)
	}
}

func TestLiveAcceptedAnswers202AtOnce(t *testing.T) {
	h := newHarness(t, http.NotFoundHandler())
	h.dec.set("refund", cutOver)
	fakePipeline(t, h, 0, asyncCreated)
	res, _ := h.do(h.newRequest("POST", "/refunds?ref=r-1", `{}`))
	if res.StatusCode != http.StatusAccepted || !strings.HasPrefix(res.Header.Get("Location"), "/_cutover/requests/") {
		t.Errorf("got %d Location %q, want 202 with a status URL", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestLiveAsyncFailureIs502(t *testing.T) {
	h := newHarness(t, http.NotFoundHandler())
	h.dec.set("create-order", cutOver)
	fakePipeline(t, h, time.Millisecond, &cutover.Outcome{Error: "dead-lettered: boom"})
	res, body := h.do(h.newRequest("POST", "/orders", `{"customer_id":"c-1"}`))
	if res.StatusCode != http.StatusBadGateway || strings.Contains(body, "boom") {
		t.Errorf("got %d %q, want 502 without internal detail", res.StatusCode, body)
	}
}

// An ambiguous publish failure (the queue send may have landed) must not
// let legacy run a write the pipeline might also run: the client retries.
func TestLivePublishUnknownAnswers503(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(echo))
	h.dec.set("create-order", cutOver)
	h.pub.fail = func([]*cutover.Event) error { return errDown }
	res, got := h.do(h.newRequest("POST", "/orders", `{"customer_id":"c-1"}`))
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" || strings.Contains(got, "echo") {
		t.Fatalf("client got %d %q, want 503 with Retry-After and no legacy call", res.StatusCode, got)
	}
	h.stop()
	if n := h.metric("cutover_proxy_live_fallbacks_total", map[string]string{"workflow": "create-order", "reason": "publish_unknown"}); n != 1 {
		t.Errorf("publish_unknown = %v, want 1", n)
	}
}

func TestLivePublishFailureFallsBackToLegacy(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(echo))
	h.dec.set("create-order", cutOver)
	h.pub.fail = func([]*cutover.Event) error { return fmt.Errorf("%w: %w", cutover.ErrNotPublished, errDown) }
	body := `{"customer_id":"c-1","n":1}`
	res, got := h.do(h.newRequest("POST", "/orders", body))
	if res.StatusCode != 200 || !strings.Contains(got, `"body":"{\"customer_id\":\"c-1\",\"n\":1}"`) {
		t.Fatalf("client got %d %q, want legacy's echo of the whole body", res.StatusCode, got)
	}
	h.stop()
	if n := h.metric("cutover_proxy_live_fallbacks_total", map[string]string{"workflow": "create-order", "reason": "publish_failed"}); n != 1 {
		t.Errorf("live fallbacks = %v, want 1", n)
	}
	if n := len(h.store.outcomes()); n != 0 {
		t.Errorf("%d outcomes recorded for a request the pipeline never got", n)
	}
	if n := h.metric("cutover_proxy_requests_total", map[string]string{"workflow": "create-order", "target": "legacy", "code": "2xx"}); n != 1 {
		t.Errorf("legacy 2xx requests = %v, want 1", n)
	}
}

func TestLiveBodyOverCaptureLimitFallsBack(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(echo), withProxyKeys("  capture_limit: 1KiB\n"))
	h.dec.set("create-order", cutOver)
	body := `{"customer_id":"c-1","pad":"` + strings.Repeat("p", 2048) + `"}`
	res, got := h.do(h.newRequest("POST", "/orders", body))
	if res.StatusCode != 200 || !strings.Contains(got, strings.Repeat("p", 2048)) {
		t.Fatalf("client got %d, want legacy's echo of the whole body", res.StatusCode)
	}
	h.stop()
	if evs, _ := h.pub.published(); len(evs) != 0 {
		t.Errorf("published %d events", len(evs))
	}
	if n := h.metric("cutover_proxy_live_fallbacks_total", map[string]string{"reason": "too_large"}); n != 1 {
		t.Errorf("too_large fallbacks = %v, want 1", n)
	}
}

func TestLiveSafeWorkflowCallsLegacyInBackground(t *testing.T) {
	called := make(chan string, 1)
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		called <- r.URL.Path
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"legacy":true}`))
	}))
	h.dec.set("get-order", cutOver)
	fakePipeline(t, h, 5*time.Millisecond, &cutover.Outcome{Status: 200, Body: cutover.Body(`{"async":true}`)})
	res, body := h.do(h.newRequest("GET", "/orders/42", ""))
	if res.StatusCode != 200 || body != `{"async":true}` {
		t.Fatalf("client got %d %q, want the async answer", res.StatusCode, body)
	}
	select {
	case path := <-called:
		if path != "/orders/42" {
			t.Errorf("legacy called for %q", path)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("legacy was not called in the background")
	}
	h.stop()
	evs, _ := h.pub.published()
	if len(evs) != 1 {
		t.Fatalf("published %d events, want 1", len(evs))
	}
	p, _ := h.store.pair(evs[0].ID)
	if p.Legacy == nil || p.Legacy.Status != 200 || string(p.Legacy.Body) != `{"legacy":true}` || p.Legacy.Skipped != "" {
		t.Errorf("legacy side = %+v, want legacy's real answer", p.Legacy)
	}
	if n := len(h.pairs.handled()); n != 1 {
		t.Errorf("pair compared %d times, want once", n)
	}
}
