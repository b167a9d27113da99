package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// profileToken is the operator token the benchmark's cutover processes
// accept, so that it can read their /debug/pprof; they listen on loopback
// and live only as long as the run.
const profileToken = "proxybench-profile-token"

// profile fetches a CPU profile of t covering most of a run of length d
// into dir, in the background; the returned channel closes when it is
// written. Targets without an admin listener, or an empty dir, are skipped.
func profile(dir string, t target, d time.Duration) <-chan struct{} {
	done := make(chan struct{})
	if dir == "" || t.admin == "" {
		close(done)
		return done
	}
	secs := max(1, int((d-time.Second)/time.Second))
	go func() {
		defer close(done)
		if err := fetchProfile(dir, t, secs); err != nil {
			log.Printf("proxybench: profile %s: %v", t.name, err)
		}
	}()
	return done
}

func fetchProfile(dir string, t target, secs int) error {
	req, err := http.NewRequest("GET", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", t.admin, secs), nil)
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+profileToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch: status %d", res.StatusCode)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, strings.ReplaceAll(t.name, " ", "-")+".pprof"))
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	return f.Close()
}
