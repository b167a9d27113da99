package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

// A receive that meets messages received max_receive times already moves
// them to the dead-letter queue, as they were sent, and fills its batch from
// the messages after them.
func TestReceiveRedrivesAndFillsBatch(t *testing.T) {
	ctx := context.Background()
	db := open(t, Options{})
	if err := db.EnsureQueue(ctx, cutover.QueueSpec{Name: "q", DeadLetter: "dlq", MaxReceiveCount: 1}); err != nil {
		t.Fatal(err)
	}
	send := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if err := db.Send(ctx, "q", []cutover.OutgoingMessage{{ID: id, Body: []byte("body " + id)}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	send("p1", "p2")
	first, err := db.Receive(ctx, "q", cutover.ReceiveOptions{Max: 2, Visibility: time.Minute})
	if err != nil || len(first) != 2 {
		t.Fatalf("first receive: %d messages, %v", len(first), err)
	}
	for _, m := range first {
		if err := db.ChangeVisibility(ctx, "q", m.Receipt, 0); err != nil {
			t.Fatal(err)
		}
	}
	send("g1", "g2", "g3")
	got, err := db.Receive(ctx, "q", cutover.ReceiveOptions{Max: 2, Visibility: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "g1" || got[1].ID != "g2" || got[0].ReceiveCount != 1 {
		t.Fatalf("second receive: %+v, want g1 and g2, first deliveries", got)
	}
	dead, err := db.Receive(ctx, "dlq", cutover.ReceiveOptions{Max: 10, Visibility: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 2 || dead[0].ID != "p1" || dead[1].ID != "p2" {
		t.Fatalf("dead-letter queue: %+v, want p1 and p2", dead)
	}
	for i, m := range dead {
		if string(m.Body) != "body "+m.ID || m.ReceiveCount != 1 || !m.SentAt.Equal(first[i].SentAt) {
			t.Errorf("dead letter %s: body %q, ReceiveCount %d, SentAt %v; want it as sent, ReceiveCount 1, SentAt %v",
				m.ID, m.Body, m.ReceiveCount, m.SentAt, first[i].SentAt)
		}
	}
	st, err := db.QueueStats(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	if st.Visible != 1 || st.InFlight != 2 {
		t.Errorf("queue after the receive: %+v, want g3 visible and g1, g2 in flight", st)
	}
}
