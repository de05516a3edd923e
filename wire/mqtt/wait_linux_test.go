//go:build linux

package mqtt

import (
	"net"
	"testing"
)

// Waiting for readability allocates nothing: an idle connection must not
// cost the collector anything either.
func TestWaitReadableAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if _, err := client.Write([]byte{0xC0}); err != nil {
		t.Fatal(err)
	}
	c := &conn{nc: server, raw: rawConnOf(server)}
	if c.raw == nil {
		t.Fatal("no raw connection for a TCP socket")
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := c.waitReadable(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per wait, want 0", allocs)
	}
	// The peeked byte is still there for the read.
	var b [1]byte
	if n, err := server.Read(b[:]); n != 1 || b[0] != 0xC0 || err != nil {
		t.Fatalf("read %d % x %v after the waits", n, b[:n], err)
	}
}
