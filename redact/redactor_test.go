package redact

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/jsonpath"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func mustNew(t *testing.T, rules ...cutover.RedactConfig) *Redactor {
	t.Helper()
	r, err := New(rules...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHeader(t *testing.T) {
	r := mustNew(t,
		cutover.RedactConfig{Headers: []string{"x-api-key"}},
		cutover.RedactConfig{Headers: []string{"X-SESSION"}},
	)
	tests := []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"nil", nil, nil},
		{"always", http.Header{
			"Authorization": {"Bearer s3cret"}, "Cookie": {"sid=1"}, "Set-Cookie": {"sid=2"},
			"Content-Type": {"application/json"},
		}, http.Header{"Content-Type": {"application/json"}}},
		{"configured, any case", http.Header{
			"X-Api-Key": {"k"}, "X-Session": {"s"}, "Accept": {"*/*"},
		}, http.Header{"Accept": {"*/*"}}},
		{"non-canonical keys", http.Header{
			"authorization": {"Bearer s3cret"}, "x-API-key": {"k"}, "x-request-id": {"r1"},
		}, http.Header{"x-request-id": {"r1"}}},
		{"nothing to remove", http.Header{"Accept": {"a", "b"}}, http.Header{"Accept": {"a", "b"}}},
		{"empty values kept", http.Header{"X-Empty": {}, "Accept": {"a"}, "X-Two": {"1", "2"}},
			http.Header{"X-Empty": nil, "Accept": {"a"}, "X-Two": {"1", "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := r.Header(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Header (-want +got):\n%s", diff)
			}
			// Strip does the same to its argument (keeping an empty value
			// list as it was, which net/http never makes).
			stripped := r.Strip(tt.in.Clone())
			if diff := cmp.Diff(tt.want, stripped, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Strip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHeaderCopies(t *testing.T) {
	r := mustNew(t)
	in := http.Header{"Accept": {"a"}}
	out := r.Header(in)
	out["Accept"][0] = "changed"
	if in.Get("Accept") != "a" {
		t.Errorf("Header shares value slices with its input: input now %q", in.Get("Accept"))
	}
}

func TestBody(t *testing.T) {
	r := mustNew(t,
		cutover.RedactConfig{JSON: []string{"$.payment.card_number", "$.items[*].secret"}},
		cutover.RedactConfig{JSON: []string{"$.password", "$.payment.card_number"}},
	)
	tests := []struct {
		name, in, want string
	}{
		{"nested field", `{"payment":{"card_number":"4111111111111111","amount":12.50},"id":1}`,
			`{"payment":{"card_number":"[REDACTED]","amount":12.50},"id":1}`},
		{"wildcard", `{"items":[{"secret":"a","sku":"x"},{"secret":{"deep":true}},{"sku":"y"}]}`,
			`{"items":[{"secret":"[REDACTED]","sku":"x"},{"secret":"[REDACTED]"},{"sku":"y"}]}`},
		{"top level, spacing kept", ` {"password" : "hunter2", "user":"<a&b>"}`, ` {"password" : "[REDACTED]", "user":"<a&b>"}`},
		{"big numbers keep their digits", `{"password":"x","n":12345678901234567890123}`,
			`{"password":"[REDACTED]","n":12345678901234567890123}`},
		{"escaped key", `{"pass\u0077ord":"x","u":"\u00e9"}`, `{"pass\u0077ord":"[REDACTED]","u":"\u00e9"}`},
		{"duplicate key, both times", `{"password":"a","password":{"b":1}}`, `{"password":"[REDACTED]","password":"[REDACTED]"}`},
		{"nested under a duplicate", `{"payment":{"card_number":"4111"},"payment":1}`, `{"payment":{"card_number":"[REDACTED]"},"payment":1}`},
		{"no match keeps the exact bytes", `{ "user" : "bob" }`, `{ "user" : "bob" }`},
		{"array root", `[{"password":"x"}]`, `[{"password":"x"}]`},
		{"not JSON", `password=hunter2&card=4111`, `password=hunter2&card=4111`},
		{"broken JSON is withheld", `{"password":"hunter2"`, `"[REDACTED]"`},
		{"several documents are withheld", `{"password":"a"} {"password":"b"}`, `"[REDACTED]"`},
		{"a broken array is withheld", ` [{"sku":1},`, `"[REDACTED]"`},
		{"scalar", `"password"`, `"password"`},
		{"empty", ``, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(r.Body([]byte(tt.in)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Body(%s) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestBodyWithoutPaths(t *testing.T) {
	r := mustNew(t)
	in := []byte(`{"password":"x"}`)
	if got := r.Body(in); &got[0] != &in[0] {
		t.Errorf("Body without paths copied or rewrote the body: %s", got)
	}
	if r.HasJSONPaths() {
		t.Error("HasJSONPaths() = true without paths")
	}
}

// Check says when a body was withheld, and Outcome records that as a
// skipped side without the body.
func TestCheckAndWithheldOutcome(t *testing.T) {
	r := mustNew(t, cutover.RedactConfig{JSON: []string{"$.card"}})
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{`{"card":"4111"}`, `{"card":"[REDACTED]"}`, true},
		{`{"card":"4111"`, `"[REDACTED]"`, false},
		{`card=4111`, `card=4111`, true},
		{`<html>oops</html>`, `<html>oops</html>`, true},
	} {
		got, ok := r.Check([]byte(tt.in))
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("Check(%s) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	o := r.Outcome(&cutover.Outcome{Status: 200, Body: cutover.Body(`{"card":"4111"`)})
	if o.Body != nil || o.Skipped != SkippedInvalidJSON || o.Status != 200 {
		t.Errorf("Outcome of an invalid JSON body = %+v, want no body, skipped %q", o, SkippedInvalidJSON)
	}
	o = r.Outcome(&cutover.Outcome{Skipped: "legacy not called", Body: cutover.Body(`[`)})
	if o.Body != nil || o.Skipped != "legacy not called" {
		t.Errorf("Outcome kept %+v; want the body dropped and the first reason kept", o)
	}
}

func TestNewErrors(t *testing.T) {
	for _, p := range []string{"password", "$", "$..a"} {
		_, err := New(cutover.RedactConfig{JSON: []string{p}})
		if err == nil {
			t.Errorf("New(json %q): no error", p)
		}
	}
	_, err := New(cutover.RedactConfig{JSON: []string{"$["}})
	if !errors.Is(err, jsonpath.ErrSyntax) {
		t.Errorf("New($[) error = %v, want jsonpath.ErrSyntax wrapped", err)
	}
}

func TestEventAndOutcomeAreCopies(t *testing.T) {
	r := mustNew(t, cutover.RedactConfig{Headers: []string{"X-Api-Key"}, JSON: []string{"$.card"}})
	ev := &cutover.Event{
		ID: "e1", Workflow: "w", Step: cutover.RespondStep, Mode: cutover.EventLive,
		IdempotencyKey: "k", CorrelationID: "c", ReceivedAt: time.Unix(1, 0).UTC(),
		Request: cutover.Request{Method: "POST", Path: "/p", Header: http.Header{
			"Authorization": {"Bearer t"}, "X-Api-Key": {"k"}, "Accept": {"*/*"},
		}, Body: cutover.Body(`{"card":"4111"}`)},
	}
	got := r.Event(ev)
	wantReq := cutover.Request{Method: "POST", Path: "/p", Header: http.Header{"Accept": {"*/*"}}, Body: cutover.Body(`{"card":"[REDACTED]"}`)}
	if diff := cmp.Diff(wantReq, got.Request); diff != "" {
		t.Errorf("Event request (-want +got):\n%s", diff)
	}
	if ev.Request.Header.Get("Authorization") == "" || string(ev.Request.Body) != `{"card":"4111"}` {
		t.Errorf("Event modified its input: %+v", ev.Request)
	}
	if got.ID != ev.ID || got.Mode != ev.Mode {
		t.Errorf("Event changed the envelope: %+v", got)
	}

	o := &cutover.Outcome{Status: 200, Header: http.Header{"Set-Cookie": {"sid=1"}, "Content-Type": {"application/json"}},
		Body: cutover.Body(`{"card":"4111","ok":true}`), Effects: []cutover.Effect{{Kind: "charge"}}}
	ro := r.Outcome(o)
	enc, err := json.Marshal(ro)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"sid=1", "4111"} {
		if strings.Contains(string(enc), secret) {
			t.Errorf("redacted outcome still holds %q: %s", secret, enc)
		}
	}
	if o.Header.Get("Set-Cookie") == "" || string(o.Body) != `{"card":"4111","ok":true}` {
		t.Errorf("Outcome modified its input: %+v", o)
	}
	if r.Event(nil) != nil || r.Outcome(nil) != nil {
		t.Error("nil in should be nil out")
	}
}

func TestSet(t *testing.T) {
	cfg, err := cutover.Parse([]byte(`
legacy: http://127.0.0.1:8000
proxy:
  redact: {headers: [X-Api-Key]}
workflows:
  - name: create-order
    route: POST /orders
    redact: {json: [$.card]}
  - name: get-order
    route: GET /orders/{id}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"card":"4111"}`)
	tests := []struct {
		workflow, wantBody string
		wantKey            bool
	}{
		{"create-order", `{"card":"[REDACTED]"}`, true},
		{"get-order", `{"card":"4111"}`, true},
		{"unknown", `{"card":"4111"}`, true},
	}
	for _, tt := range tests {
		r := s.For(tt.workflow)
		if got := string(r.Body(body)); got != tt.wantBody {
			t.Errorf("%s: Body = %s, want %s", tt.workflow, got, tt.wantBody)
		}
		if got := r.Redacts("x-api-key"); got != tt.wantKey {
			t.Errorf("%s: Redacts(x-api-key) = %v, want %v", tt.workflow, got, tt.wantKey)
		}
	}
	ev := &cutover.Event{Workflow: "create-order", Request: cutover.Request{Body: body, Header: http.Header{"Cookie": {"a=b"}}}}
	got := s.Event(ev)
	if string(got.Request.Body) != `{"card":"[REDACTED]"}` || got.Request.Header.Get("Cookie") != "" {
		t.Errorf("Set.Event = %+v", got.Request)
	}
	if s.Event(nil) != nil {
		t.Error("Set.Event(nil) != nil")
	}
	if o := s.Outcome("create-order", &cutover.Outcome{Body: body}); string(o.Body) != `{"card":"[REDACTED]"}` {
		t.Errorf("Set.Outcome body = %s", o.Body)
	}
}
