package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/go-chi/chi/v5"
)

// Proxy routes requests between legacy and the async pipeline. Create it
// with New, serve Handler, run the writer with Run, and stop with Shutdown
// after the HTTP server has stopped taking requests.
type Proxy struct {
	log          *slog.Logger
	m            *metrics
	handler      http.Handler
	rp           *httputil.ReverseProxy // what the lean path does not take
	transport    *http.Transport
	up           *upstream   // the lean path's connections; nil when legacy is not plain HTTP
	legacyHost   string      // Host of a request that has none
	bufs         *bufferPool // response copy buffers
	workflows    []*workflow
	unmatched    *routeMetrics
	statusPrefix string

	captureLimit       int64
	livePublishTimeout time.Duration
	legacyTimeout      time.Duration
	batchSize          int
	batchDelay         time.Duration

	decider   Decider
	publisher Publisher
	// legacyPublisher is publisher when it also records legacy sides.
	legacyPublisher LegacyPublisher
	outcomes        OutcomeRecorder
	pairs           PairHandler
	pairsR          PairReader
	history         HistoryReader
	events          EventReader
	blobs           BlobReader

	in       chan item
	mu       sync.RWMutex // guards stopping and closed against enqueue and background
	stopping bool         // no new background legacy calls
	closed   bool         // in is closed
	bg       sync.WaitGroup
	bgSlots  chan struct{}

	running     atomic.Bool
	stopCtx     context.Context // canceled when Shutdown gives up waiting
	stopWriters context.CancelFunc
	done        chan struct{} // closed when Run's writers have exited
}

// New builds a proxy for cfg, which must have been validated
// (cutover.Parse and cutover.Load do that).
func New(cfg *cutover.Config, deps Deps) (*Proxy, error) {
	for _, d := range []struct {
		name string
		ok   bool
	}{
		{"Decider", deps.Decider != nil}, {"Publisher", deps.Publisher != nil}, {"Outcomes", deps.Outcomes != nil},
		{"Pairs", deps.Pairs != nil}, {"OutcomePairs", deps.OutcomePairs != nil}, {"History", deps.History != nil},
	} {
		if !d.ok {
			return nil, fmt.Errorf("proxy: Deps.%s is required", d.name)
		}
	}
	target, err := url.Parse(cfg.Legacy)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("proxy: legacy %q is not a URL", cfg.Legacy)
	}
	pc := cfg.Proxy
	if pc.CaptureLimit <= 0 || pc.Buffer <= 0 || pc.BatchSize <= 0 || pc.BatchDelay <= 0 || pc.LegacyTimeout <= 0 || pc.IdleConnsPerHost <= 0 {
		return nil, errors.New("proxy: the proxy config is not defaulted; load it with cutover.Parse or call SetDefaults and Validate")
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		log: log, statusPrefix: pc.StatusPrefix,
		captureLimit: int64(pc.CaptureLimit), legacyTimeout: pc.LegacyTimeout.D(), livePublishTimeout: pc.LivePublishTimeout.D(),
		batchSize: pc.BatchSize, batchDelay: pc.BatchDelay.D(),
		decider: deps.Decider, publisher: deps.Publisher, outcomes: deps.Outcomes, pairs: deps.Pairs,
		pairsR: deps.OutcomePairs, history: deps.History, events: deps.Events, blobs: deps.Blobs,
		in: make(chan item, pc.Buffer), bgSlots: make(chan struct{}, maxBackground), done: make(chan struct{}),
	}
	p.legacyPublisher, _ = deps.Publisher.(LegacyPublisher)
	p.stopCtx, p.stopWriters = context.WithCancel(context.Background())
	p.m = newMetrics(deps.Registerer, func() float64 { return float64(len(p.in)) })
	p.unmatched = p.m.route(unmatched)
	p.transport = newTransport(pc.IdleConnsPerHost, p.legacyTimeout)
	p.bufs = newBufferPool()
	p.rp = newReverseProxy(target, p.transport, p.bufs, log)
	if leanTarget(target) {
		p.up = newUpstream(hostPort(target), pc.IdleConnsPerHost, min(5*time.Second, p.legacyTimeout))
		p.legacyHost = target.Host
	}
	for i := range cfg.Workflows {
		wf, err := compileWorkflow(cfg, &cfg.Workflows[i], p.m)
		if err != nil {
			return nil, fmt.Errorf("proxy: %w", err)
		}
		p.workflows = append(p.workflows, wf)
	}
	if p.handler, err = p.routes(); err != nil {
		return nil, err
	}
	return p, nil
}

// Handler serves the proxy listener: workflow routes, the status endpoint,
// and everything else passed through to legacy.
func (p *Proxy) Handler() http.Handler { return p.handler }

// routes builds the chi router. chi panics on a pattern it cannot parse;
// that becomes an error naming the workflow.
func (p *Proxy) routes() (h http.Handler, err error) {
	r := chi.NewRouter()
	r.NotFound(p.passthrough)
	r.MethodNotAllowed(p.passthrough)
	current := "status_prefix"
	defer func() {
		if v := recover(); v != nil {
			h, err = nil, fmt.Errorf("proxy: %s: %v", current, v)
		}
	}()
	r.Get(p.statusPrefix+"/requests/{id}", p.serveStatus)
	for _, wf := range p.workflows {
		current = "workflow " + wf.name + ": route"
		r.Method(wf.method, wf.pattern, p.workflowHandler(wf))
	}
	return r, nil
}

// passthrough sends a request that matches no workflow to legacy as it is.
func (p *Proxy) passthrough(w http.ResponseWriter, r *http.Request) {
	ex := &exchange{}
	defer p.observeLegacy(p.unmatched, ex)
	p.forward(w, r, ex)
}

// workflowHandler decides the route of each request once, at arrival, and
// serves it accordingly.
func (p *Proxy) workflowHandler(wf *workflow) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rq := &request{wf: wf, r: r, id: cutover.NewEventID(), arrival: time.Now()}
		if wf.bucketNeedsBody() {
			rq.body = prefetch(r, p.captureLimit)
		}
		d := p.decider.Decide(wf.name, rq.bucketKey())
		switch {
		case d.Async:
			p.serveLive(w, rq)
		default:
			p.serveLegacy(w, rq, d.Mirror)
		}
	}
}

// Run writes shadow events and legacy outcomes until Shutdown has drained
// the buffer (it then returns nil) or ctx ends (it returns ctx's error and
// what is still buffered is dropped and counted). Call it once.
func (p *Proxy) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("proxy: Run called twice")
	}
	defer close(p.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(p.stopCtx, cancel)
	defer stop()
	p.writeLoop(ctx)
	if p.stopCtx.Err() != nil { // Shutdown gave up: count what is left
		p.discard()
		return nil
	}
	if err := ctx.Err(); err != nil {
		p.closeBuffer()
		p.discard()
		return fmt.Errorf("proxy: run: %w", err)
	}
	return nil
}

// Shutdown stops taking shadow work, waits for background legacy calls,
// and lets Run drain the buffer, all bounded by ctx. Stop the HTTP server
// first (http.Server.Shutdown) so that no handler is still enqueueing.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()

	bgDone := make(chan struct{})
	go func() {
		p.bg.Wait()
		close(bgDone)
	}()
	select {
	case <-bgDone:
	case <-ctx.Done():
		p.stopWriters()
		p.closeBuffer()
		return fmt.Errorf("proxy: shutdown: background legacy calls: %w", ctx.Err())
	}

	p.closeBuffer()
	defer p.transport.CloseIdleConnections()
	if p.up != nil {
		defer p.up.closeIdle()
	}
	if !p.running.Load() {
		p.discard()
		return nil
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.stopWriters()
		return fmt.Errorf("proxy: shutdown: drain: %w", ctx.Err())
	}
}

func (p *Proxy) closeBuffer() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.in)
	}
}
