package cutover

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// wireEvent is the versioned JSON form of an Event.
type wireEvent struct {
	V int `json:"v"`
	*Event
}

// EncodeEvent returns the versioned JSON encoding of e: byte for byte
// json.Marshal(wireEvent{V: SchemaVersion, Event: e}), by a hand-written
// encoder (encode.go) that leaves only what json.Marshal refuses to it.
func EncodeEvent(e *Event) ([]byte, error) {
	if b, ok := appendEvent(make([]byte, 0, eventSizeHint(e)), e); ok {
		return b, nil
	}
	b, err := json.Marshal(wireEvent{V: SchemaVersion, Event: e})
	if err != nil {
		return nil, fmt.Errorf("event: encode %s: %w", e.ID, err)
	}
	return b, nil
}

// DecodeEvent parses a versioned event. It rejects malformed JSON, a missing
// or unknown schema version (a *SchemaVersionError), and an envelope that
// lacks a required field; the error names what is wrong.
func DecodeEvent(data []byte) (*Event, error) {
	// One pass for what nearly every caller hands in: a well-formed event
	// of this schema version. Anything else takes the careful path below,
	// which checks the version before the fields and names what is wrong.
	fast := struct {
		V *int `json:"v"`
		*Event
	}{Event: new(Event)}
	if json.Unmarshal(data, &fast) == nil && fast.V != nil && *fast.V == SchemaVersion {
		if err := fast.Event.Validate(); err != nil {
			return nil, err
		}
		return fast.Event, nil
	}
	return decodeCarefully(data)
}

// decodeCarefully is DecodeEvent for input that did not decode at once.
func decodeCarefully(data []byte) (*Event, error) {
	var head struct {
		V *json.RawMessage `json:"v"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedEvent, jsonError(err))
	}
	if head.V == nil {
		return nil, fmt.Errorf("%w: schema version \"v\" is missing", ErrMalformedEvent)
	}
	var v int
	if err := json.Unmarshal(*head.V, &v); err != nil {
		return nil, fmt.Errorf("%w: schema version \"v\" is %s, want an integer", ErrMalformedEvent, *head.V)
	}
	if v != SchemaVersion {
		return nil, &SchemaVersionError{Got: v}
	}
	w := wireEvent{Event: new(Event)}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedEvent, jsonError(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: trailing data after the event", ErrMalformedEvent)
	}
	if err := w.Event.Validate(); err != nil {
		return nil, err
	}
	return w.Event, nil
}

// Validate checks the fields every event must carry.
func (e *Event) Validate() error {
	bad := func(field, why string) error {
		return fmt.Errorf("%w: %s %s", ErrMalformedEvent, field, why)
	}
	switch {
	case e.ID == "":
		return bad("id", "is empty")
	case e.Workflow == "":
		return bad("workflow", "is empty")
	case e.Step == "":
		return bad("step", "is empty")
	case !e.Mode.Valid():
		return bad("mode", fmt.Sprintf("is %q, want shadow or live", e.Mode))
	case e.IdempotencyKey == "":
		return bad("idempotency_key", "is empty")
	case e.CorrelationID == "":
		return bad("correlation_id", "is empty")
	case e.ReceivedAt.IsZero():
		return bad("received_at", "is missing")
	case e.ReplayEpoch < 0:
		return bad("replay_epoch", "is negative")
	case e.Request.Method == "":
		return bad("request.method", "is empty")
	case e.Request.BodyRef != "" && len(e.Request.Body) > 0:
		return bad("request.body", "and request.body_ref are both set")
	case e.Request.BodySize < 0:
		return bad("request.body_size", "is negative")
	}
	return nil
}

// jsonError turns encoding/json's errors into text that names the field and
// the offset, without the Go type names a user cannot act on.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("invalid JSON at byte %d: %s", syn.Offset, syn.Error())
	case errors.As(err, &typ):
		field := strings.TrimPrefix(typ.Field, "Event.")
		if field == "" {
			field = "value"
		}
		return fmt.Errorf("field %s has a JSON %s, want %s", field, typ.Value, typ.Type.Kind())
	}
	return err
}
