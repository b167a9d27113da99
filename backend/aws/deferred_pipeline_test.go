package aws

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
	"github.com/cutover-dev/cutover/pipeline"
	"github.com/cutover-dev/cutover/pipeline/pipelinetest"
)

// TestDeferredStartPipeline runs shadow events through the real publisher
// and worker on this backend, their starts deferred: some fail once and
// succeed on their second attempt, some are published twice. Every event
// is compared exactly once with both sides, and its log starts with the
// received entry the worker wrote for it.
func TestDeferredStartPipeline(t *testing.T) {
	if testing.Short() {
		t.Skip("pipeline against the local servers")
	}
	cfg, err := cutover.Parse([]byte(`
legacy: http://127.0.0.1:1
worker:
  concurrency: 16
  poll_wait: 200ms
  backoff: {initial: 50ms, max: 200ms}
workflows:
  - name: deferred
    route: POST /deferred
`))
	if err != nil {
		t.Fatal(err)
	}
	b := openTest(t, testConfig(t), testOptions())
	ctx := testContext(t)
	cfg.Backend = b.cfg
	if err := b.Init(ctx, cfg, false, new(strings.Builder)); err != nil {
		t.Fatal(err)
	}
	st := b.Stores()
	pub := pipeline.NewPublisher(cfg, pipeline.PublisherStores{Queue: st.Queue, Archive: st.Archive, Transitions: st.Transitions, Blobs: st.Blobs, Outcomes: st.Outcomes})
	const n = 40
	var calls sync.Map // event id -> *atomic.Int32
	h := pipeline.HandlerFunc(func(_ context.Context, ev *cutover.Event) (*cutover.Outcome, error) {
		v, _ := calls.LoadOrStore(ev.ID, new(atomic.Int32))
		if v.(*atomic.Int32).Add(1) == 1 && strings.HasSuffix(ev.IdempotencyKey, "-flaky") {
			return nil, errors.New("first attempt fails")
		}
		return &cutover.Outcome{Status: 200, Body: cutover.Body(`{"ok":true}`)}, nil
	})
	pairs := pipelinetest.NewPairs()
	w, err := pipeline.New(cfg, pipeline.WorkerStores{Queue: st.Queue, Idempotency: st.Idempotency, Transitions: st.Transitions, Outcomes: st.Outcomes, Blobs: st.Blobs},
		pub, pipeline.Options{Handlers: map[pipeline.StepRef]pipeline.Handler{{Workflow: "deferred", Step: cutover.RespondStep}: h}, Pairs: pairs})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { _ = w.Run(wctx); close(stopped) }()
	defer func() { stop(); <-stopped }()

	legacy := &cutover.Outcome{Status: 201, Body: cutover.Body(`{"ok":true}`)}
	evs := make([]*cutover.Event, n)
	outs := make([]*cutover.Outcome, n)
	flaky := map[string]bool{}
	for i := range evs {
		key := fmt.Sprintf("k-%d", i)
		if i%4 == 0 {
			key += "-flaky"
		}
		id := cutover.NewEventID()
		evs[i] = &cutover.Event{ID: id, Workflow: "deferred", Step: cutover.RespondStep, Mode: cutover.EventShadow,
			IdempotencyKey: key, CorrelationID: id, ReceivedAt: time.Now().UTC(),
			Request: cutover.Request{Method: "POST", Path: "/deferred", Body: cutover.Body(`{}`)}}
		outs[i] = legacy
		flaky[id] = i%4 == 0
	}
	if pairsNow, err := pub.PublishWithLegacy(ctx, evs, outs); err != nil || len(pairsNow) != 0 {
		t.Fatalf("PublishWithLegacy = %v, %v", pairsNow, err)
	}
	// A retried publish of a few: their messages come twice.
	if _, err := pub.PublishWithLegacy(ctx, evs[:5], outs[:5]); err != nil {
		t.Fatal(err)
	}
	pairs.CheckComparedOnce(t, evs, 60*time.Second)
	pipelinetest.CheckLogs(ctx, t, st.Transitions, st.Archive, evs, flaky)
}
