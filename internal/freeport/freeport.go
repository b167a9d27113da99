// Package freeport picks loopback ports for servers that tests start
// later, in another process. A port the kernel hands out for ":0" comes
// from its ephemeral range, where an outgoing connection or another :0
// listener can take it between the pick and the bind; ports picked here lie
// below that range (32768 on Linux), are checked free, and are never picked
// twice by one process.
package freeport

import (
	"errors"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
)

// Ranges for the two users, so that test binaries running in parallel do
// not pick from the same pool.
const (
	ServersLo, ServersHi = 10000, 20000 // local AWS servers (internal/localaws)
	ProcsLo, ProcsHi     = 20000, 32000 // cutover processes of the e2e tests
)

var (
	mu    sync.Mutex
	given = map[int]bool{}
)

// Pick returns a free loopback port in [lo, hi).
func Pick(lo, hi int) (int, error) {
	mu.Lock()
	defer mu.Unlock()
	for range 200 {
		p := lo + rand.IntN(hi-lo)
		if given[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		given[p] = true
		return p, nil
	}
	return 0, errors.New("freeport: no free loopback port in range")
}
