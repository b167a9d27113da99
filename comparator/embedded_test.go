package comparator

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/embedded"
)

// The same exactly-once guarantee on the real embedded backend: both
// outcomes of each event delivered at once, and each redelivered three
// times, give one comparison, one compared transition and one count in the
// aggregate per event.
func TestExactlyOnceOnEmbeddedBackend(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := embedded.Open(ctx, embedded.Options{Path: filepath.Join(t.TempDir(), "cutover.db"), Durability: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	st := db.Stores()
	defer st.Close()
	svc, err := New(testConfig(), Stores{Outcomes: st.Outcomes, Comparisons: st.Comparisons, Transitions: st.Transitions, Blobs: st.Blobs}, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const events = 40
	ids := make([]string, events)
	for i := range ids {
		ids[i] = cutover.NewEventID()
		if _, err := st.Transitions.Append(ctx, ids[i], 0, cutover.Transition{Kind: cutover.TransitionReceived}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, events*8)
	for i, id := range ids {
		legacy := fmt.Sprintf(`{"order_id":"L%d","total":%d}`, i, i)
		async := fmt.Sprintf(`{"order_id":"A%d","total":%d}`, i, i+i%2) // odd events mismatch
		for range 4 {
			for side, body := range map[cutover.Side]string{cutover.SideLegacy: legacy, cutover.SideAsync: async} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := svc.RecordOutcome(ctx, "create-order", id, 0, side, outcome(body)); err != nil {
						errs <- err
					}
				}()
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("RecordOutcome: %v", err)
	}
	comps, err := st.Comparisons.Comparisons(ctx, cutover.ComparisonQuery{Workflow: "create-order", Epoch: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(comps) != events {
		t.Fatalf("%d comparisons, want %d", len(comps), events)
	}
	for _, id := range ids {
		h, err := st.Transitions.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, tr := range h {
			if tr.Kind == cutover.TransitionCompared {
				n++
			}
		}
		if n != 1 {
			t.Errorf("event %s: %d compared transitions, want 1", id, n)
		}
	}
	aggs, err := st.Comparisons.Aggregates(ctx, "create-order", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var total, mismatches int64
	for _, a := range aggs {
		total += a.Total()
		mismatches += a.Verdicts[cutover.VerdictMismatch]
	}
	if total != events || mismatches != events/2 {
		t.Errorf("aggregates count %d comparisons, %d mismatches; want %d and %d", total, mismatches, events, events/2)
	}
}
