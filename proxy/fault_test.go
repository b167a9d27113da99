package proxy_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/cutover-dev/cutover"
)

// TestBackendFaultsDoNotTouchPrimaryTraffic runs the same traffic through
// a healthy proxy and one whose Publisher or OutcomeRecorder is down or
// stalled, alternating requests so both see the same machine load. The
// faulty one must answer every request correctly, with a p99 within
// 3x + 5ms of the healthy one's, and count what it dropped.
func TestBackendFaultsDoNotTouchPrimaryTraffic(t *testing.T) {
	const n, warm = 300, 20
	const total = n + warm // every request is mirrored, warm-up included
	const buffer, batch = 16, 4
	legacy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})
	keys := "  buffer: 16\n  batch_size: 4\n"
	tests := []struct {
		name  string
		fault func(h *harness) (release func())
		// check runs after the faulty proxy was shut down
		check func(t *testing.T, h *harness, shutdownErr error)
	}{
		{"publisher unavailable", func(h *harness) func() {
			h.pub.fail = func([]*cutover.Event) error { return errDown }
			return func() {}
		}, func(t *testing.T, h *harness, err error) {
			if err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			dropped := h.metric("cutover_proxy_shadow_dropped_total", map[string]string{"workflow": "create-order"})
			if dropped != total {
				t.Errorf("dropped = %v, want all %d (nothing could be published)", dropped, total)
			}
			if full := h.metric("cutover_proxy_shadow_dropped_total", map[string]string{"reason": "buffer_full"}); full == 0 {
				t.Error("no buffer_full drops: the buffer never filled")
			}
		}},
		{"publisher stalled", func(h *harness) func() {
			h.pub.stall = make(chan struct{})
			return func() { close(h.pub.stall) }
		}, func(t *testing.T, h *harness, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown with a stalled publisher = %v, want a deadline error", err)
			}
			full := h.metric("cutover_proxy_shadow_dropped_total", map[string]string{"reason": "buffer_full"})
			if min := float64(total - buffer - 4*batch - 4); full < min {
				t.Errorf("buffer_full drops = %v, want at least %v", full, min)
			}
		}},
		{"recorder unavailable", func(h *harness) func() {
			h.store.fail = errDown
			return func() {}
		}, func(t *testing.T, h *harness, err error) {
			if err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			published := h.metric("cutover_proxy_shadow_published_total", nil)
			errs := h.metric("cutover_proxy_outcome_errors_total", nil)
			if published == 0 || errs != published {
				t.Errorf("published %v, outcome errors %v: want every published event's outcome to fail", published, errs)
			}
		}},
		{"recorder stalled", func(h *harness) func() {
			h.store.stall = make(chan struct{})
			return func() { close(h.store.stall) }
		}, func(t *testing.T, h *harness, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Shutdown with a stalled recorder = %v, want a deadline error", err)
			}
			if full := h.metric("cutover_proxy_shadow_dropped_total", map[string]string{"reason": "buffer_full"}); full == 0 {
				t.Error("no buffer_full drops")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			healthy := newHarness(t, legacy, withProxyKeys(keys))
			faulty := newHarness(t, legacy, withProxyKeys(keys))
			release := tt.fault(faulty)
			for _, h := range []*harness{healthy, faulty} {
				h.dec.set("create-order", shadow)
			}
			send := func(h *harness, i int) time.Duration {
				body := `{"customer_id":"c-` + strconv.Itoa(i) + `"}`
				req := h.newRequest("POST", "/orders", body)
				start := time.Now()
				res, got := h.do(req)
				d := time.Since(start)
				if res.StatusCode != 200 || got != body {
					t.Fatalf("request %d: %d %q", i, res.StatusCode, got)
				}
				return d
			}
			for i := range warm { // warm up connections on both
				send(healthy, i)
				send(faulty, i)
			}
			var base, fault []time.Duration
			for i := range n {
				base = append(base, send(healthy, i))
				fault = append(fault, send(faulty, i))
			}
			pb, pf := p99(base), p99(fault)
			t.Logf("p99 healthy %v, faulty %v", pb, pf)
			if pf > 3*pb+5*time.Millisecond {
				t.Errorf("p99 with the fault %v exceeds 3 x %v + 5ms", pf, pb)
			}

			faulty.front.Close()
			faulty.front = nil // the harness cleanup must not shut it down again first
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			err := faulty.proxy.Shutdown(ctx)
			cancel()
			tt.check(t, faulty, err)
			release()
		})
	}
}

func p99(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)*99+99)/100-1]
}
