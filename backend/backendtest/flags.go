package backendtest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

func testFlags(t *testing.T, s cutover.Stores) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, cutover.FlagStore)
	}{
		{"VersionedSetAndHistory", flagsVersioned},
		{"ConcurrentSettersOneWins", flagsConcurrent},
		{"FlagsListsAll", flagsList},
		{"NotFound", flagsNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s.Flags)
		})
	}
}

// change returns the flag at version v and the history entry of moving to it.
func change(workflow string, v int64, from, to cutover.Mode, percent float64, by string) (cutover.Flag, cutover.FlagChange) {
	at := fixedTime().Add(time.Duration(v) * time.Minute)
	reason := fmt.Sprintf("step %d by %s", v, by)
	f := cutover.Flag{Workflow: workflow, Mode: to, Percent: percent, Version: v, UpdatedAt: at, UpdatedBy: by, Reason: reason}
	c := cutover.FlagChange{Workflow: workflow, Version: v, At: at, By: by, Reason: reason, FromMode: from, ToMode: to, ToPercent: percent}
	return f, c
}

func flagHistory(t *testing.T, st cutover.FlagStore, workflow string) []cutover.FlagChange {
	t.Helper()
	h, err := st.FlagHistory(testContext(t), workflow)
	if err != nil {
		t.Fatalf("FlagHistory: %v", err)
	}
	return h
}

func flagsVersioned(t *testing.T, st cutover.FlagStore) {
	ctx := testContext(t)
	wf := uniq("wf")
	f1, c1 := change(wf, 1, cutover.ModeOff, cutover.ModeShadow, 0, "alice")
	if err := st.SetFlag(ctx, f1, c1); err != nil {
		t.Fatalf("SetFlag version 1: %v", err)
	}
	got, err := st.Flag(ctx, wf)
	if err != nil {
		t.Fatalf("Flag: %v", err)
	}
	if diff := cmp.Diff(f1, got); diff != "" {
		t.Errorf("flag after create (-want +got):\n%s", diff)
	}

	for _, v := range []int64{1, 3, 0} {
		f, c := change(wf, v, cutover.ModeShadow, cutover.ModeCutover, 0, "mallory")
		if err := st.SetFlag(ctx, f, c); !errors.Is(err, cutover.ErrVersionConflict) {
			t.Errorf("SetFlag version %d over stored version 1: %v, want ErrVersionConflict", v, err)
		}
	}
	if diff := cmp.Diff([]cutover.FlagChange{c1}, flagHistory(t, st, wf)); diff != "" {
		t.Errorf("history after refused writes (-want +got):\n%s", diff)
	}

	f2, c2 := change(wf, 2, cutover.ModeShadow, cutover.ModeCanary, 12.5, "bob")
	c2.Forced, c2.GateDetail = true, "match rate 97% < 99.9%"
	if err := st.SetFlag(ctx, f2, c2); err != nil {
		t.Fatalf("SetFlag version 2: %v", err)
	}
	f3, c3 := change(wf, 3, cutover.ModeCanary, cutover.ModeShadow, 0, "carol")
	c3.FromPercent = 12.5
	if err := st.SetFlag(ctx, f3, c3); err != nil {
		t.Fatalf("SetFlag version 3: %v", err)
	}
	got, err = st.Flag(ctx, wf)
	if err != nil {
		t.Fatalf("Flag: %v", err)
	}
	if diff := cmp.Diff(f3, got); diff != "" {
		t.Errorf("flag after version 3 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]cutover.FlagChange{c1, c2, c3}, flagHistory(t, st, wf)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
}

func flagsConcurrent(t *testing.T, st cutover.FlagStore) {
	ctx := testContext(t)
	wf := uniq("wf")
	f1, c1 := change(wf, 1, cutover.ModeOff, cutover.ModeShadow, 0, "init")
	if err := st.SetFlag(ctx, f1, c1); err != nil {
		t.Fatalf("SetFlag: %v", err)
	}
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	changes := make([]cutover.FlagChange, n)
	for i := 0; i < n; i++ {
		f, c := change(wf, 2, cutover.ModeShadow, cutover.ModeCanary, float64(i+1), fmt.Sprintf("op-%d", i))
		changes[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = st.SetFlag(ctx, f, c)
		}()
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("setters %d and %d both won version 2", winner, i)
			}
			winner = i
		case !errors.Is(err, cutover.ErrVersionConflict):
			t.Errorf("setter %d: %v, want nil or ErrVersionConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no setter of %d won", n)
	}
	if diff := cmp.Diff([]cutover.FlagChange{c1, changes[winner]}, flagHistory(t, st, wf)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	got, err := st.Flag(ctx, wf)
	if err != nil {
		t.Fatalf("Flag: %v", err)
	}
	if got.Percent != float64(winner+1) || got.Version != 2 {
		t.Errorf("flag %+v, want the winner's (percent %d, version 2)", got, winner+1)
	}
}

func flagsList(t *testing.T, st cutover.FlagStore) {
	ctx := testContext(t)
	want := map[string]cutover.Flag{}
	for _, mode := range []cutover.Mode{cutover.ModeOff, cutover.ModeShadow, cutover.ModeCutover} {
		wf := uniq("wf")
		f, c := change(wf, 1, cutover.ModeOff, mode, 0, "lister")
		if err := st.SetFlag(ctx, f, c); err != nil {
			t.Fatalf("SetFlag: %v", err)
		}
		want[wf] = f
	}
	fs, err := st.Flags(ctx)
	if err != nil {
		t.Fatalf("Flags: %v", err)
	}
	got := map[string]cutover.Flag{}
	for _, f := range fs {
		if _, ok := want[f.Workflow]; ok {
			got[f.Workflow] = f
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Flags (-want +got):\n%s", diff)
	}
}

func flagsNotFound(t *testing.T, st cutover.FlagStore) {
	ctx := testContext(t)
	wf := uniq("wf")
	if _, err := st.Flag(ctx, wf); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("Flag of an unknown workflow: %v, want ErrNotFound", err)
	}
	h, err := st.FlagHistory(ctx, wf)
	if err != nil || len(h) != 0 {
		t.Errorf("FlagHistory of an unknown workflow: %d entries, %v; want none, nil", len(h), err)
	}
}
