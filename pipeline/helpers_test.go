package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/backend/embedded"
)

// env is one test's pipeline on a fresh embedded backend.
type env struct {
	t      *testing.T
	cfg    *cutover.Config
	stores cutover.Stores
	pub    *Publisher
}

func newEnv(t *testing.T, yaml string) *env {
	t.Helper()
	cfg, err := cutover.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	db, err := embedded.Open(context.Background(), embedded.Options{Path: filepath.Join(t.TempDir(), "cutover.db"), Durability: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	stores := db.Stores()
	t.Cleanup(func() { _ = stores.Close() })
	if err := EnsureTopology(context.Background(), stores.Queue, cfg); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, cfg: cfg, stores: stores, pub: NewPublisher(cfg, PublisherStores{Queue: stores.Queue, Archive: stores.Archive, Transitions: stores.Transitions, Blobs: stores.Blobs})}
}

// worker starts a worker with opt and stops it when the test ends.
func (e *env) worker(opt Options) (stop func()) {
	e.t.Helper()
	w, err := New(e.cfg, WorkerStores{Queue: e.stores.Queue, Idempotency: e.stores.Idempotency, Transitions: e.stores.Transitions, Outcomes: e.stores.Outcomes, Blobs: e.stores.Blobs}, e.pub, opt)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					e.t.Errorf("worker: %v", err)
				}
			case <-time.After(20 * time.Second):
				e.t.Error("worker did not stop within 20s")
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

func (e *env) event(workflow, key, body string) *cutover.Event {
	id := cutover.NewEventID()
	return &cutover.Event{
		ID: id, Workflow: workflow, Step: cutover.RespondStep, Mode: cutover.EventShadow,
		IdempotencyKey: key, CorrelationID: id, ReceivedAt: time.Now().UTC(),
		Request: cutover.Request{Method: "POST", Path: "/" + workflow, Header: http.Header{"Content-Type": {"application/json"}}, Body: cutover.Body(body)},
	}
}

func (e *env) publish(evs ...*cutover.Event) {
	e.t.Helper()
	if err := e.pub.Publish(context.Background(), evs...); err != nil {
		e.t.Fatal(err)
	}
}

// waitState waits until every id reached a terminal state and returns them.
func (e *env) waitState(timeout time.Duration, ids ...string) map[string]cutover.EventState {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out := map[string]cutover.EventState{}
		done := true
		for _, id := range ids {
			h, err := e.stores.Transitions.History(context.Background(), id)
			if err != nil {
				e.t.Fatal(err)
			}
			s := cutover.StateOf(h)
			out[id] = s
			if s != cutover.StateSucceeded && s != cutover.StateDeadLettered {
				done = false
			}
		}
		if done {
			return out
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("events not finished after %s: %v", timeout, out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) history(id string) []cutover.Transition {
	e.t.Helper()
	h, err := e.stores.Transitions.History(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

func kinds(h []cutover.Transition) []cutover.TransitionKind {
	out := make([]cutover.TransitionKind, len(h))
	for i, t := range h {
		out[i] = t.Kind
	}
	return out
}

// target is an HTTP target that counts side effects per idempotency key and,
// like a well-behaved service, replays its stored answer for a known key.
type target struct {
	mu      sync.Mutex
	calls   map[string]int
	effects map[string]int
	srv     *httptest.Server
	status  func(key string, call int) int // nil: 201
}

func newTarget(t *testing.T) *target {
	tg := &target{calls: map[string]int{}, effects: map[string]int{}}
	tg.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(HeaderIdempotencyKey)
		tg.mu.Lock()
		tg.calls[key]++
		n := tg.calls[key]
		status := http.StatusCreated
		if tg.status != nil {
			status = tg.status(key, n)
		}
		if status < 300 && tg.effects[key] == 0 {
			tg.effects[key]++
		}
		tg.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"key":%q,"mode":%q}`, key, r.Header.Get(HeaderMode))
	}))
	t.Cleanup(tg.srv.Close)
	return tg
}

func (tg *target) snapshot() (calls, effects map[string]int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	calls, effects = map[string]int{}, map[string]int{}
	for k, v := range tg.calls {
		calls[k] = v
	}
	for k, v := range tg.effects {
		effects[k] = v
	}
	return calls, effects
}

// baseConfig is a one-workflow config whose respond step calls url.
func baseConfig(url string, extra string) string {
	return fmt.Sprintf(`
legacy: http://127.0.0.1:1
worker:
  visibility: 2s
  poll_wait: 50ms
  backoff: {initial: 20ms, max: 200ms, jitter: 0.1}
  max_attempts: 3
  shutdown_grace: 2s
workflows:
  - name: orders
    route: POST /orders
    target: %s
%s`, url, extra)
}
