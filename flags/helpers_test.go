package flags

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cutover "github.com/cutover-dev/cutover"
)

// testYAML configures one workflow per mode; pay-invoice has its own salt.
const testYAML = `
legacy: http://127.0.0.1:8000
workflows:
  - name: create-order
    route: POST /orders
  - name: get-order
    route: GET /orders/{id}
    mode: canary
    percent: 10
  - name: ship-order
    route: POST /shipments
    mode: off
  - name: pay-invoice
    route: POST /invoices
    mode: cutover
    salt: invoices-v1
`

func testConfig(t testing.TB) *cutover.Config {
	t.Helper()
	cfg, err := cutover.Parse([]byte(testYAML))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// clock is a manual clock for snapshot ages and change times.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeGate answers every workflow with res (Workflow filled in) or err, and
// counts its calls.
type fakeGate struct {
	res   cutover.GateResult
	err   error
	calls atomic.Int64
}

func (g *fakeGate) Gate(ctx context.Context, workflow string) (cutover.GateResult, error) {
	g.calls.Add(1)
	if g.err != nil {
		return cutover.GateResult{}, g.err
	}
	r := g.res
	r.Workflow = workflow
	return r, nil
}

func readyGate() *fakeGate {
	return &fakeGate{res: cutover.GateResult{Ready: true, Checks: []cutover.GateCheck{
		{Name: "min_comparisons", OK: true, Want: ">= 1000", Got: "5000"},
	}}}
}

func failingGate() *fakeGate {
	return &fakeGate{res: cutover.GateResult{Ready: false, Checks: []cutover.GateCheck{
		{Name: "min_comparisons", OK: false, Want: ">= 1000", Got: "12"},
		{Name: "min_match_rate", OK: true, Want: ">= 99.9%", Got: "100%"},
		{Name: "dlq_empty", OK: false, Want: "0", Got: "3"},
	}}}
}
