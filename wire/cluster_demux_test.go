package wire_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tributary/wire"
)

// The cluster port's demultiplexer: raft streams and forwarding RPC on one
// port, told apart by the first byte.

func TestCluster_RaftAndRPCShareThePort(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := listenCluster(t, wire.ClusterConfig{Registerer: reg})
	if l.RPC().Addr().String() != l.Addr().String() {
		t.Fatalf("RPC().Addr() = %v, want the port's %v", l.RPC().Addr(), l.Addr())
	}
	if l.RPC() != l.RPC() {
		t.Error("RPC() returned two different listeners")
	}
	raftIn, rpcIn := acceptAsync(l), acceptRPCAsync(l)

	// A raft stream whose later bytes include ClusterRPCByte: only the
	// first byte routes.
	raftMsg := []byte{1, wire.ClusterRPCByte, 'r', 'a', 'f', 't', 0}
	raftOut := dial(t, l)
	write(t, raftOut, raftMsg)
	// An RPC stream whose own first byte is ClusterRPCByte again: only the
	// preamble is consumed.
	rpcMsg := []byte{wire.ClusterRPCByte, 'r', 'p', 'c', 0}
	rpcOut := dialRPC(t, l)
	write(t, rpcOut, rpcMsg)

	raft, rpc := <-raftIn, <-rpcIn
	if raft.err != nil || rpc.err != nil {
		t.Fatalf("Accept: raft %v, rpc %v", raft.err, rpc.err)
	}
	defer raft.c.Close()
	defer rpc.c.Close()
	if raft.c.RemoteAddr().String() != raftOut.LocalAddr().String() {
		t.Errorf("raft side got %v, want the raft dial %v", raft.c.RemoteAddr(), raftOut.LocalAddr())
	}
	if rpc.c.RemoteAddr().String() != rpcOut.LocalAddr().String() {
		t.Errorf("RPC side got %v, want the RPC dial %v", rpc.c.RemoteAddr(), rpcOut.LocalAddr())
	}
	if got := readN(t, raft.c, len(raftMsg)); !bytes.Equal(got, raftMsg) {
		t.Errorf("raft side read % x, want % x (first byte replayed)", got, raftMsg)
	}
	if got := readN(t, rpc.c, len(rpcMsg)); !bytes.Equal(got, rpcMsg) {
		t.Errorf("RPC side read % x, want % x (preamble consumed)", got, rpcMsg)
	}

	// Both directions work on both sides after routing.
	write(t, raft.c, []byte("to-raft-dialer"))
	if got := readN(t, raftOut, 14); string(got) != "to-raft-dialer" {
		t.Errorf("raft dialer read %q", got)
	}
	write(t, rpc.c, []byte("to-rpc-dialer"))
	if got := readN(t, rpcOut, 13); string(got) != "to-rpc-dialer" {
		t.Errorf("RPC dialer read %q", got)
	}
	for proto, want := range map[string]float64{"raft": 1, "rpc": 1} {
		if got := labeledValue(t, reg, "tributary_cluster_conns_routed_total", "proto", proto); got != want {
			t.Errorf("routed_total{proto=%q} = %v, want %v", proto, got, want)
		}
	}
}

// TestCluster_ReplayedByteAloneThenStream reads the raft side one byte at
// a time and with a zero-length read first: the replayed byte is returned
// once, in order, and a zero-length read does not consume it.
func TestCluster_ReplayedByteAloneThenStream(t *testing.T) {
	l := listenCluster(t, wire.ClusterConfig{})
	in := acceptAsync(l)
	out := dial(t, l)
	write(t, out, []byte{3, 4, 5})
	r := <-in
	if r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	defer r.c.Close()
	if n, err := r.c.Read(nil); n != 0 || err != nil {
		t.Fatalf("zero-length read = %d, %v", n, err)
	}
	_ = r.c.SetReadDeadline(time.Now().Add(testTimeout))
	var got []byte
	for len(got) < 3 {
		b := make([]byte, 1)
		n, err := r.c.Read(b)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		got = append(got, b[:n]...)
	}
	if !bytes.Equal(got, []byte{3, 4, 5}) {
		t.Fatalf("read % x, want 03 04 05", got)
	}
}

// TestCluster_SilentConnDoesNotBlockOthers: a connection that never sends
// its first byte must not delay the routing of the ones behind it.
func TestCluster_SilentConnDoesNotBlockOthers(t *testing.T) {
	l := listenCluster(t, wire.ClusterConfig{FirstByteTimeout: time.Hour})
	dial(t, l) // never sends a byte
	raftIn, rpcIn := acceptAsync(l), acceptRPCAsync(l)
	dialRaft(t, l)
	dialRPC(t, l)
	for name, ch := range map[string]<-chan acceptResult{"raft": raftIn, "rpc": rpcIn} {
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatalf("%s Accept: %v", name, r.err)
			}
			defer r.c.Close()
		case <-time.After(testTimeout):
			t.Fatalf("%s Accept blocked behind a silent connection", name)
		}
	}
}

func TestCluster_SilentConnTimesOut(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := listenCluster(t, wire.ClusterConfig{FirstByteTimeout: 50 * time.Millisecond, Registerer: reg})
	silent := dial(t, l)
	_ = silent.SetReadDeadline(time.Now().Add(testTimeout))
	if n, err := silent.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("silent conn: read %d, %v; want it closed by the server", n, err)
	}
	if got := metricValue(t, reg, "tributary_cluster_conns_timed_out_total"); got != 1 {
		t.Errorf("timed_out_total = %v, want 1", got)
	}
	eventually(t, "the slot freed", func() bool { return metricValue(t, reg, "tributary_cluster_conns_open") == 0 })

	// A peer that connects and closes without a byte is not a timeout.
	quitter := dial(t, l)
	_ = quitter.Close()
	eventually(t, "the quitter's slot freed", func() bool { return metricValue(t, reg, "tributary_cluster_conns_open") == 0 })
	if got := metricValue(t, reg, "tributary_cluster_conns_timed_out_total"); got != 1 {
		t.Errorf("timed_out_total = %v after an early close, want still 1", got)
	}
}

// TestCluster_UnservedSideDropsConns: with nobody calling RPC().Accept,
// RPC connections are closed after HandoffTimeout, not queued, and raft is
// not affected.
func TestCluster_UnservedSideDropsConns(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := listenCluster(t, wire.ClusterConfig{HandoffTimeout: 50 * time.Millisecond, Registerer: reg})
	for range 3 {
		c := dialRPC(t, l)
		expectClosedByServer(t, c)
	}
	if got := labeledValue(t, reg, "tributary_cluster_conns_dropped_total", "proto", "rpc"); got != 3 {
		t.Errorf("dropped_total{proto=rpc} = %v, want 3", got)
	}
	eventually(t, "slots freed", func() bool { return metricValue(t, reg, "tributary_cluster_conns_open") == 0 })

	in := acceptAsync(l)
	dialRaft(t, l)
	if r := <-in; r.err != nil {
		t.Fatalf("raft Accept beside an unserved RPC side: %v", r.err)
	} else {
		_ = r.c.Close()
	}
	if got := labeledValue(t, reg, "tributary_cluster_conns_dropped_total", "proto", "raft"); got != 0 {
		t.Errorf("dropped_total{proto=raft} = %v, want 0", got)
	}
}

// TestCluster_RPCCloseStopsOnlyRPC: closing the RPC side ends its Accept,
// closes RPC connections that arrive later at once, and leaves raft
// working.
func TestCluster_RPCCloseStopsOnlyRPC(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := listenCluster(t, wire.ClusterConfig{HandoffTimeout: time.Hour, Registerer: reg})
	pending := acceptRPCAsync(l)
	if err := l.RPC().Close(); err != nil {
		t.Fatalf("RPC().Close: %v", err)
	}
	if r := <-pending; !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("RPC Accept after RPC().Close = %v, want net.ErrClosed", r.err)
	}
	if err := l.RPC().Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second RPC().Close = %v, want net.ErrClosed", err)
	}
	expectClosedByServer(t, dialRPC(t, l)) // at once, not after an hour
	if got := labeledValue(t, reg, "tributary_cluster_conns_dropped_total", "proto", "rpc"); got != 1 {
		t.Errorf("dropped_total{proto=rpc} = %v, want 1", got)
	}
	in := acceptAsync(l)
	dialRaft(t, l)
	if r := <-in; r.err != nil {
		t.Fatalf("raft Accept after RPC().Close: %v", r.err)
	} else {
		_ = r.c.Close()
	}
}

// TestCluster_CloseEndsBothAccepts: Close ends both sides' Accept with
// net.ErrClosed, cuts the connections still waiting for their first byte
// or for an Accept, and does not wait for their timeouts.
func TestCluster_CloseEndsBothAccepts(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, err := wire.ListenCluster(wire.ClusterConfig{
		Addr: "127.0.0.1:0", FirstByteTimeout: time.Hour, HandoffTimeout: time.Hour, Registerer: reg,
	})
	if err != nil {
		t.Fatal(err)
	}
	raftIn, rpcIn := acceptAsync(l), acceptRPCAsync(l)
	// Taken before Close: it stays open, it belongs to its acceptor.
	kept := dialRaft(t, l)
	r := <-raftIn
	if r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	defer r.c.Close()

	silent := dial(t, l)
	eventually(t, "the silent conn admitted", func() bool { return metricValue(t, reg, "tributary_cluster_conns_open") == 2 })
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := <-rpcIn; !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("pending RPC Accept after Close = %v, want net.ErrClosed", r.err)
	}
	for name, accept := range map[string]func() (net.Conn, error){"raft": l.Accept, "rpc": l.RPC().Accept} {
		if c, err := accept(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s Accept after Close = %v, %v; want net.ErrClosed", name, c, err)
		}
	}
	expectClosedByServer(t, silent)
	if got := metricValue(t, reg, "tributary_cluster_conns_timed_out_total"); got != 0 {
		t.Errorf("timed_out_total = %v, want 0: a conn cut by Close did not time out", got)
	}
	if got := metricValue(t, reg, "tributary_cluster_conns_open"); got != 1 {
		t.Errorf("conns_open = %v after Close, want 1 (the accepted one)", got)
	}
	write(t, kept, []byte("still"))
	if got := readN(t, r.c, 6); string(got) != "\x00still" {
		t.Errorf("accepted conn after Close read %q", got)
	}
	if _, err := l.Dial(l.Addr().String(), time.Second); err == nil {
		t.Error("Dial to a closed cluster port succeeded")
	}
}

func TestCluster_DialRPCErrorIsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := listenCluster(t, wire.ClusterConfig{Registerer: reg})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	if _, err := l.DialRPC(addr, testTimeout); err == nil {
		t.Fatal("DialRPC to a closed port succeeded")
	}
	if got := metricValue(t, reg, "tributary_cluster_dial_errors_total"); got != 1 {
		t.Errorf("dial_errors_total = %v, want 1", got)
	}
}

func write(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	_ = c.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testTimeout))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return b
}

// expectClosedByServer waits until the server closes c.
func expectClosedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testTimeout))
	if n, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read %d, %v; want the connection closed by the server", n, err)
	}
}

// eventually polls cond until it holds; it fails only after testTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, testTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// labeledValue returns the counter of family name whose label has value.
func labeledValue(t *testing.T, g prometheus.Gatherer, name, label, value string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("metric %s{%s=%q} not registered", name, label, value)
	return 0
}
