package pipeline

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

// Bad input is refused with an error that says what is wrong, and nothing
// already accepted is lost: the good events before and after all succeed.
func TestBadInputLosesNothing(t *testing.T) {
	tg := newTarget(t)
	e := newEnv(t, baseConfig(tg.srv.URL+"/orders", ""))
	ctx := context.Background()
	before := e.event("orders", "k-before", `{"n":1}`)
	e.publish(before)

	huge := e.event("orders", "k-huge", strings.Repeat("x", int(e.cfg.Worker.MaxBody)+1))
	good := e.event("orders", "k-good", `{"n":2}`)
	err := e.pub.Publish(ctx, good, huge)
	var pe *PublishError
	if !errors.As(err, &pe) || pe.EventID != huge.ID || !errors.Is(err, cutover.ErrBodyTooLarge) || !errors.Is(err, cutover.ErrNotPublished) {
		t.Fatalf("oversize body: %v, want a PublishError naming %s, ErrBodyTooLarge", err, huge.ID)
	}
	if !strings.Contains(err.Error(), "worker.max_body") {
		t.Errorf("error %q does not say which limit", err)
	}
	if _, err := e.stores.Archive.Event(ctx, good.ID); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("the refused batch's good event was written (%v): a batch is all or nothing", err)
	}
	bad := e.event("orders", "k-bad", `{}`)
	bad.Mode = "sometimes"
	if err := e.pub.Publish(ctx, bad); !errors.Is(err, cutover.ErrMalformedEvent) || !strings.Contains(err.Error(), "mode") {
		t.Errorf("malformed event: %v, want ErrMalformedEvent naming the mode", err)
	}
	unknown := e.event("nope", "k-unknown", `{}`)
	if err := e.pub.Publish(ctx, unknown); err == nil || !strings.Contains(err.Error(), `unknown workflow "nope"`) {
		t.Errorf("unknown workflow: %v", err)
	}
	// Garbage and an event from a future schema reach the queue directly:
	// the worker moves them to the DLQ as they are.
	q := cutover.QueueName("orders", cutover.RespondStep)
	if err := e.stores.Queue.Send(ctx, q, []cutover.OutgoingMessage{{ID: "garbage", Body: []byte(`{"v":1,`)}, {ID: "future", Body: []byte(`{"v":99,"id":"x"}`)}}); err != nil {
		t.Fatal(err)
	}
	after := e.event("orders", "k-after", `{"n":3}`)
	e.publish(good, after)

	e.worker(Options{})
	for id, s := range e.waitState(10*time.Second, before.ID, good.ID, after.ID) {
		if s != cutover.StateSucceeded {
			t.Errorf("accepted event %s: %s, want succeeded", id, s)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	var dlq []cutover.Message
	for len(dlq) < 2 && time.Now().Before(deadline) {
		msgs, err := e.stores.Queue.Receive(ctx, cutover.DeadLetterName("orders", cutover.RespondStep), cutover.ReceiveOptions{Max: 10, Visibility: time.Minute, Wait: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		dlq = append(dlq, msgs...)
	}
	errs := map[string]string{}
	for _, m := range dlq {
		errs[string(m.Body)] = m.Attributes["cutover-error"]
	}
	if !strings.Contains(errs[`{"v":1,`], "malformed event") || !strings.Contains(errs[`{"v":99,"id":"x"}`], "unknown event schema version 99") {
		t.Errorf("DLQ errors = %v, want the malformed one and the unknown schema version named", errs)
	}
	calls, _ := tg.snapshot()
	if calls["k-huge"] != 0 || calls["k-bad"] != 0 || len(calls) != 3 {
		t.Errorf("target calls = %v, want only the three accepted events", calls)
	}
}
