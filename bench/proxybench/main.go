// Command proxybench measures the cutover proxy against a direct call to the
// legacy service, against a bare httputil.ReverseProxy (the floor of any Go
// proxy) and against nginx with and without its mirror directive, all in
// one run on this machine, with wrk:
//
//	go run ./bench/proxybench [-duration 10s] [-connections 64] [-rate 500] [-rounds 1] [-profile DIR]
//
// It needs wrk and nginx (Debian: apt-get install wrk nginx-light). For each
// target it runs wrk at full speed (throughput, latency, CPU the server used
// per request) and at a fixed rate below saturation (added latency), and
// prints a table with every figure as a ratio against the direct run of the
// same invocation, since the machine is shared and noisy. With -rounds N the
// full-speed and the fixed-rate runs go round-robin over the targets N times
// and each target's median run counts; -profile writes a CPU profile of each
// cutover target's first full-speed run.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	duration := flag.Duration("duration", 10*time.Second, "wrk duration per run")
	conns := flag.Int("connections", 64, "wrk connections at full speed")
	rate := flag.Int("rate", 500, "requests per second of the fixed-rate runs")
	rounds := flag.Int("rounds", 1, "full-speed and fixed-rate runs per target, round-robin; the median counts")
	profiles := flag.String("profile", "", "folder to write a CPU profile of each cutover target's full-speed run to")
	flag.Parse()
	for _, tool := range []string{"wrk", "nginx", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			log.Fatalf("proxybench: %s not found (Debian: apt-get install wrk nginx-light)", tool)
		}
	}
	dir, err := os.MkdirTemp("", "proxybench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	legacy := serve(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"order_id":"o-1","status":"accepted","total":"12.34","currency":"USD"}`))
	}))
	sink := serve(ctx, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))

	bin := filepath.Join(dir, "cutover")
	build := exec.Command("go", "build", "-o", bin, "./cmd/cutover")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		log.Fatalf("proxybench: build cutover (run from the module root): %v", err)
	}
	targets := []target{{name: "direct", url: legacy}}
	bareURL, barePID := startBare(ctx, dir, legacy)
	targets = append(targets, target{name: "go httputil", url: bareURL, pid: barePID})
	for _, mode := range []string{"off", "shadow"} {
		url, admin, pid := startCutover(ctx, bin, dir, mode, legacy)
		targets = append(targets, target{name: "cutover " + mode, url: url, admin: admin, pid: pid})
	}
	// nginx without mirror is the baseline of what mirroring costs nginx,
	// as off is for cutover's shadow mode.
	for _, mirror := range []bool{false, true} {
		name := "nginx"
		if mirror {
			name = "nginx mirror"
		}
		url, pid := startNginx(ctx, dir, legacy, sink, mirror)
		targets = append(targets, target{name: name, url: url, pid: pid})
	}

	script := filepath.Join(dir, "post.lua")
	must(os.WriteFile(script, []byte(postLua), 0o600))
	paced := filepath.Join(dir, "paced.lua")
	pacedConns := 10
	must(os.WriteFile(paced, []byte(postLua+fmt.Sprintf("\nfunction delay() return %d end\n", 1000*pacedConns/(*rate))), 0o600))

	type row struct {
		name       string
		full, slow result
		shadow     shadowCounts
	}
	rows := make([]row, len(targets))
	for i, t := range targets {
		waitUp(t.url + "/orders")
		wrk(t.url, script, 2, *conns, 2*time.Second) // warm up
		rows[i] = row{name: t.name, shadow: scrape(t)}
	}
	// Every round runs each target at full speed, then each at a fixed
	// rate, round-robin, so that a burst of other load on the machine does
	// not land on one target's only run; each target's median run counts.
	full := make([][]result, len(targets))
	slow := make([][]result, len(targets))
	for round := range *rounds {
		for i, t := range targets {
			dir := *profiles
			if round > 0 {
				dir = "" // one profile per target
			}
			done := profile(dir, t, *duration)
			cpu0 := cpuTime(t.pid)
			r := wrk(t.url, script, 2, *conns, *duration)
			r.cpu = cpuTime(t.pid) - cpu0
			<-done
			// The fixed-rate runs measure added latency below
			// saturation: let the shadow backlog drain first.
			settle(t)
			full[i] = append(full[i], r)
		}
		for i, t := range targets {
			slow[i] = append(slow[i], wrk(t.url, paced, 1, pacedConns, *duration))
			settle(t)
		}
	}
	for i, t := range targets {
		rows[i].full = medianRate(full[i])
		rows[i].slow = median(slow[i])
		rows[i].shadow = scrape(t).minus(rows[i].shadow)
	}
	base := rows[0]
	fmt.Printf("proxybench: %s per run, %d connections at full speed, ~%d req/s fixed rate, median of %d rounds, %d cores\n\n", *duration, *conns, *rate, *rounds, runtimeCPUs())
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\treq/s\tx direct\tp50\tp99\tCPU/req\t|\tfixed-rate req/s\tp50\tp99\tadded p50\tadded p99\terrors\t")
	for _, r := range rows {
		perReq := "-"
		if r.full.cpu > 0 && r.full.rps > 0 {
			perReq = (r.full.cpu / time.Duration(r.full.rps*duration.Seconds())).String()
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%s\t%s\t%s\t|\t%.0f\t%s\t%s\t%s\t%s\t%d\t\n", r.name,
			r.full.rps, r.full.rps/base.full.rps, r.full.p50, r.full.p99, perReq,
			r.slow.rps, r.slow.p50, r.slow.p99, r.slow.p50-base.slow.p50, r.slow.p99-base.slow.p99, r.full.errors+r.slow.errors)
	}
	tw.Flush()
	// The ratios that matter, from the median runs and round by round
	// (runs of one round are minutes apart at most).
	index := map[string]int{}
	for i, t := range targets {
		index[t.name] = i
	}
	compare := func(a, b string) string {
		ia, ib := index[a], index[b]
		var each []string
		for k := range full[ia] {
			each = append(each, fmt.Sprintf("%.2f", full[ia][k].rps/full[ib][k].rps))
		}
		out := fmt.Sprintf("%s ÷ %s %.2f", a, b, rows[ia].full.rps/rows[ib].full.rps)
		if len(each) > 1 {
			out += " (rounds: " + strings.Join(each, ", ") + ")"
		}
		return out
	}
	fmt.Printf("\nthroughput: %s; %s; %s\n", compare("cutover shadow", "nginx mirror"), compare("cutover off", "nginx mirror"), compare("go httputil", "nginx mirror"))
	fmt.Printf("what mirroring keeps of the plain proxy's: %s; %s\n", compare("cutover shadow", "cutover off"), compare("nginx mirror", "nginx"))
	for _, r := range rows {
		if r.shadow.published+r.shadow.dropped > 0 {
			fmt.Printf("\n%s: %.0f shadow events published, %.0f dropped (buffer full or publish failed) over all runs\n", r.name, r.shadow.published, r.shadow.dropped)
		}
	}
	stopAll()
}

// target is one server under test; admin is set for cutover, pid for the
// servers the benchmark starts (not for direct, which runs in-process).
type target struct {
	name, url, admin string
	pid              int
}

var started []*exec.Cmd

// stopAtExit remembers a server to stop gracefully (SIGTERM: nginx's
// master then stops its workers, which a kill would orphan).
func stopAtExit(cmd *exec.Cmd) { started = append(started, cmd) }

func stopAll() {
	for _, c := range started {
		_ = c.Process.Signal(syscall.SIGTERM)
		_ = c.Wait()
	}
}

const postLua = `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"customer_id":"c-42","items":[{"sku":"sku-07","qty":2,"unit_cents":1299},{"sku":"sku-11","qty":1,"unit_cents":499}]}'
counter = 0
request = function()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = "k-" .. counter .. "-" .. math.random(1e9)
  return wrk.format(nil, "/orders")
end
`

func startCutover(ctx context.Context, bin, dir, mode, legacy string) (url, adminAddr string, pid int) {
	listen, admin, metrics := freeAddr(), freeAddr(), freeAddr()
	cfg := filepath.Join(dir, "cutover-"+mode+".yaml")
	must(os.WriteFile(cfg, []byte(fmt.Sprintf(`
listen: %s
legacy: %s
admin: {listen: %s}
backend: {kind: embedded, path: %s}
worker: {metrics_listen: %s}
log: {level: error}
workflows:
  - name: create-order
    route: POST /orders
    mode: %s
    idempotency_key: header:Idempotency-Key
    target: http://127.0.0.1:1/orders
`, listen, legacy, admin, filepath.Join(dir, mode+".db"), metrics, mode)), 0o600))
	cmd := exec.CommandContext(ctx, bin, "proxy", "--config", cfg)
	cmd.Env = append(os.Environ(), "CUTOVER_ADMIN_TOKEN="+profileToken)
	cmd.Stderr = os.Stderr
	must(cmd.Start())
	stopAtExit(cmd)
	return "http://" + listen, admin, cmd.Process.Pid
}

func startNginx(ctx context.Context, dir, legacy, sink string, mirror bool) (url string, pid int) {
	listen := freeAddr()
	prefix := filepath.Join(dir, "nginx")
	mirrorConf := ""
	if mirror {
		prefix += "-mirror"
		mirrorConf = "mirror /mirror;\n      mirror_request_body on;"
	}
	must(os.MkdirAll(filepath.Join(prefix, "logs"), 0o755))
	conf := filepath.Join(prefix, "nginx.conf")
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	must(os.WriteFile(conf, []byte(fmt.Sprintf(`%s
worker_processes auto;
pid %s/nginx.pid;
error_log %s/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %s/body;
  proxy_temp_path %s/proxy;
  upstream legacy { server %s; keepalive 256; }
  upstream sink { server %s; keepalive 256; }
  server {
    listen %s;
    location / {
      %s
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://legacy;
    }
    location = /mirror {
      internal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://sink$request_uri;
    }
  }
}
`, user, prefix, prefix, prefix, prefix, strings.TrimPrefix(legacy, "http://"), strings.TrimPrefix(sink, "http://"), listen, mirrorConf)), 0o600))
	cmd := exec.CommandContext(ctx, "nginx", "-p", prefix, "-c", conf, "-g", "daemon off;")
	cmd.Stderr = os.Stderr
	must(cmd.Start())
	stopAtExit(cmd)
	return "http://" + listen, cmd.Process.Pid
}

type result struct {
	cpu      time.Duration // CPU the server used, with its children
	rps      float64
	p50, p99 time.Duration
	errors   int
}

var (
	rpsRe     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	pctRe     = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	errorsRe  = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	socketsRe = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func wrk(url, script string, threads, conns int, d time.Duration) result {
	out, err := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", d.String(), "--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		stopAll()
		log.Fatalf("proxybench: wrk %s: %v\n%s", url, err, out)
	}
	var r result
	if m := rpsRe.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	for _, m := range pctRe.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[3])]
		d := time.Duration(math.Round(v * float64(unit)))
		if string(m[1]) == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	if m := errorsRe.FindSubmatch(out); m != nil {
		r.errors, _ = strconv.Atoi(string(m[1]))
	}
	if m := socketsRe.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			r.errors += n
		}
	}
	return r
}

// medianRate is the run with the median throughput (its latencies and CPU
// with it), with the errors of all runs.
func medianRate(rs []result) result {
	m := slices.Clone(rs)
	slices.SortFunc(m, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
	out := m[len(m)/2]
	out.errors = 0
	for _, r := range rs {
		out.errors += r.errors
	}
	return out
}

// median is the run with the median p99, with the median p50 and the
// errors of all runs.
func median(rs []result) result {
	by := func(f func(result) time.Duration) time.Duration {
		v := make([]time.Duration, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	m := slices.Clone(rs)
	slices.SortFunc(m, func(a, b result) int { return cmp.Compare(a.p99, b.p99) })
	out := m[len(m)/2]
	out.p50 = by(func(r result) time.Duration { return r.p50 })
	out.errors = 0
	for _, r := range rs {
		out.errors += r.errors
	}
	return out
}

func serve(ctx context.Context, h http.Handler) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	return "http://" + l.Addr().String()
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().String()
}

func waitUp(url string) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			log.Fatalf("proxybench: %s did not come up: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runtimeCPUs() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

func must(err error) {
	if err != nil {
		stopAll()
		log.Fatal(err)
	}
}
