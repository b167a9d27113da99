package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/pipeline"
)

// effectCounter is an HTTP target that, like a well-behaved service, applies
// each idempotency key once and replays its answer after that; it counts raw
// calls and applied effects per key.
type effectCounter struct {
	mu      sync.Mutex
	calls   map[string]int
	effects map[string]int
}

func (c *effectCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get(pipeline.HeaderIdempotencyKey)
	time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
	c.mu.Lock()
	c.calls[key]++
	transient := c.calls[key] == 1 && rand.IntN(20) == 0 // 5% fail first time
	if !transient {
		c.effects[key] = 1
	}
	c.mu.Unlock()
	if transient {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"key":%q}`, key)
}

// A worker process is killed with SIGKILL at random moments while it
// processes 2,000 events, then restarted. Every accepted event must end
// succeeded or dead-lettered, none lost, each key applied exactly once.
func TestCrashSafetyEmbedded(t *testing.T) {
	if testing.Short() {
		t.Skip("kills worker processes for about a minute")
	}
	dir := t.TempDir()
	crashTest(t, dir, fmt.Sprintf("{kind: embedded, path: %s}", filepath.Join(dir, "cutover.db")), 150*time.Millisecond)
}

// crashTest runs the crash test on the backend that backendYAML configures;
// kills come after at least minRun, plus up to 600 ms.
func crashTest(t *testing.T, dir, backendYAML string, minRun time.Duration) {
	const events = 2000
	target := &effectCounter{calls: map[string]int{}, effects: map[string]int{}}
	srv := httptest.NewServer(target)
	defer srv.Close()
	cfgPath := filepath.Join(dir, "cutover.yaml")
	writeFile(t, cfgPath, fmt.Sprintf(`
legacy: http://127.0.0.1:1
backend: %s
log: {level: warn}
worker:
  metrics_listen: 127.0.0.1:0
  visibility: 2s
  poll_wait: 50ms
  concurrency: 16
  max_attempts: 8
  backoff: {initial: 20ms, max: 500ms}
workflows:
  - name: crash
    route: POST /crash
    target: %s/crash
`, backendYAML, srv.URL))
	cfg, err := cutover.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if out, err := runCutover(t, nil, "init", "--config", cfgPath); err != nil {
		t.Fatalf("cutover init: %v\n%s", err, out)
	}
	stores, err := openStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close()
	if err := pipeline.EnsureTopology(ctx, stores.Queue, cfg); err != nil {
		t.Fatal(err)
	}
	pub := pipeline.NewPublisher(cfg, pipeline.PublisherStores{Queue: stores.Queue, Archive: stores.Archive, Transitions: stores.Transitions, Blobs: stores.Blobs})
	ids := make([]string, 0, events)
	keys := map[string]string{}
	for i := 0; i < events; i += 100 {
		batch := make([]*cutover.Event, 0, 100)
		for j := i; j < i+100; j++ {
			id := cutover.NewEventID()
			key := fmt.Sprintf("key-%04d", j)
			batch = append(batch, &cutover.Event{ID: id, Workflow: "crash", Step: cutover.RespondStep, Mode: cutover.EventLive,
				IdempotencyKey: key, CorrelationID: id, ReceivedAt: time.Now().UTC(),
				Request: cutover.Request{Method: "POST", Path: "/crash", Body: cutover.Body(fmt.Sprintf(`{"n":%d}`, j))}})
			ids = append(ids, id)
			keys[id] = key
		}
		if err := pub.Publish(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "worker", "--config", cfgPath)
		cmd.Env = append(os.Environ(), "CUTOVER_TEST_EXEC=1")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	pending := func() (left int, states map[cutover.EventState]int) {
		states = map[cutover.EventState]int{}
		for _, id := range ids {
			h, err := stores.Transitions.History(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			s := cutover.StateOf(h)
			states[s]++
			if s != cutover.StateSucceeded && s != cutover.StateDeadLettered {
				left++
			}
		}
		return left, states
	}
	// backlog is cheap to poll (reading 2,000 logs is not, under -race).
	q := cutover.QueueName("crash", cutover.RespondStep)
	backlog := func() int64 {
		st, err := stores.Queue.QueueStats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return st.Visible + st.InFlight + st.Delayed
	}
	kills := 0
	for kills < 8 {
		cmd := start()
		time.Sleep(minRun + time.Duration(rand.IntN(600))*time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
		left := backlog()
		t.Logf("kill %d: %d messages left", kills, left)
		if left == 0 {
			break
		}
	}
	final := start()
	deadline := time.Now().Add(150 * time.Second)
	var states map[cutover.EventState]int
	for {
		if backlog() == 0 {
			var left int
			if left, states = pending(); left == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = final.Process.Signal(syscall.SIGKILL)
			left, states := pending()
			t.Fatalf("%d events unfinished after the last restart: %v", left, states)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = final.Process.Signal(syscall.SIGTERM)
	if err := final.Wait(); err != nil {
		t.Errorf("worker did not stop cleanly on SIGTERM: %v", err)
	}

	target.mu.Lock()
	defer target.mu.Unlock()
	if states[cutover.StateSucceeded] != events {
		t.Errorf("states %v, want all %d succeeded (the target only fails transiently)", states, events)
	}
	dupCalls := 0
	for _, id := range ids {
		key := keys[id]
		if target.effects[key] != 1 {
			t.Errorf("key %s applied %d times, want 1", key, target.effects[key])
		}
		dupCalls += target.calls[key] - 1
	}
	if len(target.effects) != events {
		t.Errorf("target saw %d keys, want %d", len(target.effects), events)
	}
	for _, q := range []string{cutover.QueueName("crash", cutover.RespondStep), cutover.DeadLetterName("crash", cutover.RespondStep)} {
		st, err := stores.Queue.QueueStats(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if st.Visible+st.InFlight+st.Delayed != 0 {
			t.Errorf("queue %s not empty: %+v", q, st)
		}
	}
	t.Logf("%d kills; %d events succeeded; %d repeated calls reached the target (transient 503s and attempts cut short by a kill)", kills, events, dupCalls)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
