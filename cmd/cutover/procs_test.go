package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cutover-dev/cutover/internal/freeport"
)

// proc is a cutover subcommand running as its own process (this test
// binary re-executed, see TestMain).
type proc struct {
	cmd     *exec.Cmd
	logs    *syncBuffer
	exited  chan struct{} // closed when the process has exited
	waitErr error         // how it exited; read after exited is closed
	stopped bool          // stop ran
}

// syncBuffer collects a process's output for the failure message.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startCutover runs `cutover args...` until the test ends (SIGTERM, then
// SIGKILL after 10 s); its output is shown if the test fails.
func startCutover(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(os.Args[0], args...), logs: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), "CUTOVER_TEST_EXEC=1"), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.waitErr = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("output of cutover %v:\n%s", args, p.logs.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit. A process that exited on
// its own already is reported, not signalled; stopping twice is a no-op.
func (p *proc) stop(t *testing.T) {
	if p.stopped {
		return
	}
	p.stopped = true
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Errorf("cutover %v exited early with %v", p.cmd.Args[1:], p.waitErr)
		}
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		if p.waitErr != nil {
			t.Errorf("cutover %v exited with %v", p.cmd.Args[1:], p.waitErr)
		}
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("cutover %v did not stop within 10s of SIGTERM", p.cmd.Args[1:])
	}
}

// runCutover runs a short cutover command to completion.
func runCutover(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "CUTOVER_TEST_EXEC=1"), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// freeAddr returns a free loopback address for a process the test starts
// (outside the ephemeral range: see internal/freeport).
func freeAddr(t *testing.T) string {
	t.Helper()
	p, err := freeport.Pick(freeport.ProcsLo, freeport.ProcsHi)
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(p)
}

// waitUp waits until url answers HTTP at all.
func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not come up: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// servedBy is a sample service that says who answered.
func servedBy(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Served-By", name)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"ok":true,"by":%q}`, name)
	})
}
