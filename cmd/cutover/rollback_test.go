package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testToken = "operator-token-for-tests-0123456789"

// rollbackConfig is one proxy's config; proxies differ only in listeners.
func rollbackConfig(t *testing.T, dir, name, legacy, target string) (path, listen, admin string) {
	listen, admin = freeAddr(t), freeAddr(t)
	path = filepath.Join(dir, name+".yaml")
	writeFile(t, path, fmt.Sprintf(`
listen: %s
legacy: %s
admin: {listen: %s}
backend: {kind: embedded, path: %s}
proxy: {flag_refresh: 1s}
log: {level: warn}
worker: {poll_wait: 20ms, concurrency: 16, metrics_listen: %s}
workflows:
  - name: create-order
    route: POST /orders
    mode: cutover
    idempotency_key: header:Idempotency-Key
    target: %s/orders
`, listen, legacy, admin, filepath.Join(dir, "cutover.db"), freeAddr(t), target))
	return path, listen, admin
}

type served struct {
	proxy   int
	started time.Time
	by      string
	status  int
	err     error
}

// Two proxy processes share one backend and serve a workflow in cutover.
// A rollback through one proxy's admin API takes effect there at once and
// on the other within 2 s (its flag refresh); the same through the CLI,
// which writes the store directly. No request fails meanwhile.
func TestRollbackTwoProxies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs proxy and worker processes")
	}
	legacy := httptest.NewServer(servedBy("legacy"))
	defer legacy.Close()
	newImpl := httptest.NewServer(servedBy("new"))
	defer newImpl.Close()
	dir := t.TempDir()
	env := []string{"CUTOVER_ADMIN_TOKEN=" + testToken}
	cfgA, listenA, adminA := rollbackConfig(t, dir, "a", legacy.URL, newImpl.URL)
	cfgB, listenB, adminB := rollbackConfig(t, dir, "b", legacy.URL, newImpl.URL)
	startCutover(t, env, "worker", "--config", cfgA)
	startCutover(t, env, "proxy", "--config", cfgA)
	startCutover(t, env, "proxy", "--config", cfgB)
	waitUp(t, "http://"+adminA+"/healthz")
	waitUp(t, "http://"+adminB+"/healthz")

	// Traffic through both proxies, all along.
	ctx, stopTraffic := context.WithCancel(context.Background())
	var mu sync.Mutex
	var log []served
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for i, addr := range []string{listenA, listenB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/orders", strings.NewReader(`{"n":1}`))
				req.Header.Set("Idempotency-Key", fmt.Sprintf("p%d-%d", i, n))
				s := served{proxy: i, started: time.Now()}
				resp, err := client.Do(req)
				if err != nil {
					s.err = err
				} else {
					s.status, s.by = resp.StatusCode, resp.Header.Get("X-Served-By")
					resp.Body.Close()
				}
				mu.Lock()
				log = append(log, s)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	waitServed(t, &mu, &log, "new", time.Now())

	// Rollback through proxy A's admin API.
	req, _ := http.NewRequest(http.MethodPost, "http://"+adminA+"/api/flags/create-order/rollback", strings.NewReader(`{"reason":"test: looks wrong"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("rollback via admin API: %v %v", resp, err)
	}
	resp.Body.Close()
	apiDone := time.Now()
	time.Sleep(2500 * time.Millisecond)
	checkSwitch(t, &mu, &log, apiDone, map[int]time.Duration{0: 0, 1: 2 * time.Second}, "legacy")

	// Back to cutover (forced: the gate has nothing compared) and rolled
	// back again with the CLI, which writes the store directly.
	if out, err := runCutover(t, env, "flags", "set", "create-order", "--mode", "cutover", "--reason", "test", "--force", "--config", cfgA); err != nil {
		t.Fatalf("flags set: %v\n%s", err, out)
	}
	waitServed(t, &mu, &log, "new", time.Now().Add(1100*time.Millisecond))
	if out, err := runCutover(t, env, "flags", "rollback", "create-order", "--config", cfgB); err != nil {
		t.Fatalf("flags rollback: %v\n%s", err, out)
	}
	cliDone := time.Now()
	time.Sleep(2500 * time.Millisecond)
	checkSwitch(t, &mu, &log, cliDone, map[int]time.Duration{0: 2 * time.Second, 1: 2 * time.Second}, "legacy")
	stopTraffic()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	failed := 0
	for _, s := range log {
		if s.err != nil || s.status != http.StatusCreated {
			failed++
			if failed < 5 {
				t.Errorf("request through proxy %d at %s failed: %d %v", s.proxy, s.started.Format("15:04:05.000"), s.status, s.err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed during the flips", failed, len(log))
	}
	t.Logf("%d requests through two proxies, none failed", len(log))
}

// waitServed waits until requests started after since, through both
// proxies, are answered by who.
func waitServed(t *testing.T, mu *sync.Mutex, log *[]served, who string, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		seen := map[int]bool{}
		for _, s := range *log {
			if s.started.After(since) && s.by == who {
				seen[s.proxy] = true
			}
		}
		mu.Unlock()
		if seen[0] && seen[1] {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("both proxies not serving from %s after 15s", who)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkSwitch asserts that every request a proxy started later than
// at+within[proxy] was served by who, and reports when each switched.
func checkSwitch(t *testing.T, mu *sync.Mutex, log *[]served, at time.Time, within map[int]time.Duration, who string) {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for p, d := range within {
		var last time.Time // last request not served by who
		n := 0
		for _, s := range *log {
			if s.proxy != p || !s.started.After(at) {
				continue
			}
			n++
			if s.by != who {
				last = s.started
				if s.started.After(at.Add(d)) {
					t.Errorf("proxy %d: request started %s after the change was served by %q, want %q within %s", p, s.started.Sub(at), s.by, who, d)
				}
			}
		}
		if n == 0 {
			t.Errorf("proxy %d: no requests after the change", p)
		}
		if last.IsZero() {
			t.Logf("proxy %d: every request after the change served by %s", p, who)
		} else {
			t.Logf("proxy %d: switched to %s %s after the change", p, who, last.Sub(at))
		}
	}
}
