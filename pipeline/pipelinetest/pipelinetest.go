// Package pipelinetest holds the checks shared by the tests that run shadow
// events through the real publisher and worker on a backend, with a legacy
// side of status 201 and a handler that answers 200.
package pipelinetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// Pairs counts the pairs handed over for comparing, per event, and notes
// those without both sides as the runs publish them.
type Pairs struct {
	mu  sync.Mutex
	n   map[string]int
	bad []string
}

// NewPairs returns an empty Pairs.
func NewPairs() *Pairs { return &Pairs{n: map[string]int{}} }

// HandlePair implements the worker's pair handler.
func (c *Pairs) HandlePair(_ context.Context, p cutover.OutcomePair) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[p.EventID]++
	if p.Legacy == nil || p.Async == nil || p.Legacy.Status != 201 || p.Async.Status != 200 {
		c.bad = append(c.bad, fmt.Sprintf("%s: legacy %+v, async %+v", p.EventID, p.Legacy, p.Async))
	}
	return nil
}

// CheckComparedOnce waits up to timeout for every event of evs to be
// compared, waits a little longer for any second comparison to show, and
// checks that each was compared exactly once with both sides.
func (c *Pairs) CheckComparedOnce(t testing.TB, evs []*cutover.Event, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for c.count() < len(evs) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		if n := c.n[ev.ID]; n != 1 {
			t.Errorf("event %s compared %d times, want once", ev.ID, n)
		}
	}
	for _, bad := range c.bad {
		t.Errorf("pair compared with the wrong sides: %s", bad)
	}
}

func (c *Pairs) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.n)
}

// CheckLogs checks that each event is archived and that its log reads
// received, started, succeeded, with a failed first attempt and its retry
// before them for the flaky ones. A message that came twice may add entries
// after that, ending in succeeded.
func CheckLogs(ctx context.Context, t testing.TB, log cutover.TransitionLog, archive cutover.EventArchive, evs []*cutover.Event, flaky map[string]bool) {
	t.Helper()
	for _, ev := range evs {
		h, err := log.History(ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []cutover.TransitionKind
		for _, tr := range h {
			kinds = append(kinds, tr.Kind)
		}
		want := []cutover.TransitionKind{cutover.TransitionReceived, cutover.TransitionStarted, cutover.TransitionSucceeded}
		if flaky[ev.ID] {
			want = []cutover.TransitionKind{cutover.TransitionReceived, cutover.TransitionStarted, cutover.TransitionRetryScheduled,
				cutover.TransitionStarted, cutover.TransitionSucceeded}
		}
		if len(kinds) > len(want) && kinds[len(kinds)-1] == cutover.TransitionSucceeded {
			kinds = kinds[:len(want)]
		}
		if diff := cmp.Diff(want, kinds); diff != "" {
			t.Errorf("log of %s (-want +got):\n%s", ev.ID, diff)
		}
		if got, err := archive.Event(ctx, ev.ID); err != nil || got.ID != ev.ID {
			t.Errorf("Event(%s) = %v, %v", ev.ID, got, err)
		}
	}
}
