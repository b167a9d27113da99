package comparator

import (
	"math/bits"

	"github.com/cutover-dev/cutover/jsonpath"
)

// step is one concrete step of the path being walked: an object key or an
// array index. anyIndex stands for "some element of this array" while
// elements of an unordered array are hashed without knowing their partner's
// position; an index pattern matches it, so hashing ignores at least what
// the comparison ignores.
type step struct {
	key      string
	index    int
	isIndex  bool
	anyIndex bool
}

// state is where the walk stands against the rules: which ignore and
// unordered patterns still match the path so far (bit i: pattern i), and the
// depth. Carrying the sets down the walk makes a rule check a few bit
// operations, and nothing at all below paths no rule mentions.
type state struct {
	ignore, unordered uint64
	depth             int
}

func (r *Rules) root() state { return state{ignore: r.allIgnore, unordered: r.allUnorder} }

// child is the state after taking s; ignored is true when an ignore pattern
// matches the path in full, which ignores it and everything below it.
func (r *Rules) child(st state, s step) (next state, ignored bool) {
	next.depth = st.depth + 1
	for m := st.ignore; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		p := r.ignore[i]
		if len(p) > st.depth && segmentMatches(p[st.depth], s) {
			if len(p) == next.depth {
				return next, true
			}
			next.ignore |= 1 << i
		}
	}
	for m := st.unordered; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		p := r.unordered[i].path
		if len(p) > st.depth && segmentMatches(p[st.depth], s) {
			next.unordered |= 1 << i
		}
	}
	return next, false
}

// unorderedAt returns the unordered rule for the array at st, if any.
func (r *Rules) unorderedAt(st state) *unorderedRule {
	for m := st.unordered; m != 0; m &= m - 1 {
		i := bits.TrailingZeros64(m)
		if len(r.unordered[i].path) == st.depth {
			return &r.unordered[i]
		}
	}
	return nil
}

func segmentMatches(p jsonpath.Segment, s step) bool {
	switch {
	case p.Wildcard:
		return true
	case p.IsIndex:
		return s.isIndex && (s.anyIndex || s.index == p.Index)
	default:
		return !s.isIndex && s.key == p.Key
	}
}

// pathString formats a walked path as jsonpath text.
func pathString(steps []step) string {
	p := make(jsonpath.Path, len(steps))
	for i, s := range steps {
		if s.isIndex {
			p[i] = jsonpath.Segment{Index: s.index, IsIndex: true}
		} else {
			p[i] = jsonpath.Segment{Key: s.key}
		}
	}
	return p.String()
}
