package backendtest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// testStartLogs checks the optional cutover.LogStarter: first entries of
// many logs in one call, existing logs left as they are.
func testStartLogs(t *testing.T, s cutover.Stores) {
	starter, ok := s.Transitions.(cutover.LogStarter)
	if !ok {
		t.Skip("this backend's transition log does not implement cutover.LogStarter (optional)")
	}
	ctx := testContext(t)
	ids := make([]string, 40)
	first := make([]cutover.LogStart, len(ids))
	for i := range ids {
		ids[i] = cutover.NewEventID()
		first[i] = cutover.LogStart{EventID: ids[i], Transition: cutover.Transition{Kind: cutover.TransitionReceived, Detail: "batch"}}
	}
	// One log exists already and has moved on: it must stay as it is.
	if _, err := s.Transitions.Append(ctx, ids[3], 0, cutover.Transition{Kind: cutover.TransitionReceived, Detail: "earlier"}, cutover.Transition{Kind: cutover.TransitionStarted}); err != nil {
		t.Fatal(err)
	}
	if err := starter.StartLogs(ctx, first); err != nil {
		t.Fatalf("StartLogs: %v", err)
	}
	if err := starter.StartLogs(ctx, first[:5]); err != nil { // a retried publish
		t.Fatalf("StartLogs again: %v", err)
	}
	for i, id := range ids {
		h := history(t, s.Transitions, id)
		want := []string{"received:batch"}
		if i == 3 {
			want = []string{"received:earlier", "attempt_started:"}
		}
		var got []string
		for j, tr := range h {
			if tr.Seq != j+1 || tr.At.IsZero() {
				t.Errorf("event %d entry %d: seq %d at %v", i, j, tr.Seq, tr.At)
			}
			got = append(got, string(tr.Kind)+":"+tr.Detail)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("event %d log (-want +got):\n%s", i, diff)
		}
	}
	// The log goes on from version 1.
	if _, err := s.Transitions.Append(ctx, ids[0], 1, cutover.Transition{Kind: cutover.TransitionStarted}); err != nil {
		t.Errorf("Append after StartLogs: %v", err)
	}
}
