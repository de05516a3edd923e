//go:build !linux

package mqtt

import (
	"net"
	"syscall"
)

// rawConnOf returns nil: outside Linux every connection takes the
// portable path.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

// waitReadable parks the reader until a byte arrives (see readFirstByte).
func (c *conn) waitReadable() error { return c.readFirstByte() }

// readableNow cannot ask without reading: it answers false, so every
// burst ends with the hand-off to a fresh goroutine.
func (c *conn) readableNow() bool { return false }
