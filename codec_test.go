package cutover

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func sampleEvent() *Event {
	return &Event{
		ID: NewEventID(), Workflow: "create-order", Step: RespondStep, Mode: EventShadow,
		IdempotencyKey: "k-1", CorrelationID: "c-1", TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		ReceivedAt: time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC),
		Request: Request{
			Method: "POST", Path: "/orders", Query: "a=1",
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   Body(`{"sku":"x","qty":2}`), BodySize: 19,
		},
	}
}

func TestEventRoundTrip(t *testing.T) {
	for _, body := range []Body{nil, Body(`{"a":1}`), Body("héllo"), Body{0xff, 0x00, 0xfe}} {
		e := sampleEvent()
		e.Request.Body = body
		data, err := EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeEvent(data)
		if err != nil {
			t.Fatalf("DecodeEvent(%s): %v", data, err)
		}
		if diff := cmp.Diff(e, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestDecodeEventErrors(t *testing.T) {
	good, _ := EncodeEvent(sampleEvent())
	tests := []struct {
		name, in, want string
		is             error
	}{
		{"not json", `{"v":1,`, "invalid JSON", ErrMalformedEvent},
		{"no version", `{"id":"x"}`, `schema version "v" is missing`, ErrMalformedEvent},
		{"version string", `{"v":"1"}`, `want an integer`, ErrMalformedEvent},
		{"future version", `{"v":2,"id":"x"}`, "unknown event schema version 2", ErrUnknownSchemaVersion},
		{"wrong type", `{"v":1,"replay_epoch":"x"}`, "field replay_epoch has a JSON string", ErrMalformedEvent},
		{"missing id", `{"v":1,"workflow":"w"}`, "id is empty", ErrMalformedEvent},
		{"bad mode", strings.Replace(string(good), `"mode":"shadow"`, `"mode":"maybe"`, 1), `mode is "maybe"`, ErrMalformedEvent},
		{"trailing", string(good) + `{}`, "after top-level value", ErrMalformedEvent},
		{"bad body", strings.Replace(string(good), `"body":"{`, `"body":{"x":"{`, 1), "", ErrMalformedEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeEvent([]byte(tt.in))
			if !errors.Is(err, tt.is) {
				t.Fatalf("error = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestPayloadHashClaimCheck(t *testing.T) {
	a := sampleEvent()
	b := sampleEvent()
	b.Request.BodyRef, b.Request.Body = BlobRef(a.Request.Body), nil
	if a.PayloadHash() != b.PayloadHash() {
		t.Error("inline and claim-checked bodies hash differently")
	}
	b.Request.Header.Set("Traceparent", "other")
	c := sampleEvent()
	c.Request.Body = Body(`{"sku":"y","qty":2}`)
	if a.PayloadHash() == c.PayloadHash() {
		t.Error("different bodies hash alike")
	}
}

func TestChild(t *testing.T) {
	p := sampleEvent()
	c := p.Child("ship", ChildKey(p, "ship", 0), Request{Method: "POST", Path: "/ship"}, time.Now())
	if c.CausationID != p.ID || c.CorrelationID != p.CorrelationID || c.ID == p.ID || c.IdempotencyKey != "k-1/ship/0" {
		t.Errorf("child = %+v", c)
	}
	if c.ID <= p.ID {
		t.Errorf("child id %s not after parent %s: ids must be time-ordered", c.ID, p.ID)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	good, _ := EncodeEvent(sampleEvent())
	f.Add(good)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":2}`))
	f.Add([]byte(`{"v":1,"request":{"body":{"base64":"AAE="}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEvent(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedEvent) && !errors.Is(err, ErrUnknownSchemaVersion) {
				t.Fatalf("error %v is neither malformed nor unknown version", err)
			}
			return
		}
		again, err := EncodeEvent(e)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		e2, err := DecodeEvent(again)
		if err != nil {
			t.Fatalf("decode of re-encoded event: %v\n%s", err, again)
		}
		if diff := cmp.Diff(e, e2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("decode(encode(e)) differs (-first +second):\n%s", diff)
		}
	})
}

// BenchmarkDecodeEvent decodes a typical shadow event: in one pass, and
// (the baseline, what every decode did before) checking the version first.
func BenchmarkDecodeEvent(b *testing.B) {
	ev := &Event{ID: NewEventID(), Workflow: "orders", Step: RespondStep, Mode: EventShadow, IdempotencyKey: "k-1",
		CorrelationID: "c-1", ReceivedAt: time.Now().UTC(),
		Request: Request{Method: "POST", Path: "/orders", Header: http.Header{"Content-Type": {"application/json"}},
			Body: Body(`{"customer_id":"c-1","items":[{"sku":"a","qty":1,"unit_cents":100}]}`)}}
	data, err := EncodeEvent(ev)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		decode func([]byte) (*Event, error)
	}{{"one-pass", DecodeEvent}, {"baseline-version-first", decodeCarefully}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
