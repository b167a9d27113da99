package comparator

import (
	"encoding/json"
	"time"
)

// MaxDiffs bounds the paths recorded in one comparison; Reason says how many
// more differed.
const MaxDiffs = 64

// diffEntry is one differing path; a nil side is absent there.
type diffEntry struct {
	path          string
	legacy, async json.RawMessage
	note          string // extra words for Reason
}

// differ walks a legacy and an async tree together under a set of rules.
type differ struct {
	r *Rules
	// probe asks only "equal or not": the walk stops at the first
	// difference and records nothing. Unordered matching probes candidates.
	probe bool
	// align reorders async unordered arrays in place to line up with their
	// legacy partners (for Explain); Compare leaves the trees alone.
	align bool
	path  []step
	diffs []diffEntry
	total int // differences found, recorded or not
}

// report notes that the current path differs; l or a is nil when the path
// is absent on that side. It returns false so callers can `return d.report`.
func (d *differ) report(l, a *node) bool {
	if d.probe {
		return false
	}
	d.total++
	if len(d.diffs) < MaxDiffs {
		d.diffs = append(d.diffs, diffEntry{path: pathString(d.path), legacy: diffValue(l), async: diffValue(a)})
	}
	return false
}

func (d *differ) push(s step) {
	if !d.probe {
		d.path = append(d.path, s)
	}
}

func (d *differ) pop() {
	if !d.probe {
		d.path = d.path[:len(d.path)-1]
	}
}

// equal reports whether l and a are equal under the rules, without
// recording anything.
func (d *differ) equal(l, a *node, st state) bool {
	saved := d.probe
	d.probe = true
	eq := d.node(l, a, st)
	d.probe = saved
	return eq
}

func (d *differ) node(l, a *node, st state) bool {
	if l.kind != a.kind {
		return d.report(l, a)
	}
	switch l.kind {
	case kindNumber:
		if !numbersEqual(l.s, a.s, d.r.numTol) {
			return d.report(l, a)
		}
	case kindString:
		if l.s != a.s && !d.r.timesEqual(l.s, a.s) {
			return d.report(l, a)
		}
	case kindObject:
		return d.object(l, a, st)
	case kindArray:
		if u := d.r.unorderedAt(st); u != nil {
			return d.unordered(l, a, st, u)
		}
		return d.elements(l.kids, a.kids, nil, st)
	}
	return true
}

// object merges the two sorted member lists.
func (d *differ) object(l, a *node, st state) bool {
	eq := true
	i, j := 0, 0
	for i < len(l.kids) || j < len(a.kids) {
		var lk, ak *node
		switch {
		case j >= len(a.kids) || (i < len(l.kids) && l.kids[i].key < a.kids[j].key):
			lk = &l.kids[i]
			i++
		case i >= len(l.kids) || a.kids[j].key < l.kids[i].key:
			ak = &a.kids[j]
			j++
		default:
			lk, ak = &l.kids[i], &a.kids[j]
			i++
			j++
		}
		key := ""
		if lk != nil {
			key = lk.key
		} else {
			key = ak.key
		}
		s := step{key: key}
		cs, ignored := d.r.child(st, s)
		if ignored {
			continue
		}
		d.push(s)
		var ok bool
		if lk == nil || ak == nil {
			ok = d.report(lk, ak) // absent on one side: null vs missing differs too
		} else {
			ok = d.node(lk, ak, cs)
		}
		d.pop()
		if !ok {
			eq = false
			if d.probe {
				return false
			}
		}
	}
	return eq
}

// elements compares arrays position by position. order, when set, lists
// for each position the async element that lines up with legacy (-1: none).
func (d *differ) elements(l, a []node, order []int, st state) bool {
	n := max(len(l), len(a))
	if order != nil {
		n = max(len(l), len(order))
	}
	eq := true
	for k := range n {
		var lk, ak *node
		if k < len(l) {
			lk = &l[k]
		}
		switch {
		case order == nil && k < len(a):
			ak = &a[k]
		case order != nil && k < len(order) && order[k] >= 0:
			ak = &a[order[k]]
		}
		if ak != nil && ak.kind == kindHole {
			ak = nil // Explain's placeholder for "no partner"
		}
		if lk == nil && ak == nil {
			continue
		}
		s := step{index: k, isIndex: true}
		cs, ignored := d.r.child(st, s)
		if ignored {
			continue
		}
		d.push(s)
		var ok bool
		if lk == nil || ak == nil {
			ok = d.report(lk, ak)
		} else {
			ok = d.node(lk, ak, cs)
		}
		d.pop()
		if !ok {
			eq = false
			if d.probe {
				return false
			}
		}
	}
	return eq
}

// timesEqual reports whether two strings are RFC 3339 timestamps within the
// timestamp tolerance. Without a tolerance, strings compare as written.
func (r *Rules) timesEqual(a, b string) bool {
	if r.tsTol <= 0 || !maybeTimestamp(a) || !maybeTimestamp(b) {
		return false
	}
	ta, err := time.Parse(time.RFC3339, a)
	if err != nil {
		return false
	}
	tb, err := time.Parse(time.RFC3339, b)
	if err != nil {
		return false
	}
	delta := ta.Sub(tb)
	return delta <= r.tsTol && delta >= -r.tsTol
}

// maybeTimestamp is a cheap necessary condition for RFC 3339, so that most
// strings never reach time.Parse.
func maybeTimestamp(s string) bool {
	return len(s) >= 20 && s[4] == '-' && s[7] == '-' && s[13] == ':'
}

// isTimestamp reports whether s parses as RFC 3339 (the hash treats all
// timestamps alike when a tolerance makes close ones equal).
func isTimestamp(s string) bool {
	if !maybeTimestamp(s) {
		return false
	}
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}
