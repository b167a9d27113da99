package admin

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestMount(t *testing.T) {
	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := IdentityFrom(r.Context())
		if !ok {
			_, _ = io.WriteString(w, "public "+r.URL.Path)
			return
		}
		_, _ = io.WriteString(w, id.Name+" "+string(id.Role)+" "+r.URL.Path)
	})
	f := newFixtureWith(t, mustTokens(t), func(s *Server) {
		for _, m := range []struct {
			pattern string
			role    Role
		}{
			{"/metrics", RolePublic},
			{"/reports", RoleViewer},
			{"/admin-tools", RoleOperator},
		} {
			if err := s.Mount(m.pattern, m.role, whoami); err != nil {
				t.Fatal(err)
			}
		}
	})
	tests := []struct {
		path, token string
		want        int
		body        string
	}{
		{"/metrics", "", 200, "public /metrics"},
		{"/reports", "", 401, ""},
		{"/reports/create-order", viewerToken, 200, "grafana viewer /reports/create-order"},
		{"/admin-tools", viewerToken, 403, ""},
		{"/admin-tools/x", operatorToken, 200, "alice operator /admin-tools/x"},
	}
	for _, tt := range tests {
		r := do(t, f.srv, "GET", tt.path, tt.token, "")
		if r.status != tt.want || (tt.body != "" && r.body != tt.body) {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, r.status, r.body, tt.want, tt.body)
		}
	}
}

func mustTokens(t *testing.T) *Tokens {
	t.Helper()
	tokens, err := ParseTokens([]byte(tokensYAML))
	if err != nil {
		t.Fatal(err)
	}
	return tokens
}

func TestMountRefuses(t *testing.T) {
	ok := http.NotFoundHandler()
	tests := []struct {
		name, pattern string
		role          Role
		h             http.Handler
		wantErr       string
	}{
		{"nil handler", "/x", RoleViewer, nil, "admin: mount /x: nil handler"},
		{"no slash", "metrics", RoleViewer, ok, `admin: mount "metrics": want a path such as /metrics or /reports, without a trailing slash or wildcards`},
		{"trailing slash", "/metrics/", RoleViewer, ok, `admin: mount "/metrics/": want a path such as /metrics or /reports, without a trailing slash or wildcards`},
		{"root", "/", RoleViewer, ok, `admin: mount "/": want a path such as /metrics or /reports, without a trailing slash or wildcards`},
		{"wildcard", "/r/*", RoleViewer, ok, `admin: mount "/r/*": want a path such as /metrics or /reports, without a trailing slash or wildcards`},
		{"no role", "/x", "", ok, `admin: mount /x: role "" is unknown (want viewer, operator or public)`},
		{"flag API", "/api/flags", RolePublic, ok, "admin: mount /api/flags: overlaps the server's own route /api/flags"},
		{"under the flag API", "/api/flags/x", RolePublic, ok, "admin: mount /api/flags/x: overlaps the server's own route /api/flags"},
		{"above the flag API", "/api", RolePublic, ok, "admin: mount /api: overlaps the server's own route /api/flags"},
		{"healthz", "/healthz", RolePublic, ok, "admin: mount /healthz: overlaps the server's own route /healthz"},
		{"twice", "/metrics", RolePublic, ok, "admin: mount /metrics: overlaps /metrics, mounted before"},
		{"under a mount", "/metrics/x", RolePublic, ok, "admin: mount /metrics/x: overlaps /metrics, mounted before"},
	}
	s, err := New(Options{Flags: stubFlags{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Mount("/metrics", RolePublic, ok); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if err := s.Mount(tt.pattern, tt.role, tt.h); err == nil || err.Error() != tt.wantErr {
			t.Errorf("%s: error\n got %v\nwant %s", tt.name, err, tt.wantErr)
		}
	}
	s.Handler()
	if err := s.Mount("/late", RolePublic, ok); err == nil || !strings.Contains(err.Error(), "already serving") {
		t.Errorf("Mount after Handler: err = %v, want already serving", err)
	}
}

func TestNewRequiresFlags(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a flag service succeeded")
	}
}

// Shutdown drains: a request in flight when ctx ends completes, new
// connections are refused, and Serve returns nil.
func TestServeShutsDownGracefully(t *testing.T) {
	s, err := New(Options{Flags: stubFlags{}, ShutdownTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	if err := s.Mount("/slow", RolePublic, slow); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	client := &http.Client{Timeout: 10 * time.Second}
	got := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + addr + "/slow")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-entered
	cancel()
	// The listener closes before in-flight requests finish.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts 5s after shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) before the in-flight request finished", err)
	default:
	}
	close(release)
	if body := <-got; body != "done" {
		t.Errorf("in-flight request got %q, want done", body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5s")
	}
}

func TestServeGivesUpOnAHungRequest(t *testing.T) {
	s, err := New(Options{Flags: stubFlags{}, ShutdownTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	if err := s.Mount("/hung", RolePublic, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
	})); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	go func() {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ln.Addr().String() + "/hung")
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Serve = %v, want the shutdown deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not give up within 5s")
	}
}

// Run listens on its address and returns nil once ctx ends; Serve's tests
// cover what happens in between.
func TestRun(t *testing.T) {
	s, err := New(Options{Addr: "127.0.0.1:0", Flags: stubFlags{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}

	bad, err := New(Options{Addr: "127.0.0.1:bad", Flags: stubFlags{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Run(context.Background()); err == nil || !strings.HasPrefix(err.Error(), "admin: listen: ") {
		t.Errorf("Run on a bad address = %v, want a listen error", err)
	}
}
