package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/internal/localaws"
)

// awsBackend starts the local AWS servers for one test and returns the
// backend YAML of a fresh table, bucket and queue prefix on them. Processes
// the test starts inherit the dummy credentials.
func awsBackend(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := localaws.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	id := strings.ToLower(fmt.Sprintf("t%x", time.Now().UnixNano()&0xffffffff))
	return fmt.Sprintf(`
  kind: aws
  region: us-east-1
  dynamodb_endpoint: %s
  sqs_endpoint: %s
  s3_endpoint: %s
  table: cutover-%s
  bucket: cutover-%s
  queue_prefix: %s-`, s.DynamoDB, s.SQS, s.S3, id, id, id)
}

// The crash test on the aws backend: SQS, DynamoDB and S3 through the real
// SDK against DynamoDB Local and fauxqs.
func TestCrashSafetyAWS(t *testing.T) {
	if testing.Short() {
		t.Skip("kills worker processes for about a minute")
	}
	crashTest(t, t.TempDir(), awsBackend(t), time.Second)
}

// Two proxy processes and two worker processes share one set of AWS
// resources; a shadow run through both proxies compares every event exactly
// once.
func TestAWSTwoProxiesTwoWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs proxies and workers on the local AWS servers")
	}
	backend := awsBackend(t)
	legacy := httptest.NewServer(servedBy("legacy"))
	defer legacy.Close()
	newImpl := httptest.NewServer(servedBy("new"))
	defer newImpl.Close()
	dir := t.TempDir()
	var listens, admins []string
	var cfgs []string
	for i := range 2 {
		listen, admin := freeAddr(t), freeAddr(t)
		path := filepath.Join(dir, fmt.Sprintf("p%d.yaml", i))
		writeFile(t, path, fmt.Sprintf(`
listen: %s
legacy: %s
admin: {listen: %s}
backend: %s
log: {level: warn}
worker: {poll_wait: 1s, concurrency: 16, metrics_listen: %s}
comparator: {async_deadline: 2m}
workflows:
  - name: create-order
    route: POST /orders
    idempotency_key: header:Idempotency-Key
    target: %s/orders
`, listen, legacy.URL, admin, backend, freeAddr(t), newImpl.URL))
		listens, admins, cfgs = append(listens, listen), append(admins, admin), append(cfgs, path)
	}
	if out, err := runCutover(t, nil, "init", "--config", cfgs[0]); err != nil {
		t.Fatalf("cutover init: %v\n%s", err, out)
	}
	for i := range 2 {
		startCutover(t, nil, "proxy", "--config", cfgs[i])
		startCutover(t, nil, "worker", "--config", cfgs[i])
	}
	for _, a := range admins {
		waitUp(t, "http://"+a+"/healthz")
	}
	const requests = 200
	for n := range requests {
		req, _ := http.NewRequest(http.MethodPost, "http://"+listens[n%2]+"/orders", strings.NewReader(fmt.Sprintf(`{"n":%d}`, n)))
		req.Header.Set("Idempotency-Key", fmt.Sprintf("k-%d", n))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("X-Served-By") != "legacy" {
			t.Fatalf("request %d: %d from %q, want legacy's 201", n, resp.StatusCode, resp.Header.Get("X-Served-By"))
		}
	}

	cfg, err := cutover.Load(cfgs[0])
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stores, err := openStores(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer stores.Close()
	var comps []*cutover.Comparison
	deadline := time.Now().Add(90 * time.Second)
	for {
		comps = comps[:0]
		q := cutover.ComparisonQuery{Workflow: "create-order", Epoch: 0, Limit: 500}
		for {
			page, err := stores.Comparisons.Comparisons(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			comps = append(comps, page...)
			if len(page) < q.Limit {
				break
			}
			q.AfterID = page[len(page)-1].EventID
		}
		if len(comps) >= requests || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	seen := map[string]int{}
	for _, c := range comps {
		seen[c.EventID]++
	}
	if len(comps) != requests || len(seen) != requests {
		t.Fatalf("%d comparisons of %d distinct events, want exactly one for each of %d requests", len(comps), len(seen), requests)
	}
	for id := range seen {
		h, err := stores.Transitions.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, tr := range h {
			if tr.Kind == cutover.TransitionCompared {
				n++
			}
		}
		if n != 1 {
			t.Errorf("event %s has %d compared transitions, want 1", id, n)
		}
	}
}
