package embedded

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

// A batch of receipts longer than one statement, holding a stale receipt
// just before the current one of the same message, deletes every message.
func TestDeleteBatchWithStaleReceipt(t *testing.T) {
	ctx := context.Background()
	db := open(t, Options{})
	const q, n = "q", 2*deleteChunk + 3
	if err := db.EnsureQueue(ctx, cutover.QueueSpec{Name: q}); err != nil {
		t.Fatal(err)
	}
	out := make([]cutover.OutgoingMessage, n)
	for i := range out {
		out[i] = cutover.OutgoingMessage{ID: fmt.Sprint(i), Body: []byte("x")}
	}
	if err := db.Send(ctx, q, out); err != nil {
		t.Fatal(err)
	}
	var receipts []string
	for len(receipts) < n {
		ms, err := db.Receive(ctx, q, cutover.ReceiveOptions{Max: 10, Visibility: time.Minute})
		if err != nil || len(ms) == 0 {
			t.Fatalf("Receive: %d messages, %v", len(ms), err)
		}
		for _, m := range ms {
			receipts = append(receipts, m.Receipt)
		}
	}
	// Receive the third message again: its first receipt goes stale.
	if err := db.ChangeVisibility(ctx, q, receipts[2], 0); err != nil {
		t.Fatal(err)
	}
	again, err := db.Receive(ctx, q, cutover.ReceiveOptions{Max: 1, Visibility: time.Minute})
	if err != nil || len(again) != 1 {
		t.Fatalf("Receive again: %d messages, %v", len(again), err)
	}
	batch := append([]string{}, receipts[:3]...)
	batch = append(batch, again[0].Receipt)
	batch = append(batch, receipts[3:]...)
	if err := db.Delete(ctx, q, batch); err != nil {
		t.Fatal(err)
	}
	st, err := db.QueueStats(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if st.Visible+st.InFlight+st.Delayed != 0 {
		t.Errorf("after Delete: %+v, want an empty queue", st)
	}
}

func TestDeleteRun(t *testing.T) {
	k := func(seqs ...int64) []receiptKey {
		ks := make([]receiptKey, len(seqs))
		for i, s := range seqs {
			ks[i] = receiptKey{seq: s, token: 1}
		}
		return ks
	}
	for _, c := range []struct {
		keys []receiptKey
		max  int
		want int
	}{
		{k(1), 16, 1},
		{k(1, 2, 3), 16, 3},
		{k(1, 2, 3), 2, 2},
		{k(1, 2, 1, 3), 16, 2},
		{k(1, 1), 16, 1},
	} {
		if got := deleteRun(c.keys, c.max); got != c.want {
			t.Errorf("deleteRun(%v, %d) = %d, want %d", c.keys, c.max, got, c.want)
		}
	}
}

// Each delete statement looks its rows up by seq, whatever its length.
func TestDeletePlan(t *testing.T) {
	db := open(t, Options{})
	for n := 1; n <= deleteChunk; n++ {
		args := []any{"q"}
		for i := range 3 * n {
			args = append(args, i)
		}
		rows, err := db.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+deleteText(n), args...)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(detail, "INTEGER PRIMARY KEY") {
				t.Errorf("plan of a delete of %d: %s, want a lookup by seq", n, detail)
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
