package embedded

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestReopenKeepsEverything writes to every store, closes the file, opens
// it again and reads everything back.
func TestReopenKeepsEverything(t *testing.T) {
	for _, durability := range []string{DurabilityFull, DurabilityNormal} {
		t.Run(durability, func(t *testing.T) {
			ctx := context.Background()
			db := open(t, Options{Durability: durability})
			at := time.Date(2024, 5, 17, 10, 30, 15, 123456789, time.UTC)

			ev := &cutover.Event{
				ID: cutover.NewEventID(), Workflow: "wf", Step: cutover.RespondStep, Mode: cutover.EventShadow,
				IdempotencyKey: "k", CorrelationID: "c", ReceivedAt: at,
				Request: cutover.Request{Method: http.MethodPost, Path: "/orders", Header: http.Header{"A": {"b"}}, Body: cutover.Body(`{"x":1}`)},
			}
			out := &cutover.Outcome{Status: 201, Body: cutover.Body(`{"ok":true}`), At: at}
			key := cutover.IdempotencyKey{Workflow: "wf", Step: cutover.RespondStep, Key: "k"}
			cmpRec := &cutover.Comparison{EventID: ev.ID, Workflow: "wf", Verdict: cutover.VerdictMatch, ComparedAt: at}
			flag := cutover.Flag{Workflow: "wf", Mode: cutover.ModeShadow, Version: 1, UpdatedAt: at}
			change := cutover.FlagChange{Workflow: "wf", Version: 1, At: at, By: "t", ToMode: cutover.ModeShadow}

			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(db.EnsureQueue(ctx, cutover.QueueSpec{Name: "q", DeadLetter: "dlq", MaxReceiveCount: 1}))
			must(db.Send(ctx, "q", []cutover.OutgoingMessage{{ID: ev.ID, Body: []byte("msg"), Attributes: map[string]string{"a": "b"}}}))
			c, err := db.Claim(ctx, cutover.ClaimRequest{Key: key, PayloadHash: "h", EventID: ev.ID, Lease: time.Minute})
			must(err)
			must(db.Complete(ctx, key, c.Epoch, out))
			_, err = db.Append(ctx, ev.ID, 0, cutover.Transition{Kind: cutover.TransitionReceived, At: at})
			must(err)
			must(db.Archive(ctx, ev))
			_, _, err = db.PutOutcome(ctx, "wf", ev.ID, 0, cutover.SideLegacy, out)
			must(err)
			must(db.SaveComparison(ctx, cmpRec))
			ref, err := db.PutBlob(ctx, []byte("blob"))
			must(err)
			must(db.SetFlag(ctx, flag, change))
			must(db.Close())

			db = open(t, Options{Path: db.Path(), Durability: durability})
			ms, err := db.Receive(ctx, "q", cutover.ReceiveOptions{Max: 10, Visibility: time.Minute})
			must(err)
			if len(ms) != 1 || string(ms[0].Body) != "msg" || ms[0].Attributes["a"] != "b" {
				t.Errorf("queue after reopening: %+v", ms)
			}
			must(db.ChangeVisibility(ctx, "q", ms[0].Receipt, 0))
			if ms, err := db.Receive(ctx, "q", cutover.ReceiveOptions{Max: 1}); err != nil || len(ms) != 0 {
				t.Errorf("the redrive policy did not survive reopening: %+v, %v", ms, err)
			}
			rec, err := db.IdempotencyRecord(ctx, key)
			must(err)
			if !rec.Completed || cmp.Diff(out, rec.Outcome) != "" {
				t.Errorf("idempotency record after reopening: %+v", rec)
			}
			h, err := db.History(ctx, ev.ID)
			must(err)
			if len(h) != 1 || !h[0].At.Equal(at) {
				t.Errorf("history after reopening: %+v", h)
			}
			gotEv, err := db.Event(ctx, ev.ID)
			must(err)
			if diff := cmp.Diff(ev, gotEv); diff != "" {
				t.Errorf("event after reopening (-want +got):\n%s", diff)
			}
			pair, err := db.OutcomePair(ctx, ev.ID, 0)
			must(err)
			if diff := cmp.Diff(out, pair.Legacy); diff != "" {
				t.Errorf("outcome after reopening (-want +got):\n%s", diff)
			}
			gotCmp, err := db.Comparison(ctx, ev.ID, 0)
			must(err)
			if diff := cmp.Diff(cmpRec, gotCmp); diff != "" {
				t.Errorf("comparison after reopening (-want +got):\n%s", diff)
			}
			wantAgg := cutover.NewAggregate("wf", 0, at)
			wantAgg.Add(cmpRec)
			aggs, err := db.Aggregates(ctx, "wf", time.Time{}, time.Time{})
			must(err)
			if diff := cmp.Diff([]*cutover.Aggregate{wantAgg}, aggs, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("aggregates after reopening (-want +got):\n%s", diff)
			}
			blob, err := db.Blob(ctx, ref)
			must(err)
			if string(blob) != "blob" {
				t.Errorf("blob after reopening: %q", blob)
			}
			gotFlag, err := db.Flag(ctx, "wf")
			must(err)
			hist, err := db.FlagHistory(ctx, "wf")
			must(err)
			if diff := cmp.Diff(flag, gotFlag); diff != "" {
				t.Errorf("flag after reopening (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]cutover.FlagChange{change}, hist); diff != "" {
				t.Errorf("flag history after reopening (-want +got):\n%s", diff)
			}
		})
	}
}
