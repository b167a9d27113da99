package comparator

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// string reads a JSON string at p.pos (an opening quote). Plain ASCII
// strings, the common case, are returned as a slice of the source without
// copying; escapes and non-ASCII text take the slow path, which decodes the
// way encoding/json does, so "\u00e9" and "é" are the same string.
func (p *parser) string() (string, bool) {
	s := p.src
	start := p.pos + 1
	i := start
	for i < len(s) {
		c := s[i]
		if c == '"' {
			p.pos = i + 1
			return s[start:i], true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return p.slowString(start)
		}
		i++
	}
	return "", false
}

func (p *parser) slowString(start int) (string, bool) {
	s := p.src
	var b strings.Builder
	i := start
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			p.pos = i + 1
			return b.String(), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if i+1 >= len(s) {
				return "", false
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b.WriteByte(e)
				i += 2
			case 'b':
				b.WriteByte('\b')
				i += 2
			case 'f':
				b.WriteByte('\f')
				i += 2
			case 'n':
				b.WriteByte('\n')
				i += 2
			case 'r':
				b.WriteByte('\r')
				i += 2
			case 't':
				b.WriteByte('\t')
				i += 2
			case 'u':
				r, ok := hex4(s, i+2)
				if !ok {
					return "", false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A valid pair is one rune; anything else is U+FFFD and the
					// next escape is read on its own, as encoding/json does.
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if r2, ok := hex4(s, i+2); ok {
							if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
								b.WriteRune(dec)
								i += 6
								break
							}
						}
					}
					r = unicode.ReplacementChar
				}
				b.WriteRune(r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			b.WriteRune(r) // an invalid byte decodes to U+FFFD, size 1
			i += size
		}
	}
	return "", false
}

func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
