package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/comparator/report"
	"github.com/cutover-dev/cutover/examples/orders"
	"github.com/cutover-dev/cutover/flags"
	"github.com/cutover-dev/cutover/pipeline"
	"github.com/cutover-dev/cutover/redact"
)

// demoOptions are the knobs of `cutover demo`.
type demoOptions struct {
	shadow   int  // requests while in shadow
	live     int  // requests in each live phase (canary, cutover, after rollback)
	asJSON   bool // print the final report as JSON instead of the story
	keepDir  string
	logLevel string
}

func newDemoCmd(_ *globals) *cobra.Command {
	o := demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The whole loop in one process on the embedded backend, with sample services (under a minute)",
		Long: `Runs the loop a user runs, in one process on the embedded backend: a sample legacy order service
and a new implementation with deliberate differences (tax rounding, a missing field, items in another
order that the rules ignore), the proxy in shadow, generated traffic, the diff report. Then the
corrected implementation is deployed, the mismatches are replayed, the readiness gate passes, and
the workflow goes to canary 10%, cutover, and back with a rollback.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := runDemo(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
			return err
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.shadow, "requests", 400, "requests of generated traffic in shadow")
	f.IntVar(&o.live, "live-requests", 200, "requests in each of the canary, cutover and rollback phases")
	f.BoolVar(&o.asJSON, "json", false, "print only the final report, as JSON")
	f.StringVar(&o.keepDir, "keep", "", "keep the demo's config and database in this folder (default: a temporary one, removed)")
	f.StringVar(&o.logLevel, "log-level", "error", "log level of the components (debug, info, warn, error)")
	return cmd
}

// demoResult is what the demo did, for its test.
type demoResult struct {
	GateRefusal string // why the gate refused canary before the fix
	Promotions  []cutover.FlagChange
	Mismatched  int            // shadow requests the buggy version answered differently
	Replayed    int            // mismatches replayed after the fix
	Served      map[string]int // phase -> requests the async pipeline answered
	Requests    map[string]int // phase -> requests sent
	FinalReport *report.Report
}

// demo is the running demo: services, config, backend and components.
type demo struct {
	out      io.Writer
	say      func(format string, args ...any)
	cfg      *cutover.Config
	legacy   *orders.Service
	newImpl  *orders.Service
	stack    *proxyStack
	proxyURL string
	flags    *flags.Service
	client   *http.Client
	quiet    bool // --json: only the final report is printed
	seq      int
	res      *demoResult
}

const demoWorkflow = "create-order"

func runDemo(parent context.Context, out, errw io.Writer, o demoOptions) (*demoResult, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	started := time.Now()
	d := &demo{out: out, legacy: orders.New(orders.Legacy, "legacy"), newImpl: orders.New(orders.NewWithBugs, "new"),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		res:    &demoResult{Served: map[string]int{}, Requests: map[string]int{}}, quiet: o.asJSON}
	d.say = func(format string, args ...any) {
		if !o.asJSON {
			fmt.Fprintf(out, "==> "+format+"\n", args...)
		}
	}
	dir := o.keepDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "cutover-demo-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	legacyURL, err := demoServer(ctx, d.legacy.Handler())
	if err != nil {
		return nil, err
	}
	newURL, err := demoServer(ctx, d.newImpl.Handler())
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "cutover.yaml")
	if err := os.WriteFile(cfgPath, []byte(demoConfig(dir, legacyURL, newURL, o.logLevel)), 0o600); err != nil {
		return nil, err
	}
	if d.cfg, err = cutover.Load(cfgPath); err != nil {
		return nil, err
	}
	d.say("legacy order service on %s; new implementation (with bugs) on %s; config in %s", legacyURL, newURL, cfgPath)

	log := newLogger(errw, d.cfg.Log)
	if d.stack, err = newProxyStack(ctx, d.cfg, "", log); err != nil {
		return nil, err
	}
	defer d.stack.stores.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	d.proxyURL = "http://" + ln.Addr().String()
	proxyCtx, stopProxy := context.WithCancel(ctx)
	proxyDone := make(chan error, 1)
	go func() { proxyDone <- d.stack.serve(proxyCtx, ln) }()
	defer func() { stopProxy(); <-proxyDone }()

	stopWorker, err := d.startWorker(ctx, log)
	if err != nil {
		return nil, err
	}
	defer stopWorker()
	if d.flags, err = flags.NewService(d.stack.stores.Flags, d.cfg, newReporter(d.cfg, d.stack.stores), flags.ServiceOptions{}); err != nil {
		return nil, err
	}
	d.say("proxy on %s with %s in shadow; worker and comparator running", d.proxyURL, demoWorkflow)

	// 1. Shadow: legacy answers, everything is mirrored and compared.
	traffic := orders.Traffic(7, o.shadow)
	for _, r := range traffic {
		if orders.BuggyDiffers(r) {
			d.res.Mismatched++
		}
	}
	if err := d.send(ctx, "shadow", traffic); err != nil {
		return nil, err
	}
	if err := d.waitCompared(ctx, 0, o.shadow); err != nil {
		return nil, err
	}
	rep, err := d.report(ctx)
	if err != nil {
		return nil, err
	}
	d.say("diff report after %d shadow requests:", o.shadow)
	if !o.asJSON {
		if err := report.Render(out, report.FormatText, rep); err != nil {
			return nil, err
		}
	}

	// 2. The gate refuses a promotion while mismatches stand.
	_, err = d.flags.Set(ctx, flags.SetRequest{Workflow: demoWorkflow, Mode: cutover.ModeCanary, Percent: 10, Reason: "demo: try canary", By: "demo"})
	if err == nil {
		return nil, fmt.Errorf("demo: the readiness gate let a workflow with mismatches into canary")
	}
	d.res.GateRefusal = err.Error()
	d.say("canary refused, as it should be: %v", err)

	// 3. Deploy the fix, replay the mismatches in shadow, watch them match.
	d.newImpl.SetVersion(orders.NewFixed)
	d.say("deployed the corrected implementation; replaying the mismatches in shadow")
	pub := newPublisher(d.cfg, d.stack.stores)
	rp := pipeline.NewReplayer(d.cfg, pipeline.ReplayStores{Queue: d.stack.stores.Queue, Archive: d.stack.stores.Archive, Transitions: d.stack.stores.Transitions, Outcomes: d.stack.stores.Outcomes, Comparisons: d.stack.stores.Comparisons}, pub)
	res, err := rp.Replay(ctx, pipeline.ReplayRequest{Workflow: demoWorkflow, Verdict: cutover.VerdictMismatch})
	if err != nil {
		return nil, err
	}
	d.res.Replayed = res.Published
	if err := d.waitCompared(ctx, 1, res.Published); err != nil {
		return nil, err
	}
	if rep, err = d.report(ctx); err != nil {
		return nil, err
	}
	w := rep.Workflows[0]
	for _, e := range w.Epochs {
		d.say("  epoch %d: %d compared, %d match, %d mismatch", e.Epoch, e.Compared, e.Verdicts[cutover.VerdictMatch], e.Verdicts[cutover.VerdictMismatch])
	}
	d.say("match rate now %.1f%% over %d events; readiness gate: %s", w.MatchRate*100, w.Compared, map[bool]string{true: "PASSES", false: "fails"}[w.Ready])

	// 4. Canary 10%, then cutover, then a rollback.
	phases := []struct {
		name    string
		mode    cutover.Mode
		percent float64
	}{{"canary", cutover.ModeCanary, 10}, {"cutover", cutover.ModeCutover, 0}}
	for i, ph := range phases {
		r, err := d.flags.Set(ctx, flags.SetRequest{Workflow: demoWorkflow, Mode: ph.mode, Percent: ph.percent, Reason: "demo: gate passed", By: "demo"})
		if err != nil {
			return nil, err
		}
		d.say("flag set: %s", strings.TrimSpace(resultLine(r)))
		if err := d.waitMode(ctx, ph.mode); err != nil {
			return nil, err
		}
		if err := d.send(ctx, ph.name, orders.Traffic(uint64(100+i), o.live)); err != nil {
			return nil, err
		}
	}
	r, err := d.flags.Rollback(ctx, demoWorkflow, "demo: something looks wrong", "demo")
	if err != nil {
		return nil, err
	}
	d.say("rollback: %s", strings.TrimSpace(resultLine(r)))
	if err := d.waitMode(ctx, cutover.ModeShadow); err != nil {
		return nil, err
	}
	if err := d.send(ctx, "rollback", orders.Traffic(200, o.live)); err != nil {
		return nil, err
	}
	// Every request gets one comparison: a match (or not) when legacy
	// answered and the event was mirrored, not_comparable when the async
	// pipeline answered a write (legacy was never called).
	if err := d.waitCompared(ctx, 0, o.shadow+d.res.Requests["canary"]+d.res.Requests["cutover"]+d.res.Requests["rollback"]); err != nil {
		return nil, err
	}
	if d.res.FinalReport, err = d.report(ctx); err != nil {
		return nil, err
	}
	if d.res.Promotions, err = d.flags.History(ctx, demoWorkflow); err != nil {
		return nil, err
	}
	if o.asJSON {
		return d.res, report.Render(out, report.FormatJSON, d.res.FinalReport)
	}
	d.say("final report:")
	if err := report.Render(out, report.FormatText, d.res.FinalReport); err != nil {
		return nil, err
	}
	d.say("done in %s. Try it on your service: cp examples/cutover.yaml cutover.yaml, then cutover proxy / cutover worker.", time.Since(started).Round(100*time.Millisecond))
	return d.res, nil
}

func demoConfig(dir, legacyURL, newURL, level string) string {
	return fmt.Sprintf(`# written by cutover demo
listen: 127.0.0.1:0
legacy: %s
admin: {listen: "127.0.0.1:0"}
backend: {kind: embedded, path: %s, durability: normal}
proxy: {flag_refresh: 200ms, batch_delay: 1ms}
worker: {poll_wait: 20ms, concurrency: 32, metrics_listen: "127.0.0.1:0"}
comparator: {async_deadline: 30s, sweep_interval: 1s}
log: {level: %s, format: text}
workflows:
  - name: %s
    route: POST /orders
    idempotency_key: header:Idempotency-Key
    bucket_by: json:$.customer_id
    target: %s/orders
    await_timeout: 10s
    compare:
      ignore: [$.order_id, $.created_at]
      unordered: [{path: $.items, key: sku}]
      headers: [Content-Type]
    gate: {min_comparisons: 200, min_match_rate: 0.99, window: 1h}
`, legacyURL, filepath.Join(dir, "cutover.db"), level, demoWorkflow, newURL)
}

// startWorker runs the worker runtime with the comparator in this process.
func (d *demo) startWorker(ctx context.Context, log *slog.Logger) (stop func(), err error) {
	st := d.stack.stores
	redactors, err := redact.NewSet(d.cfg)
	if err != nil {
		return nil, err
	}
	pub := newPublisher(d.cfg, st)
	w, err := pipeline.New(d.cfg, pipeline.WorkerStores{Queue: st.Queue, Idempotency: st.Idempotency, Transitions: st.Transitions, Outcomes: st.Outcomes, Blobs: st.Blobs},
		pub, pipeline.Options{Pairs: d.stack.compare, Logger: log, Redact: redactors.Outcome})
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { _ = w.Run(wctx); done <- struct{}{} }()
	go func() { _ = d.stack.compare.Run(wctx); done <- struct{}{} }()
	return func() { cancel(); <-done; <-done }, nil
}

// send posts the requests through the proxy, eight at a time, with a
// progress bar, and counts the ones the async pipeline answered.
func (d *demo) send(ctx context.Context, phase string, reqs []orders.Request) error {
	type result struct {
		async bool
		err   error
	}
	results := make(chan result, len(reqs))
	sem := make(chan struct{}, 8)
	for _, r := range reqs {
		d.seq++
		key := fmt.Sprintf("%s-%05d", phase, d.seq)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.proxyURL+"/orders", bytes.NewReader(r.Body()))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", key)
			resp, err := d.client.Do(req)
			if err != nil {
				results <- result{err: err}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				results <- result{err: fmt.Errorf("demo: %s request answered %d", phase, resp.StatusCode)}
				return
			}
			results <- result{async: resp.Header.Get("Cutover-Event-Id") != ""}
		}()
	}
	bar := progressBar(d.out)
	for i := range reqs {
		r := <-results
		if r.err != nil {
			return r.err
		}
		if r.async {
			d.res.Served[phase]++
		}
		if !d.quiet && (i%20 == 19 || i == len(reqs)-1) {
			bar(i+1, len(reqs))
			if i == len(reqs)-1 {
				fmt.Fprintln(d.out)
			}
		}
	}
	d.res.Requests[phase] += len(reqs)
	d.say("%s: %d requests, %d answered by the async pipeline, %d by legacy", phase, len(reqs), d.res.Served[phase], len(reqs)-d.res.Served[phase])
	return nil
}

// waitCompared waits until epoch has at least n comparisons.
func (d *demo) waitCompared(ctx context.Context, epoch, n int) error {
	return d.waitFor(ctx, fmt.Sprintf("%d comparisons of epoch %d", n, epoch), func(aggs []*cutover.Aggregate) bool {
		var got int64
		for _, a := range aggs {
			if a.Epoch == epoch {
				got += a.Total()
			}
		}
		return got >= int64(n)
	})
}

func (d *demo) waitFor(ctx context.Context, what string, done func([]*cutover.Aggregate) bool) error {
	deadline := time.Now().Add(45 * time.Second)
	for {
		aggs, err := d.stack.stores.Comparisons.Aggregates(ctx, demoWorkflow, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
		if err != nil {
			return err
		}
		if done(aggs) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: timed out waiting for %s", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitMode waits until the proxy's flag snapshot serves mode.
func (d *demo) waitMode(ctx context.Context, mode cutover.Mode) error {
	deadline := time.Now().Add(10 * time.Second)
	for d.stack.snapshot.Decide(demoWorkflow, "").Mode != mode {
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: the proxy did not pick up mode %s", mode)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func (d *demo) report(ctx context.Context) (*report.Report, error) {
	return newReporter(d.cfg, d.stack.stores).Report(ctx, report.Query{Workflow: demoWorkflow, Since: time.Hour})
}

func resultLine(r flags.Result) string {
	var b bytes.Buffer
	printResult(&b, r)
	return b.String()
}

// demoServer serves h on a free loopback port until ctx ends.
func demoServer(ctx context.Context, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return "http://" + l.Addr().String(), nil
}
