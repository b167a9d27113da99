package comparator

import (
	"hash/maphash"

	"github.com/cutover-dev/cutover/jsonpath"
)

// unordered compares an array whose order does not matter. It first lines
// async elements up with legacy ones (by key when the rule names one, then
// by equality), pairs what is left in order, and then compares position by
// position, so a differing element is reported at its legacy index with its
// partner's differences below it, and surplus async elements at indices past
// the legacy ones.
func (d *differ) unordered(l, a *node, st state, u *unorderedRule) bool {
	// Same order is the common case and needs no matching.
	if len(l.kids) == len(a.kids) {
		same := true
		for k := range l.kids {
			cs, ignored := d.r.child(st, step{index: k, isIndex: true})
			if !ignored && !d.equal(&l.kids[k], &a.kids[k], cs) {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	order := d.lineUp(l.kids, a.kids, st, u)
	if d.align && !d.probe {
		reorder(a, order)
		order = nil
	}
	return d.elements(l.kids, a.kids, order, st)
}

// lineUp returns, for each position, the index of the async element placed
// there: positions below len(l) hold legacy's partners (-1: none left),
// positions past it hold surplus async elements.
func (d *differ) lineUp(l, a []node, st state, u *unorderedRule) []int {
	order := make([]int, len(l))
	for i := range order {
		order[i] = -1
	}
	used := make([]bool, len(a))
	// An ignored position takes any partner; leave those to step 3.
	elem := func(i int) (state, bool) { return d.r.child(st, step{index: i, isIndex: true}) }

	// 1. By key: elements with the same key are partners, even if they
	// differ; that difference is what the user wants to see.
	if u.key != nil {
		byKey := map[elemKey][]int{}
		for j := range a {
			if k, ok := elementKey(&a[j], u.key); ok {
				byKey[k] = append(byKey[k], j)
			}
		}
		for i := range l {
			es, ignored := elem(i)
			k, ok := elementKey(&l[i], u.key)
			if ignored || !ok {
				continue
			}
			cands := byKey[k]
			pick := -1
			for _, j := range cands {
				if used[j] {
					continue
				}
				if pick < 0 {
					pick = j
				}
				if len(cands) == 1 || d.equal(&l[i], &a[j], es) {
					pick = j // prefer an equal one among duplicate keys
					break
				}
			}
			if pick >= 0 {
				order[i], used[pick] = pick, true
			}
		}
	}

	// 2. By equality, as a multiset: hash the rest into buckets, then probe
	// within a bucket. Equal elements always share a bucket (see hash).
	buckets := map[uint64][]int{}
	anyElem, anyIgnored := d.r.child(st, step{isIndex: true, anyIndex: true})
	hash := func(n *node) uint64 {
		if anyIgnored {
			return 0 // some positions are ignored: one bucket, probing decides
		}
		return d.hash(n, anyElem)
	}
	for j := range a {
		if !used[j] {
			h := hash(&a[j])
			buckets[h] = append(buckets[h], j)
		}
	}
	if len(buckets) > 0 {
		for i := range l {
			es, ignored := elem(i)
			if ignored || order[i] >= 0 {
				continue
			}
			cands := buckets[hash(&l[i])]
			for _, j := range cands {
				if !used[j] && d.equal(&l[i], &a[j], es) {
					order[i], used[j] = j, true
					break
				}
			}
		}
	}

	// 3. Pair the leftovers in order, so that a changed element shows its
	// changed fields rather than one removal and one addition. Under a key,
	// two elements with different keys are not the same element: they stay
	// a removal and an addition.
	keyed := func(n *node) bool {
		if u.key == nil {
			return false
		}
		_, ok := elementKey(n, u.key)
		return ok
	}
	j := 0
	for i := range l {
		if order[i] >= 0 || keyed(&l[i]) {
			continue
		}
		for j < len(a) && (used[j] || keyed(&a[j])) {
			j++
		}
		if j == len(a) {
			break
		}
		order[i], used[j] = j, true
	}
	for j := range a {
		if !used[j] {
			order = append(order, j)
		}
	}
	return order
}

// reorder rearranges a's elements into order, with holes where legacy has an
// element and async none.
func reorder(a *node, order []int) {
	kids := make([]node, len(order))
	for i, j := range order {
		if j < 0 {
			kids[i] = node{kind: kindHole}
			continue
		}
		kids[i] = a.kids[j]
	}
	a.kids = kids
}

// elemKey is an element's key value with its type, so that "1" and 1 are
// different keys.
type elemKey struct {
	kind kind
	text string
}

// elementKey reads an element's key field.
func elementKey(n *node, key jsonpath.Path) (elemKey, bool) {
	for _, s := range key {
		if n.kind == kindObject && !s.IsIndex {
			n = n.member(s.Key)
		} else if n.kind == kindArray && s.IsIndex && s.Index < len(n.kids) {
			n = &n.kids[s.Index]
		} else {
			return elemKey{}, false
		}
		if n == nil {
			return elemKey{}, false
		}
	}
	switch n.kind {
	case kindString:
		return elemKey{kindString, n.s}, true
	case kindNumber:
		return elemKey{kindNumber, canonNumber(n.s)}, true
	case kindTrue, kindFalse, kindNull:
		return elemKey{kind: n.kind}, true
	}
	return elemKey{}, false
}

// hash returns a value that equal elements share: it covers what the
// comparison compares and nothing it may forgive (ignored paths, numbers
// under a numeric tolerance, timestamps under a timestamp tolerance, the
// order of unordered arrays).
func (d *differ) hash(n *node, st state) uint64 {
	const (
		prime = 1099511628211
		seedK = 14695981039346656037
	)
	mix := func(h, v uint64) uint64 { return (h ^ v) * prime }
	h := mix(seedK, uint64(n.kind))
	switch n.kind {
	case kindNumber:
		if d.r.numTol > 0 {
			return h
		}
		return mix(h, maphash.String(d.r.seed, canonNumber(n.s)))
	case kindString:
		if d.r.tsTol > 0 && isTimestamp(n.s) {
			return mix(h, 1)
		}
		return mix(h, maphash.String(d.r.seed, n.s))
	case kindObject:
		for i := range n.kids {
			cs, ignored := d.r.child(st, step{key: n.kids[i].key})
			if ignored {
				continue
			}
			h = mix(h, maphash.String(d.r.seed, n.kids[i].key))
			h = mix(h, d.hash(&n.kids[i], cs))
		}
	case kindArray:
		if d.r.unorderedAt(st) != nil {
			var sum uint64 // order-free: a sum of element hashes
			cs, ignored := d.r.child(st, step{isIndex: true, anyIndex: true})
			if ignored {
				return h
			}
			for i := range n.kids {
				sum += mix(seedK, d.hash(&n.kids[i], cs))
			}
			return mix(h, sum)
		}
		// Positions, not the length: an ignored position may exist on one
		// side only.
		for i := range n.kids {
			cs, ignored := d.r.child(st, step{index: i, isIndex: true})
			if ignored {
				continue
			}
			h = mix(h, uint64(i))
			h = mix(h, d.hash(&n.kids[i], cs))
		}
	}
	return h
}
