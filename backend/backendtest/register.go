package backendtest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// testRegister checks cutover.Registrar, for backends whose archive
// implements it: one call archives events, starts their logs and records
// legacy sides, and doing it again changes nothing.
func testRegister(t *testing.T, s cutover.Stores) {
	r := s.Archive.(cutover.Registrar)
	ctx := testContext(t)
	wf := uniq("wf")
	received := func(ev *cutover.Event) cutover.Transition {
		return cutover.Transition{Kind: cutover.TransitionReceived, At: ev.ReceivedAt}
	}
	shadow := newEvent(wf, cutover.RespondStep, uniq("corr"), time.Now().UTC())
	plain := newEvent(wf, cutover.RespondStep, uniq("corr"), time.Now().UTC())
	legacy := &cutover.Outcome{Status: 200, Body: cutover.Body(`{"id":1}`), At: time.Now().UTC()}
	regs := []cutover.Registration{{Event: shadow, First: received(shadow), Legacy: legacy}, {Event: plain, First: received(plain)}}
	pairs, err := r.Register(ctx, regs)
	if err != nil || len(pairs) != 0 {
		t.Fatalf("Register = %v, %v; want no completed pairs", pairs, err)
	}
	for _, ev := range []*cutover.Event{shadow, plain} {
		got, err := s.Archive.Event(ctx, ev.ID)
		if err != nil {
			t.Fatalf("Event(%s): %v", ev.ID, err)
		}
		if diff := cmp.Diff(ev, got); diff != "" {
			t.Errorf("archived event (-want +got):\n%s", diff)
		}
		h, err := s.Transitions.History(ctx, ev.ID)
		if err != nil || len(h) != 1 || h[0].Kind != cutover.TransitionReceived || h[0].Seq != 1 {
			t.Errorf("History(%s) = %+v, %v; want the received entry as version 1", ev.ID, h, err)
		}
	}
	p, err := s.Outcomes.OutcomePair(ctx, shadow.ID, 0)
	if err != nil || p.Async != nil || p.Workflow != wf {
		t.Fatalf("pair = %+v, %v; want the legacy side of %s", p, err, wf)
	}
	if diff := cmp.Diff(legacy, p.Legacy); diff != "" {
		t.Errorf("legacy side (-want +got):\n%s", diff)
	}
	if _, err := s.Outcomes.OutcomePair(ctx, plain.ID, 0); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("pair of the event registered without a legacy side: %v, want ErrNotFound", err)
	}
	ps, err := s.Outcomes.Unpaired(ctx, time.Now().Add(time.Second), 100000)
	if err != nil {
		t.Fatal(err)
	}
	listed := false
	for _, p := range ps {
		listed = listed || p.EventID == shadow.ID
	}
	if !listed {
		t.Errorf("Unpaired does not list the registered legacy side")
	}
	evs, err := s.Archive.Events(ctx, cutover.EventQuery{Workflow: wf})
	if err != nil || len(evs) != 2 {
		t.Errorf("Events(workflow) = %d events, %v; want 2", len(evs), err)
	}

	// Again, after the log moved on and the async side arrived (a publish
	// retried after the event ran): the log is left as it is, and the
	// legacy side is not recorded twice.
	if _, err := s.Transitions.Append(ctx, shadow.ID, 1, cutover.Transition{Kind: cutover.TransitionStarted}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Outcomes.PutOutcome(ctx, wf, shadow.ID, 0, cutover.SideAsync, &cutover.Outcome{Status: 200}); err != nil {
		t.Fatal(err)
	}
	if pairs, err := r.Register(ctx, regs); err != nil || len(pairs) != 0 {
		t.Fatalf("Register again = %v, %v; want nothing new", pairs, err)
	}
	if h, err := s.Transitions.History(ctx, shadow.ID); err != nil || len(h) != 2 {
		t.Errorf("History after registering again: %d entries, %v; want 2", len(h), err)
	}

	// A legacy side registered after the async side completes the pair,
	// and Register returns it for comparing.
	late := newEvent(wf, cutover.RespondStep, uniq("corr"), time.Now().UTC())
	if _, _, err := s.Outcomes.PutOutcome(ctx, wf, late.ID, 0, cutover.SideAsync, &cutover.Outcome{Status: 201}); err != nil {
		t.Fatal(err)
	}
	pairs, err = r.Register(ctx, []cutover.Registration{{Event: late, First: received(late), Legacy: legacy}})
	if err != nil || len(pairs) != 1 || pairs[0].EventID != late.ID || pairs[0].Legacy == nil || pairs[0].Async == nil {
		t.Errorf("Register after the async side = %+v, %v; want the completed pair", pairs, err)
	}
}
