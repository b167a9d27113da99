package freeport

import (
	"net"
	"strconv"
	"testing"
)

func TestPickIsFreeAndNotRepeated(t *testing.T) {
	seen := map[int]bool{}
	for range 50 {
		p, err := Pick(ProcsLo, ProcsHi)
		if err != nil {
			t.Fatal(err)
		}
		if p < ProcsLo || p >= ProcsHi || seen[p] {
			t.Fatalf("port %d out of range or picked twice", p)
		}
		seen[p] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("picked port %d is not free: %v", p, err)
		}
		l.Close()
	}
}
