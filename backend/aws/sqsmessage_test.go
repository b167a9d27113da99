package aws

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cutover-dev/cutover"
)

// sent turns an encoded message into what a receive hands back.
func sent(e encodedMessage) RawMessage {
	r := RawMessage{MessageID: "m-1", ReceiptHandle: "r-1", Body: e.body}
	if len(e.attrs) > 0 {
		r.Attributes = map[string]string{}
		for k, v := range e.attrs {
			r.Attributes[k] = *v.StringValue
		}
	}
	return r
}

func TestMessageEncodingRoundTrip(t *testing.T) {
	many := map[string]string{}
	for _, k := range strings.Split("a b c d e f g h i j k", " ") {
		many[k] = "v-" + k
	}
	for _, tc := range []struct {
		name       string
		msg        cutover.OutgoingMessage
		wantNative []string // attribute names SQS carries, sorted
	}{
		{"text", cutover.OutgoingMessage{Body: []byte(`{"a":"ü"}`)}, nil},
		{"empty", cutover.OutgoingMessage{Body: []byte{}}, nil},
		{"binary body", cutover.OutgoingMessage{Body: []byte{0, 0xff, 'x'}}, []string{attrBody}},
		{"control character", cutover.OutgoingMessage{Body: []byte("a\x01b")}, []string{attrBody}},
		{"native attributes", cutover.OutgoingMessage{Body: []byte("x"), Attributes: map[string]string{"cutover-error": "boom", "n": "1"}},
			[]string{"cutover-error", "n"}},
		{"empty value", cutover.OutgoingMessage{Body: []byte("x"), Attributes: map[string]string{"e": ""}}, []string{attrJSON}},
		{"reserved name", cutover.OutgoingMessage{Body: []byte("x"), Attributes: map[string]string{"AWS.x": "1"}}, []string{attrJSON}},
		{"our own name", cutover.OutgoingMessage{Body: []byte("x"), Attributes: map[string]string{attrJSON: "1"}}, []string{attrJSON}},
		{"too many", cutover.OutgoingMessage{Body: []byte("x"), Attributes: many}, []string{attrJSON}},
		{"binary and odd attributes", cutover.OutgoingMessage{Body: []byte{0x80}, Attributes: map[string]string{"a b": "\x00"}},
			[]string{attrBody, attrJSON}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := encodeMessage(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for k := range e.attrs {
				names = append(names, k)
			}
			if diff := cmp.Diff(tc.wantNative, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("SQS attributes (-want +got):\n%s", diff)
			}
			if !sqsText([]byte(e.body)) {
				t.Errorf("encoded body %q is not SQS text", e.body)
			}
			m, err := DecodeMessage(sent(e))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(tc.msg.Body), string(m.Body)); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.msg.Attributes, m.Attributes, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMessageEncodingLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  cutover.OutgoingMessage
		want string
	}{
		{"negative delay", cutover.OutgoingMessage{Delay: -time.Second}, "delay"},
		{"delay over 15m", cutover.OutgoingMessage{Delay: 16 * time.Minute}, "delay"},
		{"too large", cutover.OutgoingMessage{Body: []byte(strings.Repeat("x", MaxMessageBytes+1))}, "bytes encoded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := encodeMessage(tc.msg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("encodeMessage: %v, want an error about %q", err, tc.want)
			}
		})
	}
	e, err := encodeMessage(cutover.OutgoingMessage{Body: []byte("x"), Delay: 200 * time.Millisecond})
	if err != nil || e.delay != 1 {
		t.Errorf("a 200ms delay is %d seconds (%v), want 1", e.delay, err)
	}
}

func TestCeilSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{
		0: 0, -time.Second: 0, time.Nanosecond: 1, 200 * time.Millisecond: 1, time.Second: 1,
		1001 * time.Millisecond: 2, 30 * time.Second: 30, 12 * time.Hour: 43200,
	} {
		if got := ceilSeconds(d); got != want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestSystemAttributes(t *testing.T) {
	n, at := SystemAttributes(map[string]string{"ApproximateReceiveCount": "3", "SentTimestamp": "1715941815123"})
	if n != 3 || !at.Equal(time.UnixMilli(1715941815123)) || at.Location() != time.UTC {
		t.Errorf("got %d, %v", n, at)
	}
	if n, at := SystemAttributes(nil); n != 0 || !at.IsZero() {
		t.Errorf("no attributes: %d, %v", n, at)
	}
}

// FuzzMessageEncoding: whatever a caller sends comes back byte for byte,
// and every encoded body is text SQS accepts.
func FuzzMessageEncoding(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "k", "v")
	f.Add([]byte{0, 0xff}, "", "")
	f.Add([]byte("\ufffe"), "AWS.x", "\x01")
	f.Fuzz(func(t *testing.T, body []byte, k, v string) {
		msg := cutover.OutgoingMessage{Body: body}
		if k != "" {
			msg.Attributes = map[string]string{k: v}
		}
		e, err := encodeMessage(msg)
		if err != nil {
			if len(body) < MaxMessageBytes/2 {
				t.Fatalf("encodeMessage of %d bytes: %v", len(body), err)
			}
			return
		}
		if !sqsText([]byte(e.body)) {
			t.Fatalf("body %q is not SQS text", e.body)
		}
		for name, a := range e.attrs {
			if !nativeAttrName(name) && name != attrBody && name != attrJSON {
				t.Fatalf("attribute name %q is not valid for SQS", name)
			}
			if *a.StringValue == "" || !sqsText([]byte(*a.StringValue)) {
				t.Fatalf("attribute %s value %q is not valid for SQS", name, *a.StringValue)
			}
		}
		m, err := DecodeMessage(sent(e))
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Body) != string(body) {
			t.Fatalf("body %q came back as %q", body, m.Body)
		}
		if diff := cmp.Diff(msg.Attributes, m.Attributes, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("attributes (-want +got):\n%s", diff)
		}
	})
}

// FuzzDecodeMessage: decoding whatever SQS or a Lambda event hands over
// never panics.
func FuzzDecodeMessage(f *testing.F) {
	f.Add("body", "base64", `{"a":"b"}`)
	f.Add("!!", "base64", "")
	f.Add("x", "", "{")
	f.Fuzz(func(t *testing.T, body, enc, attrs string) {
		r := RawMessage{Body: body, Attributes: map[string]string{}}
		if enc != "" {
			r.Attributes[attrBody] = enc
		}
		if attrs != "" {
			r.Attributes[attrJSON] = attrs
		}
		_, _ = DecodeMessage(r)
	})
}
