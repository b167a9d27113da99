package backendtest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func testQueue(t *testing.T, s cutover.Stores) {
	q := s.Queue
	for _, tc := range []struct {
		name string
		run  func(*testing.T, cutover.Queue)
	}{
		{"EnsureIsIdempotent", queueEnsureIdempotent},
		{"UnknownQueueIsNotFound", queueUnknown},
		{"BatchSendReceiveDelete", queueBatch},
		{"ReceiveReturnsAtMostMax", queueAtMostMax},
		{"RedeliveryAfterVisibility", queueRedelivery},
		{"ChangeVisibilityExtends", queueExtend},
		{"Delay", queueDelay},
		{"LongPollWakesOnSend", queueLongPoll},
		{"LongPollTimesOut", queueLongPollTimeout},
		{"RedriveToDeadLetter", queueRedrive},
		{"Stats", queueStats},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, q)
		})
	}
}

func newQueue(t *testing.T, q cutover.Queue, spec cutover.QueueSpec) string {
	t.Helper()
	if spec.Name == "" {
		spec.Name = uniq("q")
	}
	if err := q.EnsureQueue(testContext(t), spec); err != nil {
		t.Fatalf("EnsureQueue(%+v): %v", spec, err)
	}
	return spec.Name
}

func send(t *testing.T, q cutover.Queue, queue string, bodies ...string) {
	t.Helper()
	msgs := make([]cutover.OutgoingMessage, len(bodies))
	for i, b := range bodies {
		msgs[i] = cutover.OutgoingMessage{ID: cutover.NewEventID(), Body: []byte(b)}
	}
	if err := q.Send(testContext(t), queue, msgs); err != nil {
		t.Fatalf("Send(%s): %v", queue, err)
	}
}

// receiveOne long-polls for exactly one message.
func receiveOne(t *testing.T, q cutover.Queue, queue string, visibility, wait time.Duration) cutover.Message {
	t.Helper()
	ms, err := q.Receive(testContext(t), queue, cutover.ReceiveOptions{Max: 1, Visibility: visibility, Wait: wait})
	if err != nil {
		t.Fatalf("Receive(%s): %v", queue, err)
	}
	if len(ms) != 1 {
		t.Fatalf("Receive(%s, wait %v) returned %d messages, want 1", queue, wait, len(ms))
	}
	return ms[0]
}

// receiveNone checks that nothing is visible right now.
func receiveNone(t *testing.T, q cutover.Queue, queue, why string) {
	t.Helper()
	ms, err := q.Receive(testContext(t), queue, cutover.ReceiveOptions{Max: 10, Visibility: time.Second})
	if err != nil {
		t.Fatalf("Receive(%s): %v", queue, err)
	}
	if len(ms) != 0 {
		t.Fatalf("Receive(%s) returned %d messages (first %q), want none: %s", queue, len(ms), ms[0].Body, why)
	}
}

func queueEnsureIdempotent(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	dlq := uniq("dlq")
	spec := cutover.QueueSpec{Name: uniq("q"), DeadLetter: dlq, MaxReceiveCount: 3}
	for i := 0; i < 2; i++ {
		if err := q.EnsureQueue(ctx, cutover.QueueSpec{Name: dlq}); err != nil {
			t.Fatalf("EnsureQueue(dlq) #%d: %v", i+1, err)
		}
		if err := q.EnsureQueue(ctx, spec); err != nil {
			t.Fatalf("EnsureQueue #%d: %v", i+1, err)
		}
	}
	send(t, q, spec.Name, "after ensure")
	m := receiveOne(t, q, spec.Name, 30*time.Second, 2*time.Second)
	if string(m.Body) != "after ensure" {
		t.Errorf("body %q, want %q", m.Body, "after ensure")
	}
}

func queueUnknown(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	name := uniq("never-ensured")
	err := q.Send(ctx, name, []cutover.OutgoingMessage{{ID: cutover.NewEventID(), Body: []byte("x")}})
	if !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("Send to a queue never ensured: %v, want ErrNotFound", err)
	}
	if _, err := q.Receive(ctx, name, cutover.ReceiveOptions{Max: 1, Visibility: time.Second}); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("Receive from a queue never ensured: %v, want ErrNotFound", err)
	}
	if _, err := q.QueueStats(ctx, name); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("QueueStats of a queue never ensured: %v, want ErrNotFound", err)
	}
}

// queueBatch sends more messages in one call than SQS takes in one batch,
// receives them in batches of at most 10 and deletes them in one call.
func queueBatch(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	name := newQueue(t, q, cutover.QueueSpec{})
	const n = 25
	out := make([]cutover.OutgoingMessage, n)
	wantAttrs := map[string]map[string]string{}
	for i := range out {
		body := fmt.Sprintf(`{"n":%d}`, i)
		out[i] = cutover.OutgoingMessage{ID: cutover.NewEventID(), Body: []byte(body)}
		if i%2 == 0 {
			out[i].Attributes = map[string]string{"n": strconv.Itoa(i), "kind": "even"}
		}
		wantAttrs[body] = out[i].Attributes
	}
	before := time.Now()
	if err := q.Send(ctx, name, out); err != nil {
		t.Fatalf("Send of %d messages: %v", n, err)
	}
	after := time.Now()

	got := map[string]cutover.Message{}
	ids := map[string]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < n && time.Now().Before(deadline) {
		ms, err := q.Receive(ctx, name, cutover.ReceiveOptions{Max: 10, Visibility: 30 * time.Second, Wait: time.Second})
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		if len(ms) > 10 {
			t.Fatalf("Receive with Max 10 returned %d messages", len(ms))
		}
		for _, m := range ms {
			if _, dup := got[string(m.Body)]; dup {
				t.Fatalf("message %s delivered twice while in flight", m.Body)
			}
			got[string(m.Body)] = m
			if m.ID == "" || ids[m.ID] {
				t.Errorf("message %s has ID %q: want a non-empty id of its own", m.Body, m.ID)
			}
			ids[m.ID] = true
		}
	}
	if len(got) != n {
		t.Fatalf("received %d distinct messages, want %d", len(got), n)
	}
	receipts := make([]string, 0, n)
	for body, m := range got {
		if m.ReceiveCount != 1 {
			t.Errorf("message %s: ReceiveCount %d, want 1", body, m.ReceiveCount)
		}
		if m.Receipt == "" {
			t.Errorf("message %s: empty receipt", body)
		}
		if m.SentAt.Before(before.Add(-2*time.Second)) || m.SentAt.After(after.Add(2*time.Second)) {
			t.Errorf("message %s: SentAt %v, want between %v and %v", body, m.SentAt, before, after)
		}
		if diff := cmp.Diff(wantAttrs[body], m.Attributes, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("message %s: attributes (-want +got):\n%s", body, diff)
		}
		receipts = append(receipts, m.Receipt)
	}
	if err := q.Delete(ctx, name, receipts); err != nil {
		t.Fatalf("Delete of %d receipts: %v", n, err)
	}
	if err := q.Delete(ctx, name, nil); err != nil {
		t.Errorf("Delete of no receipts: %v", err)
	}
	eventually(t, 5*time.Second, func() (bool, string) {
		st, err := q.QueueStats(ctx, name)
		if err != nil {
			return false, err.Error()
		}
		return st == cutover.QueueStats{}, fmt.Sprintf("stats after deleting everything: %+v", st)
	})
	receiveNone(t, q, name, "every message was deleted")
}

func queueAtMostMax(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	name := newQueue(t, q, cutover.QueueSpec{})
	send(t, q, name, "a", "b", "c", "d", "e")
	seen := 0
	for _, max := range []int{2, 1, 3} {
		ms, err := q.Receive(ctx, name, cutover.ReceiveOptions{Max: max, Visibility: 30 * time.Second, Wait: 2 * time.Second})
		if err != nil {
			t.Fatalf("Receive(Max %d): %v", max, err)
		}
		if len(ms) < 1 || len(ms) > max {
			t.Fatalf("Receive(Max %d) returned %d messages, want 1 to %d", max, len(ms), max)
		}
		seen += len(ms)
	}
	if seen > 5 {
		t.Errorf("received %d messages of 5", seen)
	}
}

// queueRedelivery: a received message is invisible until its visibility
// expires, then comes back with ReceiveCount 2 and a new receipt; the old
// receipt can neither delete it nor change its visibility.
func queueRedelivery(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	name := newQueue(t, q, cutover.QueueSpec{})
	send(t, q, name, "redeliver me")

	m1 := receiveOne(t, q, name, 2*time.Second, 2*time.Second)
	received := time.Now()
	if m1.ReceiveCount != 1 {
		t.Errorf("first delivery: ReceiveCount %d, want 1", m1.ReceiveCount)
	}
	receiveNone(t, q, name, "the message is in flight")

	m2 := receiveOne(t, q, name, 30*time.Second, 6*time.Second)
	if since := time.Since(received); since < time.Second {
		t.Errorf("redelivered %v after the first receive, before its 2s visibility expired", since)
	}
	if m2.ReceiveCount != 2 {
		t.Errorf("redelivery: ReceiveCount %d, want 2", m2.ReceiveCount)
	}
	if m2.Receipt == m1.Receipt {
		t.Errorf("redelivery kept the receipt %q, want a new one", m2.Receipt)
	}
	if m2.ID != m1.ID || string(m2.Body) != string(m1.Body) {
		t.Errorf("redelivery is %s %q, want the same message %s %q", m2.ID, m2.Body, m1.ID, m1.Body)
	}

	// The stale receipt must not delete the message, nor move it.
	if err := q.Delete(ctx, name, []string{m1.Receipt}); err != nil {
		t.Errorf("Delete with a stale receipt: %v, want it ignored", err)
	}
	if err := q.ChangeVisibility(ctx, name, m1.Receipt, time.Second); !errors.Is(err, cutover.ErrStaleReceipt) {
		t.Errorf("ChangeVisibility with a stale receipt: %v, want ErrStaleReceipt", err)
	}
	// Visibility 0 makes it visible at once (m2 was hidden for 30s).
	if err := q.ChangeVisibility(ctx, name, m2.Receipt, 0); err != nil {
		t.Fatalf("ChangeVisibility(0): %v", err)
	}
	m3 := receiveOne(t, q, name, 30*time.Second, 3*time.Second)
	if m3.ID != m1.ID || m3.ReceiveCount != 3 {
		t.Errorf("after ChangeVisibility(0) got %s with ReceiveCount %d, want %s with 3 (the stale delete must not have deleted it)",
			m3.ID, m3.ReceiveCount, m1.ID)
	}
	if err := q.Delete(ctx, name, []string{m3.Receipt}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := q.ChangeVisibility(ctx, name, m2.Receipt, 0); !errors.Is(err, cutover.ErrStaleReceipt) {
		t.Errorf("ChangeVisibility with the receipt of an earlier delivery: %v, want ErrStaleReceipt", err)
	}
	receiveNone(t, q, name, "the message was deleted")
}

func queueExtend(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	name := newQueue(t, q, cutover.QueueSpec{})
	send(t, q, name, "extend me")
	m := receiveOne(t, q, name, 2*time.Second, 2*time.Second)
	if err := q.ChangeVisibility(ctx, name, m.Receipt, 4*time.Second); err != nil {
		t.Fatalf("ChangeVisibility(4s): %v", err)
	}
	changed := time.Now()
	time.Sleep(2500 * time.Millisecond)
	receiveNone(t, q, name, "the lease was extended to 4s")
	m2 := receiveOne(t, q, name, 30*time.Second, 6*time.Second)
	if since := time.Since(changed); since < 3*time.Second {
		t.Errorf("visible again %v after being extended by 4s", since)
	}
	if m2.ReceiveCount != 2 {
		t.Errorf("ReceiveCount %d, want 2", m2.ReceiveCount)
	}
}

func queueDelay(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	name := newQueue(t, q, cutover.QueueSpec{})
	sent := time.Now()
	err := q.Send(ctx, name, []cutover.OutgoingMessage{
		{ID: cutover.NewEventID(), Body: []byte("later"), Delay: 2 * time.Second},
	})
	if err != nil {
		t.Fatalf("Send with delay: %v", err)
	}
	receiveNone(t, q, name, "the message is delayed by 2s")
	m := receiveOne(t, q, name, 30*time.Second, 5*time.Second)
	if since := time.Since(sent); since < 1500*time.Millisecond {
		t.Errorf("delayed message received %v after sending, want about 2s", since)
	}
	if string(m.Body) != "later" || m.ReceiveCount != 1 {
		t.Errorf("got %q with ReceiveCount %d, want %q with 1", m.Body, m.ReceiveCount, "later")
	}
}

func queueLongPoll(t *testing.T, q cutover.Queue) {
	name := newQueue(t, q, cutover.QueueSpec{})
	start := time.Now()
	errc := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond)
		errc <- q.Send(context.Background(), name, []cutover.OutgoingMessage{{ID: cutover.NewEventID(), Body: []byte("wake up")}})
	}()
	m := receiveOne(t, q, name, 30*time.Second, 8*time.Second)
	took := time.Since(start)
	if err := <-errc; err != nil {
		t.Fatalf("Send: %v", err)
	}
	if string(m.Body) != "wake up" {
		t.Errorf("body %q, want %q", m.Body, "wake up")
	}
	if took > 4*time.Second {
		t.Errorf("long poll returned %v after start, want soon after the send at 300ms", took)
	}
}

func queueLongPollTimeout(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	name := newQueue(t, q, cutover.QueueSpec{})
	start := time.Now()
	ms, err := q.Receive(ctx, name, cutover.ReceiveOptions{Max: 10, Visibility: time.Second, Wait: time.Second})
	took := time.Since(start)
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(ms) != 0 {
		t.Fatalf("Receive on an empty queue returned %d messages", len(ms))
	}
	if took < 900*time.Millisecond || took > 5*time.Second {
		t.Errorf("Receive with Wait 1s on an empty queue returned after %v", took)
	}
}

// queueRedrive: with MaxReceiveCount 2, the third receive moves the message
// to the dead-letter queue instead of delivering it.
func queueRedrive(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	dlq := newQueue(t, q, cutover.QueueSpec{Name: uniq("dlq")})
	name := newQueue(t, q, cutover.QueueSpec{Name: uniq("q"), DeadLetter: dlq, MaxReceiveCount: 2})
	send(t, q, name, "poison")
	for i := 1; i <= 2; i++ {
		m := receiveOne(t, q, name, 30*time.Second, 3*time.Second)
		if m.ReceiveCount != i {
			t.Fatalf("receive %d: ReceiveCount %d", i, m.ReceiveCount)
		}
		if err := q.ChangeVisibility(ctx, name, m.Receipt, 0); err != nil {
			t.Fatalf("ChangeVisibility(0): %v", err)
		}
	}
	ms, err := q.Receive(ctx, name, cutover.ReceiveOptions{Max: 1, Visibility: 30 * time.Second, Wait: time.Second})
	if err != nil {
		t.Fatalf("third receive: %v", err)
	}
	if len(ms) != 0 {
		t.Fatalf("third receive delivered %q (ReceiveCount %d), want it moved to the dead-letter queue", ms[0].Body, ms[0].ReceiveCount)
	}
	d := receiveOne(t, q, dlq, 30*time.Second, 3*time.Second)
	if string(d.Body) != "poison" {
		t.Errorf("dead-letter queue holds %q, want %q", d.Body, "poison")
	}
}

func queueStats(t *testing.T, q cutover.Queue) {
	ctx := testContext(t)
	name := newQueue(t, q, cutover.QueueSpec{})
	st, err := q.QueueStats(ctx, name)
	if err != nil {
		t.Fatalf("QueueStats: %v", err)
	}
	if st != (cutover.QueueStats{}) {
		t.Errorf("stats of a new queue: %+v, want zero", st)
	}

	before := time.Now()
	send(t, q, name, "one", "two", "three")
	err = q.Send(ctx, name, []cutover.OutgoingMessage{{ID: cutover.NewEventID(), Body: []byte("delayed"), Delay: time.Minute}})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	m := receiveOne(t, q, name, time.Minute, 2*time.Second)
	time.Sleep(time.Second) // let the oldest message age

	check := func(want cutover.QueueStats) {
		t.Helper()
		eventually(t, 5*time.Second, func() (bool, string) {
			got, err := q.QueueStats(ctx, name)
			if err != nil {
				return false, err.Error()
			}
			age := got.OldestAge
			got.OldestAge = 0
			if got != want {
				return false, fmt.Sprintf("stats %+v, want %+v", got, want)
			}
			if maxAge := time.Since(before) + time.Second; age < 500*time.Millisecond || age > maxAge {
				return false, fmt.Sprintf("OldestAge %v, want between 500ms and %v", age, maxAge)
			}
			return true, ""
		})
	}
	check(cutover.QueueStats{Visible: 2, InFlight: 1, Delayed: 1})
	if err := q.Delete(ctx, name, []string{m.Receipt}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	check(cutover.QueueStats{Visible: 2, InFlight: 0, Delayed: 1})
}
