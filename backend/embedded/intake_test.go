package embedded

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

func intakeEvent(t *testing.T, wf string, at time.Time) *cutover.Event {
	t.Helper()
	id := cutover.NewEventID()
	return &cutover.Event{ID: id, Workflow: wf, Step: cutover.RespondStep, Mode: cutover.EventShadow, IdempotencyKey: id,
		CorrelationID: "corr-" + id, ReceivedAt: at,
		Request: cutover.Request{Method: "POST", Path: "/orders", Header: map[string][]string{"Content-Type": {"application/json"}},
			Body: cutover.Body(`{"sku":"a-1"}`)}}
}

// intakeBatch is n events for queue q with their registrations (log entry
// 1 and a legacy side) and messages, the bodies shared as the publisher
// shares them.
func intakeBatch(t *testing.T, wf string, n int, at time.Time) ([]*cutover.Event, []cutover.Registration, []cutover.OutgoingMessage) {
	t.Helper()
	var evs []*cutover.Event
	var regs []cutover.Registration
	var msgs []cutover.OutgoingMessage
	for i := range n {
		ev := intakeEvent(t, wf, at)
		body, err := cutover.EncodeEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
		regs = append(regs, cutover.Registration{Event: ev, Encoded: body,
			First:  cutover.Transition{Kind: cutover.TransitionReceived, At: at, Detail: "shadow"},
			Legacy: &cutover.Outcome{Status: 201 + i, Body: cutover.Body(`{"id":1}`), At: at}})
		msgs = append(msgs, cutover.OutgoingMessage{ID: ev.ID, Body: body})
	}
	return evs, regs, msgs
}

// TestIntakeReadsAndReceive: what Intake took in is found by every read
// that must see it, with the intake's times, and received once.
func TestIntakeReadsAndReceive(t *testing.T) {
	ctx := context.Background()
	db := open(t, Options{})
	q := cutover.QueueName("orders", cutover.RespondStep)
	if err := db.EnsureQueue(ctx, cutover.QueueSpec{Name: q}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
	evs, regs, msgs := intakeBatch(t, "orders", 3, at)
	before := time.Now()
	if err := db.Intake(ctx, q, regs, msgs); err != nil {
		t.Fatalf("Intake: %v", err)
	}
	after := time.Now()
	time.Sleep(20 * time.Millisecond) // reads come later than the intake
	if err := db.Intake(ctx, "no-such-queue", regs, msgs); !errors.Is(err, cutover.ErrNotFound) {
		t.Errorf("Intake to a queue never ensured = %v; want ErrNotFound", err)
	}

	// Queue stats count what waits in envelopes without expanding them;
	// a sweep for pairs older than the envelope leaves it too.
	st, err := db.QueueStats(ctx, q)
	if err != nil || st.Visible != 3 || st.OldestAge <= 0 {
		t.Errorf("QueueStats before expansion = %+v, %v; want 3 visible", st, err)
	}
	if ps, err := db.Unpaired(ctx, before, 100); err != nil || len(ps) != 0 {
		t.Errorf("Unpaired(before the intake) = %d pairs, %v; want none", len(ps), err)
	}
	var waiting int
	if _, err := db.readRow(ctx, `SELECT count(*) FROM intake`, nil, &waiting); err != nil || waiting != 1 {
		t.Errorf("envelopes after stats and an early sweep = %d, %v; want 1, unexpanded", waiting, err)
	}

	// A point read finds the event, its log and its pair.
	got, err := db.Event(ctx, evs[0].ID)
	if err != nil {
		t.Fatalf("Event: %v", err)
	}
	if diff := cmp.Diff(evs[0], got); diff != "" {
		t.Errorf("Event (-want +got):\n%s", diff)
	}
	h, err := db.History(ctx, evs[1].ID)
	if err != nil || len(h) != 1 || h[0].Kind != cutover.TransitionReceived || !h[0].At.Equal(at) {
		t.Errorf("History = %+v, %v; want the received entry at the intake's time", h, err)
	}
	p, err := db.OutcomePair(ctx, evs[2].ID, 0)
	if err != nil || p.Legacy == nil || p.Legacy.Status != 203 || p.Async != nil {
		t.Errorf("OutcomePair = %+v, %v; want the legacy side only", p, err)
	}
	// The pairs started at the intake's time, not when they were expanded.
	ps, err := db.Unpaired(ctx, after, 100)
	if err != nil || len(ps) != 3 {
		t.Errorf("Unpaired = %d pairs, %v; want 3", len(ps), err)
	}
	st, err = db.QueueStats(ctx, q)
	if err != nil || st.Visible != 3 {
		t.Errorf("QueueStats = %+v, %v; want 3 visible", st, err)
	}

	got3, err := db.Receive(ctx, q, cutover.ReceiveOptions{Max: 10})
	if err != nil || len(got3) != 3 {
		t.Fatalf("Receive = %d messages, %v; want 3", len(got3), err)
	}
	for i, m := range got3 {
		if m.ID != evs[i].ID || string(m.Body) != string(msgs[i].Body) || m.SentAt.Before(before) || m.SentAt.After(after) {
			t.Errorf("message %d = %s sent %v, body %s; want %s sent during Intake (%v to %v)", i, m.ID, m.SentAt, m.Body, evs[i].ID, before, after)
		}
	}
	if more, err := db.Receive(ctx, q, cutover.ReceiveOptions{Max: 10}); err != nil || len(more) != 0 {
		t.Errorf("second Receive = %d messages, %v; want none", len(more), err)
	}
}

// TestIntakeExpansionBounded: one receive expands about expandEvents
// events, not the whole backlog; the rest follow as receives go on.
func TestIntakeExpansionBounded(t *testing.T) {
	ctx := context.Background()
	db := open(t, Options{})
	q := cutover.QueueName("orders", cutover.RespondStep)
	if err := db.EnsureQueue(ctx, cutover.QueueSpec{Name: q}); err != nil {
		t.Fatal(err)
	}
	const envelopes, per = 4, 300
	for range envelopes {
		_, regs, msgs := intakeBatch(t, "orders", per, time.Now().UTC())
		if err := db.Intake(ctx, q, regs, msgs); err != nil {
			t.Fatal(err)
		}
	}
	count := func(table string) int {
		var n int
		if _, err := db.readRow(ctx, `SELECT count(*) FROM `+table, nil, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if ms, err := db.Receive(ctx, q, cutover.ReceiveOptions{Max: 10}); err != nil || len(ms) != 10 {
		t.Fatalf("Receive = %d, %v", len(ms), err)
	}
	if got := count("intake"); got != envelopes-1 {
		t.Errorf("envelopes left after one receive = %d; want %d (one expanded: %d events, a second would pass %d)", got, envelopes-1, per, expandEvents)
	}
	if st, err := db.QueueStats(ctx, q); err != nil || st.Visible != envelopes*per-10 {
		t.Errorf("QueueStats = %+v, %v; want %d visible", st, err, envelopes*per-10)
	}
	got := 10
	for got < envelopes*per {
		ms, err := db.Receive(ctx, q, cutover.ReceiveOptions{Max: 10})
		if err != nil || len(ms) == 0 {
			t.Fatalf("Receive after %d = %d, %v", got, len(ms), err)
		}
		got += len(ms)
	}
	if n := count("intake"); n != 0 {
		t.Errorf("envelopes left after receiving everything: %d", n)
	}
}

// TestIntakeReceiveWakes: a receiver long-polling an empty queue gets what
// another process takes in, through the poll that looks at envelopes.
func TestIntakeReceiveWakes(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/shared.db"
	consumer := open(t, Options{Path: path, PollInterval: 20 * time.Millisecond})
	producer := open(t, Options{Path: path})
	q := cutover.QueueName("orders", cutover.RespondStep)
	if err := producer.EnsureQueue(ctx, cutover.QueueSpec{Name: q}); err != nil {
		t.Fatal(err)
	}
	got := make(chan []cutover.Message, 1)
	go func() {
		ms, err := consumer.Receive(ctx, q, cutover.ReceiveOptions{Max: 10, Wait: 5 * time.Second})
		if err != nil {
			t.Error(err)
		}
		got <- ms
	}()
	time.Sleep(50 * time.Millisecond)
	_, regs, msgs := intakeBatch(t, "orders", 2, time.Now().UTC())
	if err := producer.Intake(ctx, q, regs, msgs); err != nil {
		t.Fatal(err)
	}
	if ms := <-got; len(ms) != 2 {
		t.Errorf("long poll got %d messages; want 2", len(ms))
	}
}

// TestIntakeMatchesRegisterAndSend: an expanded envelope leaves the rows
// that Register and Send leave for the same batch.
func TestIntakeMatchesRegisterAndSend(t *testing.T) {
	ctx := context.Background()
	a, b := open(t, Options{}), open(t, Options{})
	q := cutover.QueueName("orders", cutover.RespondStep)
	for _, db := range []*DB{a, b} {
		if err := db.EnsureQueue(ctx, cutover.QueueSpec{Name: q}); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now().UTC().Truncate(time.Microsecond)
	evs, regs, msgs := intakeBatch(t, "orders", 5, at)
	msgs[1].Attributes = map[string]string{"k": "v"}
	msgs[2].Delay = time.Second
	if err := a.Intake(ctx, q, regs, msgs); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Register(ctx, regs); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(ctx, q, msgs); err != nil {
		t.Fatal(err)
	}
	if err := a.settle(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	dump := func(db *DB) map[string][]string {
		out := map[string][]string{}
		for table, query := range map[string]string{
			"events":      `SELECT id || workflow || step || correlation_id || received_at || hex(data) FROM events ORDER BY id`,
			"transitions": `SELECT event_id || seq || kind || at || detail FROM transitions ORDER BY event_id, seq`,
			"outcomes":    `SELECT event_id || epoch || workflow || hex(legacy) || complete FROM outcomes ORDER BY event_id`,
			"messages":    `SELECT queue || id || hex(body) || coalesce(attrs, '') || (visible_at - sent_at) FROM messages ORDER BY id`,
			"intake":      `SELECT seq FROM intake`,
		} {
			if err := db.readRows(ctx, query, nil, func(rows *sql.Rows) error {
				var s string
				if err := rows.Scan(&s); err != nil {
					return err
				}
				out[table] = append(out[table], s)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		return out
	}
	if diff := cmp.Diff(dump(b), dump(a)); diff != "" {
		t.Errorf("rows after Register+Send (-) and after Intake (+):\n%s", diff)
	}
	if len(evs) != 5 {
		t.Fatal(len(evs))
	}
}

// TestIntakeMalformedEnvelopeKept: an envelope that cannot be expanded is
// kept with its error and does not stop the others.
func TestIntakeMalformedEnvelopeKept(t *testing.T) {
	ctx := context.Background()
	db := open(t, Options{})
	q := cutover.QueueName("orders", cutover.RespondStep)
	if err := db.EnsureQueue(ctx, cutover.QueueSpec{Name: q}); err != nil {
		t.Fatal(err)
	}
	if _, err := write(ctx, db, func(x *wtx) (int64, error) {
		return x.exec(`INSERT INTO intake (queue, created_at, events, data) VALUES (?, 1, 1, x'0102')`, q)
	}); err != nil {
		t.Fatal(err)
	}
	_, regs, msgs := intakeBatch(t, "orders", 1, time.Now().UTC())
	if err := db.Intake(ctx, q, regs, msgs); err != nil {
		t.Fatal(err)
	}
	ms, err := db.Receive(ctx, q, cutover.ReceiveOptions{Max: 10})
	if err != nil || len(ms) != 1 {
		t.Fatalf("Receive = %d, %v; want the good envelope's message", len(ms), err)
	}
	var kept string
	if ok, err := db.readRow(ctx, `SELECT error FROM intake`, nil, &kept); err != nil || !ok || kept == "" {
		t.Errorf("malformed envelope: kept %v, error %q, %v; want kept with its error", ok, kept, err)
	}
	if _, err := db.Events(ctx, cutover.EventQuery{}); err != nil {
		t.Errorf("Events with a malformed envelope waiting: %v", err)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	at := time.Unix(0, 1_700_000_000_123_456_789).UTC()
	env := envelope{queue: "orders.respond", events: []envEvent{
		{id: "e1", workflow: "orders", step: "respond", correlation: "c1", receivedAt: 42, data: []byte(`{"v":1}`),
			first:  &cutover.Transition{Kind: cutover.TransitionReceived, At: at, Attempt: 2, Epoch: -3, Delay: 5, Detail: "d", Worker: "w"},
			legacy: []byte(`{"status":200}`), epoch: 0},
		{id: "e2", workflow: "orders", step: "respond", correlation: "", receivedAt: -1, data: []byte{}, epoch: 7},
	}, msgs: []envMessage{
		{row: outRow{id: "e1", body: []byte(`{"v":1}`)}, event: 1},
		{row: outRow{id: "m2", body: []byte("raw"), attrs: []byte(`{"a":"b"}`), delay: 1500}},
	}}
	got, err := decodeEnvelope(env.encode())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&env, got, cmp.AllowUnexported(envelope{}, envEvent{}, envMessage{}, outRow{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 0, 5}, append(env.encode(), 0)} {
		if _, err := decodeEnvelope(bad); !errors.Is(err, errEnvelope) {
			t.Errorf("decodeEnvelope(%x) = %v; want errEnvelope", bad, err)
		}
	}
}

// FuzzDecodeEnvelope: any input decodes or fails with errEnvelope, and what
// decodes encodes back to the same bytes.
func FuzzDecodeEnvelope(f *testing.F) {
	env := envelope{queue: "q", events: []envEvent{{id: "e", data: []byte("d"), legacy: []byte("l"),
		first: &cutover.Transition{Kind: "received", At: time.Unix(1, 0)}}},
		msgs: []envMessage{{row: outRow{id: "e", body: []byte("d")}, event: 1}, {row: outRow{id: "m", body: []byte("x"), attrs: []byte("a")}}}}
	f.Add(env.encode())
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeEnvelope(data)
		if err != nil {
			if !errors.Is(err, errEnvelope) {
				t.Fatalf("error %v is not errEnvelope", err)
			}
			return
		}
		again, err := decodeEnvelope(e.encode())
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if diff := cmp.Diff(e, again, cmp.AllowUnexported(envelope{}, envEvent{}, envMessage{}, outRow{})); diff != "" {
			t.Fatalf("encode(decode(x)) decodes differently (-first +second):\n%s", diff)
		}
	})
}
