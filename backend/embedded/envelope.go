package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cutover-dev/cutover"
)

// An envelope is one intake row's data: a published batch for one queue,
// its events' rows, first log entries and legacy sides, and its messages,
// in a compact binary form that costs the publisher a few copies. Each
// field is a uvarint, or a uvarint length and that many bytes.
type envelope struct {
	queue  string
	events []envEvent
	msgs   []envMessage
}

type envEvent struct {
	id, workflow, step, correlation string
	receivedAt                      int64
	data                            []byte              // the event's encoding
	first                           *cutover.Transition // log entry 1, or nil
	legacy                          []byte              // the legacy side's encoding, or nil
	epoch                           int
}

type envMessage struct {
	row outRow
	// event, if not 0, is 1 + the index of the event whose encoding is
	// this message's body: the body is not stored twice.
	event int
}

// envelopeVersion is the first byte of every envelope; a reader refuses
// versions it does not know.
const envelopeVersion = 1

var errEnvelope = errors.New("malformed intake envelope")

func (e *envelope) encode() []byte {
	n := 64
	for _, ev := range e.events {
		n += len(ev.data) + len(ev.legacy) + 160
	}
	for _, m := range e.msgs {
		if m.event == 0 {
			n += len(m.row.body)
		}
		n += len(m.row.attrs) + 48
	}
	b := make([]byte, 0, n)
	b = append(b, envelopeVersion)
	b = appendString(b, e.queue)
	b = binary.AppendUvarint(b, uint64(len(e.events)))
	for _, ev := range e.events {
		b = appendString(b, ev.id)
		b = appendString(b, ev.workflow)
		b = appendString(b, ev.step)
		b = appendString(b, ev.correlation)
		b = binary.AppendVarint(b, ev.receivedAt)
		b = appendBytes(b, ev.data)
		if ev.first == nil {
			b = append(b, 0)
		} else {
			t := ev.first
			b = append(b, 1)
			b = appendString(b, string(t.Kind))
			at := int64(0) // fromNanos(0) is the zero time
			if !t.At.IsZero() {
				at = t.At.UnixNano()
			}
			b = binary.AppendVarint(b, at)
			b = binary.AppendVarint(b, int64(t.Attempt))
			b = binary.AppendVarint(b, t.Epoch)
			b = binary.AppendVarint(b, int64(t.Delay))
			b = appendString(b, t.Detail)
			b = appendString(b, t.Worker)
		}
		b = appendBytes(b, ev.legacy)
		b = binary.AppendVarint(b, int64(ev.epoch))
	}
	b = binary.AppendUvarint(b, uint64(len(e.msgs)))
	for _, m := range e.msgs {
		b = appendString(b, m.row.id)
		b = binary.AppendUvarint(b, uint64(m.event))
		if m.event == 0 {
			b = appendBytes(b, m.row.body)
		}
		b = appendBytes(b, m.row.attrs)
		b = binary.AppendVarint(b, m.row.delay)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// decodeEnvelope parses what encode wrote. Byte fields alias data.
func decodeEnvelope(data []byte) (*envelope, error) {
	r := envReader{b: data}
	if v := r.byte(); v != envelopeVersion {
		if r.err != nil {
			return nil, r.err
		}
		return nil, fmt.Errorf("%w: version %d is unknown", errEnvelope, v)
	}
	e := &envelope{queue: r.string()}
	nEvents := r.count(8)
	for i := 0; i < nEvents && r.err == nil; i++ {
		ev := envEvent{id: r.string(), workflow: r.string(), step: r.string(), correlation: r.string(),
			receivedAt: r.varint(), data: r.bytes()}
		switch r.byte() {
		case 0:
		case 1:
			ev.first = &cutover.Transition{Kind: cutover.TransitionKind(r.string()), At: fromNanos(r.varint()),
				Attempt: int(r.varint()), Epoch: r.varint(), Delay: cutover.Duration(r.varint()), Detail: r.string(), Worker: r.string()}
		default:
			r.fail("log entry flag")
		}
		ev.legacy = r.bytes()
		if len(ev.legacy) == 0 {
			ev.legacy = nil
		}
		ev.epoch = int(r.varint())
		e.events = append(e.events, ev)
	}
	nMsgs := r.count(4)
	for i := 0; i < nMsgs && r.err == nil; i++ {
		m := envMessage{row: outRow{id: r.string()}}
		ref := r.uvarint()
		switch {
		case ref == 0:
			m.row.body = r.bytes()
		case ref <= uint64(len(e.events)):
			m.event = int(ref)
			m.row.body = e.events[ref-1].data
		default:
			r.fail("message body reference")
		}
		if m.row.attrs = r.bytes(); len(m.row.attrs) == 0 {
			m.row.attrs = nil
		}
		m.row.delay = r.varint()
		e.msgs = append(e.msgs, m)
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return e, nil
}

// envReader reads envelope fields; the first error sticks and every later
// read returns a zero value.
type envReader struct {
	b   []byte
	err error
}

func (r *envReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: bad %s", errEnvelope, what)
	}
	r.b = nil
}

func (r *envReader) byte() byte {
	if len(r.b) == 0 {
		r.fail("length")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *envReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *envReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *envReader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("length")
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *envReader) string() string { return string(r.bytes()) }

// count reads a count of items of at least min bytes each, refusing one
// the rest of the input cannot hold (so a corrupt count allocates nothing).
func (r *envReader) count(min int) int {
	n := r.uvarint()
	if n > uint64(len(r.b)/min) {
		r.fail("count")
		return 0
	}
	return int(n)
}
