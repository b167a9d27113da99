package aws

import "hash/fnv"

// bloom is a Bloom filter over strings: an object's index item carries one
// of its events' correlation ids, so that a correlation query reads only
// the objects that may hold one (about 1% false positives) without the
// index item growing by a whole id per event.
type bloom []byte

const bloomHashes = 7

// newBloom sizes a filter for n members at 10 bits each.
func newBloom(n int) bloom { return make(bloom, max(8, (n*10+7)/8)) }

func bloomHash(s string) (uint64, uint64) {
	h := fnv.New64a()
	h.Write([]byte(s))
	a := h.Sum64()
	return a, (a>>33 | a<<31) | 1
}

func (b bloom) add(s string) {
	if len(b) == 0 {
		return
	}
	h1, h2 := bloomHash(s)
	m := uint64(len(b)) * 8
	for i := uint64(0); i < bloomHashes; i++ {
		bit := (h1 + i*h2) % m
		b[bit/8] |= 1 << (bit % 8)
	}
}

// mayHave is false only if s was never added.
func (b bloom) mayHave(s string) bool {
	if len(b) == 0 {
		return true // no filter: anything may be there
	}
	h1, h2 := bloomHash(s)
	m := uint64(len(b)) * 8
	for i := uint64(0); i < bloomHashes; i++ {
		bit := (h1 + i*h2) % m
		if b[bit/8]&(1<<(bit%8)) == 0 {
			return false
		}
	}
	return true
}
