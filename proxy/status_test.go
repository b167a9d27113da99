package proxy_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

func TestStatusEndpoint(t *testing.T) {
	const known = "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b"
	const paired = "0190a5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7c"
	const unknown = "0190a5b2-7c3d-7e4f-8a1b-000000000000"
	tests := []struct {
		name     string
		path     string
		readFail error
		wantCode int
		want     map[string]any
	}{
		{"unknown id", "/_cutover/requests/" + unknown, nil, 404, map[string]any{"error": "unknown request id"}},
		{"not an id", "/_cutover/requests/nope", nil, 404, map[string]any{"error": "unknown request id"}},
		{"history only", "/_cutover/requests/" + known, nil, 200, map[string]any{"id": known, "state": "running"}},
		{"with outcome", "/_cutover/requests/" + paired, nil, 200, map[string]any{
			"id": paired, "workflow": "create-order", "state": "dead_lettered",
			"outcome": map[string]any{"error": "boom", "at": "0001-01-01T00:00:00Z"},
		}},
		{"store down", "/_cutover/requests/" + known, errDown, 503, map[string]any{"error": "status is unavailable, try again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, http.NotFoundHandler())
			h.store.appendHistory(known, cutover.TransitionReceived, cutover.TransitionStarted)
			h.store.appendHistory(paired, cutover.TransitionReceived, cutover.TransitionDeadLettered)
			if _, _, err := h.store.PutOutcome(t.Context(), "create-order", paired, 0, cutover.SideAsync, &cutover.Outcome{Error: "boom"}); err != nil {
				t.Fatal(err)
			}
			h.store.readFail = tt.readFail
			res, body := h.do(h.newRequest("GET", tt.path, ""))
			if res.StatusCode != tt.wantCode {
				t.Errorf("status %d, want %d", res.StatusCode, tt.wantCode)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

// A shadow event's async outcome is for the diff only: the public status
// endpoint does not serve it.
func TestStatusHidesShadowEvents(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(echo))
	h.dec.set("create-order", shadow)
	res, _ := h.do(h.newRequest("POST", "/orders", `{"customer_id":"c-1"}`))
	if res.StatusCode != 200 {
		t.Fatalf("shadow request: %d", res.StatusCode)
	}
	var evs []*cutover.Event
	for deadline := time.Now().Add(5 * time.Second); len(evs) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the shadow event was not published")
		}
		time.Sleep(5 * time.Millisecond)
		evs, _ = h.pub.published()
	}
	h.store.appendHistory(evs[0].ID, cutover.TransitionReceived)
	res, body := h.do(h.newRequest("GET", "/_cutover/requests/"+evs[0].ID, ""))
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("status of a shadow event: %d %s, want 404", res.StatusCode, body)
	}
}
