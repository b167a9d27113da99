package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// recorder is a flush that records its batches and fails entries named
// "fail".
type recorder struct {
	mu      sync.Mutex
	batches [][]string
}

func (r *recorder) flush(_ context.Context, batch []string) []error {
	r.mu.Lock()
	r.batches = append(r.batches, append([]string(nil), batch...))
	r.mu.Unlock()
	errs := make([]error, len(batch))
	for i, e := range batch {
		if e == "fail" {
			errs[i] = errors.New("failed: " + e)
		}
	}
	return errs
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n []int
	for _, b := range r.batches {
		n = append(n, len(b))
	}
	return n
}

func newTestCoalescer(r *recorder, window time.Duration) *coalescer[string] {
	return &coalescer[string]{max: 10, window: window, timeout: time.Second, flush: r.flush}
}

func TestCoalescerSplitsFullBatches(t *testing.T) {
	r := &recorder{}
	c := newTestCoalescer(r, time.Hour) // only full batches and close send
	entries := make([]string, 25)
	for i := range entries {
		entries[i] = fmt.Sprint(i)
	}
	done := make(chan []error)
	go func() { done <- c.submit(context.Background(), entries) }()
	// Two full batches go at once; the last 5 wait for the window.
	deadline := time.Now().Add(5 * time.Second)
	for len(r.sizes()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if diff := cmp.Diff([]int{10, 10}, r.sizes()); diff != "" {
		t.Fatalf("batches before the window ends (-want +got):\n%s", diff)
	}
	c.close() // sends the rest
	errs := <-done
	if diff := cmp.Diff(make([]error, 25), errs, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{10, 10, 5}, r.sizes()); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
	if errs := c.submit(context.Background(), []string{"late"}); !errors.Is(errs[0], errClosed) {
		t.Errorf("submit after close: %v, want errClosed", errs[0])
	}
}

// TestCoalescerCombinesConcurrentCalls: 40 single-entry calls at once end
// up in full batches, and each caller gets its own entry's result.
func TestCoalescerCombinesConcurrentCalls(t *testing.T) {
	r := &recorder{}
	c := newTestCoalescer(r, 50*time.Millisecond)
	defer c.close()
	var wg sync.WaitGroup
	results := make([]error, 40)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := fmt.Sprint(i)
			if i%7 == 0 {
				e = "fail"
			}
			results[i] = c.submit(context.Background(), []string{e})[0]
		}()
	}
	wg.Wait()
	for i, err := range results {
		if (i%7 == 0) != (err != nil) {
			t.Errorf("call %d: result %v", i, err)
		}
	}
	total := 0
	for _, n := range r.sizes() {
		total += n
	}
	if total != 40 || len(r.sizes()) > 8 {
		t.Errorf("batches %v: want 40 entries in a few batches, not one request per call", r.sizes())
	}
}

func TestCoalescerWindow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		window   time.Duration
		min, max time.Duration
	}{
		{"a lone entry waits for the window", 30 * time.Millisecond, 25 * time.Millisecond, 2 * time.Second},
		{"negative window sends at once", -1, 0, 20 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			c := newTestCoalescer(r, tc.window)
			defer c.close()
			start := time.Now()
			if err := c.submit(context.Background(), []string{"x"})[0]; err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took < tc.min || took > tc.max {
				t.Errorf("took %v, want between %v and %v", took, tc.min, tc.max)
			}
		})
	}
}

func TestCoalescerByteLimit(t *testing.T) {
	r := &recorder{}
	c := &coalescer[string]{max: 10, maxBytes: 10, size: func(s string) int { return len(s) }, window: time.Hour, timeout: time.Second, flush: r.flush}
	done := make(chan []error)
	go func() { done <- c.submit(context.Background(), []string{"aaaa", "bbbb", "cccc", "dd", "eeeeeeee"}) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(r.sizes()) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	c.close()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	want := [][]string{{"aaaa", "bbbb"}, {"cccc", "dd"}, {"eeeeeeee"}}
	// Batches go out concurrently: compare them in any order.
	byFirst := cmpopts.SortSlices(func(a, b []string) bool { return a[0] < b[0] })
	if diff := cmp.Diff(want, r.batches, byFirst); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}

func TestCoalescerCallerContext(t *testing.T) {
	r := &recorder{}
	c := newTestCoalescer(r, time.Hour)
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.submit(ctx, []string{"x"})[0]; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("submit with an ending context: %v, want DeadlineExceeded", err)
	}
}
