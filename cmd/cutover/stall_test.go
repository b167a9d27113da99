package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// With the backend stalled (another process holds the SQLite write lock),
// primary traffic through a shadowing proxy has no errors and its p99 stays
// near the p99 measured without the fault in the same test; the shadow
// events that could not be written are dropped and counted.
func TestProxyBackendStalled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a proxy process")
	}
	legacy := httptest.NewServer(servedBy("legacy"))
	defer legacy.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "cutover.db")
	listen, admin := freeAddr(t), freeAddr(t)
	cfg := filepath.Join(dir, "cutover.yaml")
	writeFile(t, cfg, fmt.Sprintf(`
listen: %s
legacy: %s
admin: {listen: %s}
backend: {kind: embedded, path: %s}
proxy: {buffer: 64, batch_size: 16}
log: {level: error}
workflows:
  - name: create-order
    route: POST /orders
    target: http://127.0.0.1:1/orders
`, listen, legacy.URL, admin, db))
	startCutover(t, nil, "proxy", "--config", cfg)
	waitUp(t, "http://"+admin+"/healthz")

	measure := func(n int) (p99 time.Duration, failed int) {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		for c := 0; c < 4; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < n/4; i++ {
					start := time.Now()
					resp, err := http.Post("http://"+listen+"/orders", "application/json", strings.NewReader(`{"n":1}`))
					d := time.Since(start)
					mu.Lock()
					if err != nil || resp.StatusCode != http.StatusCreated {
						failed++
					} else {
						lat = append(lat, d)
					}
					mu.Unlock()
					if resp != nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}()
		}
		wg.Wait()
		slices.Sort(lat)
		if len(lat) == 0 {
			return 0, failed
		}
		return lat[len(lat)*99/100], failed
	}
	measure(200) // warm up connections
	base, failed := measure(800)
	if failed > 0 {
		t.Fatalf("%d requests failed without any fault", failed)
	}

	droppedSeries := `cutover_proxy_shadow_dropped_total{reason="buffer_full",workflow="create-order"}`
	before := metricValue(t, "http://"+admin+"/metrics", droppedSeries)

	// Stall the backend: hold SQLite's write lock from this process.
	lock, err := sql.Open("sqlite", "file:"+db+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	conn, err := lock.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	faulty, failed := measure(800)
	_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
	conn.Close()
	if failed > 0 {
		t.Errorf("%d requests failed while the backend was stalled", failed)
	}
	bound := 3*base + 5*time.Millisecond
	t.Logf("p99 without fault %s, with the backend stalled %s (bound %s)", base, faulty, bound)
	if faulty > bound {
		t.Errorf("p99 with the backend stalled %s exceeds %s (3x the healthy p99 + 5ms)", faulty, bound)
	}
	if dropped := metricValue(t, "http://"+admin+"/metrics", droppedSeries) - before; dropped == 0 {
		t.Error("no shadow events counted as dropped while the backend was stalled")
	} else {
		t.Logf("%v shadow events dropped and counted while stalled (%v before, with a 64-event buffer)", dropped, before)
	}
}

// metricValue scrapes one sample from a Prometheus text endpoint.
func metricValue(t *testing.T, url, series string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
