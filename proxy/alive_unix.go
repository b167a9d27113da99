//go:build unix

package proxy

import (
	"errors"
	"net"
	"syscall"
)

// alive peeks at an idle connection without blocking: an idle HTTP/1.1
// connection has nothing to read, so EOF (legacy closed it), stray bytes or
// an error all mean it cannot carry a request.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK)
		return true // never wait for readiness
	})
	return err == nil && ok
}
