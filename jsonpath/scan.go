package jsonpath

import (
	"bytes"
	"encoding/json"
	"math/bits"
	"unicode/utf8"
)

// maxDepth bounds nesting as encoding/json does, so that a hostile body
// cannot make the scanner recurse without end.
const maxDepth = 10000

// Redact returns doc with every value that one of paths selects replaced by
// repl (a JSON scalar, written as it is), and how many values it replaced.
// ok is false when doc is not exactly one JSON value (surrounding
// whitespace aside): doc is then returned unchanged. With n == 0 the
// result is doc itself.
//
// It scans the bytes once and copies everything it does not replace, so
// key order, spacing and number digits stay as the document had them; a
// key that appears twice is redacted both times. Decoding into any and
// encoding again cost the proxy more than the rest of building an event.
func Redact(doc []byte, paths []Path, repl []byte) (out []byte, n int, ok bool) {
	if len(paths) > 64 {
		// The scanner tracks paths in a 64-bit set; apply them in groups.
		// A scalar placeholder selects nothing further down, so
		// this equals one pass with every path.
		out, n, ok = Redact(doc, paths[:64], repl)
		if !ok {
			return doc, 0, false
		}
		more, m, _ := Redact(out, paths[64:], repl)
		return more, n + m, true
	}
	s := scanner{b: doc, paths: paths, repl: repl}
	if !s.document(true) {
		return doc, 0, false
	}
	if s.n == 0 {
		return doc, 0, true
	}
	return append(s.out, doc[s.last:]...), s.n, true
}

// Lookup returns the first value p selects in a JSON document, in document
// order, formatted as a key: strings as they are, other scalars as their
// JSON text. ok is false when the document's first value is not valid
// JSON, the path selects nothing, or the value selected first is an object,
// an array or null. Bytes after the first value are ignored, as a
// json.Decoder reading one value ignores them.
func Lookup(body []byte, p Path) (string, bool) {
	s := scanner{b: body, paths: []Path{p}, lookup: true}
	if !s.document(false) || !s.found {
		return "", false
	}
	v := body[s.start:s.end]
	switch v[0] {
	case '"':
		return unquote(v)
	case '{', '[', 'n':
		return "", false
	}
	return string(v), true
}

// scanner walks one JSON document, validating it as encoding/json does
// and following the paths that can still select something below the
// current value.
type scanner struct {
	b     []byte
	i     int
	depth int
	paths []Path

	// Redact: the output so far, up to b[last:].
	repl []byte
	out  []byte
	last int
	n    int

	// Lookup: the first selected value.
	lookup     bool
	found      bool
	start, end int
}

// document scans one value; whole also requires nothing but whitespace
// after it.
func (s *scanner) document(whole bool) bool {
	all := uint64(1)<<len(s.paths) - 1
	if len(s.paths) == 64 {
		all = ^uint64(0)
	}
	if !s.value(all, 0) {
		return false
	}
	if whole {
		s.space()
		return s.i == len(s.b)
	}
	return true
}

// value scans the value at s.i. live holds the paths whose first depth
// segments match the way here.
func (s *scanner) value(live uint64, depth int) bool {
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	start := s.i
	if live != 0 && s.selects(live, depth) {
		if !s.value(0, depth) {
			return false
		}
		s.hit(start, s.i)
		return true
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(live, depth)
	case c == '[':
		return s.array(live, depth)
	case c == '"':
		_, ok := s.str()
		return ok
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return false
}

// selects reports whether a live path ends here.
func (s *scanner) selects(live uint64, depth int) bool {
	for m := live; m != 0; m &= m - 1 {
		if len(s.paths[bits.TrailingZeros64(m)]) == depth {
			return true
		}
	}
	return false
}

func (s *scanner) hit(start, end int) {
	if s.lookup {
		if !s.found {
			s.found, s.start, s.end = true, start, end
		}
		return
	}
	if s.out == nil { // one allocation, unless replacements outgrow the values
		s.out = make([]byte, 0, len(s.b)+len(s.repl))
	}
	s.out = append(s.out, s.b[s.last:start]...)
	s.out = append(s.out, s.repl...)
	s.last = end
	s.n++
}

func (s *scanner) object(live uint64, depth int) bool {
	if empty, ok := s.open('}'); !ok || empty {
		return ok
	}
	for {
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return false
		}
		key, ok := s.str()
		if !ok {
			return false
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		var next uint64
		if live != 0 {
			next = s.keyStep(live, depth, key)
		}
		if !s.value(next, depth+1) {
			return false
		}
		if more, ok := s.more('}'); !more {
			return ok
		}
	}
}

func (s *scanner) array(live uint64, depth int) bool {
	if empty, ok := s.open(']'); !ok || empty {
		return ok
	}
	for index := 0; ; index++ {
		var next uint64
		for m := live; m != 0; m &= m - 1 {
			k := bits.TrailingZeros64(m)
			if p := s.paths[k]; depth < len(p) && (p[depth].Wildcard || p[depth].IsIndex && p[depth].Index == index) {
				next |= 1 << k
			}
		}
		if !s.value(next, depth+1) {
			return false
		}
		if more, ok := s.more(']'); !more {
			return ok
		}
	}
}

// open enters the object or array at s.i, within maxDepth; empty says it
// closed at once.
func (s *scanner) open(closing byte) (empty, ok bool) {
	if s.depth++; s.depth > maxDepth {
		return false, false
	}
	s.i++ // { or [
	s.space()
	if s.i < len(s.b) && s.b[s.i] == closing {
		s.i++
		s.depth--
		return true, true
	}
	return false, true
}

// more reads what follows a member or an element: a comma (more) or the
// closing byte (ok, and the container is left); anything else fails.
func (s *scanner) more(closing byte) (more, ok bool) {
	s.space()
	if s.i >= len(s.b) {
		return false, false
	}
	switch s.b[s.i] {
	case ',':
		s.i++
		return true, true
	case closing:
		s.i++
		s.depth--
		return false, true
	}
	return false, false
}

// keyStep returns the live paths that continue into the member named by
// the quoted key (quotes included).
func (s *scanner) keyStep(live uint64, depth int, quoted []byte) uint64 {
	var next uint64
	raw := quoted[1 : len(quoted)-1]
	plain := isPlain(raw) // compared as it is, without allocating
	var name string
	decoded := false
	for m := live; m != 0; m &= m - 1 {
		k := bits.TrailingZeros64(m)
		p := s.paths[k]
		if depth >= len(p) {
			continue
		}
		switch seg := p[depth]; {
		case seg.Wildcard:
			next |= 1 << k
		case seg.IsIndex:
		case plain:
			if string(raw) == seg.Key {
				next |= 1 << k
			}
		default:
			if !decoded {
				name, _ = unquote(quoted)
				decoded = true
			}
			if name == seg.Key {
				next |= 1 << k
			}
		}
	}
	return next
}

// isPlain reports whether a string's bytes are its value: ASCII without
// escapes.
func isPlain(raw []byte) bool {
	for _, c := range raw {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// str scans a string and returns it with its quotes.
func (s *scanner) str() ([]byte, bool) {
	start := s.i
	s.i++ // "
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start:s.i], true
		case c == '\\':
			if s.i+1 >= len(s.b) {
				return nil, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !ishex(h) {
						return nil, false
					}
				}
				s.i += 6
			default:
				return nil, false
			}
		case c < 0x20:
			return nil, false
		default:
			s.i++
		}
	}
	return nil, false
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// number scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return false
		}
	}
	return true
}

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// unquote decodes a scanned string (quotes included). Only one with an
// escape or invalid UTF-8 (which encoding/json turns into U+FFFD) goes
// through encoding/json.
func unquote(q []byte) (string, bool) {
	body := q[1 : len(q)-1]
	if bytes.IndexByte(body, '\\') < 0 && utf8.Valid(body) {
		return string(body), true
	}
	var v string
	if err := json.Unmarshal(q, &v); err != nil {
		return "", false
	}
	return v, true
}
