package comparator

import (
	"bytes"
	"cmp"
	"slices"
)

// kind is the JSON type of a node. true and false are distinct kinds so that
// comparing them needs no payload.
type kind uint8

const (
	kindNull kind = iota
	kindFalse
	kindTrue
	kindNumber
	kindString
	kindArray
	kindObject
	// kindHole stands for "no element here" in an async array that Explain
	// reordered to line up with legacy; it never comes out of the parser.
	kindHole
)

var kindNames = [...]string{"null", "false", "true", "number", "string", "array", "object", "hole"}

func (k kind) String() string { return kindNames[k] }

// node is one JSON value in canonical form: strings hold their decoded text,
// numbers their literal (compared by value, see number.go), objects their
// members sorted by key with duplicates resolved as encoding/json does (the
// last one wins).
type node struct {
	kind kind
	key  string // member name, when the node is an object member
	s    string // string value or number literal
	kids []node // array elements in order, or object members sorted by key
}

// maxDepth matches encoding/json's nesting limit, so that the same documents
// count as JSON here and there.
const maxDepth = 10000

// parse reads one JSON document. It accepts exactly what json.Valid accepts
// and decodes strings exactly as encoding/json does (invalid UTF-8 and lone
// surrogates become U+FFFD). ok is false for anything that is not JSON.
func parse(body []byte) (n node, ok bool) {
	var p parser
	return p.parse(body)
}

// parse reads body, reusing p's scratch space from an earlier document.
func (p *parser) parse(body []byte) (n node, ok bool) {
	p.src, p.pos, p.stack = string(body), 0, p.stack[:0]
	// An element or member is the first of its container or follows a
	// comma, so commas plus containers bound the nodes (commas in strings
	// only make it loose). Sized so, the arena never moves and containers
	// can hold slices of it: one allocation per document instead of one
	// per container. (Were the bound wrong, append would move the arena and
	// the slices already taken would keep the old copy: still correct.)
	bound := 1 + bytes.Count(body, []byte{','}) + bytes.Count(body, []byte{'['}) + bytes.Count(body, []byte{'{'})
	p.arena = make([]node, 0, min(bound, len(body)))
	p.skipSpace()
	n, ok = p.value(0)
	if !ok {
		return node{}, false
	}
	p.skipSpace()
	return n, p.pos == len(p.src)
}

type parser struct {
	src string
	pos int
	// stack collects the children of the containers being parsed; each
	// container then moves its own children into the arena, contiguously.
	stack []node
	arena []node
	order []int32 // scratch for sorting members without moving nodes
}

// settle moves the children collected since mark into the arena and
// returns them.
func (p *parser) settle(mark int) []node {
	start := len(p.arena)
	p.arena = append(p.arena, p.stack[mark:]...)
	clear(p.stack[mark:]) // let the collector free what only the arena holds
	p.stack = p.stack[:mark]
	return p.arena[start:len(p.arena):len(p.arena)]
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (node, bool) {
	if p.pos >= len(p.src) {
		return node{}, false
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth + 1)
	case c == '[':
		return p.array(depth + 1)
	case c == '"':
		s, ok := p.string()
		return node{kind: kindString, s: s}, ok
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return node{kind: kindTrue}, p.literal("true")
	case c == 'f':
		return node{kind: kindFalse}, p.literal("false")
	case c == 'n':
		return node{kind: kindNull}, p.literal("null")
	}
	return node{}, false
}

func (p *parser) literal(word string) bool {
	if len(p.src)-p.pos < len(word) || p.src[p.pos:p.pos+len(word)] != word {
		return false
	}
	p.pos += len(word)
	return true
}

func (p *parser) number() (node, bool) {
	start := p.pos
	s := p.src
	i := p.pos
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return node{}, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return node{}, false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return node{}, false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	p.pos = i
	return node{kind: kindNumber, s: s[start:i]}, true
}

func (p *parser) array(depth int) (node, bool) {
	if depth > maxDepth {
		return node{}, false
	}
	p.pos++ // [
	p.skipSpace()
	mark := len(p.stack)
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return node{kind: kindArray}, true
	}
	for {
		p.skipSpace()
		v, ok := p.value(depth)
		if !ok {
			p.stack = p.stack[:mark]
			return node{}, false
		}
		p.stack = append(p.stack, v)
		p.skipSpace()
		if p.pos >= len(p.src) {
			p.stack = p.stack[:mark]
			return node{}, false
		}
		c := p.src[p.pos]
		p.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			p.stack = p.stack[:mark]
			return node{}, false
		}
	}
	return node{kind: kindArray, kids: p.settle(mark)}, true
}

func (p *parser) object(depth int) (node, bool) {
	if depth > maxDepth {
		return node{}, false
	}
	p.pos++ // {
	p.skipSpace()
	mark := len(p.stack)
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return node{kind: kindObject}, true
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			p.stack = p.stack[:mark]
			return node{}, false
		}
		key, ok := p.string()
		if !ok {
			p.stack = p.stack[:mark]
			return node{}, false
		}
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			p.stack = p.stack[:mark]
			return node{}, false
		}
		p.pos++
		p.skipSpace()
		v, ok := p.value(depth)
		if !ok {
			p.stack = p.stack[:mark]
			return node{}, false
		}
		v.key = key
		p.stack = append(p.stack, v)
		p.skipSpace()
		if p.pos >= len(p.src) {
			p.stack = p.stack[:mark]
			return node{}, false
		}
		c := p.src[p.pos]
		p.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			p.stack = p.stack[:mark]
			return node{}, false
		}
	}
	return node{kind: kindObject, kids: p.settleMembers(mark)}, true
}

// settleMembers is settle for object members: sorted by key, and of
// duplicate keys only the last, which is what encoding/json keeps when it
// decodes into a map. It sorts indices, not nodes, so each node is copied
// once (nodes hold pointers, and every copy costs write barriers).
func (p *parser) settleMembers(mark int) []node {
	members := p.stack[mark:]
	sorted := true
	for i := 1; i < len(members); i++ {
		if members[i-1].key >= members[i].key {
			sorted = false
			break
		}
	}
	if sorted {
		return p.settle(mark)
	}
	p.order = p.order[:0]
	for i := range members {
		p.order = append(p.order, int32(i))
	}
	slices.SortFunc(p.order, func(a, b int32) int {
		return cmp.Or(cmp.Compare(members[a].key, members[b].key), cmp.Compare(a, b))
	})
	start := len(p.arena)
	for k, i := range p.order {
		if k+1 < len(p.order) && members[p.order[k+1]].key == members[i].key {
			continue // a later duplicate wins
		}
		p.arena = append(p.arena, members[i])
	}
	clear(members)
	p.stack = p.stack[:mark]
	return p.arena[start:len(p.arena):len(p.arena)]
}

// member returns the member of object n named key, or nil.
func (n *node) member(key string) *node {
	i, ok := slices.BinarySearchFunc(n.kids, key, func(m node, k string) int { return cmp.Compare(m.key, k) })
	if !ok {
		return nil
	}
	return &n.kids[i]
}
