package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cutover-dev/cutover"
)

// TestRedactionBeforeStorage sends secrets in headers and JSON bodies both
// ways and checks the bytes handed to the Publisher (cutover.EncodeEvent)
// and the OutcomeRecorder (json.Marshal of the outcome) hold none of them,
// while client and legacy still see everything.
func TestRedactionBeforeStorage(t *testing.T) {
	secrets := []string{
		"Bearer tok-123", "session=abc", "key-456", "4111111111111111", "5500000000000004", "sid=resp-789",
	}
	legacyGot := make(chan http.Header, 1)
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		legacyGot <- r.Header.Clone()
		w.Header().Set("Set-Cookie", "sid=resp-789")
		w.Header().Set("X-API-KEY", "key-456")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"order_id":"o-1","card_number":"5500000000000004"}`))
	}))
	h.dec.set("create-order", shadow)
	req := h.newRequest("POST", "/orders", `{"customer_id":"c-1","payment":{"card_number":"4111111111111111","exp":"12/30"}}`)
	req.Header.Set("Authorization", "Bearer tok-123")
	req.Header.Set("Cookie", "session=abc")
	req.Header.Set("x-api-key", "key-456")
	res, body := h.do(req)
	if !strings.Contains(body, "5500000000000004") || res.Header.Get("Set-Cookie") != "sid=resp-789" {
		t.Errorf("the client's response was redacted: %v %s", res.Header, body)
	}
	if lg := <-legacyGot; lg.Get("Authorization") != "Bearer tok-123" || lg.Get("X-Api-Key") != "key-456" {
		t.Errorf("legacy did not get the credentials: %v", lg)
	}
	h.stop()

	evs, encoded := h.pub.published()
	if len(evs) != 1 {
		t.Fatalf("published %d events, want 1", len(evs))
	}
	stored := append([][]byte(nil), encoded...)
	stored = append(stored, h.store.outcomes()...)
	for _, p := range h.pairs.handled() {
		b, _ := json.Marshal(p)
		stored = append(stored, b)
	}
	if len(stored) < 2 {
		t.Fatalf("expected an event and an outcome, got %d records", len(stored))
	}
	for _, b := range stored {
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Errorf("stored bytes hold secret %q: %s", s, b)
			}
		}
	}
	// The rest survives, and the redacted fields say so.
	ev, err := cutover.DecodeEvent(encoded[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ev.Request.Body), `"card_number":"[REDACTED]"`) || !strings.Contains(string(ev.Request.Body), `"exp":"12/30"`) {
		t.Errorf("event body = %s", ev.Request.Body)
	}
	p, _ := h.store.pair(ev.ID)
	if p.Legacy == nil || !strings.Contains(string(p.Legacy.Body), `"order_id":"o-1"`) {
		t.Errorf("legacy outcome = %+v", p.Legacy)
	}
}

// TestRedactionWithholdsInvalidJSON: a body that looks like JSON but does
// not parse cannot be redacted by path. A request like that is not
// mirrored (counted as invalid_json); a legacy response like that is
// recorded without its body, as skipped. Neither secret is stored, and the
// client still gets legacy's bytes.
func TestRedactionWithholdsInvalidJSON(t *testing.T) {
	const cut = `{"order_id":"o-1","card_number":"5500000000000004"`
	h := newHarness(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(cut))
	}))
	h.dec.set("create-order", shadow)
	_, body := h.do(h.newRequest("POST", "/orders", `{"customer_id":"c-1","payment":{"card_number":"4111111111111111"}`))
	if body != cut {
		t.Errorf("client got %q, want legacy's %q", body, cut)
	}
	_, body = h.do(h.newRequest("POST", "/orders", `{"customer_id":"c-2"}`))
	if body != cut {
		t.Errorf("client got %q, want legacy's %q", body, cut)
	}
	h.stop()

	if n := h.metric("cutover_proxy_shadow_not_mirrored_total", map[string]string{"workflow": "create-order", "reason": "invalid_json"}); n != 1 {
		t.Errorf("not mirrored as invalid_json: %v, want 1", n)
	}
	evs, encoded := h.pub.published()
	if len(evs) != 1 || !strings.Contains(string(evs[0].Request.Body), `"c-2"`) {
		t.Fatalf("published %d events (%v), want only the valid request's", len(evs), evs)
	}
	p, _ := h.store.pair(evs[0].ID)
	if p.Legacy == nil || p.Legacy.Body != nil || !strings.Contains(p.Legacy.Skipped, "not valid JSON") || p.Legacy.Status != http.StatusOK {
		t.Errorf("legacy outcome = %+v, want status 200, no body, skipped as not valid JSON", p.Legacy)
	}
	stored := append(append([][]byte(nil), encoded...), h.store.outcomes()...)
	for _, b := range stored {
		for _, s := range []string{"4111111111111111", "5500000000000004"} {
			if strings.Contains(string(b), s) {
				t.Errorf("stored bytes hold secret %q: %s", s, b)
			}
		}
	}
}
