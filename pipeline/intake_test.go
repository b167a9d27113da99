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

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/pipeline/pipelinetest"
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
	compared := pipelinetest.NewPairs()
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
	compared.CheckComparedOnce(t, all, 30*time.Second)
	pipelinetest.CheckLogs(ctx, t, e.stores.Transitions, e.stores.Archive, all, flaky)
	st, err := e.stores.Queue.QueueStats(ctx, cutover.QueueName("orders", cutover.RespondStep))
	if err != nil || st.Visible+st.InFlight+st.Delayed != 0 {
		t.Errorf("queue after the run: %+v, %v; want empty", st, err)
	}
}
