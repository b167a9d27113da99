package proxy

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"sync"
	"time"
)

// Pool tuning. Buffers are per connection; responses larger than the read
// buffer stream through the copy buffer instead.
const (
	poolReadBuf  = 8 << 10
	poolWriteBuf = 8 << 10
	idleTimeout  = 90 * time.Second // as the fallback transport's
)

// upConn is one keep-alive HTTP/1.1 connection to legacy, used by one
// request at a time.
type upConn struct {
	c         net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	deadline  time.Time // last set on c
	reused    bool
}

// maxDeadlineSlack is how much earlier than asked a connection's deadline
// may fall: setting a deadline costs two runtime timer updates, and a
// connection in steady use can keep the one a request set a moment before.
const maxDeadlineSlack = 20 * time.Millisecond

// setDeadline bounds the exchange by d, up to slack early.
func (pc *upConn) setDeadline(d time.Time, slack time.Duration) error {
	if !pc.deadline.IsZero() && !d.Before(pc.deadline) && d.Sub(pc.deadline) < slack {
		return nil
	}
	pc.deadline = d
	return pc.c.SetDeadline(d)
}

// upstream owns the lean path's connections to legacy: a LIFO of idle ones
// (the most recently used is the most likely to be alive and warm).
type upstream struct {
	addr    string
	dialer  net.Dialer
	maxIdle int
	// probeAfter is how long a connection may idle before get checks that
	// legacy did not close it; 0, the default, checks every time (one
	// non-blocking peek), as http.Transport watches every idle connection.
	probeAfter time.Duration

	mu     sync.Mutex
	idle   []*upConn
	closed bool
}

func newUpstream(addr string, maxIdle int, dialTimeout time.Duration) *upstream {
	return &upstream{addr: addr, maxIdle: maxIdle, dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}}
}

// get returns an idle connection, or dials one. Connections idle for long
// are probed first: a legacy that closed its end has nobody watching it
// here, unlike in http.Transport.
func (u *upstream) get(ctx context.Context, now time.Time) (*upConn, error) {
	for {
		u.mu.Lock()
		n := len(u.idle)
		if n == 0 {
			u.mu.Unlock()
			break
		}
		pc := u.idle[n-1]
		u.idle[n-1] = nil
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		idle := now.Sub(pc.idleSince)
		if idle > idleTimeout || (idle >= u.probeAfter && !alive(pc.c)) {
			pc.c.Close()
			continue
		}
		pc.reused = true
		return pc, nil
	}
	c, err := u.dialer.DialContext(ctx, "tcp", u.addr)
	if err != nil {
		return nil, fmt.Errorf("proxy: legacy: %w", err)
	}
	return &upConn{c: c, br: bufio.NewReaderSize(c, poolReadBuf), bw: bufio.NewWriterSize(c, poolWriteBuf)}, nil
}

// put returns a connection whose last exchange ended cleanly. The oldest
// idle connection goes when it has idled past idleTimeout: with a LIFO the
// bottom of the stack may otherwise never be looked at again.
func (u *upstream) put(pc *upConn, now time.Time) {
	pc.idleSince = now
	var stale *upConn
	u.mu.Lock()
	if u.closed || len(u.idle) >= u.maxIdle {
		u.mu.Unlock()
		pc.c.Close()
		return
	}
	if len(u.idle) > 0 && now.Sub(u.idle[0].idleSince) > idleTimeout {
		stale = u.idle[0]
		n := copy(u.idle, u.idle[1:])
		u.idle[n] = nil
		u.idle = u.idle[:n]
	}
	u.idle = append(u.idle, pc)
	u.mu.Unlock()
	if stale != nil {
		stale.c.Close()
	}
}

// closeIdle closes the idle connections and every connection put back
// later.
func (u *upstream) closeIdle() {
	u.mu.Lock()
	idle := u.idle
	u.idle, u.closed = nil, true
	u.mu.Unlock()
	for _, pc := range idle {
		pc.c.Close()
	}
}
