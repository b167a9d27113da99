package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/dashboards"
)

// Workflows of the Prometheus test: orders mismatches now and then (and
// exercises idempotency), payments' new implementation always fails (its
// events dead-letter; later it is forced to cutover, so live requests fail
// too), ghost has no worker (its async sides go missing; bursts to it
// overflow the proxy's small shadow buffer).
var promWorkflows = []string{"ghost", "orders", "payments"}

// promVars are the values the dashboards' template variables take: every
// workflow and step selected, as Grafana writes "All" into a regex matcher.
var promVars = map[string]string{
	"workflow":        "(" + strings.Join(promWorkflows, "|") + ")",
	"step":            "(" + cutover.RespondStep + ")",
	"__rate_interval": "1m",
	"__range":         "5m",
	"__interval":      "15s",
}

// lhsOnly are the alerts whose conditions this test cannot make true in its
// time budget; their left-hand side (the value compared with the threshold)
// must return series instead. Every other alert must be pending or firing.
var lhsOnly = map[string]string{
	// The embedded backend is a local SQLite file in WAL mode: its readers
	// are never locked out, so the proxy's flag refresh cannot be made to
	// fail without breaking the proxy itself.
	"CutoverFlagsStale": "the flag store cannot be made unreachable for the proxy alone",
	// One proxy cannot disagree with itself; skew needs a second proxy
	// that fails to refresh, which is CutoverFlagsStale's problem again.
	"CutoverFlagVersionSkew": "a single proxy always agrees with itself",
	// The threshold is two minutes of queueing, longer than the test runs.
	"CutoverOldestMessageTooOld": "no message can wait 2 minutes within the test's time budget",
	// Queue stats come from the same SQLite file the worker works on.
	"CutoverQueueStatsUnavailable": "the embedded backend's queue stats do not fail while the worker runs",
}

// TestPrometheus runs every PromQL expression of the dashboards and alert
// rules against a real Prometheus scraping real proxy and worker processes
// (and the AWS backend's request accounting against local AWS servers), with
// traffic that makes each series exist and each alert condition true: shadow
// mismatches, a failing target whose events dead-letter, a burst that
// overflows a small shadow buffer, big bodies, idempotency hits and conflicts,
// a workflow nobody processes, and a flag change to cutover.
func TestPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs proxy, worker and Prometheus processes and local AWS servers")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	root := promModuleRoot(t)
	rules := filepath.Join(root, "dashboards", dashboards.RulesFile)
	if out, err := exec.CommandContext(ctx, "sh", filepath.Join(root, "testtools", "prometheus", "ensure.sh")).CombinedOutput(); err != nil {
		t.Fatalf("testtools/prometheus/ensure.sh: %v\n%s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "promtool", "check", "rules", rules).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", rules, err, out)
	}
	queries, err := dashboards.Queries(promVars)
	if err != nil {
		t.Fatal(err)
	}
	for name := range lhsOnly {
		if !slices.ContainsFunc(queries, func(q dashboards.Query) bool { return q.Kind == dashboards.KindAlert && q.Rule == name }) {
			t.Fatalf("lhsOnly names %s, which is not an alert of %s", name, dashboards.RulesFile)
		}
	}
	awsMetrics := startAWSMetrics(t, ctx)

	legacy := httptest.NewServer(promLegacy())
	defer legacy.Close()
	newImpl := httptest.NewServer(promNewImpl())
	defer newImpl.Close()
	dir := t.TempDir()
	cfg, listen, admin, workerMetrics := promConfig(t, dir, legacy.URL, newImpl.URL)
	startCutover(t, nil, "worker", "--config", cfg, "--workflow", "orders", "--workflow", "payments")
	startCutover(t, nil, "proxy", "--config", cfg)
	waitUp(t, "http://"+admin+"/healthz")
	waitUp(t, "http://"+workerMetrics+"/metrics")
	prom := startPrometheus(t, ctx, dir, rules, map[string]string{
		"cutover-proxy": admin, "cutover-worker": workerMetrics, "cutover-aws": awsMetrics.addr,
	})

	tr := startPromTraffic("http://" + listen)
	defer tr.stop()

	// Before the flag change, Prometheus must have seen payments' shadow
	// events fail across scrapes: in cutover there is no more shadow
	// traffic for it, and the async-error rate must still cover them.
	prom.waitTrue(t, ctx, `sum(increase(cutover_comparisons_total{workflow="payments",verdict="async_error"}[1m])) > 0`, nil)
	if out, err := runCutover(t, nil, "flags", "set", "payments", "--mode", "cutover", "--force",
		"--reason", "prometheus test: a bad promotion", "--config", cfg); err != nil {
		t.Fatalf("flags set payments cutover: %v\n%s", err, out)
	}
	t.Logf("payments forced to cutover after %s", time.Since(start).Round(time.Millisecond))

	select {
	case err := <-awsMetrics.done:
		if err != nil {
			t.Fatalf("AWS backend metrics: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("AWS backend metrics not ready: %v", ctx.Err())
	}

	// Bursts of concurrent requests overflow the 16-item shadow buffer,
	// until Prometheus has seen the drops grow between scrapes.
	prom.waitTrue(t, ctx, `sum(increase(cutover_proxy_shadow_dropped_total{reason="buffer_full"}[1m])) > 0`,
		func() { tr.burst("/ghost", 256, 32) })

	// Poll until every query returns series and every alert this test can
	// trigger is pending or firing (more bursts while the drop alert is
	// not).
	deadline := time.Now().Add(45 * time.Second)
	for {
		if !prom.active(ctx, "CutoverShadowDrops") {
			tr.burst("/ghost", 256, 32)
		}
		problems := prom.check(t, ctx, queries)
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, these of the %d queries still fail:\n%s\n(traffic: %s)",
				time.Since(start).Round(time.Millisecond), len(queries), strings.Join(problems, "\n"), tr.summary())
		}
		time.Sleep(500 * time.Millisecond)
	}
	alerts := prom.alerts(t, ctx)
	t.Logf("all %d queries of the dashboards and rules return series after %s; alerts: %s; traffic: %s",
		len(queries), time.Since(start).Round(time.Millisecond), strings.Join(alerts, ", "), tr.summary())
}

// promModuleRoot finds the directory of go.mod above the test's directory.
func promModuleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("no go.mod above %s", dir)
		}
	}
}

// promConfig writes the cutover config: a small shadow buffer (bursts
// drop), a small capture limit (big bodies are not mirrored, or fall back
// when live), fast retries, and a short async deadline (ghost's events go
// missing within seconds).
func promConfig(t *testing.T, dir, legacy, target string) (path, listen, admin, metrics string) {
	listen, admin, metrics = freeAddr(t), freeAddr(t), freeAddr(t)
	path = filepath.Join(dir, "cutover.yaml")
	writeFile(t, path, fmt.Sprintf(`
listen: %s
legacy: %s
admin: {listen: %s}
backend: {kind: embedded, path: %s, durability: normal}
proxy: {buffer: 16, batch_size: 4, capture_limit: 4KiB, flag_refresh: 1s}
worker:
  metrics_listen: %s
  poll_wait: 20ms
  max_attempts: 2
  backoff: {initial: 10ms, max: 50ms}
comparator: {async_deadline: 2s, sweep_interval: 250ms}
log: {level: error}
workflows:
  - name: orders
    route: POST /orders
    idempotency_key: header:Idempotency-Key
    target: %s/orders
  - name: payments
    route: POST /payments
    idempotency_key: header:Idempotency-Key
    target: %s/payments
  - name: ghost
    route: POST /ghost
    target: %s/ghost
`, listen, legacy, admin, filepath.Join(dir, "cutover.db"), metrics, target, target, target))
	return path, listen, admin, metrics
}

// promLegacy answers every request with its body's n.
func promLegacy() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ N int }
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"ok":true,"n":%d}`, body.N)
	})
}

// promNewImpl agrees with legacy on orders except every fourth n, and
// fails payments with 503 (retried, then dead-lettered).
func promNewImpl() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/payments" {
			http.Error(w, "payments backend down", http.StatusServiceUnavailable)
			return
		}
		var body struct{ N int }
		_ = json.NewDecoder(r.Body).Decode(&body)
		n := body.N
		if n%4 == 0 {
			n++ // the bug the comparator finds
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"ok":true,"n":%d}`, n)
	})
}

// promTraffic sends requests through the proxy until stopped.
type promTraffic struct {
	base   string
	client *http.Client
	sent   atomic.Int64
	failed atomic.Int64 // transport errors
	bursts atomic.Int64
	status sync.Map // "path code" -> *atomic.Int64
	done   chan struct{}
	wg     sync.WaitGroup
}

func startPromTraffic(base string) *promTraffic {
	tr := &promTraffic{
		base:   base,
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		done:   make(chan struct{}),
	}
	big := `{"n":1,"pad":"` + strings.Repeat("x", 5<<10) + `"}` // over proxy.capture_limit
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-tr.done:
				return
			case <-tick.C:
			}
			tr.post("/orders", fmt.Sprintf("o-%d", i), fmt.Sprintf(`{"n":%d}`, i))
			tr.post("/payments", fmt.Sprintf("p-%d", i), fmt.Sprintf(`{"n":%d}`, i))
			tr.post("/ghost", "", fmt.Sprintf(`{"n":%d}`, i))
			if i%5 == 0 {
				// A redelivery of an earlier order (idempotency hit),
				// the same key with another payload (conflict), and big
				// bodies: not mirrored in shadow, a fallback when live.
				tr.post("/orders", fmt.Sprintf("o-%d", i-4), fmt.Sprintf(`{"n":%d}`, i-4))
				tr.post("/orders", fmt.Sprintf("o-%d", i-3), `{"n":-1}`)
				tr.post("/orders", fmt.Sprintf("big-%d", i), big)
				tr.post("/payments", fmt.Sprintf("big-%d", i), big)
			}
		}
	}()
	return tr
}

func (tr *promTraffic) post(path, key, body string) {
	req, err := http.NewRequest(http.MethodPost, tr.base+path, strings.NewReader(body))
	if err != nil {
		tr.failed.Add(1)
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	tr.sent.Add(1)
	resp, err := tr.client.Do(req)
	if err != nil {
		tr.failed.Add(1)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c, _ := tr.status.LoadOrStore(fmt.Sprintf("%s %d", path, resp.StatusCode), new(atomic.Int64))
	c.(*atomic.Int64).Add(1)
}

// burst sends n requests to path from conc goroutines at once.
func (tr *promTraffic) burst(path string, n, conc int) {
	tr.bursts.Add(1)
	var wg sync.WaitGroup
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += conc {
				tr.post(path, "", fmt.Sprintf(`{"n":%d}`, i))
			}
		}()
	}
	wg.Wait()
}

func (tr *promTraffic) stop() {
	select {
	case <-tr.done:
	default:
		close(tr.done)
	}
	tr.wg.Wait()
	tr.client.CloseIdleConnections()
}

func (tr *promTraffic) summary() string {
	var parts []string
	tr.status.Range(func(k, v any) bool {
		parts = append(parts, fmt.Sprintf("%s: %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(parts)
	return fmt.Sprintf("%d requests (%d bursts), %d transport errors, %s", tr.sent.Load(), tr.bursts.Load(), tr.failed.Load(), strings.Join(parts, ", "))
}

// promServer is a Prometheus process.
type promServer struct {
	url    string
	client *http.Client
}

// startPrometheus runs Prometheus on a free loopback port, scraping
// targets (job name -> host:port) every second and evaluating rules every
// second, with its storage in dir. It stops when the test ends.
func startPrometheus(t *testing.T, ctx context.Context, dir, rules string, targets map[string]string) *promServer {
	t.Helper()
	var scrape strings.Builder
	for _, job := range slices.Sorted(maps.Keys(targets)) {
		fmt.Fprintf(&scrape, "  - job_name: %s\n    static_configs: [{targets: [%q]}]\n", job, targets[job])
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
%s`, rules, scrape.String()))
	if out, err := exec.CommandContext(ctx, "promtool", "check", "config", cfg).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	logs := &syncBuffer{}
	cmd := exec.Command("prometheus", "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("prometheus did not stop within 10s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", logs.String())
		}
	})
	p := &promServer{url: "http://" + addr, client: &http.Client{Timeout: 10 * time.Second}}
	for {
		resp, err := p.client.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-done:
			t.Fatalf("prometheus exited: %v\n%s", err, logs.String())
		case <-ctx.Done():
			t.Fatalf("prometheus not ready: %v\n%s", ctx.Err(), logs.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// promSample is one series of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// errBadQuery is a query Prometheus refused (bad_data: it does not parse;
// execution: e.g. a many-to-many match): retrying cannot help.
var errBadQuery = errors.New("bad query")

// query runs an instant query and returns its series.
func (p *promServer) query(ctx context.Context, expr string) ([]promSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url+"/api/v1/query",
		strings.NewReader(url.Values{"query": {expr}}.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	if r.Status != "success" {
		if r.ErrorType == "bad_data" || r.ErrorType == "execution" {
			return nil, fmt.Errorf("%w: %s", errBadQuery, r.Error)
		}
		return nil, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("%w: result type %s, want an instant vector", errBadQuery, r.Data.ResultType)
	}
	var out []promSample
	if err := json.Unmarshal(r.Data.Result, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// waitTrue polls until expr returns series, calling each (if not nil)
// before every try.
func (p *promServer) waitTrue(t *testing.T, ctx context.Context, expr string, each func()) {
	t.Helper()
	for {
		if each != nil {
			each()
		}
		s, err := p.query(ctx, expr)
		if errors.Is(err, errBadQuery) {
			t.Fatalf("%s: %v", expr, err)
		}
		if err == nil && len(s) > 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error %v)", expr, ctx.Err(), err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// alertStates returns the state (pending, firing) of every active alert
// instance, by alert name and then by its labels.
func (p *promServer) alertStates(ctx context.Context) (map[string][]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/api/v1/alerts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, a := range r.Data.Alerts {
		if a.State == "pending" || a.State == "firing" {
			name := a.Labels["alertname"]
			out[name] = append(out[name], fmt.Sprintf("%s{workflow=%q,step=%q,verdict=%q,reason=%q}",
				a.State, a.Labels["workflow"], a.Labels["step"], a.Labels["verdict"], a.Labels["reason"]))
		}
	}
	return out, nil
}

// active reports whether the alert is pending or firing.
func (p *promServer) active(ctx context.Context, alert string) bool {
	states, err := p.alertStates(ctx)
	return err == nil && len(states[alert]) > 0
}

// alerts lists the active alert instances for the log.
func (p *promServer) alerts(t *testing.T, ctx context.Context) []string {
	t.Helper()
	states, err := p.alertStates(ctx)
	if err != nil {
		t.Fatalf("alerts: %v", err)
	}
	var out []string
	for name, instances := range states {
		for _, s := range instances {
			out = append(out, name+" "+s)
		}
	}
	sort.Strings(out)
	return out
}

// check runs every query and returns what is not there yet. A query that
// Prometheus refuses fails the test at once.
func (p *promServer) check(t *testing.T, ctx context.Context, queries []dashboards.Query) []string {
	t.Helper()
	states, err := p.alertStates(ctx)
	if err != nil {
		return []string{"alerts API: " + err.Error()}
	}
	var problems []string
	need := func(q dashboards.Query, what, expr string, ok func([]promSample) bool) {
		s, err := p.query(ctx, expr)
		switch {
		case errors.Is(err, errBadQuery):
			t.Fatalf("%s: Prometheus refuses %s:\n%s\n%v", q, what, expr, err)
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %s: %v", q, what, err))
		case !ok(s):
			problems = append(problems, fmt.Sprintf("%s: %s returns no series:\n    %s", q, what, strings.ReplaceAll(expr, "\n", "\n    ")))
		}
	}
	some := func(s []promSample) bool { return len(s) > 0 }
	for _, q := range queries {
		switch q.Kind {
		case dashboards.KindVariable:
			need(q, "the selector of label_values(..., "+q.Label+")", q.Expr, func(s []promSample) bool {
				return slices.ContainsFunc(s, func(x promSample) bool { return x.Metric[q.Label] != "" })
			})
		case dashboards.KindRecord:
			need(q, "the expression", q.Expr, some)
			need(q, "the recorded series", q.Rule, some) // Prometheus evaluates the rule
		case dashboards.KindAlert:
			if why, ok := lhsOnly[q.Rule]; ok {
				c, ok := dashboards.SplitComparison(q.Expr)
				if !ok {
					t.Fatalf("%s: %q is not `LHS op number`; cannot check its LHS (%s)", q, q.Expr, why)
				}
				need(q, "the left-hand side (the condition cannot be made true here: "+why+")", c.LHS, some)
				continue
			}
			need(q, "the condition", q.Expr, some)
			if len(states[q.Rule]) == 0 {
				problems = append(problems, fmt.Sprintf("%s: not pending or firing", q))
			}
		default:
			need(q, "the expression", q.Expr, some)
		}
	}
	return problems
}
