package raftstore

import (
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// DialFunc opens a connection to a peer's raft address.
type DialFunc func(address string, timeout time.Duration) (net.Conn, error)

// NewStreamLayer adapts a listener and a dialer owned by package wire into
// the raft.StreamLayer the transport runs on, so this package never opens
// a socket of its own (DESIGN.md: raftstore does not own listeners).
func NewStreamLayer(ln net.Listener, dial DialFunc) raft.StreamLayer {
	return &streamLayer{Listener: ln, dial: dial}
}

type streamLayer struct {
	net.Listener
	dial DialFunc
}

func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return s.dial(string(address), timeout)
}
