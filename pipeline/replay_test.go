package pipeline

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

func newReplayer(e *env) *Replayer {
	return NewReplayer(e.cfg, ReplayStores{Queue: e.stores.Queue, Archive: e.stores.Archive, Transitions: e.stores.Transitions, Outcomes: e.stores.Outcomes, Comparisons: e.stores.Comparisons}, e.pub)
}

// Events dead-lettered by a failing handler are replayed from the DLQ once
// the handler is fixed: a new epoch, run afresh in shadow, the DLQ emptied.
func TestReplayFromDLQ(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", ""))
	var broken atomic.Bool
	broken.Store(true)
	h := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		if broken.Load() {
			return nil, cutover.Permanent(errors.New("bug"))
		}
		return &cutover.Outcome{Status: 201}, nil
	})
	evs := []*cutover.Event{e.event("orders", "k-d1", `{"n":1}`), e.event("orders", "k-d2", `{"n":2}`)}
	e.publish(evs...)
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}})
	for id, s := range e.waitState(10*time.Second, evs[0].ID, evs[1].ID) {
		if s != cutover.StateDeadLettered {
			t.Fatalf("%s: %s, want dead_lettered", id, s)
		}
	}
	r := newReplayer(e)
	dry, err := r.Replay(context.Background(), ReplayRequest{Workflow: "orders", DLQ: true, DryRun: true})
	if err != nil || dry.Selected != 2 || dry.Published != 0 {
		t.Fatalf("dry run = %+v, %v; want 2 selected, none published", dry, err)
	}
	broken.Store(false)
	time.Sleep(1100 * time.Millisecond) // the dry run hid the DLQ messages for 1s
	res, err := r.Replay(context.Background(), ReplayRequest{Workflow: "orders", DLQ: true})
	if err != nil || res.Published != 2 || res.ByEpoch[1] != 2 {
		t.Fatalf("replay = %+v, %v; want 2 published at epoch 1", res, err)
	}
	for id, s := range e.waitState(10*time.Second, evs[0].ID, evs[1].ID) {
		if s != cutover.StateSucceeded {
			t.Errorf("%s after replay: %s, want succeeded", id, s)
		}
	}
	waitQueueEmpty(t, e, cutover.DeadLetterName("orders", cutover.RespondStep))
	pair, err := e.stores.Outcomes.OutcomePair(context.Background(), evs[0].ID, 1)
	if err != nil || pair.Async == nil || pair.Async.Status != 201 {
		t.Errorf("epoch 1 outcome = %+v, %v", pair.Async, err)
	}
	if pair.Legacy == nil || pair.Legacy.Skipped == "" {
		t.Errorf("epoch 1 legacy side = %+v, want a skipped placeholder (no legacy outcome was recorded)", pair.Legacy)
	}
}

// A live replay respects idempotency: a completed key returns its stored
// outcome and the target is not called again.
func TestLiveReplayRespectsIdempotency(t *testing.T) {
	tg := newTarget(t)
	e := newEnv(t, baseConfig(tg.srv.URL+"/orders", ""))
	ev := e.event("orders", "k-live", `{"n":1}`)
	ev.Mode = cutover.EventLive
	e.publish(ev)
	e.worker(Options{})
	e.waitState(10*time.Second, ev.ID)
	res, err := newReplayer(e).Replay(context.Background(), ReplayRequest{Workflow: "orders", Live: true})
	if err != nil || res.Published != 1 {
		t.Fatalf("replay = %+v, %v", res, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := e.history(ev.ID)
		if last := h[len(h)-1]; last.Kind == cutover.TransitionSucceeded && len(h) > 4 {
			if last.Detail != "replayed live: the key was completed, its stored outcome is reused" {
				t.Errorf("replayed live event ended with %q, want the stored outcome reused", last.Detail)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live replay did not finish: %v", kinds(h))
		}
		time.Sleep(10 * time.Millisecond)
	}
	calls, _ := tg.snapshot()
	if calls["k-live"] != 1 {
		t.Errorf("target called %d times for the key, want 1", calls["k-live"])
	}
}

// Replaying by verdict picks the events whose latest comparison has it.
func TestReplayByVerdict(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", ""))
	a, b := e.event("orders", "k-a", `{}`), e.event("orders", "k-b", `{}`)
	e.publish(a, b)
	ctx := context.Background()
	for _, c := range []*cutover.Comparison{
		{EventID: a.ID, Workflow: "orders", Verdict: cutover.VerdictMismatch, ComparedAt: time.Now()},
		{EventID: b.ID, Workflow: "orders", Verdict: cutover.VerdictMismatch, ComparedAt: time.Now()},
		{EventID: b.ID, Epoch: 1, Workflow: "orders", Verdict: cutover.VerdictMatch, ComparedAt: time.Now()}, // fixed by an earlier replay
	} {
		if err := e.stores.Comparisons.SaveComparison(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	res, err := newReplayer(e).Replay(ctx, ReplayRequest{Workflow: "orders", Verdict: cutover.VerdictMismatch, DryRun: true})
	if err != nil || len(res.IDs) != 1 || res.IDs[0] != a.ID {
		t.Errorf("replay of mismatches = %+v, %v; want only %s", res, err, a.ID)
	}
	if _, err := newReplayer(e).Replay(ctx, ReplayRequest{Workflow: "nope"}); err == nil {
		t.Error("replay of an unknown workflow was accepted")
	}
}
