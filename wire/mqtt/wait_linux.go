//go:build linux

package mqtt

import (
	"net"
	"syscall"
	"unsafe"
)

// rawConnOf returns the raw socket of a plain TCP connection, the only
// kind whose readability the runtime poller can report without a read. A
// wrapper (TLS, PROXY protocol) may hold bytes it has read already, so it
// gets the portable path.
func rawConnOf(nc net.Conn) syscall.RawConn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}

// waitReadable parks the reader until the socket has bytes (or an end of
// file, or an error) without reading them, so an idle connection holds no
// buffer: RawConn.Read runs peekReadable, which reports EAGAIN as "not
// yet", and the runtime poller parks the goroutine until the socket
// becomes readable. The read deadline (keep alive) applies.
func (c *conn) waitReadable() error {
	if c.raw == nil {
		return c.readFirstByte()
	}
	return c.raw.Read(peekReadable)
}

// readableNow reports, without waiting, whether the socket has bytes (or
// an end of file, or an error) to read. Its callback is a method value
// made once per connection, on its first use, so asking allocates
// nothing.
func (c *conn) readableNow() bool {
	if c.raw == nil {
		return false
	}
	if c.peekNow == nil {
		c.peekNow = c.peekOnce
	}
	c.ready = false
	if err := c.raw.Read(c.peekNow); err != nil {
		return true // the read that follows reports it
	}
	return c.ready
}

// peekOnce records whether a byte is ready and never waits.
func (c *conn) peekOnce(fd uintptr) bool {
	c.ready = peekReadable(fd)
	return true
}

// peekReadable asks the kernel, without blocking or consuming, whether a
// byte can be read. It is a plain function, not a closure, so waiting
// allocates nothing. EINTR is retried here: the poller is edge-triggered,
// so "not yet" with a byte pending would never be woken.
func peekReadable(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
			syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}
