package cutover

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The appenders below write exactly the bytes encoding/json writes for the
// same values, without its reflection and the compaction pass it runs over
// every MarshalJSON result (Body, time.Time). Each follows the struct tags
// field by field: a new or reordered field in Event, Request or Outcome must
// be mirrored here, and the equality tests and fuzz targets in encode_test.go
// fail until it is. A value json.Marshal would refuse reports ok == false and
// the caller falls back to json.Marshal, so errors stay encoding/json's own.

// EncodeOutcome returns the JSON encoding of o, byte for byte what
// json.Marshal(o) returns (errors included), only faster.
func EncodeOutcome(o *Outcome) ([]byte, error) {
	if b, ok := appendOutcome(make([]byte, 0, outcomeSizeHint(o)), o); ok {
		return b, nil
	}
	return json.Marshal(o)
}

// appendEvent appends json.Marshal(wireEvent{V: SchemaVersion, Event: e}) to
// dst. When ok is false that call would fail; dst then holds partial output.
func appendEvent(dst []byte, e *Event) (_ []byte, ok bool) {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, SchemaVersion, 10)
	if e == nil {
		// encoding/json skips the fields of a nil embedded pointer.
		return append(dst, '}'), true
	}
	dst = append(dst, `,"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"workflow":`...)
	dst = appendString(dst, e.Workflow)
	dst = append(dst, `,"step":`...)
	dst = appendString(dst, e.Step)
	dst = append(dst, `,"mode":`...)
	dst = appendString(dst, string(e.Mode))
	dst = append(dst, `,"idempotency_key":`...)
	dst = appendString(dst, e.IdempotencyKey)
	dst = append(dst, `,"correlation_id":`...)
	dst = appendString(dst, e.CorrelationID)
	if e.CausationID != "" {
		dst = append(dst, `,"causation_id":`...)
		dst = appendString(dst, e.CausationID)
	}
	if e.TraceParent != "" {
		dst = append(dst, `,"traceparent":`...)
		dst = appendString(dst, e.TraceParent)
	}
	if e.TraceState != "" {
		dst = append(dst, `,"tracestate":`...)
		dst = appendString(dst, e.TraceState)
	}
	dst = append(dst, `,"received_at":`...)
	if dst, ok = appendTime(dst, e.ReceivedAt); !ok {
		return dst, false
	}
	if e.ReplayEpoch != 0 {
		dst = append(dst, `,"replay_epoch":`...)
		dst = strconv.AppendInt(dst, int64(e.ReplayEpoch), 10)
	}
	r := &e.Request
	dst = append(dst, `,"request":{"method":`...)
	dst = appendString(dst, r.Method)
	dst = append(dst, `,"path":`...)
	dst = appendString(dst, r.Path)
	if r.Query != "" {
		dst = append(dst, `,"query":`...)
		dst = appendString(dst, r.Query)
	}
	// omitempty leaves out empty maps and slices, nil or not.
	if len(r.Header) > 0 {
		dst = append(dst, `,"header":`...)
		dst = appendHeader(dst, r.Header)
	}
	if len(r.Body) > 0 {
		dst = append(dst, `,"body":`...)
		dst = appendBody(dst, r.Body)
	}
	if r.BodyRef != "" {
		dst = append(dst, `,"body_ref":`...)
		dst = appendString(dst, r.BodyRef)
	}
	if r.BodySize != 0 {
		dst = append(dst, `,"body_size":`...)
		dst = strconv.AppendInt(dst, r.BodySize, 10)
	}
	return append(dst, "}}"...), true
}

// appendOutcome appends json.Marshal(o) to dst. When ok is false that call
// would fail; dst then holds partial output.
func appendOutcome(dst []byte, o *Outcome) (_ []byte, ok bool) {
	if o == nil {
		return append(dst, "null"...), true
	}
	dst = append(dst, '{')
	if o.Status != 0 {
		dst = appendKey(dst, `"status":`)
		dst = strconv.AppendInt(dst, int64(o.Status), 10)
	}
	if len(o.Header) > 0 {
		dst = appendKey(dst, `"header":`)
		dst = appendHeader(dst, o.Header)
	}
	if len(o.Body) > 0 {
		dst = appendKey(dst, `"body":`)
		dst = appendBody(dst, o.Body)
	}
	if o.BodyRef != "" {
		dst = appendKey(dst, `"body_ref":`)
		dst = appendString(dst, o.BodyRef)
	}
	if o.Latency != 0 {
		// Duration has no MarshalJSON: encoding/json quotes its MarshalText.
		dst = appendKey(dst, `"latency":`)
		dst = appendString(dst, o.Latency.String())
	}
	if o.Error != "" {
		dst = appendKey(dst, `"error":`)
		dst = appendString(dst, o.Error)
	}
	if o.Missing {
		dst = appendKey(dst, `"missing":true`)
	}
	if o.Skipped != "" {
		dst = appendKey(dst, `"skipped":`)
		dst = appendString(dst, o.Skipped)
	}
	dst = appendKey(dst, `"at":`)
	if dst, ok = appendTime(dst, o.At); !ok {
		return dst, false
	}
	if len(o.Effects) > 0 {
		dst = append(dst, `,"effects":[`...)
		for i := range o.Effects {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"kind":`...)
			dst = appendString(dst, o.Effects[i].Kind)
			if o.Effects[i].Detail != "" {
				dst = append(dst, `,"detail":`...)
				dst = appendString(dst, o.Effects[i].Detail)
			}
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	return append(dst, '}'), true
}

// appendKey appends key, after a comma unless it is the object's first: no
// value ends in '{', so a trailing '{' means the object is still empty.
func appendKey(dst []byte, key string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	return append(dst, key...)
}

// appendTime appends t as Time.MarshalJSON does, and reports false where
// that refuses (year outside [0,9999], zone offset hour above 23), applying
// the same checks to the same bytes as time.Time.appendStrictRFC3339.
func appendTime(dst []byte, t time.Time) ([]byte, bool) {
	dst = append(dst, '"')
	n0 := len(dst)
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	num2 := func(b []byte) byte { return 10*(b[0]-'0') + (b[1] - '0') }
	switch {
	case dst[n0+len("9999")] != '-':
		return dst, false
	case dst[len(dst)-1] != 'Z':
		c := dst[len(dst)-len("Z07:00")]
		if ('0' <= c && c <= '9') || num2(dst[len(dst)-len("07:00"):]) >= 24 {
			return dst, false
		}
	}
	return append(dst, '"'), true
}

// appendHeader appends h as encoding/json writes a map[string][]string: keys
// sorted bytewise, a nil value as null.
func appendHeader(dst []byte, h http.Header) []byte {
	type kv struct {
		k string
		v []string
	}
	// Headers are small: sorting pairs on the stack spares an allocation
	// and a second map lookup per key.
	var buf [16]kv
	kvs := buf[:0]
	for k, v := range h {
		kvs = append(kvs, kv{k, v})
	}
	// Sort a few by insertion into idx (moving bytes, not 40-byte pairs),
	// more in place.
	var idx [len(buf)]uint8
	small := len(kvs) <= len(buf)
	if small {
		for i := range kvs {
			j := i
			for ; j > 0 && kvs[i].k < kvs[idx[j-1]].k; j-- {
				idx[j] = idx[j-1]
			}
			idx[j] = uint8(i)
		}
	} else {
		slices.SortFunc(kvs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	}
	dst = append(dst, '{')
	for i := range kvs {
		p := &kvs[i]
		if small {
			p = &kvs[idx[i]]
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, p.k)
		dst = append(dst, ':')
		if p.v == nil {
			dst = append(dst, "null"...)
			continue
		}
		dst = append(dst, '[')
		for j, s := range p.v {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendBody appends what json.Marshal makes of Body.MarshalJSON's output.
// Its re-escaping of that output changes nothing: the string form is already
// HTML-escaped and the base64 alphabet needs no escaping.
func appendBody(dst []byte, b Body) []byte {
	switch {
	case b == nil:
		return append(dst, "null"...)
	case utf8.Valid(b):
		return appendString(dst, []byte(b))
	}
	dst = append(dst, `{"base64":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, b)
	return append(dst, `"}`...)
}

// safeLo and safeHi have bit c set for each ASCII byte c that encoding/json
// (escaping HTML) writes in a string as is: not a control character, '"',
// '\\', '<', '>' or '&'. Its htmlSafeSet as a bitmap, and constant.
const (
	safeLo = ^uint64(0) &^ (1<<' ' - 1) &^ (1<<'"' | 1<<'&' | 1<<'<' | 1<<'>')
	safeHi = ^uint64(0) &^ (1 << ('\\' - 64))
)

// Bytes repeated across a word, for testing 8 string bytes at once.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// load8 reads src[i:i+8] as a little-endian word (the compiler makes it
// one load).
func load8[Bytes []byte | string](src Bytes, i int) uint64 {
	w := src[i : i+8] // one bounds check for the eight reads
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// mayNeedEscape reports whether a byte of x is not in htmlSafeSet: below
// ' ', '"', '&', '<', '>', '\\' or not ASCII. It uses the classic has-zero-byte
// trick, which never misses a byte but may flag one above it (borrows); the
// caller then looks at the bytes one by one. '"' and '&' (0x22, 0x26) are
// the bytes that OR 0x04 makes 0x26; '<' and '>' those that OR 0x02 makes 0x3e.
func mayNeedEscape(x uint64) bool {
	ctl := x - lsb*' '
	quoteAmp := (x | lsb*0x04) ^ lsb*'&'
	angle := (x | lsb*0x02) ^ lsb*'>'
	backslash := x ^ lsb*'\\'
	// For an ASCII byte the high bit of ^x is that of each term's complement;
	// non-ASCII bytes are flagged by x itself.
	return ((ctl|(quoteAmp-lsb)|(angle-lsb)|(backslash-lsb))&^x|x)&msb != 0
}

// appendString appends src as a JSON string exactly as encoding/json's
// appendString does with escapeHTML set, which is what json.Marshal uses:
// the same bytes escaped the same way. It writes through an index into
// spare capacity, made ahead for the most a word of input can expand to (6
// bytes a byte), rather than by append: that spares a capacity check per
// byte and a copy call per escape.
func appendString[Bytes []byte | string](dst []byte, src Bytes) []byte {
	const hex = "0123456789abcdef"
	n := len(dst)
	buf := dst[:cap(dst)]
	if len(buf)-n < 2 {
		buf = slices.Grow(buf[:n], 2)
		buf = buf[:cap(buf)]
	}
	buf[n] = '"'
	n++
	for i := 0; i < len(src); {
		rem := min(len(src)-i, 8)
		// The most rem bytes can become, the closing quote, and room for a
		// whole word written at the tail.
		if need := 6*rem + 2; len(buf)-n < need {
			buf = slices.Grow(buf[:n], need)
			buf = buf[:cap(buf)]
		}
		// Most text needs no escaping: copy it a word at a time (the last
		// word overlapping the one before), and look at the bytes of a word
		// that may need it one by one.
		if rem == 8 {
			if x := load8(src, i); !mayNeedEscape(x) {
				binary.LittleEndian.PutUint64(buf[n:], x)
				n += 8
				i += 8
				continue
			}
		} else if len(src) >= 8 {
			if x := load8(src, len(src)-8); !mayNeedEscape(x) {
				// The last rem bytes, and zeros past n+rem that the
				// closing quote or later output overwrites.
				binary.LittleEndian.PutUint64(buf[n:], x>>(64-8*rem))
				n += rem
				break
			}
		}
		for end := i + rem; i < end; {
			if b := src[i]; b < utf8.RuneSelf {
				if htmlSafe(b) {
					buf[n] = b
					n++
					i++
					continue
				}
				switch b {
				case '\\', '"':
					buf[n], buf[n+1] = '\\', b
				case '\b':
					buf[n], buf[n+1] = '\\', 'b'
				case '\f':
					buf[n], buf[n+1] = '\\', 'f'
				case '\n':
					buf[n], buf[n+1] = '\\', 'n'
				case '\r':
					buf[n], buf[n+1] = '\\', 'r'
				case '\t':
					buf[n], buf[n+1] = '\\', 't'
				default:
					// Other control characters, and <, > and &.
					_ = buf[n+5]
					buf[n], buf[n+1], buf[n+2], buf[n+3], buf[n+4], buf[n+5] = '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF]
					n += 4
				}
				n += 2
				i++
				continue
			}
			// Converting at most UTFMax bytes keeps the []byte case off the heap.
			c, size := utf8.DecodeRuneInString(string(src[i : i+min(len(src)-i, utf8.UTFMax)]))
			switch {
			case c == utf8.RuneError && size == 1:
				n += copy(buf[n:], `\ufffd`)
			case c == '\u2028' || c == '\u2029':
				// They break JSONP; encoding/json always escapes them.
				_ = buf[n+5]
				buf[n], buf[n+1], buf[n+2], buf[n+3], buf[n+4], buf[n+5] = '\\', 'u', '2', '0', '2', hex[c&0xF]
				n += 6
			default:
				for k := range size {
					buf[n+k] = src[i+k]
				}
				n += size
			}
			// A rune may run past end: the loop above resumes after it.
			i += size
		}
	}
	buf[n] = '"'
	return buf[:n+1]
}

// htmlSafe reports whether encoding/json writes the ASCII byte b in a
// string as is.
func htmlSafe(b byte) bool {
	safe := uint64(safeLo)
	if b >= 64 {
		safe = safeHi
	}
	return safe>>(b&63)&1 != 0
}

// eventSizeHint guesses the encoded size of e, generously enough that the
// encoder rarely needs to grow its buffer.
func eventSizeHint(e *Event) int {
	if e == nil {
		return 16
	}
	r := &e.Request
	n := 288 + len(e.ID) + len(e.Workflow) + len(e.Step) + len(e.Mode) + len(e.IdempotencyKey) +
		len(e.CorrelationID) + len(e.CausationID) + len(e.TraceParent) + len(e.TraceState) +
		len(r.Method) + len(r.Path) + len(r.Query) + len(r.BodyRef)
	return n + headerSizeHint(r.Header) + bodySizeHint(r.Body)
}

// outcomeSizeHint is eventSizeHint for an outcome.
func outcomeSizeHint(o *Outcome) int {
	if o == nil {
		return 4
	}
	n := 192 + len(o.BodyRef) + len(o.Error) + len(o.Skipped) + headerSizeHint(o.Header) + bodySizeHint(o.Body)
	for i := range o.Effects {
		n += 24 + len(o.Effects[i].Kind) + len(o.Effects[i].Detail)
	}
	return n
}

// headerSizeHint allows for typical header lines without iterating h: a
// longer header costs the encoder one buffer growth.
func headerSizeHint(h http.Header) int {
	return 48 * len(h)
}

// bodySizeHint allows for escaped quotes in a JSON body, or for base64.
func bodySizeHint(b Body) int {
	return len(b) + len(b)/3 + 16
}
