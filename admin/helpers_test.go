package admin

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	cutover "github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/flags"
	"github.com/cutover-dev/cutover/flags/flagstest"
)

const (
	operatorToken = "alice-operator-token-0001"
	viewerToken   = "grafana-viewer-token-0001"
	envTokenValue = "env-operator-token-000001"
)

const tokensYAML = `
tokens:
  - {name: alice, token: "` + operatorToken + `", role: operator}
  - {name: grafana, token: "` + viewerToken + `", role: viewer}
`

const configYAML = `
legacy: http://127.0.0.1:8000
workflows:
  - name: create-order
    route: POST /orders
  - name: get-order
    route: GET /orders/{id}
    mode: canary
    percent: 10
`

// gate answers every workflow with the same result, which a test may
// change between requests.
type gate struct {
	mu  sync.Mutex
	res cutover.GateResult
}

func (g *gate) set(res cutover.GateResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.res = res
}

func (g *gate) Gate(_ context.Context, workflow string) (cutover.GateResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.res
	r.Workflow = workflow
	return r, nil
}

var failingChecks = []cutover.GateCheck{
	{Name: "min_comparisons", OK: false, Want: ">= 1000", Got: "12"},
	{Name: "min_match_rate", OK: true, Want: ">= 99.9%", Got: "100%"},
}

type fixture struct {
	store *flagstest.Store
	gate  *gate
	srv   *httptest.Server
	svc   *flags.Service
}

// newFixture serves the admin API over loopback with the test tokens, a
// flags.Service on an in-memory store, and a gate that fails until a test
// says otherwise.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	tokens, err := ParseTokens([]byte(tokensYAML))
	if err != nil {
		t.Fatal(err)
	}
	return newFixtureWith(t, tokens)
}

func newFixtureWith(t *testing.T, tokens *Tokens, mounts ...func(*Server)) *fixture {
	t.Helper()
	cfg, err := cutover.Parse([]byte(configYAML))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: flagstest.New(), gate: &gate{res: cutover.GateResult{Ready: false, Checks: failingChecks}}}
	f.svc, err = flags.NewService(f.store, cfg, f.gate, flags.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Tokens: tokens, Flags: f.svc})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		m(s)
	}
	f.srv = httptest.NewServer(s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

type response struct {
	status int
	header http.Header
	body   string
}

// decode unmarshals the body into v, failing the test if it is not JSON.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

func do(t *testing.T, srv *httptest.Server, method, path, token, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// newLoopback serves s over a loopback httptest server.
func newLoopback(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv
}
