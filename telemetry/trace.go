package telemetry

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/cutover-dev/cutover"
)

// Tracing is a process's tracer and W3C propagator.
type Tracing struct {
	Provider *sdktrace.TracerProvider
	Tracer   trace.Tracer
	// consumer is made once: it costs an allocation per span.
	consumer trace.SpanStartOption
}

// NewTracing returns tracing for one process. Spans are sampled as their
// parent says (always, for new traces) and exported nowhere: their ids are
// what ties log lines together. Shutdown the provider on exit.
func NewTracing(service string) *Tracing {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	return &Tracing{Provider: tp, Tracer: tp.Tracer("github.com/cutover-dev/cutover/" + service),
		consumer: trace.WithSpanKind(trace.SpanKindConsumer)}
}

// Middleware gives each request a span context of its own, continuing the
// caller's traceparent when there is one (its trace id and sampled flag)
// and starting a sampled trace otherwise, and rewrites the request's
// traceparent to it, so whatever handles the request (the proxy: the event
// it publishes, the legacy call, its log lines) carries this trace. It
// mints ids only: spans are exported nowhere, and recording one per
// request cost the proxy about 4% of its CPU. The headers are read and
// written by hand, as propagation.TraceContext does (its Extract and Inject
// cost the proxy 1.5-3% of its CPU: a key canonicalized per header access,
// a builder, two context layers); the tests hold them to it.
func (*Tracing) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		parent, ok := extractTraceContext(r.Header)
		if !ok {
			// As Extract: an unusable traceparent leaves ctx's own.
			parent = trace.SpanContextFromContext(ctx)
		}
		sc := childOf(parent)
		injectTraceContext(r.Header, sc)
		next.ServeHTTP(w, r.WithContext(trace.ContextWithSpanContext(ctx, sc)))
	})
}

// extractTraceContext is propagation.TraceContext's Extract on an
// http.Header: the first traceparent, lower-case hex only, version ff
// refused, version 00 exactly 55 bytes (or 56 ending in "-", which its
// field splitting lets through) with flags 00-03, later versions followed
// by nothing or "-" and anything; flags kept to sampled and random; ids
// not all zero; the first tracestate, or none when it does not parse
// (which must not void the traceparent).
func extractTraceContext(h http.Header) (trace.SpanContext, bool) {
	vs := h["Traceparent"]
	if len(vs) == 0 {
		return trace.SpanContext{}, false
	}
	ts := ""
	if v := h["Tracestate"]; len(v) > 0 {
		ts = v[0]
	}
	return parseTraceContext(vs[0], ts)
}

// parseTraceContext reads one traceparent and tracestate value as
// extractTraceContext describes.
func parseTraceContext(tp, ts string) (trace.SpanContext, bool) {
	if len(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' || len(tp) > 55 && tp[55] != '-' {
		return trace.SpanContext{}, false
	}
	var ver, flags [1]byte
	cfg := trace.SpanContextConfig{Remote: true}
	if !unhex(ver[:], tp[0:2]) || ver[0] == 0xff ||
		!unhex(cfg.TraceID[:], tp[3:35]) || !unhex(cfg.SpanID[:], tp[36:52]) || !unhex(flags[:], tp[53:55]) {
		return trace.SpanContext{}, false
	}
	if ver[0] == 0 && (len(tp) > 56 || flags[0] > 3) {
		return trace.SpanContext{}, false
	}
	if !cfg.TraceID.IsValid() || !cfg.SpanID.IsValid() {
		return trace.SpanContext{}, false
	}
	cfg.TraceFlags = trace.TraceFlags(flags[0]) & (trace.FlagsSampled | trace.FlagsRandom)
	if ts != "" {
		cfg.TraceState, _ = trace.ParseTraceState(ts)
	}
	return trace.NewSpanContext(cfg), true
}

// unhex decodes the lower-case hex s into dst, len(s) == 2*len(dst).
func unhex(dst []byte, s string) bool {
	for i := range dst {
		hi, lo := unhexDigit(s[2*i]), unhexDigit(s[2*i+1])
		if hi|lo > 0xf {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func unhexDigit(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return 0xff
}

// injectTraceContext is propagation.TraceContext's Inject of a valid sc
// on an http.Header: a non-empty tracestate replaces the header's, an
// empty one leaves it alone; the traceparent is version 00 with the
// sampled and random flags only.
func injectTraceContext(h http.Header, sc trace.SpanContext) {
	if ts := sc.TraceState().String(); ts != "" {
		h["Tracestate"] = []string{ts}
	}
	const digits = "0123456789abcdef"
	tid, sid := sc.TraceID(), sc.SpanID()
	flags := byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))
	var b [55]byte
	b[0], b[1], b[2] = '0', '0', '-'
	hex.Encode(b[3:35], tid[:])
	b[35] = '-'
	hex.Encode(b[36:52], sid[:])
	b[52], b[53], b[54] = '-', digits[flags>>4], digits[flags&0xf]
	h["Traceparent"] = []string{string(b[:])}
}

// childOf returns a new span context in parent's trace, or in a new
// sampled trace when parent is not valid.
func childOf(parent trace.SpanContext) trace.SpanContext {
	cfg := trace.SpanContextConfig{TraceID: parent.TraceID(), TraceFlags: parent.TraceFlags(), TraceState: parent.TraceState()}
	if !parent.IsValid() {
		cfg = trace.SpanContextConfig{TraceFlags: trace.FlagsSampled}
		for !cfg.TraceID.IsValid() {
			binary.BigEndian.PutUint64(cfg.TraceID[:8], rand.Uint64())
			binary.BigEndian.PutUint64(cfg.TraceID[8:], rand.Uint64())
		}
	}
	for !cfg.SpanID.IsValid() {
		binary.BigEndian.PutUint64(cfg.SpanID[:], rand.Uint64())
	}
	return trace.NewSpanContext(cfg)
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
	if sc, ok := parseTraceContext(ev.TraceParent, ev.TraceState); ok {
		ctx = trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return ctx
}

// TraceParent formats the span context of ctx as a W3C traceparent, or ""
// when ctx has none.
func TraceParent(ctx context.Context) (traceparent, tracestate string) {
	h := http.Header{}
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(h))
	return h.Get("Traceparent"), h.Get("Tracestate")
}
