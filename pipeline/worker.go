package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/cutover-dev/cutover"
)

// WorkerStores is what the worker runtime needs from a backend.
type WorkerStores struct {
	Queue       cutover.Queue
	Idempotency cutover.IdempotencyStore
	Transitions cutover.TransitionLog
	Outcomes    OutcomeWriter
	Blobs       BlobReader
}

// OutcomeWriter records one side of an outcome pair.
type OutcomeWriter interface {
	PutOutcome(ctx context.Context, workflow, eventID string, epoch int, side cutover.Side, o *cutover.Outcome) (cutover.OutcomePair, bool, error)
}

// PairHandler is told about each outcome pair the worker completed; it
// compares it (whoever completes a pair compares it, once).
type PairHandler interface {
	HandlePair(ctx context.Context, pair cutover.OutcomePair) error
}

// StepRef names one step of one workflow.
type StepRef struct{ Workflow, Step string }

func (s StepRef) String() string { return s.Workflow + "/" + s.Step }

// Options configure a Worker beyond the config file.
type Options struct {
	// Workflows limits the worker to these workflows (cutover worker
	// --workflow); empty runs every workflow.
	Workflows []string
	// Handlers are Go handlers by step; a step without one uses its HTTP
	// target from the config.
	Handlers map[StepRef]Handler
	// Pairs compares completed outcome pairs; nil leaves them to others.
	Pairs      PairHandler
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	HTTPClient *http.Client // for HTTP targets; nil: a tuned default
	ID         string       // worker identity in transitions; default host-pid
	// Tracer starts a span per delivery, continuing the trace the event
	// carries; nil: no spans (log lines then carry no trace id).
	Tracer trace.Tracer
	// HeartbeatEvery overrides the lease extension interval (default a third
	// of worker.visibility). Tests set it high to simulate a stalled worker.
	HeartbeatEvery time.Duration
	// Redact, when set, is applied to the outcome of a shadow event's step
	// before it is stored (its async side, its idempotency record), as the
	// proxy redacts the event and the legacy side: what the comparator
	// reads and reports is then redacted on both sides. A live event's
	// outcome is the client's response and is stored whole.
	// redact.Set.Outcome fits.
	Redact func(workflow string, o *cutover.Outcome) *cutover.Outcome
}

// Worker runs the steps of the configured workflows.
type Worker struct {
	cfg     *cutover.Config
	stores  WorkerStores
	pub     *Publisher
	opt     Options
	log     *slog.Logger
	m       *metrics
	backoff Backoff
	steps   []*stepRunner
	now     func() time.Time
}

// New checks that every step it will run has a handler and returns a Worker.
func New(cfg *cutover.Config, stores WorkerStores, pub *Publisher, opt Options) (*Worker, error) {
	w := &Worker{cfg: cfg, stores: stores, pub: pub, opt: opt, log: opt.Logger, backoff: BackoffFrom(cfg.Worker.Backoff), now: time.Now}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.opt.ID == "" {
		host, _ := os.Hostname()
		w.opt.ID = host + "-" + strconv.Itoa(os.Getpid())
	}
	client := opt.HTTPClient
	if client == nil {
		client = defaultTargetClient(cfg)
	}
	w.m = newMetrics(opt.Registerer)
	want := map[string]bool{}
	for _, name := range opt.Workflows {
		if _, ok := cfg.Workflow(name); !ok {
			return nil, fmt.Errorf("pipeline: --workflow %q is not in the config (known: %s)", name, knownWorkflows(cfg))
		}
		want[name] = true
	}
	limits := newLimiters(cfg)
	for i, wf := range cfg.Workflows {
		if len(want) > 0 && !want[wf.Name] {
			continue
		}
		for j, step := range wf.StepNames() {
			st, _ := cfg.Step(wf.Name, step)
			h := opt.Handlers[StepRef{wf.Name, step}]
			if h == nil {
				if st.Target == "" {
					field := fmt.Sprintf("workflows[%d].target", i)
					if step != cutover.RespondStep {
						field = fmt.Sprintf("workflows[%d].steps[%d].target", i, j-1)
					}
					return nil, fmt.Errorf("pipeline: %s: required: step %s/%s has no HTTP target and no Go handler", field, wf.Name, step)
				}
				h = &HTTPTarget{URL: st.Target, Pattern: wf.Pattern(), Client: client, Blobs: stores.Blobs, MaxBody: int64(cfg.Worker.MaxBody)}
			}
			w.steps = append(w.steps, &stepRunner{
				w: w, ref: StepRef{wf.Name, step}, handler: h,
				queue: cutover.QueueName(wf.Name, step), dlq: cutover.DeadLetterName(wf.Name, step),
				concurrency: st.Concurrency, maxAttempts: st.MaxAttempts, timeout: st.Timeout.D(),
				limit: limits[st.Downstream],
			})
		}
	}
	if len(w.steps) == 0 {
		return nil, errors.New("pipeline: no workflow steps to run (the config has no workflows)")
	}
	return w, nil
}

func knownWorkflows(cfg *cutover.Config) string {
	names := make([]string, 0, len(cfg.Workflows))
	for _, w := range cfg.Workflows {
		names = append(names, w.Name)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "none"
	}
	return fmt.Sprint(names)
}

// defaultTargetClient is tuned for many concurrent calls to few hosts.
func defaultTargetClient(cfg *cutover.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return &http.Client{Transport: t}
}

// Steps lists the steps this worker runs.
func (w *Worker) Steps() []StepRef {
	out := make([]StepRef, len(w.steps))
	for i, s := range w.steps {
		out[i] = s.ref
	}
	return out
}

// Run ensures the queues exist, then receives and processes events until ctx
// is done. Then it stops receiving, gives in-flight jobs
// worker.shutdown_grace to finish, and releases the rest so another worker
// takes them at once. It returns nil after a clean shutdown.
func (w *Worker) Run(ctx context.Context) error {
	if err := EnsureTopology(ctx, w.stores.Queue, w.cfg); err != nil {
		return err
	}
	// Jobs outlive ctx by up to the grace period; then jobs is cancelled.
	jobs, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	var inflight, loops sync.WaitGroup
	for _, s := range w.steps {
		s.acker = newAcker(w.stores.Queue, s.queue, w.log)
		go s.acker.run()
	}
	defer func() {
		for _, s := range w.steps {
			s.acker.close()
			s.acker = nil
		}
	}()
	for _, s := range w.steps {
		loops.Add(1)
		go func() {
			defer loops.Done()
			s.receiveLoops(ctx, jobs, &inflight)
		}()
	}
	w.log.Info("worker started", "worker", w.opt.ID, "steps", len(w.steps))
	<-ctx.Done()
	loops.Wait()
	done := make(chan struct{})
	go func() { inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.cfg.Worker.ShutdownGrace.D()):
		w.log.Warn("shutdown grace over: releasing unfinished jobs", "grace", w.cfg.Worker.ShutdownGrace.String())
		cancelJobs()
		<-done
	}
	w.log.Info("worker stopped", "worker", w.opt.ID)
	return nil
}

// stepRunner receives and processes the events of one step.
type stepRunner struct {
	w           *Worker
	ref         StepRef
	handler     Handler
	queue, dlq  string
	concurrency int
	maxAttempts int
	timeout     time.Duration
	limit       limiter
	acker       *acker // set while Run runs; nil: deletes are synchronous
}

// pollers is how many receive loops a step runs: one per ten slots of
// concurrency, up to 32. A receive takes a round trip (a group commit, a
// long poll) and brings at most ten messages, so one loop alone would cap a
// busy step at ten messages per round trip.
func (s *stepRunner) pollers() int {
	return max(1, min(32, s.concurrency/10))
}

// receiveLoops runs the step's pollers over one set of job slots.
func (s *stepRunner) receiveLoops(ctx, jobs context.Context, inflight *sync.WaitGroup) {
	slots := make(chan struct{}, s.concurrency)
	var wg sync.WaitGroup
	for range s.pollers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.receiveLoop(ctx, jobs, inflight, slots)
		}()
	}
	wg.Wait()
}

func (s *stepRunner) receiveLoop(ctx, jobs context.Context, inflight *sync.WaitGroup, slots chan struct{}) {
	w := s.w
	failures := 0
	for {
		// Reserve a free slot (wait for one), then up to nine more that are
		// free now: only what can start at once is received.
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		reserved := 1
	reserve:
		for reserved < 10 {
			select {
			case slots <- struct{}{}:
				reserved++
			default:
				break reserve
			}
		}
		msgs, err := w.stores.Queue.Receive(ctx, s.queue, cutover.ReceiveOptions{
			Max: reserved, Visibility: w.cfg.Worker.Visibility.D(), Wait: w.cfg.Worker.PollWait.D(),
		})
		for range reserved - len(msgs) {
			<-slots
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			d := w.backoff.Delay(min(failures, 10))
			w.log.Error("receive failed", "queue", s.queue, "err", err, "retry_in", d.String())
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
			continue
		}
		failures = 0
		for _, m := range msgs {
			inflight.Add(1)
			w.m.inFlight.WithLabelValues(s.ref.Workflow, s.ref.Step).Inc()
			go func() {
				defer func() {
					w.m.inFlight.WithLabelValues(s.ref.Workflow, s.ref.Step).Dec()
					<-slots
					inflight.Done()
				}()
				s.process(jobs, m)
			}()
		}
	}
}

// ErrNotAcknowledged means a delivery was not finished: it stays in its
// queue and comes back (a retry was scheduled, another attempt holds the
// key, or a store failed). A Lambda handler reports it as a batch item
// failure.
var ErrNotAcknowledged = errors.New("pipeline: delivery not acknowledged; it will be redelivered")

// ProcessMessage handles one delivery of step's queue synchronously, the way
// the receive loop does; for runtimes that receive messages themselves (AWS
// Lambda's SQS event source). It returns nil when the delivery is finished
// (succeeded, duplicate, or dead-lettered, and deleted) and
// ErrNotAcknowledged otherwise. Lease extension runs as in the worker.
func (w *Worker) ProcessMessage(ctx context.Context, step StepRef, m cutover.Message) error {
	for _, s := range w.steps {
		if s.ref == step {
			if s.process(ctx, m) {
				return nil
			}
			return ErrNotAcknowledged
		}
	}
	return fmt.Errorf("pipeline: step %s is not run by this worker", step)
}

// StepOfQueue maps a queue name back to its step.
func (w *Worker) StepOfQueue(queue string) (StepRef, bool) {
	for _, s := range w.steps {
		if s.queue == queue {
			return s.ref, true
		}
	}
	return StepRef{}, false
}
