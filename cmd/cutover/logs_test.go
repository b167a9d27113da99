package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// One request's log lines — the proxy's request line, its shadow event,
// the worker's attempt, and the comparison — share one correlation id and
// the trace id the client sent.
func TestLogsShareCorrelationAndTrace(t *testing.T) {
	if testing.Short() {
		t.Skip("runs proxy and worker processes")
	}
	legacy := httptest.NewServer(servedBy("legacy"))
	defer legacy.Close()
	newImpl := httptest.NewServer(servedBy("new"))
	defer newImpl.Close()
	dir := t.TempDir()
	listen, admin := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "cutover.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
listen: %s
legacy: %s
admin: {listen: %s}
backend: {kind: embedded, path: %s}
log: {level: debug, format: json}
worker: {poll_wait: 20ms, metrics_listen: %s}
workflows:
  - name: create-order
    route: POST /orders
    target: %s/orders
`, listen, legacy.URL, admin, filepath.Join(dir, "cutover.db"), freeAddr(t), newImpl.URL))
	proxy := startCutover(t, nil, "proxy", "--config", cfg)
	worker := startCutover(t, nil, "worker", "--config", cfg)
	waitUp(t, "http://"+admin+"/healthz")

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	const corr = "corr-logs-1"
	req, _ := http.NewRequest(http.MethodPost, "http://"+listen+"/orders", strings.NewReader(`{"n":1}`))
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.Header.Set("X-Correlation-Id", corr)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	want := []string{"proxy: request", "proxy: shadow event published", "attempt succeeded", "comparator: compared"}
	deadline := time.Now().Add(20 * time.Second)
	for {
		found := map[string]map[string]any{}
		for _, p := range []*proc{proxy, worker} {
			sc := bufio.NewScanner(strings.NewReader(p.logs.String()))
			for sc.Scan() {
				var line map[string]any
				if json.Unmarshal(sc.Bytes(), &line) != nil {
					continue
				}
				if msg, _ := line["msg"].(string); line["correlation_id"] == corr {
					found[msg] = line
				}
			}
		}
		missing := ""
		for _, msg := range want {
			if found[msg] == nil {
				missing = msg
			}
		}
		if missing == "" {
			for _, msg := range want {
				line := found[msg]
				if line["trace_id"] != traceID {
					t.Errorf("%q has trace_id %v, want %s: %v", msg, line["trace_id"], traceID, line)
				}
				if line["event_id"] == nil || line["event_id"] != found["proxy: request"]["event_id"] {
					t.Errorf("%q is about event %v, want the request's %v", msg, line["event_id"], found["proxy: request"]["event_id"])
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line %q with correlation id %s", missing, corr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
