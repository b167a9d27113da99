package flags

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	cutover "github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

func TestRollback(t *testing.T) {
	tests := []struct {
		name          string
		from          cutover.Flag // stored at version 1; zero Mode: nothing stored
		reason, by    string
		wantChange    bool
		wantReason    string
		wantBy        string
		wantFromMode  cutover.Mode
		wantFromPct   float64
		wantVersion   int64
		workflow      string
		wantFinalMode cutover.Mode
	}{
		{name: "cutover", workflow: "create-order", from: cutover.Flag{Mode: cutover.ModeCutover}, reason: "p99 doubled", by: "alice",
			wantChange: true, wantReason: "p99 doubled", wantBy: "alice", wantFromMode: cutover.ModeCutover, wantVersion: 2, wantFinalMode: cutover.ModeShadow},
		{name: "canary, default reason and by", workflow: "create-order", from: cutover.Flag{Mode: cutover.ModeCanary, Percent: 25},
			wantChange: true, wantReason: "rollback", wantBy: "unknown", wantFromMode: cutover.ModeCanary, wantFromPct: 25, wantVersion: 2, wantFinalMode: cutover.ModeShadow},
		{name: "config canary, nothing stored", workflow: "get-order", reason: "r", by: "bob",
			wantChange: true, wantReason: "r", wantBy: "bob", wantFromMode: cutover.ModeCanary, wantFromPct: 10, wantVersion: 1, wantFinalMode: cutover.ModeShadow},
		{name: "shadow stays", workflow: "create-order", from: cutover.Flag{Mode: cutover.ModeShadow}, wantVersion: 1, wantFinalMode: cutover.ModeShadow},
		{name: "off stays off", workflow: "ship-order", wantVersion: 0, wantFinalMode: cutover.ModeOff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			// The gate cannot even be evaluated: a rollback must not care.
			f := newFixture(t, &fakeGate{err: errors.New("gate down")})
			if tt.from.Mode != "" {
				tt.from.Workflow, tt.from.Version = tt.workflow, 1
				put(t, f.store, tt.from)
			}
			res, err := f.svc.Rollback(ctx, tt.workflow, tt.reason, tt.by)
			if err != nil {
				t.Fatal(err)
			}
			if f.gate.calls.Load() != 0 {
				t.Error("rollback consulted the gate")
			}
			if res.Flag.Mode != tt.wantFinalMode || res.Flag.Percent != 0 || res.Flag.Version != tt.wantVersion {
				t.Errorf("flag = %s %v version %d, want %s 0 version %d", res.Flag.Mode, res.Flag.Percent, res.Flag.Version, tt.wantFinalMode, tt.wantVersion)
			}
			if !tt.wantChange {
				if res.Change != nil {
					t.Errorf("a workflow with nothing to roll back got a change: %+v", res.Change)
				}
				return
			}
			want := &cutover.FlagChange{Workflow: tt.workflow, Version: tt.wantVersion, At: f.clk.Now(), By: tt.wantBy, Reason: tt.wantReason,
				FromMode: tt.wantFromMode, FromPercent: tt.wantFromPct, ToMode: cutover.ModeShadow}
			if diff := cmp.Diff(want, res.Change); diff != "" {
				t.Errorf("change (-want +got):\n%s", diff)
			}
			if d := f.snap.Decide(tt.workflow, "any"); d.Async || !d.Mirror {
				t.Errorf("the snapshot still routes async after the rollback: %+v", d)
			}
		})
	}
}

func TestRollbackAll(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, failingGate())
	put(t, f.store, cutover.Flag{Workflow: "create-order", Mode: cutover.ModeCanary, Percent: 5, Version: 1})
	res, err := f.svc.RollbackAll(ctx, "incident 42", "alice")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res {
		got = append(got, r.Flag.Workflow+" "+string(r.Flag.Mode)+" changed="+strconv.FormatBool(r.Change != nil))
	}
	want := []string{
		"create-order shadow changed=true",
		"get-order shadow changed=true",   // config canary
		"ship-order off changed=false",    // left off
		"pay-invoice shadow changed=true", // config cutover
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RollbackAll (-want +got):\n%s", diff)
	}
	for _, fl := range f.snap.Flags() {
		if fl.Mode.PastShadow() {
			t.Errorf("snapshot still has %s in %s", fl.Workflow, fl.Mode)
		}
	}

	f.store.Fail(cutover.ErrUnavailable)
	_, err = f.svc.RollbackAll(ctx, "", "alice")
	if !errors.Is(err, cutover.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	for _, name := range []string{"create-order", "get-order", "ship-order", "pay-invoice"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}
