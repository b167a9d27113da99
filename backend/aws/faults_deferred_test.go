package aws

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

// TestFaultsDeferredRoundTrips runs the shadow path with deferred starts
// (ArchiveDeferred, then Claim and one Finish per event) under throttling,
// 503s and lost answers: every event is archived once, finishes once with
// both sides of its pair, and logs received, started, succeeded.
func TestFaultsDeferredRoundTrips(t *testing.T) {
	if testing.Short() {
		t.Skip("fault injection against the local servers")
	}
	b, ft := faultyBackend(t, 0.2)
	ctx := testContext(t)
	tb, arch := b.Table(), b.Archive()
	const n, batch = 300, 10
	wf := "faults-deferred-" + randHex(3)
	legacy := &cutover.Outcome{Status: 200, Body: cutover.Body(`{"side":"legacy"}`), At: time.Now().UTC()}
	ft.setEnabled(true)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	var completes atomic.Int64
	var idsMu sync.Mutex
	var ids []string
	for start := 0; start < n; start += batch {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			regs := make([]cutover.Registration, batch)
			for i := range regs {
				ev := &cutover.Event{ID: cutover.NewEventID(), Workflow: wf, Step: cutover.RespondStep, Mode: cutover.EventShadow,
					IdempotencyKey: fmt.Sprintf("k-%d", start+i), CorrelationID: "c", ReceivedAt: time.Now().UTC(),
					Request: cutover.Request{Method: "POST", Path: "/x", Body: cutover.Body(`{}`)}}
				regs[i] = cutover.Registration{Event: ev, Legacy: legacy}
			}
			var refs map[string]string
			var err error
			for try := 0; try < 5; try++ { // the publisher retries a failed batch
				if refs, err = arch.ArchiveDeferred(ctx, regs); err == nil {
					break
				}
			}
			if err != nil {
				t.Errorf("ArchiveDeferred: %v", err)
				return
			}
			for _, r := range regs {
				ev := r.Event
				k := cutover.IdempotencyKey{Workflow: wf, Step: cutover.RespondStep, Key: ev.IdempotencyKey}
				c, err := tb.Claim(ctx, cutover.ClaimRequest{Key: k, PayloadHash: "h", EventID: ev.ID, Lease: time.Minute})
				if err != nil || c.State != cutover.ClaimAcquired {
					t.Errorf("claim %s: %+v, %v", ev.ID, c, err)
					return
				}
				res, err := tb.Finish(ctx, cutover.Finish{Key: k, Epoch: c.Epoch, Outcome: &cutover.Outcome{Status: 200}, Pair: &cutover.PairRef{Workflow: wf, EventID: ev.ID},
					EventID: ev.ID, Start: &cutover.DeferredStart{Ref: refs[ev.ID], Legacy: legacy},
					Transitions: []cutover.Transition{{Kind: cutover.TransitionReceived}, {Kind: cutover.TransitionStarted}, {Kind: cutover.TransitionSucceeded}}})
				if err != nil || !res.Complete || res.Pair.Legacy == nil || res.Pair.Async == nil {
					t.Errorf("finish %s: %+v, %v; want the pair completed", ev.ID, res, err)
					return
				}
				completes.Add(1)
				idsMu.Lock()
				ids = append(ids, ev.ID)
				idsMu.Unlock()
			}
		}()
	}
	wg.Wait()
	ft.setEnabled(false)
	if got := completes.Load(); got != n {
		t.Fatalf("%d of %d pairs completed", got, n)
	}
	for _, id := range ids {
		h, err := tb.History(ctx, id)
		if err != nil || len(h) != 3 {
			t.Fatalf("history of %s: %d entries, %v; want received, started, succeeded", id, len(h), err)
		}
		if _, err := arch.Event(ctx, id); err != nil {
			t.Fatalf("event %s: %v", id, err)
		}
	}
	ps, err := tb.Unpaired(ctx, time.Now().Add(time.Second), 100000)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Workflow == wf {
			t.Errorf("Unpaired lists %s, whose pair is complete", p.EventID)
		}
	}
	ft.report(t)
}
