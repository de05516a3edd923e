package peer

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// FuzzServerInput feeds arbitrary bytes to a server connection, then
// checks the server still serves: a fresh client gets its answer. A
// malformed frame may only close the connection it came on.
func FuzzServerInput(f *testing.F) {
	for _, seed := range [][]byte{
		appendFrame(nil, byte(KindStatus), 1, []byte("hello")),
		appendFrame(nil, byte(KindDeliver), 0, []byte("one-way")),
		appendFrame(nil, byte(KindPing), 7, nil),
		appendFrame(nil, byte(KindPing), 0, []byte("ping with a body")),
		appendFrame(nil, byte(KindJoin), 2, nil), // panics
		appendFrame(nil, 99, 3, nil),             // unknown kind
		appendFrame(appendFrame(nil, byte(KindStatus), 1, []byte("a")), byte(KindStatus), 1, []byte("same id")),
		binary.BigEndian.AppendUint32(nil, 0xFFFFFFFF), // oversized length
		binary.BigEndian.AppendUint32(nil, 3),          // shorter than the header
		binary.BigEndian.AppendUint32(nil, 1000),       // body never comes
		appendFrame(nil, byte(KindStatus), 1, []byte("truncated"))[:15],
		{},
	} {
		f.Add(seed)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	addr := ln.Addr().String()
	s := NewServer(ServerConfig{MaxFrameBytes: 1 << 16, IdleTimeout: 5 * time.Second})
	s.Handle(KindStatus, echo)
	s.Handle(KindDeliver, func(context.Context, []byte, func([]byte, error)) {})
	s.Handle(KindJoin, func(context.Context, []byte, func([]byte, error)) { panic("fuzz") })
	go func() { _ = s.Serve(ln) }()
	f.Cleanup(func() { _ = s.Close() })

	f.Fuzz(func(t *testing.T, input []byte) {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		if _, err := raw.Write(input); err != nil {
			t.Fatalf("write: %v", err)
		}
		// Closing our side ends whatever frame the server still waits
		// for; then drain what it answers until it closes too.
		if err := raw.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if err := raw.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, raw); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the server neither answered nor closed the connection")
			}
		}
		c := NewClient(ClientConfig{})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		resp, err := c.CallSync(ctx, addr, KindStatus, []byte("alive"))
		if err != nil || string(resp) != "alive" {
			t.Fatalf("after the fuzz input a fresh client got %q, %v", resp, err)
		}
	})
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
