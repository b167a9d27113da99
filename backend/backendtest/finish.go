package backendtest

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// testFinish checks cutover.Finisher, which both backends implement: the
// worker ends every successful attempt with it.
func testFinish(t *testing.T, s cutover.Stores) {
	f, ok := s.Idempotency.(cutover.Finisher)
	if !ok {
		t.Fatalf("%T does not implement cutover.Finisher", s.Idempotency)
	}
	ctx := testContext(t)
	wf := uniq("wf")
	claim := func(t *testing.T, k cutover.IdempotencyKey, id string, lease time.Duration) int64 {
		t.Helper()
		c, err := s.Idempotency.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: id, Lease: lease})
		if err != nil || c.State != cutover.ClaimAcquired {
			t.Fatalf("claim: %+v, %v", c, err)
		}
		return c.Epoch
	}
	start := func(t *testing.T) (cutover.IdempotencyKey, string, int64) {
		t.Helper()
		id := cutover.NewEventID()
		k := cutover.IdempotencyKey{Workflow: wf, Step: cutover.RespondStep, Key: id}
		epoch := claim(t, k, id, time.Minute)
		if _, err := s.Transitions.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
			t.Fatal(err)
		}
		return k, id, epoch
	}
	out := &cutover.Outcome{Status: 201, Body: cutover.Body(`{"ok":true}`), At: time.Now().UTC()}
	succeeded := []cutover.Transition{{Kind: cutover.TransitionStarted}, {Kind: cutover.TransitionSucceeded}}
	kinds := func(t *testing.T, id string) []cutover.TransitionKind {
		t.Helper()
		h, err := s.Transitions.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var ks []cutover.TransitionKind
		for _, tr := range h {
			ks = append(ks, tr.Kind)
		}
		return ks
	}
	pairOf := func(id string) *cutover.PairRef { return &cutover.PairRef{Workflow: wf, EventID: id} }

	t.Run("writes all three", func(t *testing.T) {
		k, id, epoch := start(t)
		res, err := f.Finish(ctx, cutover.Finish{Key: k, Epoch: epoch, Outcome: out, Pair: pairOf(id), EventID: id, Expect: 1, Transitions: succeeded})
		if err != nil || res.Version != 3 || res.Complete {
			t.Fatalf("Finish = %+v, %v; want version 3, pair not complete", res, err)
		}
		rec, err := s.Idempotency.IdempotencyRecord(ctx, k)
		if err != nil || !rec.Completed || rec.Outcome == nil || rec.Outcome.Status != 201 {
			t.Errorf("record %+v, %v; want completed with status 201", rec, err)
		}
		pair, err := s.Outcomes.OutcomePair(ctx, id, 0)
		if err != nil || pair.Async == nil || pair.Async.Status != 201 || pair.Legacy != nil || pair.Workflow != wf {
			t.Errorf("pair %+v, %v; want the async side only", pair, err)
		}
		if diff := cmp.Diff([]cutover.TransitionKind{cutover.TransitionReceived, cutover.TransitionStarted, cutover.TransitionSucceeded}, kinds(t, id)); diff != "" {
			t.Errorf("log (-want +got):\n%s", diff)
		}
		// A duplicate claim gets the stored outcome.
		c, err := s.Idempotency.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: cutover.NewEventID(), Lease: time.Minute})
		if err != nil || c.State != cutover.ClaimCompleted || c.Outcome == nil || c.Outcome.Status != 201 {
			t.Errorf("claim after Finish: %+v, %v; want completed with the outcome", c, err)
		}
		// A second Finish of the completed key writes nothing more.
		if _, err := f.Finish(ctx, cutover.Finish{Key: k, Epoch: epoch, Outcome: out, EventID: id, Expect: 3, Transitions: succeeded}); !errors.Is(err, cutover.ErrAlreadyRecorded) {
			t.Errorf("second Finish: %v, want ErrAlreadyRecorded", err)
		}
		if _, err := s.Idempotency.IdempotencyRecord(ctx, k); err != nil {
			t.Fatal(err)
		}
		if n := len(kinds(t, id)); n != 3 {
			t.Errorf("log has %d entries after the refused Finish, want 3", n)
		}
	})
	t.Run("completes the pair", func(t *testing.T) {
		k, id, epoch := start(t)
		if _, _, err := s.Outcomes.PutOutcome(ctx, wf, id, 0, cutover.SideLegacy, &cutover.Outcome{Status: 200}); err != nil {
			t.Fatal(err)
		}
		res, err := f.Finish(ctx, cutover.Finish{Key: k, Epoch: epoch, Outcome: out, Pair: pairOf(id), EventID: id, Expect: 1, Transitions: succeeded})
		if err != nil || !res.Complete || res.Pair.Legacy == nil || res.Pair.Legacy.Status != 200 || res.Pair.Async == nil || res.Pair.Async.Status != 201 {
			t.Fatalf("Finish = %+v, %v; want the pair completed with both sides", res, err)
		}
	})
	t.Run("async first, legacy completes", func(t *testing.T) {
		k, id, epoch := start(t)
		if res, err := f.Finish(ctx, cutover.Finish{Key: k, Epoch: epoch, Outcome: out, Pair: pairOf(id), EventID: id, Expect: 1, Transitions: succeeded}); err != nil || res.Complete {
			t.Fatalf("Finish = %+v, %v; want the pair started", res, err)
		}
		ps, err := s.Outcomes.Unpaired(ctx, time.Now().Add(time.Second), 100000)
		if err != nil {
			t.Fatal(err)
		}
		listed := false
		for _, p := range ps {
			listed = listed || p.EventID == id
		}
		if !listed {
			t.Errorf("Unpaired does not list the pair the async side started")
		}
		p, complete, err := s.Outcomes.PutOutcome(ctx, wf, id, 0, cutover.SideLegacy, &cutover.Outcome{Status: 200})
		if err != nil || !complete || p.Async == nil || p.Async.Status != 201 {
			t.Errorf("legacy side: %+v, complete %v, %v; want it to complete the pair", p, complete, err)
		}
	})
	t.Run("the async side recorded before stays", func(t *testing.T) {
		k, id, epoch := start(t)
		if _, _, err := s.Outcomes.PutOutcome(ctx, wf, id, 0, cutover.SideAsync, &cutover.Outcome{Status: 202}); err != nil {
			t.Fatal(err)
		}
		res, err := f.Finish(ctx, cutover.Finish{Key: k, Epoch: epoch, Outcome: out, Pair: pairOf(id), EventID: id, Expect: 1, Transitions: succeeded})
		if err != nil || res.Complete || res.Version != 3 {
			t.Fatalf("Finish = %+v, %v; want the key completed, the pair left alone", res, err)
		}
		pair, err := s.Outcomes.OutcomePair(ctx, id, 0)
		if err != nil || pair.Async == nil || pair.Async.Status != 202 {
			t.Errorf("pair %+v, %v; want the first async side kept", pair, err)
		}
		if rec, err := s.Idempotency.IdempotencyRecord(ctx, k); err != nil || !rec.Completed || rec.Outcome.Status != 201 {
			t.Errorf("record %+v, %v; want completed with this attempt's outcome", rec, err)
		}
	})
	t.Run("refusals write nothing", func(t *testing.T) {
		id := cutover.NewEventID()
		k := cutover.IdempotencyKey{Workflow: wf, Step: cutover.RespondStep, Key: id}
		old := claim(t, k, id, 50*time.Millisecond)
		if _, err := s.Transitions.Append(ctx, id, 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(120 * time.Millisecond)
		cur := claim(t, k, id, time.Minute) // the lease expired: taken over
		if cur <= old {
			t.Fatalf("takeover epoch %d, want above %d", cur, old)
		}
		if _, err := f.Finish(ctx, cutover.Finish{Key: k, Epoch: old, Outcome: out, Pair: pairOf(id), EventID: id, Expect: 1, Transitions: succeeded}); !errors.Is(err, cutover.ErrFenced) {
			t.Errorf("stale epoch: %v, want ErrFenced", err)
		}
		if _, err := f.Finish(ctx, cutover.Finish{Key: k, Epoch: cur, Outcome: out, Pair: pairOf(id), EventID: id, Expect: 0, Transitions: succeeded}); !errors.Is(err, cutover.ErrVersionConflict) {
			t.Errorf("stale version: %v, want ErrVersionConflict", err)
		}
		rec, err := s.Idempotency.IdempotencyRecord(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		_, perr := s.Outcomes.OutcomePair(ctx, id, 0)
		if rec.Completed || !errors.Is(perr, cutover.ErrNotFound) || len(kinds(t, id)) != 1 {
			t.Errorf("after refusals: completed %v, pair %v, log %v; want nothing written", rec.Completed, perr, kinds(t, id))
		}
		// The new holder finishes.
		if res, err := f.Finish(ctx, cutover.Finish{Key: k, Epoch: cur, Outcome: out, Pair: pairOf(id), EventID: id, Expect: 1, Transitions: succeeded}); err != nil || res.Version != 3 {
			t.Errorf("new holder's Finish = %+v, %v", res, err)
		}
	})
}
