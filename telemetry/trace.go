package telemetry

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/cutover-dev/cutover"
)

// Tracing is a process's tracer and W3C propagator.
type Tracing struct {
	Provider   *sdktrace.TracerProvider
	Tracer     trace.Tracer
	propagator propagation.TraceContext
	// Span start options, made once: each costs an allocation per span.
	server, consumer trace.SpanStartOption
}

// NewTracing returns tracing for one process. Spans are sampled as their
// parent says (always, for new traces) and exported nowhere: their ids are
// what ties log lines together. Shutdown the provider on exit.
func NewTracing(service string) *Tracing {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	return &Tracing{Provider: tp, Tracer: tp.Tracer("github.com/cutover-dev/cutover/" + service),
		server: trace.WithSpanKind(trace.SpanKindServer), consumer: trace.WithSpanKind(trace.SpanKindConsumer)}
}

// Middleware starts a server span for each request, continuing the caller's
// traceparent when there is one, and rewrites the request's traceparent to
// the new span so whatever handles it (the proxy: the event it publishes,
// the legacy call) carries this trace.
func (t *Tracing) Middleware(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := t.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := t.Tracer.Start(ctx, name, t.server)
		defer span.End()
		t.propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// StartEventSpan starts a span for work on ev, as a child of the trace
// context the event carries (the request that caused it).
func (t *Tracing) StartEventSpan(ctx context.Context, name string, ev *cutover.Event) (context.Context, trace.Span) {
	ctx = EventContext(ctx, ev)
	return t.Tracer.Start(ctx, name, t.consumer)
}

// EventContext returns ctx with the remote span context the event carries
// and its correlation id (see WithCorrelation).
func EventContext(ctx context.Context, ev *cutover.Event) context.Context {
	ctx = WithCorrelation(ctx, ev.CorrelationID)
	if ev.TraceParent == "" {
		return ctx
	}
	h := http.Header{}
	h.Set("Traceparent", ev.TraceParent)
	if ev.TraceState != "" {
		h.Set("Tracestate", ev.TraceState)
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(h))
}

// TraceParent formats the span context of ctx as a W3C traceparent, or ""
// when ctx has none.
func TraceParent(ctx context.Context) (traceparent, tracestate string) {
	h := http.Header{}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(h))
	return h.Get("Traceparent"), h.Get("Tracestate")
}
