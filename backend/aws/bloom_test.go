package aws

import (
	"fmt"
	"testing"
)

func TestBloom(t *testing.T) {
	const n = 500
	b := newBloom(n)
	for i := range n {
		b.add(fmt.Sprintf("member-%d", i))
	}
	for i := range n {
		if !b.mayHave(fmt.Sprintf("member-%d", i)) {
			t.Fatalf("member-%d was added but is not found", i)
		}
	}
	fp := 0
	const probes = 10000
	for i := range probes {
		if b.mayHave(fmt.Sprintf("other-%d", i)) {
			fp++
		}
	}
	// 10 bits and 7 hashes per member: about 1% false positives.
	if rate := float64(fp) / probes; rate > 0.03 {
		t.Errorf("false positive rate %.3f, want about 0.01", rate)
	}
	if !bloom(nil).mayHave("x") {
		t.Error("an absent filter must let everything through")
	}
}
