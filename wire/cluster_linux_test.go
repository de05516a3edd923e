package wire_test

import (
	"net"
	"syscall"
	"testing"
	"time"

	"tributary/wire"
)

// sockopt reads an integer socket option from c's file descriptor.
func sockopt(t *testing.T, c net.Conn, level, opt int) int {
	t.Helper()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T does not expose its socket", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatalf("Control: %v", err)
	}
	if gerr != nil {
		t.Fatalf("getsockopt(%d, %d): %v", level, opt, gerr)
	}
	return v
}

// TestCluster_SocketOptions checks on the sockets themselves that both
// accepted and dialed connections carry TCP_NODELAY and the configured
// keepalive settings.
func TestCluster_SocketOptions(t *testing.T) {
	l := listenCluster(t, wire.ClusterConfig{
		KeepAliveIdle:     7 * time.Second,
		KeepAliveInterval: 3 * time.Second,
		KeepAliveProbes:   4,
	})
	accepted := acceptAsync(l)
	out := dialRaft(t, l) // a first byte, so that the port routes it to Accept
	r := <-accepted
	if r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	defer r.c.Close()

	// The accepted conn is wrapped; its embedded net.Conn is the socket.
	in, ok := r.c.(interface{ NetConn() net.Conn })
	if !ok {
		t.Fatalf("accepted %T does not expose its socket", r.c)
	}
	for name, c := range map[string]net.Conn{"accepted": in.NetConn(), "dialed": out} {
		for _, o := range []struct {
			name       string
			level, opt int
			want       int
		}{
			{"TCP_NODELAY", syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1},
			{"SO_KEEPALIVE", syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
			{"TCP_KEEPIDLE", syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 7},
			{"TCP_KEEPINTVL", syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 3},
			{"TCP_KEEPCNT", syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 4},
		} {
			if got := sockopt(t, c, o.level, o.opt); got != o.want {
				t.Errorf("%s conn %s = %d, want %d", name, o.name, got, o.want)
			}
		}
	}
}
