package cutover

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// checkEvent asserts that the fast encoder matches json.Marshal on e: the
// same bytes, and a fallback exactly where json.Marshal fails.
func checkEvent(t *testing.T, e *Event) {
	t.Helper()
	want, wantErr := json.Marshal(wireEvent{V: SchemaVersion, Event: e})
	for _, spare := range spareCapacities(len(want)) {
		got, ok := appendEvent(append(make([]byte, 0, len("prefix")+spare), "prefix"...), e)
		if ok != (wantErr == nil) {
			t.Fatalf("appendEvent ok = %v, json.Marshal error = %v", ok, wantErr)
		}
		if ok {
			if diff := cmp.Diff("prefix"+string(want), string(got)); diff != "" {
				t.Fatalf("appendEvent with %d spare differs from json.Marshal (-want +got):\n%s", spare, diff)
			}
		}
	}
	enc, err := EncodeEvent(e)
	if wantErr != nil {
		if err == nil || !strings.Contains(err.Error(), wantErr.Error()) {
			t.Fatalf("EncodeEvent error = %v, want one wrapping %v", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("EncodeEvent: %v", err)
	}
	if diff := cmp.Diff(string(want), string(enc)); diff != "" {
		t.Fatalf("EncodeEvent differs from json.Marshal (-want +got):\n%s", diff)
	}
}

// checkOutcome is checkEvent for outcomes; EncodeOutcome must also return
// json.Marshal's error unchanged.
func checkOutcome(t *testing.T, o *Outcome) {
	t.Helper()
	want, wantErr := json.Marshal(o)
	for _, spare := range spareCapacities(len(want)) {
		got, ok := appendOutcome(append(make([]byte, 0, len("prefix")+spare), "prefix"...), o)
		if ok != (wantErr == nil) {
			t.Fatalf("appendOutcome ok = %v, json.Marshal error = %v", ok, wantErr)
		}
		if ok {
			if diff := cmp.Diff("prefix"+string(want), string(got)); diff != "" {
				t.Fatalf("appendOutcome with %d spare differs from json.Marshal (-want +got):\n%s", spare, diff)
			}
		}
	}
	enc, err := EncodeOutcome(o)
	if wantErr != nil {
		if err == nil || err.Error() != wantErr.Error() {
			t.Fatalf("EncodeOutcome error = %v, want %v", err, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("EncodeOutcome: %v", err)
	}
	if diff := cmp.Diff(string(want), string(enc)); diff != "" {
		t.Fatalf("EncodeOutcome differs from json.Marshal (-want +got):\n%s", diff)
	}
}

// spareCapacities are the amounts of room after a prefix the encoders are
// tried with: none, and about what the output of size n needs, since the
// string encoder writes whole words ahead into spare capacity.
func spareCapacities(n int) []int {
	caps := []int{0}
	for _, c := range []int{n - 9, n - 1, n, n + 1, n + 7} {
		if c > 0 {
			caps = append(caps, c)
		}
	}
	return caps
}

// awkwardStrings are tried in every string field.
func awkwardStrings() []string {
	return []string{
		"",
		"plain",
		`quote " backslash \ slash /`,
		"<script>alert('x&y')</script>",
		"ctl \x00\x01\x07\b\f\n\r\t\x1b\x1f\x7f end",
		"line\u2028sep\u2029para",
		"héllo wörld ☃ 𝄞 日本",
		"bad \xff\xfe utf8 \xc3",
		"trunc \xe2\x80",
		"\xed\xa0\x80 surrogate",
		"\ufffd literal",
	}
}

func TestEncodeEventMatchesJSON(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	base := func() *Event {
		e := sampleEvent()
		e.ID = "0190c1d2-0000-7000-8000-000000000001"
		return e
	}
	cases := map[string]func(e *Event){
		"sample":       func(e *Event) {},
		"empty fields": func(e *Event) { *e = Event{ReceivedAt: e.ReceivedAt} },
		"zero event":   func(e *Event) { *e = Event{} },
		"nil header":   func(e *Event) { e.Request.Header = nil },
		"empty header": func(e *Event) { e.Request.Header = http.Header{} },
		"nil value":    func(e *Event) { e.Request.Header = http.Header{"X-Nil": nil} },
		"empty values": func(e *Event) { e.Request.Header = http.Header{"X-Empty": {}} },
		"empty value":  func(e *Event) { e.Request.Header = http.Header{"X-Empty": {""}} },
		"multi valued": func(e *Event) {
			e.Request.Header = http.Header{"Accept": {"a/b", "c/d", "*/*"}, "Set-Cookie": {"a=1", "b=2"}}
		},
		"sorted header": func(e *Event) {
			e.Request.Header = http.Header{"b": {"1"}, "B": {"2"}, "a": {"3"}, "A": {"4"}, "_": {"5"}, "Zz": {"6"}}
		},
		"unicode keys": func(e *Event) {
			e.Request.Header = http.Header{"Ключ": {"значение"}, "<&>": {"<&>"}, "\xff": {"\xfe"}, "k\u2028": {"v\u2029"}, "": {"empty key"}}
		},
		"many headers": func(e *Event) {
			e.Request.Header = http.Header{}
			for i := range 40 {
				e.Request.Header.Set("X-H-"+strings.Repeat("z", 40-i), strings.Repeat("v", i))
			}
		},
		"nil body":      func(e *Event) { e.Request.Body = nil },
		"empty body":    func(e *Event) { e.Request.Body = Body{} },
		"binary body":   func(e *Event) { e.Request.Body = Body{0xff, 0x00, 0xfe, 0x01} },
		"one byte body": func(e *Event) { e.Request.Body = Body{0x80} },
		"html body":     func(e *Event) { e.Request.Body = Body(`{"html":"<b>a & b</b>"}`) },
		"control body":  func(e *Event) { e.Request.Body = Body("a\x00b\nc\td\x1f\x7f") },
		"u2028 body":    func(e *Event) { e.Request.Body = Body("x\u2028y\u2029z") },
		"unicode body":  func(e *Event) { e.Request.Body = Body("héllo ☃ 𝄞") },
		"claim check": func(e *Event) {
			e.Request.Body, e.Request.BodyRef, e.Request.BodySize = nil, BlobRef([]byte("x")), 1<<40
		},
		"negative size":    func(e *Event) { e.Request.BodySize = -1 },
		"no query":         func(e *Event) { e.Request.Query = "" },
		"causation":        func(e *Event) { e.CausationID = "parent-id" },
		"tracestate":       func(e *Event) { e.TraceState = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7" },
		"no trace":         func(e *Event) { e.TraceParent = "" },
		"replay epoch":     func(e *Event) { e.ReplayEpoch = 3 },
		"negative epoch":   func(e *Event) { e.ReplayEpoch = -7 },
		"live":             func(e *Event) { e.Mode = EventLive },
		"zero time":        func(e *Event) { e.ReceivedAt = time.Time{} },
		"whole seconds":    func(e *Event) { e.ReceivedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		"millis":           func(e *Event) { e.ReceivedAt = time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, time.UTC) },
		"nanos":            func(e *Event) { e.ReceivedAt = time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.UTC) },
		"fixed zone":       func(e *Event) { e.ReceivedAt = time.Date(2026, 7, 1, 23, 59, 59, 1, est) },
		"east zone":        func(e *Event) { e.ReceivedAt = time.Date(2026, 7, 1, 0, 0, 0, 0, time.FixedZone("IST", 5*3600+1800)) },
		"zone seconds":     func(e *Event) { e.ReceivedAt = time.Date(1900, 1, 1, 0, 0, 0, 0, time.FixedZone("LMT", 3600+17)) },
		"local":            func(e *Event) { e.ReceivedAt = time.Date(2026, 3, 29, 2, 30, 0, 0, time.Local) },
		"monotonic":        func(e *Event) { e.ReceivedAt = time.Now() },
		"year 0":           func(e *Event) { e.ReceivedAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year 9999":        func(e *Event) { e.ReceivedAt = time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC) },
		"year 10000":       func(e *Event) { e.ReceivedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year -1":          func(e *Event) { e.ReceivedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"zone hour 24":     func(e *Event) { e.ReceivedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 24*3600)) },
		"zone hour 99":     func(e *Event) { e.ReceivedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", -99*3600-59*60)) },
		"zone 23:59":       func(e *Event) { e.ReceivedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 23*3600+59*60)) },
		"zone hour 100":    func(e *Event) { e.ReceivedAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 100*3600)) },
		"nil event":        nil,
		"long body":        func(e *Event) { e.Request.Body = Body(strings.Repeat(`{"a":"<b>"},`, 1000)) },
		"long binary body": func(e *Event) { e.Request.Body = Body(strings.Repeat("\xff\x00", 1000)) },
	}
	for i, s := range awkwardStrings() {
		cases["awkward "+string(rune('a'+i))] = func(e *Event) {
			e.ID, e.Workflow, e.Step, e.Mode = s, s, s, EventMode(s)
			e.IdempotencyKey, e.CorrelationID, e.CausationID = s, s, s
			e.TraceParent, e.TraceState = s, s
			r := &e.Request
			r.Method, r.Path, r.Query, r.BodyRef = s, s, s, s
			r.Header = http.Header{s: {s, s}, "K": {s}}
			r.Body = Body(s)
		}
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			if mutate == nil {
				checkEvent(t, nil)
				return
			}
			e := base()
			mutate(e)
			checkEvent(t, e)
		})
	}
}

// TestAppendStringCapacity runs appendString into buffers with every amount
// of spare capacity around its word-at-a-time writes.
func TestAppendStringCapacity(t *testing.T) {
	srcs := awkwardStrings()
	for _, s := range awkwardStrings() {
		srcs = append(srcs, s+s+s, "0123456789abcdef"+s, s+"0123456789abcdefg", strings.Repeat("\u2028<", 5)+s)
	}
	for n := range 20 {
		srcs = append(srcs, strings.Repeat("x", n), strings.Repeat("x", n)+"\"", strings.Repeat("é", n), strings.Repeat("\x00", n))
	}
	for _, s := range srcs {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		for spare := range 6*len(s) + 10 {
			dst := append(make([]byte, 0, 3+spare), "ab,"...)
			if got := appendString(dst, s); string(got[3:]) != string(want) || string(got[:3]) != "ab," {
				t.Fatalf("appendString(%q) with %d spare = %s, want %s", s, spare, got, want)
			}
			if got := appendString(dst, []byte(s)); string(got[3:]) != string(want) {
				t.Fatalf("appendString([]byte(%q)) with %d spare = %s, want %s", s, spare, got, want)
			}
		}
	}
}

func TestEncodeOutcomeMatchesJSON(t *testing.T) {
	at := time.Date(2026, 11, 27, 10, 0, 0, 123_456_789, time.UTC)
	cases := map[string]*Outcome{
		"nil":          nil,
		"zero":         {},
		"at only":      {At: at},
		"legacy":       {Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: Body(`{"id":1}`), Latency: Duration(1500 * time.Millisecond), At: at},
		"nil header":   {Status: 201, Header: nil, At: at},
		"empty header": {Status: 201, Header: http.Header{}, At: at},
		"nil value":    {Header: http.Header{"X": nil, "A": {}}, At: at},
		"multi":        {Header: http.Header{"Vary": {"Accept", "Origin"}, "Set-Cookie": {"<a>", "&b"}}, At: at},
		"binary body":  {Body: Body{0xde, 0xad, 0xbe, 0xef}, At: at},
		"empty body":   {Body: Body{}, At: at},
		"html body":    {Body: Body("<p>Tom & Jerry</p>\u2028"), At: at},
		"body ref":     {BodyRef: "sha256:abc", Status: 200, At: at},
		"latencies": {Latency: Duration(1234 * time.Nanosecond), At: at,
			Effects: []Effect{{Kind: "latency µs"}}},
		"negative latency": {Latency: Duration(-time.Hour - 3*time.Millisecond), At: at},
		"min latency":      {Latency: Duration(-1 << 63), At: at},
		"error":            {Error: "dial tcp: connection refused <nil> & \x00", At: at},
		"missing":          {Missing: true, At: at},
		"skipped":          {Skipped: "live write", At: at},
		"status only":      {Status: -1},
		"effects": {At: at, Effects: []Effect{
			{Kind: "email.send", Detail: "to=a@example.com"},
			{Kind: "charge"},
			{Kind: "", Detail: "<&>\u2029"},
		}},
		"empty effects": {At: at, Effects: []Effect{}},
		"zoned":         {At: time.Date(2026, 2, 3, 4, 5, 6, 7, time.FixedZone("CET", 3600))},
		"year 10000":    {Status: 500, At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"year -5":       {At: time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC)},
		"zone hour 30":  {At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 30*3600))},
		"everything": {Status: 502, Header: http.Header{"B": {"2"}, "A": {"1"}}, Body: Body("oops\xff"), BodyRef: "r",
			Latency: Duration(time.Second), Error: "e", Missing: true, Skipped: "s", At: at, Effects: []Effect{{"k", "d"}}},
	}
	for i, s := range awkwardStrings() {
		cases["awkward "+string(rune('a'+i))] = &Outcome{Header: http.Header{s: {s}}, Body: Body(s), BodyRef: s, Error: s,
			Skipped: s, At: at, Effects: []Effect{{Kind: s, Detail: s}}}
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) { checkOutcome(t, o) })
	}
}

// fuzzTime makes a time from fuzzed numbers, out-of-range years and zone
// offsets included, so the fallback is exercised too.
func fuzzTime(sec, nsec int64, offset int32, zone string) time.Time {
	if sec == 0 && nsec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, nsec).In(time.FixedZone(zone, int(offset)))
}

// fuzzHeader makes a header from a ';'-separated list of key=v1,v2 pairs; a
// key without '=' gets a nil value. nilHeader picks nil over an empty map.
func fuzzHeader(spec string, nilHeader bool) http.Header {
	if spec == "" && nilHeader {
		return nil
	}
	h := http.Header{}
	if spec == "" {
		return h
	}
	for _, pair := range strings.Split(spec, ";") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			h[k] = nil
			continue
		}
		h[k] = append(h[k], strings.Split(v, ",")...)
	}
	return h
}

func FuzzEncodeEvent(f *testing.F) {
	f.Add("id-1", "orders", "respond", "shadow", "Content-Type=application/json;Accept=a,b", []byte(`{"a":"<b>"}`),
		int64(1_790_000_000), int64(123), int32(0), "", 0, int64(19), true)
	f.Add("\xff<&>", "\u2028", "\x00", "live", "K\xfe=v\x01;Nil", []byte{0xff, 0x00}, int64(-62_135_596_800), int64(0),
		int32(-18_000), "EST", -1, int64(-5), false)
	f.Add("", "", "", "", "", []byte(nil), int64(0), int64(0), int32(0), "", 0, int64(0), false)
	f.Add("x", "y", "z", "m", ";=;==", []byte("héllo\u2029"), int64(253_402_300_800), int64(1), int32(86_400), "Z", 7,
		int64(1<<40), true)
	f.Fuzz(func(t *testing.T, id, workflow, step, mode, header string, body []byte, sec, nsec int64, offset int32,
		zone string, epoch int, size int64, nilHeader bool) {
		e := &Event{
			ID: id, Workflow: workflow, Step: step, Mode: EventMode(mode), IdempotencyKey: id + step,
			CorrelationID: workflow, CausationID: mode, TraceParent: header, TraceState: zone,
			ReceivedAt: fuzzTime(sec, nsec, offset, zone), ReplayEpoch: epoch,
			Request: Request{Method: step, Path: id, Query: mode, Header: fuzzHeader(header, nilHeader),
				Body: body, BodyRef: zone, BodySize: size},
		}
		checkEvent(t, e)
	})
}

func FuzzEncodeOutcome(f *testing.F) {
	f.Add(200, "Content-Type=application/json", []byte(`{"ok":true}`), "", int64(1_500_000), "", false, "",
		int64(1_790_000_000), int64(5), int32(3600), "kind=detail;email", true)
	f.Add(0, "", []byte(nil), "sha256:x", int64(0), "boom <&>", true, "live", int64(0), int64(0), int32(0), "", false)
	f.Add(-1, "Nil;A=", []byte{0x80}, "\xff", int64(-1), "\u2028", false, "\x00", int64(-1<<40), int64(-1),
		int32(-90_000), "=;;=x", false)
	f.Fuzz(func(t *testing.T, status int, header string, body []byte, bodyRef string, latency int64, errText string,
		missing bool, skipped string, sec, nsec int64, offset int32, effects string, nilHeader bool) {
		o := &Outcome{
			Status: status, Header: fuzzHeader(header, nilHeader), Body: body, BodyRef: bodyRef,
			Latency: Duration(latency), Error: errText, Missing: missing, Skipped: skipped,
			At: fuzzTime(sec, nsec, offset, skipped),
		}
		if effects != "" {
			for _, ef := range strings.Split(effects, ";") {
				k, d, _ := strings.Cut(ef, "=")
				o.Effects = append(o.Effects, Effect{Kind: k, Detail: d})
			}
		}
		checkOutcome(t, o)
	})
}

// benchEvent is what the proxy publishes for a typical API call.
func benchEvent() *Event {
	return &Event{
		ID: "0190c1d2-3e4f-7a5b-8c6d-7e8f9a0b1c2d", Workflow: "create-order", Step: RespondStep, Mode: EventShadow,
		IdempotencyKey: "idem-2f6c9a1e-orders", CorrelationID: "0190c1d2-3e4f-7a5b-8c6d-7e8f9a0b1c2d",
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		ReceivedAt:  time.Date(2026, 11, 27, 10, 15, 42, 123_456_789, time.UTC),
		Request: Request{
			Method: "POST", Path: "/orders", Query: "dry_run=false",
			Header: http.Header{
				"Content-Type":    {"application/json"},
				"Accept":          {"application/json"},
				"User-Agent":      {"shop-web/4.12.1 (+https://example.com)"},
				"X-Request-Id":    {"req-7f3d2a9b0c1e"},
				"Idempotency-Key": {"idem-2f6c9a1e-orders"},
			},
			Body:     Body(`{"customer_id":"cus_8f2a1c","currency":"EUR","items":[{"sku":"TSHIRT-RED-M","qty":2,"unit_cents":1999},{"sku":"MUG-BLK","qty":1,"unit_cents":1250}],"coupon":null}`),
			BodySize: 156,
		},
	}
}

// BenchmarkEncodeEvent compares the hand-written encoder (fast) with the
// json.Marshal path it replaces (json), on the same event in the same run.
func BenchmarkEncodeEvent(b *testing.B) {
	e := benchEvent()
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(wireEvent{V: SchemaVersion, Event: e}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeEvent(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
