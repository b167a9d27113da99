package backendtest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
)

func testTransitions(t *testing.T, s cutover.Stores) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, cutover.TransitionLog)
	}{
		{"AppendAndHistory", transAppend},
		{"StaleVersionIsConflict", transStale},
		{"ConcurrentAppendsOneWins", transConcurrent},
		{"UnknownEventHasEmptyHistory", transUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s.Transitions)
		})
	}
}

func history(t *testing.T, log cutover.TransitionLog, id string) []cutover.Transition {
	t.Helper()
	h, err := log.History(testContext(t), id)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	return h
}

func transAppend(t *testing.T, log cutover.TransitionLog) {
	ctx := testContext(t)
	id := cutover.NewEventID()
	before := time.Now()
	v, err := log.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived})
	if err != nil {
		t.Fatalf("Append at 0: %v", err)
	}
	if v != 1 {
		t.Errorf("Append at 0 returned version %d, want 1", v)
	}
	h := history(t, log, id)
	if len(h) != 1 {
		t.Fatalf("history has %d entries, want 1", len(h))
	}
	if h[0].Seq != 1 || h[0].Kind != cutover.TransitionReceived {
		t.Errorf("first entry %+v, want Seq 1 and kind received", h[0])
	}
	if h[0].At.Before(before.Add(-2*time.Second)) || h[0].At.After(time.Now().Add(2*time.Second)) {
		t.Errorf("At %v was not filled in with the time of the append", h[0].At)
	}

	at := fixedTime()
	more := []cutover.Transition{
		{Kind: cutover.TransitionStarted, At: at, Attempt: 1, Epoch: 1, Worker: "w-1"},
		{Kind: cutover.TransitionRetryScheduled, At: at.Add(time.Second), Attempt: 1, Epoch: 1, Delay: cutover.Duration(1500 * time.Millisecond), Detail: "upstream 503", Worker: "w-1"},
		{Kind: cutover.TransitionStarted, At: at.Add(3 * time.Second), Attempt: 2, Epoch: 2, Worker: "w-2"},
	}
	v, err = log.Append(ctx, id, 1, more...)
	if err != nil {
		t.Fatalf("Append at 1: %v", err)
	}
	if v != 4 {
		t.Errorf("Append of 3 at 1 returned version %d, want 4", v)
	}
	v, err = log.Append(ctx, id, 4, cutover.Transition{Kind: cutover.TransitionSucceeded, At: at.Add(4 * time.Second), Attempt: 2, Epoch: 2})
	if err != nil || v != 5 {
		t.Fatalf("Append at 4: version %d, %v; want 5", v, err)
	}
	want := []cutover.Transition{h[0]}
	for i, tr := range append(more, cutover.Transition{Kind: cutover.TransitionSucceeded, At: at.Add(4 * time.Second), Attempt: 2, Epoch: 2}) {
		tr.Seq = i + 2
		want = append(want, tr)
	}
	got := history(t, log, id)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	for _, tr := range got {
		if tr.At.Location() != time.UTC {
			t.Errorf("entry %d: At %v is not in UTC", tr.Seq, tr.At)
		}
	}
}

func transStale(t *testing.T, log cutover.TransitionLog) {
	ctx := testContext(t)
	id := cutover.NewEventID()
	if _, err := log.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if _, err := log.Append(ctx, id, 1, cutover.Transition{Kind: cutover.TransitionStarted}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	before := history(t, log, id)
	for _, expect := range []int{0, 1, 3} {
		_, err := log.Append(ctx, id, expect, cutover.Transition{Kind: cutover.TransitionSucceeded}, cutover.Transition{Kind: cutover.TransitionCompared})
		if !errors.Is(err, cutover.ErrVersionConflict) {
			t.Errorf("Append at %d to a log at 2: %v, want ErrVersionConflict", expect, err)
		}
	}
	if diff := cmp.Diff(before, history(t, log, id)); diff != "" {
		t.Errorf("refused appends changed the history (-before +after):\n%s", diff)
	}
}

func transConcurrent(t *testing.T, log cutover.TransitionLog) {
	ctx := testContext(t)
	id := cutover.NewEventID()
	if _, err := log.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	const n = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = log.Append(ctx, id, 1, cutover.Transition{Kind: cutover.TransitionStarted, Attempt: 1, Worker: "w-" + string(rune('a'+i))})
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, cutover.ErrVersionConflict):
			t.Errorf("append %d: %v, want nil or ErrVersionConflict", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent appends at the same version won, want 1", won, n)
	}
	if h := history(t, log, id); len(h) != 2 {
		t.Errorf("history has %d entries, want 2", len(h))
	}
}

func transUnknown(t *testing.T, log cutover.TransitionLog) {
	h, err := log.History(testContext(t), cutover.NewEventID())
	if err != nil {
		t.Fatalf("History of an unknown event: %v", err)
	}
	if len(h) != 0 {
		t.Errorf("History of an unknown event has %d entries", len(h))
	}
}
