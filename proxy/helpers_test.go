package proxy

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestClassify(t *testing.T) {
	timedOut, cancel := context.WithTimeoutCause(context.Background(), 0, errLegacyTimeout)
	defer cancel()
	gone, cancelGone := context.WithCancel(context.Background())
	cancelGone()
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"legacy timeout", timedOut, context.DeadlineExceeded, http.StatusGatewayTimeout},
		{"client gone", gone, context.Canceled, statusClientClosed},
		{"refused", context.Background(), dialErr, http.StatusBadGateway},
		{"dial timeout is unreachable", context.Background(), &net.OpError{Op: "dial", Err: timeoutErr{}}, http.StatusBadGateway},
		{"read timeout", context.Background(), &net.OpError{Op: "read", Err: timeoutErr{}}, http.StatusGatewayTimeout},
		{"other", context.Background(), errors.New("EOF"), http.StatusBadGateway},
	}
	for _, tt := range tests {
		if got := classify(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: classify = %d, want %d", tt.name, got, tt.want)
		}
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestDecodeBody(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"a":1}`))
	_ = zw.Close()
	tests := []struct {
		name, enc string
		in        []byte
		limit     int64
		want      []byte
		res       decodeResult
	}{
		{"identity", "", []byte("x"), 10, []byte("x"), decodeOK},
		{"gzip", "gzip", gz.Bytes(), 10, []byte(`{"a":1}`), decodeOK},
		{"gzip, any case", " GZip ", gz.Bytes(), 10, []byte(`{"a":1}`), decodeOK},
		{"gzip over the limit once decoded", "gzip", gz.Bytes(), 3, nil, decodeTooLarge},
		{"broken gzip", "gzip", []byte("nope"), 10, nil, decodeUnsupported},
		{"brotli", "br", []byte("??"), 10, nil, decodeUnsupported},
	}
	for _, tt := range tests {
		got, res := decodeBody(tt.enc, tt.in, tt.limit)
		if res != tt.res || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: decodeBody = %q, %v; want %q, %v", tt.name, got, res, tt.want, tt.res)
		}
	}
}

func TestTraceContext(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tests := []struct {
		name   string
		h      http.Header
		tp, ts string
	}{
		{"valid", http.Header{"Traceparent": {tp}, "Tracestate": {"a=1", "b=2"}}, tp, "a=1,b=2"},
		{"missing", http.Header{"Tracestate": {"a=1"}}, "", ""},
		{"malformed", http.Header{"Traceparent": {"00-xyz-01"}}, "", ""},
		{"invalid version ff", http.Header{"Traceparent": {"ff" + tp[2:]}}, "", ""},
		{"future version, more fields", http.Header{"Traceparent": {"01" + tp[2:] + "-extra"}}, "01" + tp[2:] + "-extra", ""},
		{"no dash before more", http.Header{"Traceparent": {tp + "x"}}, "", ""},
		{"upper-case hex", http.Header{"Traceparent": {strings.ToUpper(tp)}}, "", ""},
		{"short", http.Header{"Traceparent": {tp[:54]}}, "", ""},
		{"dash misplaced", http.Header{"Traceparent": {tp[:34] + "-" + tp[35:]}}, "", ""},
		{"surrounding space", http.Header{"Traceparent": {"  " + tp + " "}}, tp, ""},
	}
	for _, tt := range tests {
		tp, ts := traceContext(tt.h)
		if diff := cmp.Diff([]string{tt.tp, tt.ts}, []string{tp, ts}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestDropHopHeaders(t *testing.T) {
	h := http.Header{
		"Connection": {"X-Private, keep-alive"}, "X-Private": {"1"}, "Keep-Alive": {"5"},
		"Transfer-Encoding": {"chunked"}, "Upgrade": {"h2c"}, "Te": {"trailers"}, "X-Kept": {"yes"},
	}
	dropHopHeaders(h)
	if diff := cmp.Diff(http.Header{"X-Kept": {"yes"}}, h); diff != "" {
		t.Errorf("after dropHopHeaders (-want +got):\n%s", diff)
	}
}

// dropHopHeaders deletes its constant names without canonicalizing them;
// it must drop what Header.Del did.
func TestDropHopHeadersAsDel(t *testing.T) {
	del := func(h http.Header) {
		for _, f := range h.Values("Connection") {
			for _, name := range strings.Split(f, ",") {
				if name = textproto.TrimString(name); name != "" {
					h.Del(name)
				}
			}
		}
		for _, k := range hopHeaders {
			h.Del(k)
		}
	}
	for name, h := range map[string]http.Header{
		"nil":               nil,
		"none":              {"Content-Type": {"application/json"}},
		"all":               {"Connection": {"close"}, "Proxy-Connection": {"x"}, "Keep-Alive": {"5"}, "Proxy-Authenticate": {"x"}, "Proxy-Authorization": {"x"}, "Te": {"trailers"}, "Trailer": {"X"}, "Transfer-Encoding": {"chunked"}, "Upgrade": {"h2c"}, "X-Kept": {"1"}},
		"connection names":  {"Connection": {" x-a ,,\tX-B\t", "", "x-c, keep-alive"}, "X-A": {"1"}, "X-B": {"2"}, "X-C": {"3"}, "X-D": {"4"}},
		"names connection":  {"Connection": {"connection, upgrade"}, "Upgrade": {"h2c"}, "X-Kept": {"1"}},
		"non-canonical key": {"connection": {"X-A"}, "te": {"trailers"}, "X-A": {"1"}},
		"odd names":         {"Connection": {"x_a, x a, é"}, "x_a": {"1"}, "x a": {"2"}, "é": {"3"}, "X_a": {"4"}},
	} {
		want, got := h.Clone(), h.Clone()
		del(want)
		dropHopHeaders(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-Del +dropHopHeaders):\n%s", name, diff)
		}
	}
}

func TestExchangeLatency(t *testing.T) {
	start := time.Unix(100, 0)
	ex := &exchange{start: start, end: start.Add(30 * time.Millisecond)}
	if got := ex.latency(start.Add(20 * time.Millisecond)); got != 20*time.Millisecond {
		t.Errorf("latency to EOF = %v, want 20ms", got)
	}
	if got := ex.latency(time.Time{}); got != 30*time.Millisecond {
		t.Errorf("latency without EOF = %v, want 30ms (end of the exchange)", got)
	}
}
