package pipeline

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/redact"
)

func TestDuplicateDeliveryOneEffect(t *testing.T) {
	tg := newTarget(t)
	e := newEnv(t, baseConfig(tg.srv.URL+"/orders", ""))
	// The same event delivered three times: the message sent thrice.
	ev := e.event("orders", "k-dup", `{"n":1}`)
	e.publish(ev)
	body, _ := cutover.EncodeEvent(ev)
	for i := 0; i < 2; i++ {
		if err := e.stores.Queue.Send(context.Background(), cutover.QueueName("orders", cutover.RespondStep), []cutover.OutgoingMessage{{ID: ev.ID, Body: body}}); err != nil {
			t.Fatal(err)
		}
	}
	// And two more events with the same key and payload (a client retry).
	ev2, ev3 := e.event("orders", "k-dup", `{"n":1}`), e.event("orders", "k-dup", `{"n":1}`)
	e.publish(ev2, ev3)
	e.worker(Options{})
	states := e.waitState(10*time.Second, ev.ID, ev2.ID, ev3.ID)
	for id, s := range states {
		if s != cutover.StateSucceeded {
			t.Errorf("event %s state %s, want succeeded", id, s)
		}
	}
	waitQueueEmpty(t, e, cutover.QueueName("orders", cutover.RespondStep))
	calls, _ := tg.snapshot()
	if diff := cmp.Diff(map[string]int{"k-dup": 1}, calls); diff != "" {
		t.Errorf("target calls per key (-want +got):\n%s", diff)
	}
	dups := 0
	for _, id := range []string{ev.ID, ev2.ID, ev3.ID} {
		for _, tr := range e.history(id) {
			if tr.Kind == cutover.TransitionDuplicate {
				dups++
			}
		}
	}
	if dups != 2 {
		t.Errorf("duplicate transitions = %d, want 2 (the two later events)", dups)
	}
	// Every event of the key has the one stored outcome as its async side.
	for _, id := range []string{ev.ID, ev2.ID, ev3.ID} {
		pair, err := e.stores.Outcomes.OutcomePair(context.Background(), id, 0)
		if err != nil || pair.Async == nil || pair.Async.Status != http.StatusCreated {
			t.Errorf("event %s async outcome = %+v, %v", id, pair.Async, err)
		}
	}
}

func TestConflictNotExecuted(t *testing.T) {
	tg := newTarget(t)
	e := newEnv(t, baseConfig(tg.srv.URL+"/orders", ""))
	first := e.event("orders", "k-conf", `{"n":1}`)
	e.publish(first)
	e.worker(Options{})
	e.waitState(10*time.Second, first.ID)
	second := e.event("orders", "k-conf", `{"n":2}`)
	e.publish(second)
	if s := e.waitState(10*time.Second, second.ID)[second.ID]; s != cutover.StateDeadLettered {
		t.Fatalf("conflicting event state %s, want dead_lettered", s)
	}
	h := e.history(second.ID)
	if diff := cmp.Diff([]cutover.TransitionKind{cutover.TransitionReceived, cutover.TransitionConflict, cutover.TransitionDeadLettered}, kinds(h)); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if !strings.Contains(h[2].Detail, "idempotency key reused with a different payload") {
		t.Errorf("dead_lettered detail = %q", h[2].Detail)
	}
	calls, _ := tg.snapshot()
	if calls["k-conf"] != 1 {
		t.Errorf("target called %d times for the key, want 1 (the conflict must not run)", calls["k-conf"])
	}
	dlq := receiveAll(t, e, cutover.DeadLetterName("orders", cutover.RespondStep))
	if len(dlq) != 1 || !strings.Contains(dlq[0].Attributes["cutover-error"], "idempotency") {
		t.Errorf("DLQ = %+v", dlq)
	}
}

func TestRetryThenSuccess(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", ""))
	var calls atomic.Int32
	h := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		if calls.Add(1) <= 2 {
			return nil, errors.New("downstream flaked")
		}
		return &cutover.Outcome{Status: 200}, nil
	})
	ev := e.event("orders", "k-retry", `{}`)
	e.publish(ev)
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}})
	if s := e.waitState(10*time.Second, ev.ID)[ev.ID]; s != cutover.StateSucceeded {
		t.Fatalf("state %s", s)
	}
	hist := e.history(ev.ID)
	want := []cutover.TransitionKind{
		cutover.TransitionReceived,
		cutover.TransitionStarted, cutover.TransitionRetryScheduled,
		cutover.TransitionStarted, cutover.TransitionRetryScheduled,
		cutover.TransitionStarted, cutover.TransitionSucceeded,
	}
	if diff := cmp.Diff(want, kinds(hist)); diff != "" {
		t.Fatalf("history (-want +got):\n%s", diff)
	}
	if hist[5].Attempt != 3 || hist[6].Attempt != 3 {
		t.Errorf("success on attempt %d, want 3", hist[6].Attempt)
	}
	// Exponential backoff: 20ms then 40ms, less up to 10% jitter.
	for i, want := range map[int]time.Duration{2: 20 * time.Millisecond, 4: 40 * time.Millisecond} {
		got := hist[i].Delay.D()
		if got > want || got < want*9/10 {
			t.Errorf("backoff after attempt %d = %s, want %s less at most 10%%", hist[i].Attempt, got, want)
		}
		if !strings.Contains(hist[i].Detail, "downstream flaked") {
			t.Errorf("retry detail %q lacks the error", hist[i].Detail)
		}
	}
	if gap := hist[3].At.Sub(hist[2].At); gap < 18*time.Millisecond {
		t.Errorf("attempt 2 started %s after the retry was scheduled, want at least the backoff", gap)
	}
}

func TestAlwaysFailsDeadLetters(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", ""))
	var calls atomic.Int32
	h := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		n := calls.Add(1)
		return nil, errors.New("boom " + string(rune('0'+n)))
	})
	ev := e.event("orders", "k-fail", `{}`)
	e.publish(ev)
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}})
	if s := e.waitState(10*time.Second, ev.ID)[ev.ID]; s != cutover.StateDeadLettered {
		t.Fatalf("state %s", s)
	}
	if calls.Load() != 3 {
		t.Errorf("handler called %d times, want max_attempts = 3", calls.Load())
	}
	hist := e.history(ev.ID)
	last := hist[len(hist)-1]
	if last.Kind != cutover.TransitionDeadLettered || last.Attempt != 3 || last.Detail != "boom 3" {
		t.Errorf("last transition = %+v, want dead_lettered on attempt 3 with the last error", last)
	}
	dlq := receiveAll(t, e, cutover.DeadLetterName("orders", cutover.RespondStep))
	if len(dlq) != 1 || dlq[0].Attributes["cutover-error"] != "boom 3" || dlq[0].Attributes["cutover-attempts"] != "3" {
		t.Fatalf("DLQ = %+v", dlq)
	}
	back, err := cutover.DecodeEvent(dlq[0].Body)
	if err != nil || back.ID != ev.ID {
		t.Errorf("DLQ body is not the event: %v", err)
	}
	pair, _ := e.stores.Outcomes.OutcomePair(context.Background(), ev.ID, 0)
	if pair.Async == nil || pair.Async.Error != "boom 3" {
		t.Errorf("async outcome = %+v, want the last error", pair.Async)
	}
}

func TestPermanentErrorDeadLettersAtOnce(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", ""))
	var calls atomic.Int32
	h := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		calls.Add(1)
		return nil, cutover.Permanent(errors.New("schema rejected"))
	})
	ev := e.event("orders", "k-perm", `{}`)
	e.publish(ev)
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}})
	if s := e.waitState(10*time.Second, ev.ID)[ev.ID]; s != cutover.StateDeadLettered {
		t.Fatalf("state %s", s)
	}
	if calls.Load() != 1 {
		t.Errorf("handler called %d times, want 1", calls.Load())
	}
}

func TestPanicIsRecovered(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", ""))
	var calls atomic.Int32
	h := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		if calls.Add(1) == 1 {
			panic("nil map")
		}
		return &cutover.Outcome{Status: 200}, nil
	})
	ev := e.event("orders", "k-panic", `{}`)
	e.publish(ev)
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}})
	if s := e.waitState(10*time.Second, ev.ID)[ev.ID]; s != cutover.StateSucceeded {
		t.Fatalf("state %s", s)
	}
	if d := e.history(ev.ID)[2]; d.Kind != cutover.TransitionRetryScheduled || !strings.Contains(d.Detail, "handler panic: nil map") {
		t.Errorf("after the panic: %+v", d)
	}
}

// A worker whose lease expired mid-job cannot complete it: a second attempt
// took the key with a newer epoch, and the first one's write is fenced off.
func TestExpiredLeaseIsFenced(t *testing.T) {
	e := newEnv(t, strings.Replace(baseConfig("http://127.0.0.1:1", ""), "visibility: 2s", "visibility: 1s", 1))
	release := make(chan struct{})
	var calls atomic.Int32
	h := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		if calls.Add(1) == 1 {
			<-release // stalled: no heartbeat reaches the store meanwhile
			return &cutover.Outcome{Status: 200, Body: cutover.Body("stale")}, nil
		}
		return &cutover.Outcome{Status: 200, Body: cutover.Body("fresh")}, nil
	})
	ev := e.event("orders", "k-lease", `{}`)
	e.publish(ev)
	// Heartbeats far apart stand in for a worker that stalled (GC pause,
	// partition): its lease runs out while the handler still runs.
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}, HeartbeatEvery: time.Hour})
	if s := e.waitState(10*time.Second, ev.ID)[ev.ID]; s != cutover.StateSucceeded {
		t.Fatalf("state %s", s)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		hist := e.history(ev.ID)
		if hist[len(hist)-1].Kind == cutover.TransitionFenced {
			if hist[len(hist)-1].Epoch != 1 {
				t.Errorf("fenced epoch %d, want 1", hist[len(hist)-1].Epoch)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fenced transition: %v", kinds(hist))
		}
		time.Sleep(10 * time.Millisecond)
	}
	rec, err := e.stores.Idempotency.IdempotencyRecord(context.Background(), IdempotencyScope(ev))
	if err != nil || rec.Epoch != 2 || string(rec.Outcome.Body) != "fresh" {
		t.Errorf("record = %+v, %v; want epoch 2 with the fresh outcome", rec, err)
	}
}

// Heartbeats keep a long attempt's lease and delivery: it outlives the
// visibility timeout several times over, and no second attempt starts.
func TestHeartbeatKeepsLongAttempt(t *testing.T) {
	e := newEnv(t, strings.Replace(baseConfig("http://127.0.0.1:1", ""), "visibility: 2s", "visibility: 1s", 1))
	var calls atomic.Int32
	h := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		calls.Add(1)
		select {
		case <-time.After(3 * time.Second):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return &cutover.Outcome{Status: 200}, nil
	})
	ev := e.event("orders", "k-long", `{}`)
	e.publish(ev)
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}})
	if s := e.waitState(10*time.Second, ev.ID)[ev.ID]; s != cutover.StateSucceeded {
		t.Fatalf("state %s", s)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("handler called %d times, want once", n)
	}
	if hist := e.history(ev.ID); len(hist) != 3 || hist[2].Epoch != 1 {
		t.Errorf("log %v, want received, started, succeeded at epoch 1", kinds(hist))
	}
}

func TestFanOutAndFollowUp(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", `    fan_out: [reserve, notify, audit]
    steps:
      - {name: reserve}
      - {name: notify}
      - {name: audit}
      - {name: ship}
`))
	ok := func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		return &cutover.Outcome{Status: 200}, nil
	}
	reserve := func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		cutover.RecordEffect(ctx, "stock.reserve", "would reserve 2 units")
		if err := Emit(ctx, "ship", cutover.Request{Body: cutover.Body(`{"ship":true}`)}); err != nil {
			return nil, err
		}
		return &cutover.Outcome{Status: 200}, nil
	}
	handlers := map[StepRef]Handler{}
	for _, s := range []string{cutover.RespondStep, "notify", "audit", "ship"} {
		handlers[StepRef{"orders", s}] = HandlerFunc(ok)
	}
	handlers[StepRef{"orders", "reserve"}] = HandlerFunc(reserve)
	ev := e.event("orders", "k-fan", `{}`)
	e.publish(ev)
	e.worker(Options{Handlers: handlers})
	deadline := time.Now().Add(10 * time.Second)
	var related []*cutover.Event
	for {
		var err error
		related, err = e.stores.Archive.Events(context.Background(), cutover.EventQuery{CorrelationID: ev.CorrelationID})
		if err != nil {
			t.Fatal(err)
		}
		if len(related) == 5 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ids := make([]string, len(related))
	steps := map[string]string{}
	for i, r := range related {
		ids[i] = r.ID
		steps[r.Step] = r.CausationID
	}
	for id, s := range e.waitState(10*time.Second, ids...) {
		if s != cutover.StateSucceeded {
			t.Errorf("event %s: %s", id, s)
		}
	}
	if len(related) != 5 {
		t.Fatalf("%d events in the correlation, want 5", len(related))
	}
	var reserveID string
	for _, r := range related {
		if r.Step == "reserve" {
			reserveID = r.ID
		}
	}
	want := map[string]string{cutover.RespondStep: "", "reserve": ev.ID, "notify": ev.ID, "audit": ev.ID, "ship": reserveID}
	if diff := cmp.Diff(want, steps); diff != "" {
		t.Errorf("causation by step (-want +got):\n%s", diff)
	}
	rec, err := e.stores.Idempotency.IdempotencyRecord(context.Background(), cutover.IdempotencyKey{Workflow: "orders", Step: "reserve", Key: "shadow@0:k-fan"})
	if err != nil || len(rec.Outcome.Effects) != 1 || rec.Outcome.Effects[0].Kind != "stock.reserve" {
		t.Errorf("reserve effects = %+v, %v", rec, err)
	}
}

func TestGracefulShutdownReleases(t *testing.T) {
	e := newEnv(t, strings.Replace(baseConfig("http://127.0.0.1:1", ""), "shutdown_grace: 2s", "shutdown_grace: 100ms", 1))
	started := make(chan struct{}, 1)
	slow := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		started <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ev := e.event("orders", "k-shut", `{}`)
	e.publish(ev)
	stop := e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: slow}})
	<-started
	t0 := time.Now()
	stop()
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("shutdown took %s", d)
	}
	hist := e.history(ev.ID)
	if hist[len(hist)-1].Kind != cutover.TransitionReleased {
		t.Fatalf("history %v, want released last", kinds(hist))
	}
	// Released means visible at once and claimable at once: a new worker
	// finishes it without waiting for the 2 s visibility timeout.
	fast := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		return &cutover.Outcome{Status: 200}, nil
	})
	t1 := time.Now()
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: fast}})
	e.waitState(10*time.Second, ev.ID)
	if d := time.Since(t1); d > 1500*time.Millisecond {
		t.Errorf("released event took %s to finish, want well under the visibility timeout", d)
	}
}

func TestDownstreamLimit(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", `    concurrency: 8
    downstream: slow-db
downstreams:
  - {name: slow-db, concurrency: 2}
`))
	var cur, peak atomic.Int32
	h := HandlerFunc(func(ctx context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
		cur.Add(-1)
		return &cutover.Outcome{Status: 200}, nil
	})
	var ids []string
	var evs []*cutover.Event
	for i := 0; i < 12; i++ {
		ev := e.event("orders", "k-lim-"+string(rune('a'+i)), `{}`)
		evs = append(evs, ev)
		ids = append(ids, ev.ID)
	}
	e.publish(evs...)
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}})
	e.waitState(10*time.Second, ids...)
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrency %d, want the downstream's 2", p)
	}
}

func waitQueueEmpty(t *testing.T, e *env, queue string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := e.stores.Queue.QueueStats(context.Background(), queue)
		if err != nil {
			t.Fatal(err)
		}
		if st.Visible+st.InFlight+st.Delayed == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s not empty: %+v", queue, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func receiveAll(t *testing.T, e *env, queue string) []cutover.Message {
	t.Helper()
	msgs, err := e.stores.Queue.Receive(context.Background(), queue, cutover.ReceiveOptions{Max: 10, Visibility: time.Minute, Wait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// Backends without cutover.Finisher (the aws backend) record a success in
// steps; the result is the same.
func TestSuccessInStepsWithoutFinisher(t *testing.T) {
	tg := newTarget(t)
	e := newEnv(t, baseConfig(tg.srv.URL+"/orders", ""))
	ev := e.event("orders", "k-steps", `{"n":1}`)
	e.publish(ev)
	w, err := New(e.cfg, WorkerStores{
		Queue: e.stores.Queue, Transitions: e.stores.Transitions, Outcomes: e.stores.Outcomes, Blobs: e.stores.Blobs,
		Idempotency: struct{ cutover.IdempotencyStore }{e.stores.Idempotency}, // hides Finish
	}, e.pub, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	e.waitState(10*time.Second, ev.ID)
	if diff := cmp.Diff([]cutover.TransitionKind{cutover.TransitionReceived, cutover.TransitionStarted, cutover.TransitionSucceeded}, kinds(e.history(ev.ID))); diff != "" {
		t.Errorf("log (-want +got):\n%s", diff)
	}
	rec, err := e.stores.Idempotency.IdempotencyRecord(context.Background(), IdempotencyScope(ev))
	pair, perr := e.stores.Outcomes.OutcomePair(context.Background(), ev.ID, 0)
	if err != nil || perr != nil || !rec.Completed || pair.Async == nil || pair.Async.Status != http.StatusCreated {
		t.Errorf("record %+v (%v), pair %+v (%v)", rec, err, pair.Async, perr)
	}
}

// A shadow event's outcome is stored redacted by Options.Redact, as the
// proxy stores the legacy side, so that both sides compare alike and no
// secret the new service sends back is stored; a live event's outcome is
// the client's response and is stored whole.
func TestShadowOutcomeRedacted(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1/unused", `    redact: {json: [$.card], headers: [X-Token]}
`))
	redactors, err := redact.NewSet(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	handler := HandlerFunc(func(_ context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		return &cutover.Outcome{Status: http.StatusCreated,
			Header: http.Header{"Set-Cookie": {"sid=s3cret"}, "X-Token": {"t0ken"}, "Content-Type": {"application/json"}},
			Body:   cutover.Body(`{"card":"4111111111111111","ok":true}`)}, nil
	})
	shadowEv := e.event("orders", "k-shadow", `{}`)
	liveEv := e.event("orders", "k-live", `{}`)
	liveEv.Mode = cutover.EventLive
	e.publish(shadowEv, liveEv)
	e.worker(Options{Handlers: map[StepRef]Handler{{Workflow: "orders", Step: cutover.RespondStep}: handler}, Redact: redactors.Outcome})
	e.waitState(10*time.Second, shadowEv.ID, liveEv.ID)

	ctx := context.Background()
	pair, err := e.stores.Outcomes.OutcomePair(ctx, shadowEv.ID, 0)
	if err != nil || pair.Async == nil {
		t.Fatalf("shadow pair %+v, %v", pair, err)
	}
	rec, err := e.stores.Idempotency.IdempotencyRecord(ctx, IdempotencyScope(shadowEv))
	if err != nil || rec.Outcome == nil {
		t.Fatalf("shadow record %+v, %v", rec, err)
	}
	for _, o := range []*cutover.Outcome{pair.Async, rec.Outcome} {
		b, _ := cutover.EncodeOutcome(o)
		for _, secret := range []string{"s3cret", "t0ken", "4111111111111111"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("stored shadow outcome holds %q: %s", secret, b)
			}
		}
		if string(o.Body) != `{"card":"[REDACTED]","ok":true}` || o.Header.Get("Content-Type") != "application/json" {
			t.Errorf("stored shadow outcome = %s", b)
		}
	}
	live, err := e.stores.Outcomes.OutcomePair(ctx, liveEv.ID, 0)
	if err != nil || live.Async == nil || !strings.Contains(string(live.Async.Body), "4111111111111111") || live.Async.Header.Get("Set-Cookie") != "sid=s3cret" {
		t.Errorf("live outcome %+v, %v: want the response whole", live.Async, err)
	}
}
