package flags

import (
	"context"
	"errors"
	"math"
	"testing"

	cutover "github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/flags/flagstest"
	"github.com/google/go-cmp/cmp"
)

type fixture struct {
	store *flagstest.Store
	gate  *fakeGate
	clk   *clock
	snap  *Snapshot
	svc   *Service
}

func newFixture(t *testing.T, gate *fakeGate) *fixture {
	t.Helper()
	f := &fixture{store: flagstest.New(), gate: gate, clk: newClock(), snap: newTestSnapshot(t)}
	var err error
	f.svc, err = NewService(f.store, testConfig(t), gate, ServiceOptions{Snapshot: f.snap, Now: f.clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestNewServiceRequiresItsParts(t *testing.T) {
	cfg, st, g := testConfig(t), flagstest.New(), readyGate()
	for _, tt := range []struct {
		name  string
		store cutover.FlagStore
		cfg   *cutover.Config
		gate  Gate
	}{
		{"no store", nil, cfg, g},
		{"no config", st, nil, g},
		{"no gate", st, cfg, nil},
	} {
		if _, err := NewService(tt.store, tt.cfg, tt.gate, ServiceOptions{}); err == nil {
			t.Errorf("%s: NewService succeeded", tt.name)
		}
	}
}

func TestSetRefusesBadRequests(t *testing.T) {
	ok := SetRequest{Workflow: "create-order", Mode: cutover.ModeCanary, Percent: 10, Reason: "looks good", By: "alice"}
	tests := []struct {
		name    string
		edit    func(*SetRequest)
		field   string // "" for ErrUnknownWorkflow
		wantErr string
	}{
		{"unknown workflow", func(r *SetRequest) { r.Workflow = "create-ordr" }, "",
			`unknown workflow "create-ordr" (configured: create-order, get-order, ship-order, pay-invoice)`},
		{"no mode", func(r *SetRequest) { r.Mode = "" }, "mode",
			`invalid mode: is required (want off, shadow, canary or cutover)`},
		{"unknown mode", func(r *SetRequest) { r.Mode = "live" }, "mode",
			`invalid mode: "live" is unknown (want off, shadow, canary or cutover)`},
		{"percent above 100", func(r *SetRequest) { r.Percent = 150 }, "percent",
			`invalid percent: 150 is out of range (want 0.01 to 100 for canary)`},
		{"negative percent", func(r *SetRequest) { r.Percent = -1 }, "percent",
			`invalid percent: -1 is out of range (want 0.01 to 100 for canary)`},
		{"NaN percent", func(r *SetRequest) { r.Percent = math.NaN() }, "percent",
			`invalid percent: NaN is out of range (want 0.01 to 100 for canary)`},
		{"three decimals", func(r *SetRequest) { r.Percent = 12.345 }, "percent",
			`invalid percent: 12.345 has more than two decimals (the finest step is 0.01)`},
		{"percent for cutover", func(r *SetRequest) { r.Mode, r.Percent = cutover.ModeCutover, 100 }, "percent",
			`invalid percent: 100 was given but percent applies only to mode canary; omit it for mode cutover`},
		{"percent for shadow", func(r *SetRequest) { r.Mode, r.Percent = cutover.ModeShadow, 5 }, "percent",
			`invalid percent: 5 was given but percent applies only to mode canary; omit it for mode shadow`},
		{"canary at 0", func(r *SetRequest) { r.Percent = 0 }, "percent",
			`invalid percent: canary needs a percent above 0, e.g. 1 (to send no traffic to the async pipeline, use mode shadow)`},
		{"no reason", func(r *SetRequest) { r.Reason = "" }, "reason",
			`invalid reason: is required: say why, for the flag history`},
		{"blank reason", func(r *SetRequest) { r.Reason = " \t" }, "reason",
			`invalid reason: is required: say why, for the flag history`},
		{"no by", func(r *SetRequest) { r.By = "" }, "by",
			`invalid by: is required: who makes the change, for the flag history`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, readyGate())
			req := ok
			tt.edit(&req)
			_, err := f.svc.Set(context.Background(), req)
			if err == nil {
				t.Fatal("Set succeeded")
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("error\n got %s\nwant %s", got, tt.wantErr)
			}
			var inv *InvalidError
			switch {
			case tt.field == "" && !errors.Is(err, ErrUnknownWorkflow):
				t.Errorf("errors.Is(err, ErrUnknownWorkflow) = false")
			case tt.field != "" && (!errors.As(err, &inv) || inv.Field != tt.field):
				t.Errorf("err is not an *InvalidError for field %q: %#v", tt.field, err)
			}
			if n := f.store.Writes(); n != 0 {
				t.Errorf("a refused request wrote %d flags", n)
			}
			if n := f.gate.calls.Load(); n != 0 {
				t.Errorf("a refused request consulted the gate %d times", n)
			}
		})
	}
}

func TestSetNormalisesThePercent(t *testing.T) {
	f := newFixture(t, readyGate())
	res, err := f.svc.Set(context.Background(), SetRequest{Workflow: "create-order", Mode: cutover.ModeCanary, Percent: 0.1 + 0.2, Reason: "r", By: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Flag.Percent != 0.3 {
		t.Errorf("percent 0.1+0.2 stored as %v, want 0.3", res.Flag.Percent)
	}
}

func TestSetChecksTheGateWhenPromoting(t *testing.T) {
	gateDown := errors.New("comparisons unavailable")
	const failed = "min_comparisons: got 12, want >= 1000; dlq_empty: got 3, want 0"
	tests := []struct {
		name      string
		from      *cutover.Flag // stored before the change; nil: create-order's config flag (shadow)
		mode      cutover.Mode
		percent   float64
		force     bool
		gate      *fakeGate
		wantErr   string // "" for success
		gateErr   bool   // want a *GateError
		gateCalls int64
		forced    bool
		detail    string
	}{
		{name: "shadow to canary, gate ready", mode: cutover.ModeCanary, percent: 1, gate: readyGate(), gateCalls: 1},
		{name: "shadow to canary, gate fails", mode: cutover.ModeCanary, percent: 1, gate: failingGate(), gateCalls: 1, gateErr: true,
			wantErr: "readiness gate of create-order refuses canary 1%: " + failed + " (force overrides it and records that in the history)"},
		{name: "shadow to canary, gate fails, forced", mode: cutover.ModeCanary, percent: 1, force: true, gate: failingGate(), gateCalls: 1,
			forced: true, detail: failed},
		{name: "forced with the gate passing is not recorded as forced", mode: cutover.ModeCutover, force: true, gate: readyGate(), gateCalls: 1},
		{name: "off to canary", from: &cutover.Flag{Mode: cutover.ModeOff}, mode: cutover.ModeCanary, percent: 5, gate: failingGate(), gateCalls: 1, gateErr: true,
			wantErr: "readiness gate of create-order refuses canary 5%: " + failed + " (force overrides it and records that in the history)"},
		{name: "raise canary", from: &cutover.Flag{Mode: cutover.ModeCanary, Percent: 10}, mode: cutover.ModeCanary, percent: 20, gate: failingGate(), gateCalls: 1, gateErr: true,
			wantErr: "readiness gate of create-order refuses canary 20%: " + failed + " (force overrides it and records that in the history)"},
		{name: "canary to cutover", from: &cutover.Flag{Mode: cutover.ModeCanary, Percent: 10}, mode: cutover.ModeCutover, gate: failingGate(), gateCalls: 1, gateErr: true,
			wantErr: "readiness gate of create-order refuses cutover: " + failed + " (force overrides it and records that in the history)"},
		{name: "lower canary", from: &cutover.Flag{Mode: cutover.ModeCanary, Percent: 10}, mode: cutover.ModeCanary, percent: 5, gate: failingGate()},
		{name: "same canary", from: &cutover.Flag{Mode: cutover.ModeCanary, Percent: 10}, mode: cutover.ModeCanary, percent: 10, gate: failingGate()},
		{name: "cutover to canary", from: &cutover.Flag{Mode: cutover.ModeCutover}, mode: cutover.ModeCanary, percent: 50, gate: failingGate()},
		{name: "cutover to cutover", from: &cutover.Flag{Mode: cutover.ModeCutover}, mode: cutover.ModeCutover, gate: failingGate()},
		{name: "canary to shadow", from: &cutover.Flag{Mode: cutover.ModeCanary, Percent: 10}, mode: cutover.ModeShadow, gate: failingGate()},
		{name: "shadow to off", mode: cutover.ModeOff, gate: failingGate()},
		{name: "off to shadow", from: &cutover.Flag{Mode: cutover.ModeOff}, mode: cutover.ModeShadow, gate: failingGate()},
		{name: "gate cannot be evaluated", mode: cutover.ModeCutover, gate: &fakeGate{err: gateDown}, gateCalls: 1,
			wantErr: "flags: readiness gate of create-order: comparisons unavailable"},
		{name: "gate cannot be evaluated, forced", mode: cutover.ModeCutover, force: true, gate: &fakeGate{err: gateDown}, gateCalls: 1,
			forced: true, detail: "gate could not be evaluated: comparisons unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, tt.gate)
			from := cutover.Flag{Workflow: "create-order", Mode: cutover.ModeShadow, Reason: ConfigReason}
			if tt.from != nil {
				from = *tt.from
				from.Workflow, from.Version = "create-order", 1
				put(t, f.store, from)
			}
			req := SetRequest{Workflow: "create-order", Mode: tt.mode, Percent: tt.percent, Reason: "next step", By: "alice", Force: tt.force}
			res, err := f.svc.Set(ctx, req)
			if n := f.gate.calls.Load(); n != tt.gateCalls {
				t.Errorf("gate consulted %d times, want %d", n, tt.gateCalls)
			}
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error\n got %v\nwant %s", err, tt.wantErr)
				}
				var ge *GateError
				if got := errors.As(err, &ge); got != tt.gateErr {
					t.Errorf("errors.As(err, *GateError) = %v, want %v", got, tt.gateErr)
				} else if got && cmp.Diff(tt.gate.res.Checks, ge.Result.Checks) != "" {
					t.Errorf("GateError checks (-want +got):\n%s", cmp.Diff(tt.gate.res.Checks, ge.Result.Checks))
				}
				if got, _ := f.store.Flag(ctx, "create-order"); got.Version != from.Version {
					t.Errorf("a refused change was written: %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantChange := &cutover.FlagChange{
				Workflow: "create-order", Version: from.Version + 1, At: f.clk.Now(), By: "alice", Reason: "next step",
				FromMode: from.Mode, FromPercent: from.Percent, ToMode: tt.mode, ToPercent: tt.percent,
				Forced: tt.forced, GateDetail: tt.detail,
			}
			wantFlag := cutover.Flag{
				Workflow: "create-order", Mode: tt.mode, Percent: tt.percent, Version: from.Version + 1,
				UpdatedAt: f.clk.Now(), UpdatedBy: "alice", Reason: "next step",
			}
			if diff := cmp.Diff(Result{Flag: wantFlag, Change: wantChange}, res); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			h, err := f.svc.History(ctx, "create-order")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(*wantChange, h[len(h)-1]); diff != "" {
				t.Errorf("history entry (-want +got):\n%s", diff)
			}
			if got, _ := f.snap.Flag("create-order"); got != wantFlag {
				t.Errorf("snapshot has %+v, want the written flag at once", got)
			}
		})
	}
}

func TestReadsAndHistory(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, readyGate())
	steps := []SetRequest{
		{Workflow: "create-order", Mode: cutover.ModeCanary, Percent: 1, Reason: "first slice", By: "alice"},
		{Workflow: "create-order", Mode: cutover.ModeCanary, Percent: 10, Reason: "wider", By: "bob"},
		{Workflow: "create-order", Mode: cutover.ModeCutover, Reason: "done", By: "alice"},
	}
	for _, s := range steps {
		if _, err := f.svc.Set(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	h, err := f.svc.History(ctx, "create-order")
	if err != nil {
		t.Fatal(err)
	}
	at := f.clk.Now()
	want := []cutover.FlagChange{
		{Workflow: "create-order", Version: 1, At: at, By: "alice", Reason: "first slice", FromMode: cutover.ModeShadow, ToMode: cutover.ModeCanary, ToPercent: 1},
		{Workflow: "create-order", Version: 2, At: at, By: "bob", Reason: "wider", FromMode: cutover.ModeCanary, FromPercent: 1, ToMode: cutover.ModeCanary, ToPercent: 10},
		{Workflow: "create-order", Version: 3, At: at, By: "alice", Reason: "done", FromMode: cutover.ModeCanary, FromPercent: 10, ToMode: cutover.ModeCutover},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	got, err := f.svc.Get(ctx, "get-order")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(cutover.Flag{Workflow: "get-order", Mode: cutover.ModeCanary, Percent: 10, Reason: ConfigReason}, got); diff != "" {
		t.Errorf("Get of a never-changed workflow (-want +got):\n%s", diff)
	}
	put(t, f.store, cutover.Flag{Workflow: "retired", Mode: cutover.ModeCutover, Version: 1})
	list, err := f.svc.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var modes []cutover.Mode
	for _, fl := range list {
		names = append(names, fl.Workflow)
		modes = append(modes, fl.Mode)
	}
	if diff := cmp.Diff([]string{"create-order", "get-order", "ship-order", "pay-invoice"}, names); diff != "" {
		t.Errorf("List workflows: config order, unconfigured left out (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]cutover.Mode{cutover.ModeCutover, cutover.ModeCanary, cutover.ModeOff, cutover.ModeCutover}, modes); diff != "" {
		t.Errorf("List modes (-want +got):\n%s", diff)
	}
	for _, call := range []func() error{
		func() error { _, err := f.svc.Get(ctx, "nope"); return err },
		func() error { _, err := f.svc.History(ctx, "nope"); return err },
		func() error { _, err := f.svc.Rollback(ctx, "nope", "", "alice"); return err },
	} {
		if err := call(); !errors.Is(err, ErrUnknownWorkflow) {
			t.Errorf("err = %v, want ErrUnknownWorkflow", err)
		}
	}
}

func TestStoreErrorsAreWrapped(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, readyGate())
	f.store.Fail(cutover.ErrUnavailable)
	_, errSet := f.svc.Set(ctx, SetRequest{Workflow: "create-order", Mode: cutover.ModeOff, Reason: "r", By: "a"})
	_, errGet := f.svc.Get(ctx, "create-order")
	_, errList := f.svc.List(ctx)
	_, errHist := f.svc.History(ctx, "create-order")
	_, errRb := f.svc.Rollback(ctx, "create-order", "", "a")
	for i, err := range []error{errSet, errGet, errList, errHist, errRb} {
		if !errors.Is(err, cutover.ErrUnavailable) {
			t.Errorf("call %d: err = %v, want it to wrap ErrUnavailable", i, err)
		}
	}
}
