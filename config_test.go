package cutover

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const minimalConfig = `
legacy: http://127.0.0.1:8000
workflows:
  - name: create-order
    route: POST /orders
    target: http://127.0.0.1:8081/orders
`

func TestLoadExample(t *testing.T) {
	c, err := Load("examples/cutover.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, ok := c.Workflow("create-order")
	if !ok {
		t.Fatal("create-order missing")
	}
	if w.Method() != "POST" || w.Pattern() != "/orders" {
		t.Errorf("route = %s %s", w.Method(), w.Pattern())
	}
	if got := w.IdempotencyKeySpec(); got.Source != KeyFromHeader || got.Name != "Idempotency-Key" {
		t.Errorf("idempotency key = %+v", got)
	}
	st, ok := c.Step("create-order", "reserve-stock")
	if !ok || st.Concurrency != 8 || st.Downstream != "inventory" {
		t.Errorf("step reserve-stock = %+v, %v", st, ok)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(minimalConfig))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Workflows[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, DefaultListen},
		{"backend.kind", c.Backend.Kind, BackendEmbedded},
		{"proxy.capture_limit", c.Proxy.CaptureLimit, ByteSize(1 << 20)},
		{"worker.max_attempts", c.Worker.MaxAttempts, 5},
		{"worker.visibility", c.Worker.Visibility.D(), 30 * time.Second},
		{"mode", w.Mode, ModeShadow},
		{"response", w.Response, ResponseAwait},
		{"salt", w.Salt, "create-order"},
		{"gate.min_match_rate", w.Gate.MinMatchRate, 0.999},
		{"gate.require_empty_dlq", w.Gate.RequiresEmptyDLQ(), true},
	}
	for _, ch := range checks {
		if diff := cmp.Diff(ch.want, ch.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", ch.name, diff)
		}
	}
}

func TestEmptyConfigNeedsLegacy(t *testing.T) {
	_, err := Parse(nil)
	if err == nil || !strings.Contains(err.Error(), "legacy: is required") {
		t.Fatalf("Parse(empty) = %v, want legacy required", err)
	}
}

// Each bad value must be refused with an error that names its field.
func TestValidateNamesField(t *testing.T) {
	tests := []struct {
		name, yaml, field string
	}{
		{"bad listen", "listen: nonsense", "listen"},
		{"bad legacy", "legacy: ftp://x", "legacy"},
		{"bad backend kind", "backend: {kind: redis}", "backend.kind"},
		{"bad durability", "backend: {durability: maybe}", "backend.durability"},
		{"aws without bucket", "backend: {kind: aws}", "backend.bucket"},
		{"aws bad endpoint", "backend: {kind: aws, bucket: b, sqs_endpoint: 'nope'}", "backend.sqs_endpoint"},
		{"negative buffer", "proxy: {buffer: -1}", "proxy.buffer"},
		{"status prefix", "proxy: {status_prefix: status}", "proxy.status_prefix"},
		{"bad redact path", "proxy: {redact: {json: ['a.b']}}", "proxy.redact.json[0]"},
		{"bad redact header", "proxy: {redact: {headers: ['X Y']}}", "proxy.redact.headers[0]"},
		{"jitter", "worker: {backoff: {jitter: 2}}", "worker.backoff.jitter"},
		{"backoff max", "worker: {backoff: {initial: 10s, max: 1s}}", "worker.backoff.max"},
		{"multiplier", "worker: {backoff: {multiplier: 0.5}}", "worker.backoff.multiplier"},
		{"max body", "worker: {max_body: 1KiB}", "worker.max_body"},
		{"log level", "log: {level: loud}", "log.level"},
		{"dup downstream", "downstreams: [{name: a, concurrency: 1}, {name: a, concurrency: 1}]", "downstreams[1].name"},
		{"downstream concurrency", "downstreams: [{name: a}]", "downstreams[0].concurrency"},
	}
	wf := func(extra string) string {
		return "legacy: http://127.0.0.1:8000\nworkflows:\n  - name: w\n    route: POST /w\n" + extra
	}
	wfTests := []struct {
		name, extra, field string
	}{
		{"workflow name", "  - name: Bad Name\n    route: POST /x\n", "workflows[1].name"},
		{"duplicate workflow", "  - name: w\n    route: POST /x\n", "workflows[1].name"},
		{"duplicate route", "  - name: x\n    route: POST /w\n", "workflows[1].route"},
		{"route", "    mode: shadow\n  - name: x\n    route: /x\n", "workflows[1].route"},
		{"mode", "    mode: sideways\n", "workflows[0].mode"},
		{"percent", "    percent: 150\n", "workflows[0].percent"},
		{"percent without canary", "    percent: 10\n", "workflows[0].percent"},
		{"canary without percent", "    mode: canary\n", "workflows[0].percent"},
		{"response", "    response: later\n", "workflows[0].response"},
		{"idempotency key", "    idempotency_key: cookie:x\n", "workflows[0].idempotency_key"},
		{"bucket_by", "    bucket_by: json:$..x\n", "workflows[0].bucket_by"},
		{"target", "    target: not a url\n", "workflows[0].target"},
		{"downstream", "    downstream: nowhere\n", "workflows[0].downstream"},
		{"fan_out", "    fan_out: [ghost]\n", "workflows[0].fan_out[0]"},
		{"step name", "    steps: [{name: respond}]\n", "workflows[0].steps[0].name"},
		{"step target", "    steps: [{name: s, target: 'x'}]\n", "workflows[0].steps[0].target"},
		{"ignore path", "    compare: {ignore: [order_id]}\n", "workflows[0].compare.ignore[0]"},
		{"unordered path", "    compare: {unordered: [{path: 'items'}]}\n", "workflows[0].compare.unordered[0].path"},
		{"tolerance", "    compare: {numeric_tolerance: -1}\n", "workflows[0].compare.numeric_tolerance"},
		{"status map", "    compare: {status_map: {201: 999}}\n", "workflows[0].compare.status_map"},
		{"gate rate", "    gate: {min_match_rate: 99.9}\n", "workflows[0].gate.min_match_rate"},
		{"gate errors", "    gate: {max_async_errors: -1}\n", "workflows[0].gate.max_async_errors"},
	}
	for _, tt := range wfTests {
		tests = append(tests, struct{ name, yaml, field string }{tt.name, wf(tt.extra), tt.field})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := tt.yaml
			if !strings.Contains(doc, "legacy:") {
				doc = "legacy: http://127.0.0.1:8000\n" + doc
			}
			_, err := Parse([]byte(doc))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", doc)
			}
			var fields []string
			for _, f := range FieldErrors(err) {
				fields = append(fields, f.Field)
			}
			if len(fields) != 1 || fields[0] != tt.field {
				t.Errorf("error fields = %v, want [%s]; error: %v", fields, tt.field, err)
			}
		})
	}
}

func TestUnknownKey(t *testing.T) {
	_, err := Parse([]byte(minimalConfig + "    ignore_me: true\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown key "ignore_me" in a workflow`) {
		t.Fatalf("error = %v, want unknown key in a workflow", err)
	}
	_, err = Parse([]byte("worker: {concurency: 3}\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown key "concurency" in worker`) {
		t.Fatalf("error = %v, want unknown key in worker", err)
	}
	_, err = Parse([]byte("worker: {visibility: soon}\n"))
	if err == nil || !strings.Contains(err.Error(), `invalid duration "soon"`) {
		t.Fatalf("error = %v, want invalid duration", err)
	}
}

func TestKeySpecExtract(t *testing.T) {
	h := map[string][]string{"Idempotency-Key": {"k1"}}
	tests := []struct {
		spec, want string
		ok         bool
	}{
		{"header:idempotency-key", "k1", true},
		{"header:X-None", "", false},
		{"query:ref", "r 1", true},
		{"json:$.customer.id", "c9", true},
		{"json:$.nothing", "", false},
	}
	for _, tt := range tests {
		ks, err := ParseKeySpec(tt.spec)
		if err != nil {
			t.Fatalf("ParseKeySpec(%q): %v", tt.spec, err)
		}
		got, ok := ks.Extract(h, "a=1&ref=r+1", []byte(`{"customer":{"id":"c9"}}`))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: got %q, %v; want %q, %v", tt.spec, got, ok, tt.want, tt.ok)
		}
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"512": 512, "64KiB": 64 << 10, "1MiB": 1 << 20, "2 GB": 2 << 30} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err != nil || b != want {
			t.Errorf("ByteSize(%q) = %d, %v; want %d", in, b, err, want)
		}
	}
	for _, in := range []string{"", "1.5MiB", "-3", "lots"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("ByteSize(%q) accepted", in)
		}
	}
	if got := ByteSize(1 << 20).String(); got != "1MiB" {
		t.Errorf("String = %q", got)
	}
}
