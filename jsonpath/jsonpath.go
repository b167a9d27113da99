// Package jsonpath parses and applies the small JSONPath subset that cutover
// configs use to name fields: $.a.b, $["odd key"], $.items[0], $.items[*].sku
// and $.*. It serves idempotency and bucketing keys, redaction and the
// comparator's rules, so every part of cutover reads paths the same way.
package jsonpath

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Segment is one step of a path: an object key, an array index, or a
// wildcard matching every member or element.
type Segment struct {
	Key      string
	Index    int
	IsIndex  bool
	Wildcard bool
}

// Path is a parsed path. The zero Path is "$", the whole document.
type Path []Segment

// ErrSyntax is wrapped by every parse error.
var ErrSyntax = errors.New("jsonpath: syntax error")

// Parse reads s, which must start with "$".
func Parse(s string) (Path, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("%w in %q: must start with $", ErrSyntax, s)
	}
	var p Path
	i := 1
	for i < len(s) {
		switch s[i] {
		case '.':
			i++
			if i < len(s) && s[i] == '*' {
				p = append(p, Segment{Wildcard: true})
				i++
				continue
			}
			j := i
			for j < len(s) && isIdent(s[j]) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("%w in %q at offset %d: want a field name after '.'", ErrSyntax, s, i)
			}
			p = append(p, Segment{Key: s[i:j]})
			i = j
		case '[':
			seg, n, err := parseBracket(s[i:])
			if err != nil {
				return nil, fmt.Errorf("%w in %q at offset %d: %s", ErrSyntax, s, i, err.Error())
			}
			p = append(p, seg)
			i += n
		default:
			return nil, fmt.Errorf("%w in %q at offset %d: unexpected %q", ErrSyntax, s, i, s[i])
		}
	}
	return p, nil
}

// MustParse is Parse for paths known to be valid; it panics otherwise.
func MustParse(s string) Path {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

func parseBracket(s string) (Segment, int, error) {
	if len(s) < 3 {
		return Segment{}, 0, errors.New("unterminated '['")
	}
	switch c := s[1]; {
	case c == '*':
		if s[2] != ']' {
			return Segment{}, 0, errors.New("want ']' after '[*'")
		}
		return Segment{Wildcard: true}, 3, nil
	case c == '"' || c == '\'':
		var b strings.Builder
		for i := 2; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 >= len(s) {
					return Segment{}, 0, errors.New("unterminated escape")
				}
				i++
				b.WriteByte(s[i])
			case c:
				if i+1 >= len(s) || s[i+1] != ']' {
					return Segment{}, 0, errors.New("want ']' after quoted key")
				}
				return Segment{Key: b.String()}, i + 2, nil
			default:
				b.WriteByte(s[i])
			}
		}
		return Segment{}, 0, errors.New("unterminated quoted key")
	case c >= '0' && c <= '9':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return Segment{}, 0, errors.New("unterminated '['")
		}
		n, err := strconv.Atoi(s[1:end])
		if err != nil || n < 0 || (len(s[1:end]) > 1 && s[1] == '0') {
			return Segment{}, 0, fmt.Errorf("invalid index %q", s[1:end])
		}
		return Segment{Index: n, IsIndex: true}, end + 1, nil
	}
	return Segment{}, 0, fmt.Errorf("want an index, * or a quoted key after '[', got %q", s[1])
}

func isIdent(c byte) bool {
	return c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// String formats p so that Parse(p.String()) equals p.
func (p Path) String() string {
	var b strings.Builder
	b.WriteByte('$')
	for _, s := range p {
		s.write(&b)
	}
	return b.String()
}

// Append returns p with seg added, without sharing p's backing array.
func (p Path) Append(seg Segment) Path {
	q := make(Path, len(p), len(p)+1)
	copy(q, p)
	return append(q, seg)
}

func (s Segment) write(b *strings.Builder) {
	switch {
	case s.Wildcard:
		b.WriteString("[*]")
	case s.IsIndex:
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(s.Index))
		b.WriteByte(']')
	case s.Key != "" && identKey(s.Key):
		b.WriteByte('.')
		b.WriteString(s.Key)
	default:
		b.WriteString(`["`)
		for i := 0; i < len(s.Key); i++ {
			if s.Key[i] == '"' || s.Key[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s.Key[i])
		}
		b.WriteString(`"]`)
	}
}

func identKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if !isIdent(k[i]) {
			return false
		}
	}
	return true
}

// Match reports whether the concrete path c (no wildcards) is matched by p,
// segment for segment.
func (p Path) Match(c Path) bool {
	if len(p) != len(c) {
		return false
	}
	for i, s := range p {
		if !s.matches(c[i]) {
			return false
		}
	}
	return true
}

// MatchPrefix reports whether p matches the first len(p) segments of c, so
// that ignoring $.a also ignores everything under it.
func (p Path) MatchPrefix(c Path) bool {
	return len(p) <= len(c) && p.Match(c[:len(p)])
}

func (s Segment) matches(c Segment) bool {
	switch {
	case s.Wildcard:
		return true
	case s.IsIndex:
		return c.IsIndex && c.Index == s.Index
	default:
		return !c.IsIndex && !c.Wildcard && c.Key == s.Key
	}
}

// Get returns the values p selects in doc, a value decoded by encoding/json
// (map[string]any, []any, ...), in document order for arrays.
func (p Path) Get(doc any) []any {
	var out []any
	p.walk(doc, func(v any) any { out = append(out, v); return v })
	return out
}

// Replace sets every value p selects to repl and returns how many it set.
// The root cannot be replaced.
func (p Path) Replace(doc any, repl any) int {
	if len(p) == 0 {
		return 0
	}
	n := 0
	p.walk(doc, func(any) any { n++; return repl })
	return n
}

// walk calls f on each selected value; f's result replaces the value.
func (p Path) walk(v any, f func(any) any) {
	if len(p) == 0 {
		f(v)
		return
	}
	seg, rest := p[0], p[1:]
	apply := func(child any, set func(any)) {
		if len(rest) == 0 {
			set(f(child))
			return
		}
		rest.walk(child, f)
	}
	switch node := v.(type) {
	case map[string]any:
		if seg.IsIndex {
			return
		}
		if seg.Wildcard {
			for k, child := range node {
				apply(child, func(nv any) { node[k] = nv })
			}
			return
		}
		if child, ok := node[seg.Key]; ok {
			apply(child, func(nv any) { node[seg.Key] = nv })
		}
	case []any:
		if seg.Wildcard {
			for i := range node {
				apply(node[i], func(nv any) { node[i] = nv })
			}
			return
		}
		if seg.IsIndex && seg.Index < len(node) {
			apply(node[seg.Index], func(nv any) { node[seg.Index] = nv })
		}
	}
}
