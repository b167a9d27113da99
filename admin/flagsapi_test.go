package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cutover "github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/flags"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSetErrors(t *testing.T) {
	f := newFixture(t)
	gateResult := cutover.GateResult{Workflow: "create-order", Ready: false, Checks: failingChecks}
	tests := []struct {
		name, path, body string
		want             int
		wantBody         errorBody
	}{
		{"percent 150", "/api/flags/create-order", `{"mode": "canary", "percent": 150, "reason": "r"}`, 400,
			errorBody{Error: "invalid percent: 150 is out of range (want 0.01 to 100 for canary)", Field: "percent"}},
		{"unknown mode", "/api/flags/create-order", `{"mode": "live", "reason": "r"}`, 400,
			errorBody{Error: `invalid mode: "live" is unknown (want off, shadow, canary or cutover)`, Field: "mode"}},
		{"unknown workflow", "/api/flags/create-ordr", `{"mode": "shadow", "reason": "r"}`, 404,
			errorBody{Error: `unknown workflow "create-ordr" (configured: create-order, get-order)`, Field: "workflow"}},
		{"missing reason", "/api/flags/create-order", `{"mode": "shadow"}`, 400,
			errorBody{Error: "invalid reason: is required: say why, for the flag history", Field: "reason"}},
		{"percent for cutover", "/api/flags/create-order", `{"mode": "cutover", "percent": 100, "reason": "r"}`, 400,
			errorBody{Error: "invalid percent: 100 was given but percent applies only to mode canary; omit it for mode cutover", Field: "percent"}},
		{"gate refuses", "/api/flags/create-order", `{"mode": "canary", "percent": 5, "reason": "r"}`, 422,
			errorBody{
				Error:  "readiness gate of create-order refuses canary 5%: min_comparisons: got 12, want >= 1000 (force overrides it and records that in the history)",
				Failed: []string{"min_comparisons: got 12, want >= 1000"},
				Gate:   &gateResult,
			}},
		{"percent is a string", "/api/flags/create-order", `{"mode": "canary", "percent": "ten", "reason": "r"}`, 400,
			errorBody{Error: "percent must be a JSON number, not string", Field: "percent"}},
		{"unknown body field", "/api/flags/create-order", `{"mode": "shadow", "reason": "r", "by": "mallory"}`, 400,
			errorBody{Error: `unknown field "by" (want {mode, percent, reason, force})`, Field: "by"}},
		{"not JSON", "/api/flags/create-order", `mode=shadow`, 400,
			errorBody{Error: "body is not valid JSON: invalid character 'm' looking for beginning of value"}},
		{"truncated JSON", "/api/flags/create-order", `{"mode": "shadow"`, 400,
			errorBody{Error: "body is not valid JSON: unexpected EOF"}},
		{"no body", "/api/flags/create-order", ``, 400,
			errorBody{Error: "body is required: a JSON object {mode, percent, reason, force}"}},
		{"a list", "/api/flags/create-order", `[1]`, 400,
			errorBody{Error: "body must be a JSON object {mode, percent, reason, force}"}},
		{"two objects", "/api/flags/create-order", `{"mode": "shadow", "reason": "r"} {}`, 400,
			errorBody{Error: "body must be one JSON object {mode, percent, reason, force}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, f.srv, "PUT", tt.path, operatorToken, tt.body)
			if r.status != tt.want {
				t.Errorf("status = %d, want %d", r.status, tt.want)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var got errorBody
			r.decode(t, &got)
			if diff := cmp.Diff(tt.wantBody, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
	if n := f.store.Writes(); n != 0 {
		t.Errorf("refused requests wrote %d flags", n)
	}
}

func TestBodyTooLarge(t *testing.T) {
	f := newFixture(t)
	big := `{"mode": "shadow", "reason": "` + strings.Repeat("x", maxBody) + `"}`
	r := do(t, f.srv, "PUT", "/api/flags/create-order", operatorToken, big)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("status = %d, want 413; body %s", r.status, r.body)
	}
}

// ignoreAt drops change times, which come from the wall clock here.
var ignoreAt = cmpopts.IgnoreFields(cutover.FlagChange{}, "At")

func TestSetRecordsTheTokenName(t *testing.T) {
	f := newFixture(t)
	f.gate.set(cutover.GateResult{Ready: true})
	r := do(t, f.srv, "PUT", "/api/flags/create-order", operatorToken, `{"mode": "canary", "percent": 5, "reason": "first slice"}`)
	if r.status != http.StatusOK {
		t.Fatalf("status = %d; body %s", r.status, r.body)
	}
	var res flags.Result
	r.decode(t, &res)
	if res.Flag.Mode != cutover.ModeCanary || res.Flag.Percent != 5 || res.Flag.Version != 1 || res.Flag.UpdatedBy != "alice" {
		t.Errorf("flag = %+v, want canary 5%% version 1 by alice", res.Flag)
	}
	want := []cutover.FlagChange{{Workflow: "create-order", Version: 1, By: "alice", Reason: "first slice",
		FromMode: cutover.ModeShadow, ToMode: cutover.ModeCanary, ToPercent: 5}}
	var hist struct {
		Workflow string               `json:"workflow"`
		History  []cutover.FlagChange `json:"history"`
	}
	do(t, f.srv, "GET", "/api/flags/create-order/history", viewerToken, "").decode(t, &hist)
	if diff := cmp.Diff(want, hist.History, ignoreAt); diff != "" || hist.Workflow != "create-order" {
		t.Errorf("history of %s (-want +got):\n%s", hist.Workflow, diff)
	}
}

func TestForceOverridesTheGate(t *testing.T) {
	f := newFixture(t)
	r := do(t, f.srv, "PUT", "/api/flags/create-order", operatorToken, `{"mode": "cutover", "reason": "we checked by hand", "force": true}`)
	if r.status != http.StatusOK {
		t.Fatalf("status = %d; body %s", r.status, r.body)
	}
	var res flags.Result
	r.decode(t, &res)
	want := &cutover.FlagChange{Workflow: "create-order", Version: 1, By: "alice", Reason: "we checked by hand",
		FromMode: cutover.ModeShadow, ToMode: cutover.ModeCutover, Forced: true, GateDetail: "min_comparisons: got 12, want >= 1000"}
	if diff := cmp.Diff(want, res.Change, ignoreAt); diff != "" {
		t.Errorf("change (-want +got):\n%s", diff)
	}
	h, err := f.store.FlagHistory(context.Background(), "create-order")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || !h[0].Forced || h[0].GateDetail == "" {
		t.Errorf("stored history %+v does not record the override", h)
	}
}

func TestReads(t *testing.T) {
	f := newFixture(t)
	var list struct {
		Flags []cutover.Flag `json:"flags"`
	}
	do(t, f.srv, "GET", "/api/flags", viewerToken, "").decode(t, &list)
	want := []cutover.Flag{
		{Workflow: "create-order", Mode: cutover.ModeShadow, Reason: flags.ConfigReason},
		{Workflow: "get-order", Mode: cutover.ModeCanary, Percent: 10, Reason: flags.ConfigReason},
	}
	if diff := cmp.Diff(want, list.Flags); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	var one cutover.Flag
	do(t, f.srv, "GET", "/api/flags/get-order", viewerToken, "").decode(t, &one)
	if diff := cmp.Diff(want[1], one); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	r := do(t, f.srv, "GET", "/api/flags/get-order/history", viewerToken, "")
	if r.status != http.StatusOK || r.body != "{\n  \"workflow\": \"get-order\",\n  \"history\": []\n}\n" {
		t.Errorf("empty history = %d %q, want 200 with an empty list", r.status, r.body)
	}
	for _, path := range []string{"/api/flags/nope", "/api/flags/nope/history"} {
		if r := do(t, f.srv, "GET", path, viewerToken, ""); r.status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, r.status)
		}
	}
}

func TestRollbackRoutes(t *testing.T) {
	f := newFixture(t)
	f.gate.set(cutover.GateResult{Ready: true})
	if r := do(t, f.srv, "PUT", "/api/flags/create-order", operatorToken, `{"mode": "cutover", "reason": "go"}`); r.status != 200 {
		t.Fatalf("set: %d %s", r.status, r.body)
	}
	f.gate.set(cutover.GateResult{Ready: false, Checks: failingChecks}) // rollback must not care

	r := do(t, f.srv, "POST", "/api/flags/create-order/rollback", operatorToken, "")
	if r.status != http.StatusOK {
		t.Fatalf("rollback: %d %s", r.status, r.body)
	}
	var res flags.Result
	r.decode(t, &res)
	want := &cutover.FlagChange{Workflow: "create-order", Version: 2, By: "alice", Reason: "rollback",
		FromMode: cutover.ModeCutover, ToMode: cutover.ModeShadow}
	if diff := cmp.Diff(want, res.Change, ignoreAt); diff != "" {
		t.Errorf("rollback without a body (-want +got):\n%s", diff)
	}

	r = do(t, f.srv, "POST", "/api/flags/rollback", operatorToken, `{"reason": "incident 7"}`)
	if r.status != http.StatusOK {
		t.Fatalf("rollback all: %d %s", r.status, r.body)
	}
	var all struct {
		Results []flags.Result `json:"results"`
	}
	r.decode(t, &all)
	var got []string
	for _, res := range all.Results {
		s := res.Flag.Workflow + " " + string(res.Flag.Mode)
		if res.Change != nil {
			s += " by " + res.Change.By + ": " + res.Change.Reason
		}
		got = append(got, s)
	}
	wantAll := []string{"create-order shadow", "get-order shadow by alice: incident 7"}
	if diff := cmp.Diff(wantAll, got); diff != "" {
		t.Errorf("rollback all (-want +got):\n%s", diff)
	}
	if r := do(t, f.srv, "POST", "/api/flags/create-order/rollback", operatorToken, `{"why": "x"}`); r.status != http.StatusBadRequest {
		t.Errorf("rollback with an unknown field = %d, want 400", r.status)
	}
}

// stubFlags returns err from every call, to check the status each error
// maps to.
type stubFlags struct {
	err     error
	results []flags.Result
}

func (s stubFlags) List(context.Context) ([]cutover.Flag, error)      { return nil, s.err }
func (s stubFlags) Get(context.Context, string) (cutover.Flag, error) { return cutover.Flag{}, s.err }
func (s stubFlags) History(context.Context, string) ([]cutover.FlagChange, error) {
	return nil, s.err
}
func (s stubFlags) Set(context.Context, flags.SetRequest) (flags.Result, error) {
	return flags.Result{}, s.err
}
func (s stubFlags) Rollback(context.Context, string, string, string) (flags.Result, error) {
	return flags.Result{}, s.err
}
func (s stubFlags) RollbackAll(context.Context, string, string) ([]flags.Result, error) {
	return s.results, s.err
}

func TestErrorStatuses(t *testing.T) {
	tokens, err := ParseTokens([]byte(tokensYAML))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"version conflict", fmt.Errorf("flags: write w: gave up: %w", cutover.ErrVersionConflict), http.StatusConflict},
		{"store down", fmt.Errorf("flags: read w: %w", cutover.ErrUnavailable), http.StatusServiceUnavailable},
		{"store slow", fmt.Errorf("flags: read w: %w", context.DeadlineExceeded), http.StatusServiceUnavailable},
		{"anything else", errors.New("disk on fire"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Tokens: tokens, Flags: stubFlags{err: tt.err}})
			if err != nil {
				t.Fatal(err)
			}
			srv := newLoopback(t, s)
			for _, c := range []struct{ method, path, body string }{
				{"GET", "/api/flags", ""},
				{"GET", "/api/flags/w", ""},
				{"GET", "/api/flags/w/history", ""},
				{"PUT", "/api/flags/w", `{"mode": "shadow", "reason": "r"}`},
				{"POST", "/api/flags/w/rollback", ""},
				{"POST", "/api/flags/rollback", ""},
			} {
				r := do(t, srv, c.method, c.path, operatorToken, c.body)
				var body errorBody
				r.decode(t, &body)
				if r.status != tt.want || body.Error != tt.err.Error() {
					t.Errorf("%s %s = %d %q, want %d %q", c.method, c.path, r.status, body.Error, tt.want, tt.err)
				}
			}
		})
	}
}

func TestRollbackAllReportsPartialFailure(t *testing.T) {
	tokens, err := ParseTokens([]byte(tokensYAML))
	if err != nil {
		t.Fatal(err)
	}
	done := flags.Result{Flag: cutover.Flag{Workflow: "a", Mode: cutover.ModeShadow, Version: 3, UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}}
	s, err := New(Options{Tokens: tokens, Flags: stubFlags{
		err:     fmt.Errorf("flags: read b: %w", cutover.ErrUnavailable),
		results: []flags.Result{done},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, newLoopback(t, s), "POST", "/api/flags/rollback", operatorToken, "")
	var body errorBody
	r.decode(t, &body)
	want := errorBody{Error: "flags: read b: backend unavailable", Results: []flags.Result{done}}
	if r.status != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", r.status)
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}
}

func TestUnknownRoutes(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		method, path string
		want         int
		wantErr      string
	}{
		{"GET", "/nope", 404, "no route GET /nope"},
		{"DELETE", "/api/flags/create-order", 405, "DELETE is not allowed on /api/flags/create-order"},
	}
	for _, tt := range tests {
		r := do(t, f.srv, tt.method, tt.path, operatorToken, "")
		var body errorBody
		r.decode(t, &body)
		if r.status != tt.want || body.Error != tt.wantErr {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, r.status, body.Error, tt.want, tt.wantErr)
		}
	}
}
