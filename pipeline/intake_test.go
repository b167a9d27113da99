package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cutover-dev/cutover"
)

// TestIntakePipeline runs shadow batches through the embedded backend's
// one-row intake, published from several goroutines with a retried batch
// among them, and a worker whose handler fails the first attempt of every
// fourth event: every event is compared exactly once with both sides, and
// its log reads as if the publisher had written it row by row.
func TestIntakePipeline(t *testing.T) {
	e := newEnv(t, baseConfig("http://127.0.0.1:1", ""))
	if _, ok := e.pub.intaker(); !ok {
		t.Fatal("the embedded backend does not take batches in one row")
	}
	ctx := context.Background()
	const batches, perBatch = 8, 25
	var calls sync.Map // event id -> *atomic.Int32
	h := HandlerFunc(func(_ context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		v, _ := calls.LoadOrStore(ev.ID, new(atomic.Int32))
		if v.(*atomic.Int32).Add(1) == 1 && strings.HasSuffix(ev.IdempotencyKey, "-flaky") {
			return nil, errors.New("first attempt fails")
		}
		return &cutover.Outcome{Status: 200, Body: cutover.Body(`{"ok":true}`)}, nil
	})
	compared := &pairCount{n: map[string]int{}}
	e.worker(Options{Handlers: map[StepRef]Handler{{"orders", cutover.RespondStep}: h}, Pairs: compared})

	var all []*cutover.Event
	flaky := map[string]bool{}
	var wg sync.WaitGroup
	for b := range batches {
		evs := make([]*cutover.Event, perBatch)
		outs := make([]*cutover.Outcome, perBatch)
		for i := range evs {
			key := fmt.Sprintf("k-%d-%d", b, i)
			if i%4 == 0 {
				key += "-flaky"
			}
			evs[i] = e.event("orders", key, `{}`)
			outs[i] = &cutover.Outcome{Status: 201, Body: cutover.Body(`{"ok":true}`), At: time.Now().UTC()}
			flaky[evs[i].ID] = i%4 == 0
		}
		all = append(all, evs...)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if pairs, err := e.pub.PublishWithLegacy(ctx, evs, outs); err != nil || len(pairs) != 0 {
				t.Errorf("PublishWithLegacy = %v, %v", pairs, err)
			}
			if b == 0 { // a retried publish: its messages come twice
				if _, err := e.pub.PublishWithLegacy(ctx, evs, outs); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for compared.total() < len(all) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // let a second comparison show
	compared.mu.Lock()
	for _, ev := range all {
		if c := compared.n[ev.ID]; c != 1 {
			t.Errorf("event %s compared %d times, want once", ev.ID, c)
		}
	}
	for _, bad := range compared.bad {
		t.Errorf("pair compared without both sides: %s", bad)
	}
	compared.mu.Unlock()
	for _, ev := range all {
		hist, err := e.stores.Transitions.History(ctx, ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []cutover.TransitionKind
		for _, tr := range hist {
			kinds = append(kinds, tr.Kind)
		}
		want := []cutover.TransitionKind{cutover.TransitionReceived, cutover.TransitionStarted, cutover.TransitionSucceeded}
		if flaky[ev.ID] {
			want = []cutover.TransitionKind{cutover.TransitionReceived, cutover.TransitionStarted, cutover.TransitionRetryScheduled,
				cutover.TransitionStarted, cutover.TransitionSucceeded}
		}
		// A message that came twice may add its duplicate's entry at the end.
		if len(kinds) > len(want) && kinds[len(want)-1] == cutover.TransitionSucceeded {
			kinds = kinds[:len(want)]
		}
		if diff := cmp.Diff(want, kinds); diff != "" {
			t.Errorf("log of %s (-want +got):\n%s", ev.ID, diff)
		}
		if got, err := e.stores.Archive.Event(ctx, ev.ID); err != nil || got.ID != ev.ID {
			t.Errorf("Event(%s) = %v, %v", ev.ID, got, err)
		}
	}
	st, err := e.stores.Queue.QueueStats(ctx, cutover.QueueName("orders", cutover.RespondStep))
	if err != nil || st.Visible+st.InFlight+st.Delayed != 0 {
		t.Errorf("queue after the run: %+v, %v; want empty", st, err)
	}
}

// pairCount counts the comparisons of each event and notes pairs handed
// over without both sides.
type pairCount struct {
	mu  sync.Mutex
	n   map[string]int
	bad []string
}

func (c *pairCount) HandlePair(_ context.Context, p cutover.OutcomePair) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[p.EventID]++
	if p.Legacy == nil || p.Async == nil || p.Legacy.Status != 201 || p.Async.Status != 200 {
		c.bad = append(c.bad, p.EventID)
	}
	return nil
}

func (c *pairCount) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.n)
}
