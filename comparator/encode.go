package comparator

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDiffValue bounds the canonical JSON kept for one side of one differing
// path; a larger value is replaced by a string that says what it was, so a
// comparison of two large documents stays small in storage.
const MaxDiffValue = 1024

// canonical returns the compact canonical JSON of n: members sorted by key,
// numbers in canonical spelling, strings with minimal escaping.
func canonical(n *node) []byte {
	var b strings.Builder
	writeCanonical(&b, n)
	return []byte(b.String())
}

// diffValue is canonical(n), bounded by MaxDiffValue.
func diffValue(n *node) json.RawMessage {
	if n == nil {
		return nil
	}
	var b strings.Builder
	if !writeBounded(&b, n, MaxDiffValue) {
		return truncated(n.kind.String(), -1)
	}
	return json.RawMessage(b.String())
}

// truncated is the stand-in for a value too large to keep.
func truncated(what string, size int) json.RawMessage {
	msg := "(" + what + " too large to show"
	if size >= 0 {
		msg = "(" + what + " of " + strconv.Itoa(size) + " bytes, too large to show"
	}
	return json.RawMessage(quote(msg + ")"))
}

func writeCanonical(b *strings.Builder, n *node) { writeBounded(b, n, -1) }

// writeBounded writes n and reports whether it fit in limit bytes (limit < 0:
// unbounded). It stops early once over the limit.
func writeBounded(b *strings.Builder, n *node, limit int) bool {
	if limit >= 0 && b.Len() > limit {
		return false
	}
	switch n.kind {
	case kindNull, kindHole:
		b.WriteString("null")
	case kindTrue:
		b.WriteString("true")
	case kindFalse:
		b.WriteString("false")
	case kindNumber:
		b.WriteString(canonNumber(n.s))
	case kindString:
		writeQuoted(b, n.s)
	case kindArray:
		b.WriteByte('[')
		for i := range n.kids {
			if i > 0 {
				b.WriteByte(',')
			}
			if !writeBounded(b, &n.kids[i], limit) {
				return false
			}
		}
		b.WriteByte(']')
	case kindObject:
		b.WriteByte('{')
		for i := range n.kids {
			if i > 0 {
				b.WriteByte(',')
			}
			writeQuoted(b, n.kids[i].key)
			b.WriteByte(':')
			if !writeBounded(b, &n.kids[i], limit) {
				return false
			}
		}
		b.WriteByte('}')
	}
	return limit < 0 || b.Len() <= limit
}

func quote(s string) string {
	var b strings.Builder
	writeQuoted(&b, s)
	return b.String()
}

// writeQuoted escapes what JSON requires (quote, backslash, control
// characters) and keeps every other character literal, as RFC 8785 does.
// Invalid UTF-8 cannot come out of the parser but is replaced to be safe.
func writeQuoted(b *strings.Builder, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b.WriteString(`\ufffd`)
			} else {
				b.WriteString(s[i : i+size])
			}
			i += size
			continue
		}
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			} else {
				b.WriteByte(c)
			}
		}
		i++
	}
	b.WriteByte('"')
}

// Canonicalize returns the canonical JSON of body (sorted keys, canonical
// numbers, no insignificant whitespace) and true, or nil and false when body
// is not JSON. Two bodies the comparator finds equal without rules have equal
// canonical forms.
func Canonicalize(body []byte) ([]byte, bool) {
	n, ok := parse(body)
	if !ok {
		return nil, false
	}
	return canonical(&n), true
}
