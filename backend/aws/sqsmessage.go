package aws

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/cutover-dev/cutover"
)

// SQS limits this package keeps to.
const (
	MaxMessageBytes  = 256 << 10 // one message, attributes included; also one batch
	MaxBatchEntries  = 10
	MaxDelay         = 15 * time.Minute
	MaxVisibility    = 12 * time.Hour
	MaxWait          = 20 * time.Second // one long poll
	maxNativeAttrs   = 9                // SQS allows 10; one is kept for attrBody
	attrBody         = "cutover-body"   // "base64": the body is base64 of the original bytes
	attrJSON         = "cutover-attrs"  // all attributes as one JSON object
	defaultVisSecond = 30
)

var attrNameRe = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,255}$`)

// sqsText reports whether s is a valid SQS body or attribute value: SQS
// accepts #x9 #xA #xD and #x20 to #x10FFFF minus surrogates and
// U+FFFE/U+FFFF.
func sqsText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return false
		}
	}
	return true
}

func nativeAttrName(name string) bool {
	lower := strings.ToLower(name)
	return attrNameRe.MatchString(name) && !strings.HasSuffix(name, ".") && !strings.Contains(name, "..") &&
		!strings.HasPrefix(lower, "aws.") && !strings.HasPrefix(lower, "amazon.") &&
		name != attrBody && name != attrJSON
}

// encodedMessage is an OutgoingMessage in SQS's terms.
type encodedMessage struct {
	body  string
	attrs map[string]types.MessageAttributeValue
	delay int32
	size  int // as SQS counts it: body plus attribute names, types and values
}

// encodeMessage maps m to what SQS can carry: a body that is not SQS text
// goes base64-encoded, and attributes that SQS cannot carry natively (too
// many, a reserved or invalid name, an empty or non-text value) travel as
// one JSON attribute.
func encodeMessage(m cutover.OutgoingMessage) (encodedMessage, error) {
	if m.Delay < 0 || m.Delay > MaxDelay {
		return encodedMessage{}, fmt.Errorf("delay %v is out of range (0 to %v)", m.Delay, MaxDelay)
	}
	e := encodedMessage{delay: int32(ceilSeconds(m.Delay)), attrs: map[string]types.MessageAttributeValue{}}
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: ptr("String"), StringValue: ptr(v)}
	}
	if sqsText(m.Body) {
		e.body = string(m.Body)
	} else {
		e.body = base64.StdEncoding.EncodeToString(m.Body)
		e.attrs[attrBody] = str("base64")
	}
	native := len(m.Attributes) <= maxNativeAttrs
	for k, v := range m.Attributes {
		if !nativeAttrName(k) || v == "" || !sqsText([]byte(v)) {
			native = false
			break
		}
	}
	if native {
		for k, v := range m.Attributes {
			e.attrs[k] = str(v)
		}
	} else {
		data, err := encodeAttrs(m.Attributes)
		if err != nil {
			return encodedMessage{}, fmt.Errorf("attributes: %w", err)
		}
		e.attrs[attrJSON] = str(data)
	}
	if len(e.attrs) == 0 {
		e.attrs = nil
	}
	e.size = len(e.body)
	for k, v := range e.attrs {
		e.size += len(k) + len(*v.DataType) + len(*v.StringValue)
	}
	if e.size > MaxMessageBytes {
		return encodedMessage{}, fmt.Errorf("message is %d bytes encoded, SQS takes at most %d", e.size, MaxMessageBytes)
	}
	return e, nil
}

// b64Attrs marks the JSON form whose keys and values are base64: JSON text
// cannot carry bytes that are not UTF-8.
const b64Attrs = "b64:"

// encodeAttrs is the one-attribute form of attrs: a JSON object, with keys
// and values base64-encoded when one of them is not valid UTF-8.
func encodeAttrs(attrs map[string]string) (string, error) {
	plain := true
	for k, v := range attrs {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			plain = false
			break
		}
	}
	if plain {
		data, err := json.Marshal(attrs)
		return string(data), err
	}
	enc := make(map[string]string, len(attrs))
	for k, v := range attrs {
		enc[base64.StdEncoding.EncodeToString([]byte(k))] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	data, err := json.Marshal(enc)
	return b64Attrs + string(data), err
}

func decodeAttrs(s string) (map[string]string, error) {
	var attrs map[string]string
	raw, b64 := strings.CutPrefix(s, b64Attrs)
	if err := json.Unmarshal([]byte(raw), &attrs); err != nil {
		return nil, err
	}
	if !b64 {
		return attrs, nil
	}
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		dk, err := base64.StdEncoding.DecodeString(k)
		if err != nil {
			return nil, err
		}
		dv, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, err
		}
		out[string(dk)] = string(dv)
	}
	return out, nil
}

// RawMessage is an SQS message as ReceiveMessage or a Lambda SQS event hands
// it over, with its string message attributes.
type RawMessage struct {
	MessageID     string
	ReceiptHandle string
	Body          string
	Attributes    map[string]string
	ReceiveCount  int
	SentAt        time.Time
}

// DecodeMessage turns a message this package sent back into a
// cutover.Message: it undoes the base64 body and the JSON attribute
// encoding that Send applies when SQS cannot carry a message as it is.
func DecodeMessage(r RawMessage) (cutover.Message, error) {
	m := cutover.Message{ID: r.MessageID, Receipt: r.ReceiptHandle, Body: []byte(r.Body), ReceiveCount: r.ReceiveCount, SentAt: r.SentAt}
	if r.Attributes[attrBody] == "base64" {
		b, err := base64.StdEncoding.DecodeString(r.Body)
		if err != nil {
			return cutover.Message{}, fmt.Errorf("message %s: base64 body: %w", r.MessageID, err)
		}
		m.Body = b
	}
	if m.Body == nil {
		m.Body = []byte{}
	}
	if js, ok := r.Attributes[attrJSON]; ok {
		attrs, err := decodeAttrs(js)
		if err != nil {
			return cutover.Message{}, fmt.Errorf("message %s: attributes: %w", r.MessageID, err)
		}
		m.Attributes = attrs
		return m, nil
	}
	for k, v := range r.Attributes {
		if k == attrBody {
			continue
		}
		if m.Attributes == nil {
			m.Attributes = map[string]string{}
		}
		m.Attributes[k] = v
	}
	return m, nil
}

// rawFromSQS reads what ReceiveMessage returned.
func rawFromSQS(sm types.Message) RawMessage {
	r := RawMessage{MessageID: deref(sm.MessageId), ReceiptHandle: deref(sm.ReceiptHandle), Body: deref(sm.Body)}
	if len(sm.MessageAttributes) > 0 {
		r.Attributes = make(map[string]string, len(sm.MessageAttributes))
		keys := make([]string, 0, len(sm.MessageAttributes))
		for k := range sm.MessageAttributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			r.Attributes[k] = deref(sm.MessageAttributes[k].StringValue)
		}
	}
	r.ReceiveCount, r.SentAt = SystemAttributes(sm.Attributes)
	return r
}

// SystemAttributes parses the ApproximateReceiveCount and SentTimestamp
// (Unix milliseconds) attributes that both ReceiveMessage and Lambda SQS
// events carry.
func SystemAttributes(attrs map[string]string) (receiveCount int, sentAt time.Time) {
	if v, ok := attrs["ApproximateReceiveCount"]; ok {
		_, _ = fmt.Sscan(v, &receiveCount) // absent or malformed: 0
	}
	if v, ok := attrs["SentTimestamp"]; ok {
		var ms int64
		if _, err := fmt.Sscan(v, &ms); err == nil {
			sentAt = time.UnixMilli(ms).UTC()
		}
	}
	return receiveCount, sentAt
}

// ceilSeconds rounds d up to whole seconds: SQS counts in seconds, and a
// requested 200ms must not become 0 ("at once").
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
