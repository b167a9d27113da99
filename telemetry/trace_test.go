package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/cutover-dev/cutover"
)

// referenceMiddleware is Middleware as it was with otel's propagator, which
// the hand-written one must match for every input.
func referenceMiddleware(next http.Handler) http.Handler {
	var p propagation.TraceContext
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := p.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx = trace.ContextWithSpanContext(ctx, childOf(trace.SpanContextFromContext(ctx)))
		p.Inject(ctx, propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

type ctxKey struct{}

// traceInput is a request as the middleware sees it: its header (keys as
// given, canonical or not) and a span context its context already holds.
type traceInput struct {
	header http.Header
	inCtx  trace.SpanContext
}

func (in traceInput) run(t *testing.T, mw func(http.Handler) http.Handler) (http.Header, trace.SpanContext) {
	t.Helper()
	ctx := context.WithValue(context.Background(), ctxKey{}, "kept")
	if in.inCtx.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, in.inCtx)
	}
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	req.Header = in.header.Clone()
	var seen *http.Request
	mw(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r })).ServeHTTP(httptest.NewRecorder(), req)
	if seen == nil {
		t.Fatal("next was not called")
	}
	if seen.Context().Value(ctxKey{}) != "kept" {
		t.Error("the request context lost a value")
	}
	if reflect.ValueOf(seen.Header).UnsafePointer() != reflect.ValueOf(req.Header).UnsafePointer() {
		t.Error("next did not get the request's header map")
	}
	return seen.Header, trace.SpanContextFromContext(seen.Context())
}

// checkSameAsReference runs both middlewares on in and requires the same
// header and span context, but for the span id each mints (and the trace
// id, when neither the header nor the context gave one).
func checkSameAsReference(t *testing.T, in traceInput) {
	t.Helper()
	wantH, want := in.run(t, referenceMiddleware)
	gotH, got := in.run(t, (*Tracing)(nil).Middleware)

	ctx := context.Background()
	if in.inCtx.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, in.inCtx)
	}
	minted := !trace.SpanContextFromContext(propagation.TraceContext{}.Extract(ctx, propagation.HeaderCarrier(in.header.Clone()))).IsValid()
	if !got.IsValid() || !want.IsValid() {
		t.Fatalf("span contexts not valid: got %v, reference %v", got, want)
	}
	traceID := want.TraceID()
	if minted {
		// Random, so a second request gets another: one continued from
		// the header would not.
		traceID = got.TraceID()
		if _, again := in.run(t, (*Tracing)(nil).Middleware); again.TraceID() == traceID {
			t.Errorf("trace id %v is not freshly minted", traceID)
		}
	}
	wantSC := trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: got.SpanID(),
		TraceFlags: want.TraceFlags(), TraceState: want.TraceState(), Remote: want.IsRemote()})
	if !reflect.DeepEqual(got, wantSC) {
		t.Errorf("span context:\n got       %+v\n reference %+v (ids but the trace id (minted %v) from got)", spanFields(got), spanFields(wantSC), minted)
	}

	tp := wantH["Traceparent"]
	if len(tp) != 1 || len(tp[0]) != 55 {
		t.Fatalf("reference traceparent = %q", tp)
	}
	wantTP := tp[0][:3] + traceID.String() + "-" + got.SpanID().String() + tp[0][52:]
	wantH["Traceparent"] = []string{wantTP}
	if !reflect.DeepEqual(gotH, wantH) {
		t.Errorf("header:\n got       %q\n reference %q (with got's ids)", gotH, wantH)
	}
}

func spanFields(sc trace.SpanContext) string {
	s := sc.TraceID().String() + " " + sc.SpanID().String() + " " + sc.TraceFlags().String() + " state=" + sc.TraceState().String()
	if sc.IsRemote() {
		s += " remote"
	}
	return s
}

const (
	tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	sid = "00f067aa0ba902b7"
	tp1 = "00-" + tid + "-" + sid + "-01"
)

func traceCases() map[string]traceInput {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h[kv[i]] = append(h[kv[i]], kv[i+1])
		}
		return h
	}
	many := make([]string, 33)
	for i := range many {
		many[i] = "k" + string(rune('a'+i%26)) + strings.Repeat("x", i/26) + "=v"
	}
	ctxSC := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, TraceFlags: 0x05,
		TraceState: must(trace.ParseTraceState("ctx=1,other=2")),
	})
	cases := map[string]traceInput{
		"missing":                  {header: hdr()},
		"valid sampled":            {header: hdr("Traceparent", tp1)},
		"valid unsampled":          {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-00")},
		"flags random":             {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-02")},
		"flags sampled random":     {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-03")},
		"flags reserved bit":       {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-04")},
		"flags ff":                 {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-ff")},
		"flags upper case":         {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-0A")},
		"flags not hex":            {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-0g")},
		"flags one digit":          {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-1")},
		"flags three digits":       {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-011")},
		"trace id upper case":      {header: hdr("Traceparent", "00-"+strings.ToUpper(tid)+"-"+sid+"-01")},
		"span id upper case":       {header: hdr("Traceparent", "00-"+tid+"-"+strings.ToUpper(sid)+"-01")},
		"one upper case digit":     {header: hdr("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e473F-"+sid+"-01")},
		"trace id zero":            {header: hdr("Traceparent", "00-"+strings.Repeat("0", 32)+"-"+sid+"-01")},
		"span id zero":             {header: hdr("Traceparent", "00-"+tid+"-"+strings.Repeat("0", 16)+"-01")},
		"trace id short":           {header: hdr("Traceparent", "00-"+tid[1:]+"-"+sid+"-01")},
		"trace id long":            {header: hdr("Traceparent", "00-"+tid+"a-"+sid+"-01")},
		"span id short":            {header: hdr("Traceparent", "00-"+tid+"-"+sid[1:]+"-01")},
		"span id long":             {header: hdr("Traceparent", "00-"+tid+"-"+sid+"0-01")},
		"delimiter moved":          {header: hdr("Traceparent", "00-"+tid[:31]+"-"+tid[31:]+sid+"-01")},
		"first delimiter hex":      {header: hdr("Traceparent", "000"+tid+"-"+sid+"-01")},
		"second delimiter hex":     {header: hdr("Traceparent", "00-"+tid+"0"+sid+"-01")},
		"third delimiter hex":      {header: hdr("Traceparent", "00-"+tid+"-"+sid+"001")},
		"fourth delimiter hex":     {header: hdr("Traceparent", "01-"+tid+"-"+sid+"-010")},
		"underscores":              {header: hdr("Traceparent", "00_"+tid+"_"+sid+"_01")},
		"version ff":               {header: hdr("Traceparent", "ff-"+tid+"-"+sid+"-01")},
		"version fe":               {header: hdr("Traceparent", "fe-"+tid+"-"+sid+"-01")},
		"version upper case":       {header: hdr("Traceparent", "0A-"+tid+"-"+sid+"-01")},
		"version one digit":        {header: hdr("Traceparent", "0-"+tid+"-"+sid+"-01")},
		"version 00 trailing dash": {header: hdr("Traceparent", tp1+"-")},
		"version 00 extra field":   {header: hdr("Traceparent", tp1+"-what-ever")},
		"version 00 extra dash":    {header: hdr("Traceparent", tp1+"--")},
		"version 00 trailing byte": {header: hdr("Traceparent", tp1+"x")},
		"version 01":               {header: hdr("Traceparent", "01-"+tid+"-"+sid+"-01")},
		"version 01 extra fields":  {header: hdr("Traceparent", "01-"+tid+"-"+sid+"-01-what-ever")},
		"version 01 trailing dash": {header: hdr("Traceparent", "01-"+tid+"-"+sid+"-01-")},
		"version 01 trailing byte": {header: hdr("Traceparent", "01-"+tid+"-"+sid+"-01x")},
		"version 01 flags 09":      {header: hdr("Traceparent", "01-"+tid+"-"+sid+"-09")},
		"version 01 flags ff":      {header: hdr("Traceparent", "cc-"+tid+"-"+sid+"-ff-x")},
		"leading space":            {header: hdr("Traceparent", " "+tp1)},
		"trailing space":           {header: hdr("Traceparent", tp1+" ")},
		"short":                    {header: hdr("Traceparent", tp1[:54])},
		"empty value":              {header: hdr("Traceparent", "")},
		"no values":                {header: http.Header{"Traceparent": {}}},
		"lower-case key":           {header: http.Header{"traceparent": {tp1}}},
		"two traceparents":         {header: hdr("Traceparent", tp1, "Traceparent", "00-"+strings.Repeat("a", 32)+"-"+sid+"-00")},
		"bad then good":            {header: hdr("Traceparent", "garbage", "Traceparent", tp1)},
		"empty then good":          {header: hdr("Traceparent", "", "Traceparent", tp1)},

		"tracestate":                  {header: hdr("Traceparent", tp1, "Tracestate", "vendor=x")},
		"tracestate two members":      {header: hdr("Traceparent", tp1, "Tracestate", "a=1,b@c=2")},
		"tracestate spaces":           {header: hdr("Traceparent", tp1, "Tracestate", " a=1 ,\tb= 2\t, ,")},
		"tracestate empty members":    {header: hdr("Traceparent", tp1, "Tracestate", ",,a=1,,")},
		"tracestate only commas":      {header: hdr("Traceparent", tp1, "Tracestate", ",,")},
		"tracestate upper-case key":   {header: hdr("Traceparent", tp1, "Tracestate", "A=1")},
		"tracestate duplicate key":    {header: hdr("Traceparent", tp1, "Tracestate", "a=1,a=2")},
		"tracestate no equals":        {header: hdr("Traceparent", tp1, "Tracestate", "vendor")},
		"tracestate 32 members":       {header: hdr("Traceparent", tp1, "Tracestate", strings.Join(many[:32], ","))},
		"tracestate 33 members":       {header: hdr("Traceparent", tp1, "Tracestate", strings.Join(many, ","))},
		"tracestate two values":       {header: hdr("Traceparent", tp1, "Tracestate", "a=1", "Tracestate", "b=2")},
		"tracestate bad then good":    {header: hdr("Traceparent", tp1, "Tracestate", "bad", "Tracestate", "b=2")},
		"tracestate empty then good":  {header: hdr("Traceparent", tp1, "Tracestate", "", "Tracestate", "b=2")},
		"tracestate no values":        {header: http.Header{"Traceparent": {tp1}, "Tracestate": {}}},
		"tracestate lower-case key":   {header: http.Header{"Traceparent": {tp1}, "tracestate": {"a=1"}}},
		"tracestate bad traceparent":  {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-04", "Tracestate", "a=1")},
		"tracestate no traceparent":   {header: hdr("Tracestate", "a=1")},
		"tracestate version 01":       {header: hdr("Traceparent", "01-"+tid+"-"+sid+"-01-x", "Tracestate", "a=1,b=2")},
		"other headers":               {header: hdr("Traceparent", tp1, "Content-Type", "application/json", "X-Correlation-Id", "c-1")},
		"context span":                {header: hdr(), inCtx: ctxSC},
		"context span, bad header":    {header: hdr("Traceparent", "00-"+tid+"-"+sid+"-04", "Tracestate", "a=1"), inCtx: ctxSC},
		"context span, header wins":   {header: hdr("Traceparent", tp1), inCtx: ctxSC},
		"context span, zero trace id": {header: hdr("Traceparent", "00-"+strings.Repeat("0", 32)+"-"+sid+"-01"), inCtx: ctxSC},
		"context span, zero span id":  {header: hdr("Traceparent", "00-"+tid+"-"+strings.Repeat("0", 16)+"-01"), inCtx: ctxSC},
		"context span, version ff":    {header: hdr("Traceparent", "ff-"+tid+"-"+sid+"-01"), inCtx: ctxSC},
		"context span, header state":  {header: hdr("Traceparent", tp1, "Tracestate", "a=1"), inCtx: ctxSC},
		"context span, invalid state": {header: hdr("Traceparent", tp1, "Tracestate", "A=1"), inCtx: ctxSC},
	}
	return cases
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestMiddlewareMatchesPropagator(t *testing.T) {
	for name, in := range traceCases() {
		t.Run(name, func(t *testing.T) { checkSameAsReference(t, in) })
	}
}

// A request without a header map panics in both (a server never makes
// one).
func TestMiddlewareNilHeaderPanicsAsPropagator(t *testing.T) {
	for name, mw := range map[string]func(http.Handler) http.Handler{"reference": referenceMiddleware, "hand": (*Tracing)(nil).Middleware} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header = nil
			mw(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), req)
		}()
	}
}

// FuzzMiddlewareMatchesPropagator feeds up to two traceparent and two
// tracestate values, and optionally a span context already in the request
// context, to both middlewares.
func FuzzMiddlewareMatchesPropagator(f *testing.F) {
	for _, in := range traceCases() {
		tps, tss := in.header["Traceparent"], in.header["Tracestate"]
		var shape byte
		args := [4]string{}
		for i, v := range tps[:min(2, len(tps))] {
			args[i] = v
			shape++
		}
		for i, v := range tss[:min(2, len(tss))] {
			args[2+i] = v
			shape += 3
		}
		if in.inCtx.IsValid() {
			shape += 9
		}
		f.Add(args[0], args[1], args[2], args[3], shape)
	}
	ctxSC := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{9}, SpanID: trace.SpanID{8}, TraceFlags: 0x07,
		TraceState: must(trace.ParseTraceState("z=9")),
	})
	f.Fuzz(func(t *testing.T, tp1, tp2, ts1, ts2 string, shape byte) {
		in := traceInput{header: http.Header{"Content-Type": {"application/json"}}}
		// shape: traceparent values 0-2, tracestate values 0-2, context span or not.
		switch shape % 3 {
		case 1:
			in.header["Traceparent"] = []string{tp1}
		case 2:
			in.header["Traceparent"] = []string{tp1, tp2}
		}
		switch shape / 3 % 3 {
		case 1:
			in.header["Tracestate"] = []string{ts1}
		case 2:
			in.header["Tracestate"] = []string{ts1, ts2}
		}
		if shape/9%2 == 1 {
			in.inCtx = ctxSC
		}
		checkSameAsReference(t, in)
	})
}

func BenchmarkMiddleware(b *testing.B) {
	for _, bc := range []struct {
		name   string
		header http.Header
	}{
		{"none", http.Header{"Content-Type": {"application/json"}}},
		{"traceparent", http.Header{"Content-Type": {"application/json"}, "Traceparent": {tp1}}},
		{"tracestate", http.Header{"Content-Type": {"application/json"}, "Traceparent": {tp1}, "Tracestate": {"vendor=x"}}},
	} {
		for _, mw := range []struct {
			name string
			mw   func(http.Handler) http.Handler
		}{{"propagator", referenceMiddleware}, {"hand", (*Tracing)(nil).Middleware}} {
			b.Run(bc.name+"/"+mw.name, func(b *testing.B) {
				h := mw.mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.Header = bc.header.Clone()
				b.ReportAllocs()
				for b.Loop() {
					// The middleware rewrites these: give each request
					// the caller's.
					for _, k := range []string{"Traceparent", "Tracestate"} {
						if v, ok := bc.header[k]; ok {
							req.Header[k] = v
						} else {
							delete(req.Header, k)
						}
					}
					h.ServeHTTP(nil, req)
				}
			})
		}
	}
}

// referenceEventContext is EventContext as it was, through the propagator.
func referenceEventContext(ctx context.Context, ev *cutover.Event) context.Context {
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

// EventContext reads an event's trace context as the propagator did, for
// every traceparent and tracestate of the middleware's cases.
func TestEventContextMatchesPropagator(t *testing.T) {
	for name, in := range traceCases() {
		for _, tp := range append(in.header.Values("Traceparent"), "") {
			for _, ts := range append(in.header.Values("Tracestate"), "") {
				ev := &cutover.Event{CorrelationID: "c-1", TraceParent: tp, TraceState: ts}
				want := referenceEventContext(context.Background(), ev)
				got := EventContext(context.Background(), ev)
				if diff := cmp.Diff(spanFields(trace.SpanContextFromContext(want)), spanFields(trace.SpanContextFromContext(got))); diff != "" {
					t.Errorf("%s: traceparent %q tracestate %q (-propagator +EventContext):\n%s", name, tp, ts, diff)
				}
				if CorrelationFrom(got) != "c-1" {
					t.Errorf("%s: correlation id lost", name)
				}
			}
		}
	}
}
