package flags

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	cutover "github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/flags/flagstest"
	"github.com/google/go-cmp/cmp"
)

// interloper runs a competing change just before the first SetFlag it sees,
// so that write loses deterministically with ErrVersionConflict.
type interloper struct {
	cutover.FlagStore
	once    sync.Once
	compete func()
}

func (s *interloper) SetFlag(ctx context.Context, f cutover.Flag, ch cutover.FlagChange) error {
	s.once.Do(s.compete)
	return s.FlagStore.SetFlag(ctx, f, ch)
}

func TestSetRetriesAVersionConflict(t *testing.T) {
	tests := []struct {
		name     string
		start    cutover.Flag // stored version 1
		theirs   SetRequest   // wins the race
		ours     SetRequest
		gate     *fakeGate
		wantErr  bool // a *GateError: re-validated against their flag
		wantFrom cutover.Mode
	}{
		{
			name:   "re-read changes the from state",
			start:  cutover.Flag{Mode: cutover.ModeShadow},
			theirs: SetRequest{Mode: cutover.ModeCutover, Reason: "theirs", By: "bob"},
			ours:   SetRequest{Mode: cutover.ModeCanary, Percent: 20, Reason: "ours", By: "alice"},
			gate:   readyGate(), wantFrom: cutover.ModeCutover,
		},
		{
			name:    "re-validation turns a demotion into a gated promotion",
			start:   cutover.Flag{Mode: cutover.ModeCanary, Percent: 50},
			theirs:  SetRequest{Mode: cutover.ModeCanary, Percent: 10, Reason: "theirs", By: "bob"},
			ours:    SetRequest{Mode: cutover.ModeCanary, Percent: 20, Reason: "ours", By: "alice"},
			gate:    failingGate(),
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			cfg := testConfig(t)
			mem := flagstest.New()
			tt.start.Workflow, tt.start.Version = "create-order", 1
			put(t, mem, tt.start)
			other, err := NewService(mem, cfg, tt.gate, ServiceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			st := &interloper{FlagStore: mem, compete: func() {
				tt.theirs.Workflow = "create-order"
				if _, err := other.Set(ctx, tt.theirs); err != nil {
					t.Errorf("competing Set: %v", err)
				}
			}}
			svc, err := NewService(st, cfg, tt.gate, ServiceOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tt.ours.Workflow = "create-order"
			res, err := svc.Set(ctx, tt.ours)
			if tt.wantErr {
				var ge *GateError
				if !errors.As(err, &ge) {
					t.Fatalf("err = %v, want a *GateError after re-validating", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Change.Version != 3 || res.Change.FromMode != tt.wantFrom {
				t.Errorf("change = version %d from %s, want version 3 from %s", res.Change.Version, res.Change.FromMode, tt.wantFrom)
			}
		})
	}
}

func TestSetGivesUpAfterMaxAttempts(t *testing.T) {
	st := alwaysConflicts{flagstest.New()}
	svc, err := NewService(st, testConfig(t), readyGate(), ServiceOptions{MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Set(context.Background(), SetRequest{Workflow: "create-order", Mode: cutover.ModeOff, Reason: "r", By: "a"})
	if !errors.Is(err, cutover.ErrVersionConflict) {
		t.Fatalf("err = %v, want ErrVersionConflict", err)
	}
	if want := "flags: write create-order: gave up after 3 concurrent changes: version conflict"; err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
}

type alwaysConflicts struct{ cutover.FlagStore }

func (alwaysConflicts) SetFlag(context.Context, cutover.Flag, cutover.FlagChange) error {
	return cutover.ErrVersionConflict
}

// Two processes change one workflow at the same time: every change lands
// exactly once, the history is an unbroken chain, and both snapshots end on
// the stored flag.
func TestConcurrentServicesStayConsistent(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t)
	st := flagstest.New()
	const perService = 40
	type proc struct {
		snap *Snapshot
		ref  *Refresher
		svc  *Service
	}
	var procs []proc
	for range 2 {
		snap := newTestSnapshot(t)
		ref, err := NewRefresher(st, snap, RefresherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := NewService(st, cfg, readyGate(), ServiceOptions{Snapshot: snap, MaxAttempts: 1000})
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, proc{snap, ref, svc})
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*perService)
	for p, pr := range procs {
		wg.Go(func() {
			for i := range perService {
				req := SetRequest{Workflow: "create-order", Mode: cutover.ModeCanary, Percent: float64(1 + i), Reason: fmt.Sprintf("p%d step %d", p, i), By: fmt.Sprintf("p%d", p)}
				if i%3 == 2 {
					req.Mode, req.Percent = cutover.ModeShadow, 0
				}
				if _, err := pr.svc.Set(ctx, req); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Set: %v", err)
	}

	h, err := procs[0].svc.History(ctx, "create-order")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2*perService {
		t.Fatalf("history has %d entries, want %d", len(h), 2*perService)
	}
	prevMode, prevPercent := cutover.ModeShadow, 0.0
	for i, c := range h {
		if c.Version != int64(i+1) || c.FromMode != prevMode || c.FromPercent != prevPercent {
			t.Fatalf("history[%d] = version %d from %s %v, want version %d from %s %v", i, c.Version, c.FromMode, c.FromPercent, i+1, prevMode, prevPercent)
		}
		prevMode, prevPercent = c.ToMode, c.ToPercent
	}
	stored, err := procs[0].svc.Get(ctx, "create-order")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Version != int64(len(h)) || stored.Mode != prevMode || stored.Percent != prevPercent {
		t.Errorf("stored flag %+v does not match the last history entry %+v", stored, h[len(h)-1])
	}
	for i, pr := range procs {
		if err := pr.ref.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := pr.snap.Flag("create-order")
		if diff := cmp.Diff(stored, got); diff != "" {
			t.Errorf("snapshot %d after refresh (-store +snapshot):\n%s", i, diff)
		}
	}
}
