package backendtest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// testDeferred checks cutover.StartDeferrer, for backends whose archive
// implements it: events archived with no write of their own are found,
// finish with their legacy side, and are swept when they never finish.
func testDeferred(t *testing.T, s cutover.Stores) {
	d := s.Archive.(cutover.StartDeferrer)
	f := s.Idempotency.(cutover.Finisher)
	ctx := testContext(t)
	wf := uniq("wf")
	legacy := &cutover.Outcome{Status: 200, Body: cutover.Body(`{"id":1}`), At: time.Now().UTC()}
	async := &cutover.Outcome{Status: 200, Body: cutover.Body(`{"id":2}`), At: time.Now().UTC()}
	ran, swept, lost := newEvent(wf, cutover.RespondStep, uniq("corr"), time.Now().UTC()),
		newEvent(wf, cutover.RespondStep, uniq("corr"), time.Now().UTC()),
		newEvent(wf, cutover.RespondStep, uniq("corr"), time.Now().UTC())
	evs := []*cutover.Event{ran, swept, lost}
	regs := make([]cutover.Registration, len(evs))
	for i, ev := range evs {
		regs[i] = cutover.Registration{Event: ev, Legacy: legacy}
	}
	refs, err := d.ArchiveDeferred(ctx, regs)
	if err != nil {
		t.Fatalf("ArchiveDeferred: %v", err)
	}
	for _, ev := range evs {
		if refs[ev.ID] == "" {
			t.Fatalf("no archive reference for %s in %v", ev.ID, refs)
		}
		got, err := s.Archive.Event(ctx, ev.ID)
		if err != nil {
			t.Fatalf("Event(%s) before it ran: %v", ev.ID, err)
		}
		if diff := cmp.Diff(ev, got); diff != "" {
			t.Errorf("archived event (-want +got):\n%s", diff)
		}
		// Its start is deferred: no pair yet, unless a sweep (another
		// subtest's, running in parallel) wrote its legacy side.
		if p, err := s.Outcomes.OutcomePair(ctx, ev.ID, 0); err == nil && p.Async != nil || err != nil && !errors.Is(err, cutover.ErrNotFound) {
			t.Errorf("pair of %s before it ran: %+v, %v; want none, or the legacy side only", ev.ID, p, err)
		}
	}
	if got, err := s.Archive.Events(ctx, cutover.EventQuery{Workflow: wf}); err != nil || len(got) != 3 {
		t.Errorf("Events(workflow) = %d events, %v; want 3", len(got), err)
	}
	finish := func(ev *cutover.Event) cutover.FinishResult {
		t.Helper()
		k := cutover.IdempotencyKey{Workflow: wf, Step: cutover.RespondStep, Key: ev.ID}
		c, err := s.Idempotency.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: ev.ID, Lease: time.Minute})
		if err != nil || c.State != cutover.ClaimAcquired {
			t.Fatalf("claim: %+v, %v", c, err)
		}
		res, err := f.Finish(ctx, cutover.Finish{Key: k, Epoch: c.Epoch, Outcome: async, Pair: &cutover.PairRef{Workflow: wf, EventID: ev.ID},
			EventID: ev.ID, Expect: 0, Start: &cutover.DeferredStart{Ref: refs[ev.ID], Legacy: legacy},
			Transitions: []cutover.Transition{{Kind: cutover.TransitionReceived}, {Kind: cutover.TransitionStarted}, {Kind: cutover.TransitionSucceeded}}})
		if err != nil {
			t.Fatalf("Finish(%s): %v", ev.ID, err)
		}
		return res
	}
	res := finish(ran)
	if !res.Complete || res.Version != 3 || res.Pair.Legacy == nil || res.Pair.Async == nil {
		t.Errorf("Finish of a deferred event = %+v; want the pair completed with both sides at once", res)
	}
	if got, err := s.Archive.Event(ctx, ran.ID); err != nil || got.ID != ran.ID {
		t.Errorf("Event after it ran: %v, %v", got, err)
	}

	// The sweep writes the legacy sides of the events that did not run.
	ps, err := s.Outcomes.Unpaired(ctx, time.Now().Add(time.Second), 100000)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, p := range ps {
		if p.Workflow == wf {
			listed[p.EventID] = true
			if p.Legacy == nil || p.Async != nil {
				t.Errorf("Unpaired listed %s with sides %v / %v; want the legacy side only", p.EventID, p.Legacy, p.Async)
			}
		}
	}
	if diff := cmp.Diff(map[string]bool{swept.ID: true, lost.ID: true}, listed); diff != "" {
		t.Errorf("Unpaired (-want +got):\n%s", diff)
	}
	// A worker that finishes after the sweep wrote the legacy side
	// completes the pair as usual.
	if res := finish(swept); !res.Complete || res.Pair.Legacy == nil {
		t.Errorf("Finish after the sweep = %+v; want the pair completed", res)
	}
	p, complete, err := s.Outcomes.PutOutcome(ctx, wf, lost.ID, 0, cutover.SideAsync, &cutover.Outcome{Missing: true})
	if err != nil || !complete || p.Legacy == nil {
		t.Errorf("recording the lost event's async side as missing: %+v, %v, %v; want the pair completed", p, complete, err)
	}
	ps, err = s.Outcomes.Unpaired(ctx, time.Now().Add(time.Second), 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Workflow == wf {
			t.Errorf("Unpaired still lists %s once every pair is complete", p.EventID)
		}
	}
}
