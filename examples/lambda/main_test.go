package main

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

func TestCreateOrder(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mode        cutover.EventMode
		body        string
		wantStatus  int
		wantBody    string
		wantEffects []cutover.Effect
	}{
		{"shadow records the effect", cutover.EventShadow, `{"customer_id":"c-1","items":[{"sku":"a","qty":1}]}`, 201,
			`{"customer_id":"c-1","items":1,"status":"created"}`, []cutover.Effect{{Kind: "email", Detail: "order confirmation to c-1"}}},
		{"live", cutover.EventLive, `{"customer_id":"c-2","items":[]}`, 201, `{"customer_id":"c-2","items":0,"status":"created"}`, nil},
		{"bad request is an outcome", cutover.EventShadow, `{"items":[]}`, 400, `{"error":"invalid order"}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, effects := cutover.WithEffectLog(context.Background())
			ev := &cutover.Event{ID: "e", Workflow: "create-order", Step: cutover.RespondStep, Mode: tc.mode,
				ReceivedAt: time.Now(), Request: cutover.Request{Method: "POST", Path: "/orders", Body: cutover.Body(tc.body)}}
			out, err := createOrder(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if out.Status != tc.wantStatus || string(out.Body) != tc.wantBody {
				t.Errorf("outcome %d %s, want %d %s", out.Status, out.Body, tc.wantStatus, tc.wantBody)
			}
			if diff := cmp.Diff(tc.wantEffects, effects()); diff != "" {
				t.Errorf("effects (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigLoads keeps the example config valid.
func TestConfigLoads(t *testing.T) {
	cfg, err := cutover.Load("cutover.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Backend.Kind != cutover.BackendAWS {
		t.Errorf("backend %q, want aws", cfg.Backend.Kind)
	}
	if _, ok := cfg.Step("create-order", cutover.RespondStep); !ok {
		t.Error("no create-order respond step")
	}
}
