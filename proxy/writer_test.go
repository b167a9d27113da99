package proxy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
	"github.com/cutover-dev/cutover/proxy"
	"github.com/google/go-cmp/cmp"
)

// TestShutdownDrainsTheBuffer queues events behind a slow publisher and
// checks that Shutdown returns only when every one was published and its
// legacy outcome recorded.
func TestShutdownDrainsTheBuffer(t *testing.T) {
	const n = 40
	h := newHarness(t, http.HandlerFunc(echo), withProxyKeys("  batch_size: 4\n"))
	h.dec.set("get-order", shadow)
	h.pub.fail = func([]*cutover.Event) error { time.Sleep(10 * time.Millisecond); return nil }
	for i := range n {
		h.do(h.newRequest("GET", "/orders/"+strconv.Itoa(i), ""))
	}
	h.stop()
	evs, _ := h.pub.published()
	if len(evs) != n {
		t.Errorf("published %d events after Shutdown, want %d", len(evs), n)
	}
	if got := len(h.store.outcomes()); got != n {
		t.Errorf("recorded %d legacy outcomes, want %d", got, n)
	}
	for _, size := range h.pub.batchSizes() {
		if size > 4 {
			t.Errorf("a batch of %d events, batch_size is 4", size)
		}
	}
	if d := h.metric("cutover_proxy_buffer_depth", nil); d != 0 {
		t.Errorf("buffer depth after drain = %v", d)
	}
}

// TestBatchFailures: a partial batch failure records outcomes only for the
// events that were published; a permanent refusal of one event is isolated
// and the rest of its batch still goes out.
func TestBatchFailures(t *testing.T) {
	tests := []struct {
		name      string
		fail      func(evs []*cutover.Event) error
		wantCalls []int // sizes of the Publish calls
	}{
		{"batch error names the failed entry", func(evs []*cutover.Event) error {
			for _, ev := range evs {
				if ev.Request.Path == "/orders/bad" {
					return &cutover.BatchError{Failed: map[string]error{ev.ID: errDown}}
				}
			}
			return nil
		}, []int{3}},
		{"permanent refusal of the batch", func(evs []*cutover.Event) error {
			for _, ev := range evs {
				if ev.Request.Path == "/orders/bad" {
					return fmt.Errorf("publish %s: %w", ev.ID, cutover.ErrMalformedEvent)
				}
			}
			return nil
		}, []int{3, 1, 1, 1}}, // then one by one
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A long batch delay gathers the three requests in one batch.
			h := newHarness(t, http.HandlerFunc(echo), withProxyKeys("  batch_delay: 300ms\n"))
			h.dec.set("get-order", shadow)
			var calls []int
			h.pub.fail = func(evs []*cutover.Event) error {
				calls = append(calls, len(evs)) // one flusher per batch: no concurrent calls here
				return tt.fail(evs)
			}
			for _, p := range []string{"/orders/a", "/orders/bad", "/orders/b"} {
				h.do(h.newRequest("GET", p, ""))
			}
			h.stop()
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("Publish call sizes (-want +got):\n%s", diff)
			}
			if n := h.metric("cutover_proxy_shadow_dropped_total", map[string]string{"reason": "publish_failed"}); n != 1 {
				t.Errorf("publish_failed drops = %v, want 1", n)
			}
			if n := h.metric("cutover_proxy_shadow_published_total", nil); n != 2 {
				t.Errorf("published = %v, want 2", n)
			}
			if n := len(h.store.outcomes()); n != 2 {
				t.Errorf("recorded %d legacy outcomes, want 2 (none for the unpublished event)", n)
			}
		})
	}
}

func TestRunAndShutdownContract(t *testing.T) {
	cfg, err := cutover.Parse([]byte("legacy: http://127.0.0.1:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	store := newStore()
	deps := proxy.Deps{Decider: newDecider(), Publisher: &fakePublisher{}, Outcomes: store, Pairs: &fakePairs{}, OutcomePairs: store, History: store}

	p, err := proxy.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(t.Context()); err != nil {
		t.Errorf("Shutdown without Run = %v, want nil", err)
	}

	p, err = proxy.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := p.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a canceled context = %v, want context.Canceled", err)
	}
	if err := p.Run(t.Context()); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("second Run = %v, want a called-twice error", err)
	}

	missing := deps
	missing.Publisher = nil
	if _, err := proxy.New(cfg, missing); err == nil || !strings.Contains(err.Error(), "Publisher") {
		t.Errorf("New without a Publisher = %v, want an error naming it", err)
	}
}

// TestBatching: items arriving within batch_delay go out as one batch.
func TestBatching(t *testing.T) {
	h := newHarness(t, http.HandlerFunc(echo), withProxyKeys("  batch_delay: 300ms\n  batch_size: 3\n"))
	h.dec.set("get-order", shadow)
	for i := range 7 {
		h.do(h.newRequest("GET", "/orders/"+strconv.Itoa(i), ""))
	}
	h.stop()
	if diff := cmp.Diff([]int{3, 3, 1}, h.pub.batchSizes()); diff != "" {
		t.Errorf("batch sizes (-want +got):\n%s", diff)
	}
}
