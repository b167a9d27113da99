package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cutover-dev/cutover"
)

func TestMiddlewareContinuesTraceAndLogsIt(t *testing.T) {
	tr := NewTracing("test")
	var buf bytes.Buffer
	log := NewLogger(&buf, slog.LevelInfo, "json")
	var seen string
	h := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Get("Traceparent")
		log.InfoContext(r.Context(), "request")
	}))
	req := httptest.NewRequest(http.MethodPost, "/orders", nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(seen) != 55 || seen[3:35] != "4bf92f3577b34da6a3ce929d0e0e4736" || seen[36:52] == "00f067aa0ba902b7" {
		t.Fatalf("traceparent seen by the handler = %q, want the same trace with a new span", seen)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("log line = %v, want the trace id", line)
	}

	// No incoming traceparent: a new sampled trace is started.
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if len(seen) != 55 || seen[:3] != "00-" || seen[53:] != "01" || seen[3:35] == "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("new trace traceparent = %q", seen)
	}

	// A caller that does not sample keeps it so, and its tracestate goes on.
	var state string
	h2 := tr.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, state = r.Header.Get("Traceparent"), r.Header.Get("Tracestate")
	}))
	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	req.Header.Set("Tracestate", "vendor=x")
	h2.ServeHTTP(httptest.NewRecorder(), req)
	if seen[3:35] != "4bf92f3577b34da6a3ce929d0e0e4736" || seen[53:] != "00" || seen[36:52] == "00f067aa0ba902b7" || state != "vendor=x" {
		t.Errorf("unsampled caller: traceparent %q, tracestate %q; want the same trace, a new span, flags 00, the state kept", seen, state)
	}
}

func TestEventSpanIsChildOfEventTrace(t *testing.T) {
	tr := NewTracing("worker")
	ev := &cutover.Event{TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	ctx, span := tr.StartEventSpan(context.Background(), "attempt", ev)
	defer span.End()
	tp, _ := TraceParent(ctx)
	if tp[3:35] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("event span traceparent %q is not in the event's trace", tp)
	}
	if span.SpanContext().SpanID().String() == "00f067aa0ba902b7" {
		t.Error("event span reuses the parent's span id")
	}
}
