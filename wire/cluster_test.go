package wire_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tributary/wire"
)

// The cluster port must be usable wherever a net.Listener is expected
// (raftstore.NewStreamLayer takes one).
var _ net.Listener = (*wire.ClusterListener)(nil)

func listenCluster(t *testing.T, cfg wire.ClusterConfig) *wire.ClusterListener {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	l, err := wire.ListenCluster(cfg)
	if err != nil {
		t.Fatalf("ListenCluster: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

type acceptResult struct {
	c   net.Conn
	err error
}

func acceptAsync(l *wire.ClusterListener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := l.Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

func TestCluster_DialAcceptRoundTrip(t *testing.T) {
	l := listenCluster(t, wire.ClusterConfig{})
	accepted := acceptAsync(l)
	out, err := l.Dial(l.Addr().String(), testTimeout)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer out.Close()
	_ = out.SetDeadline(time.Now().Add(testTimeout))
	// The first byte routes the connection, so it is written before the
	// connection can be accepted; Accept must hand it back intact.
	if _, err := out.Write([]byte("ping")); err != nil {
		t.Fatalf("write: %v", err)
	}
	r := <-accepted
	if r.err != nil {
		t.Fatalf("Accept: %v", r.err)
	}
	in := r.c
	defer in.Close()
	_ = in.SetDeadline(time.Now().Add(testTimeout))

	buf := make([]byte, 4)
	if _, err := io.ReadFull(in, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read on accepted side = %q, %v", buf, err)
	}
	if _, err := in.Write([]byte("pong")); err != nil {
		t.Fatalf("write back: %v", err)
	}
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("read on dialed side = %q, %v", buf, err)
	}
	if in.RemoteAddr().String() != out.LocalAddr().String() {
		t.Errorf("accepted RemoteAddr %v != dialed LocalAddr %v", in.RemoteAddr(), out.LocalAddr())
	}
}

func TestCluster_MaxConnsRejectsAndFreesSlots(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := listenCluster(t, wire.ClusterConfig{MaxConns: 1, Registerer: reg})

	first := acceptAsync(l)
	c1 := dialRaft(t, l)
	r1 := <-first
	if r1.err != nil {
		t.Fatalf("Accept first: %v", r1.err)
	}

	next := acceptAsync(l) // the second is rejected, the third taken
	c2 := dial(t, l)
	_ = c2.SetReadDeadline(time.Now().Add(testTimeout))
	if n, err := c2.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("second conn over MaxConns: read %d, %v; want it closed by the server", n, err)
	}
	if got := metricValue(t, reg, "tributary_cluster_conns_rejected_total"); got != 1 {
		t.Errorf("rejected_total = %v, want 1", got)
	}

	// Closing twice must free exactly one slot.
	if err := r1.c.Close(); err != nil {
		t.Fatalf("close first: %v", err)
	}
	if err := r1.c.Close(); err == nil {
		t.Error("second Close of the same conn returned nil, want the closed-conn error")
	}
	c3 := dialRaft(t, l)
	r3 := <-next
	if r3.err != nil {
		t.Fatalf("Accept third after a slot freed: %v", r3.err)
	}
	defer r3.c.Close()
	if r3.c.RemoteAddr().String() != c3.LocalAddr().String() {
		t.Errorf("accepted %v, want the third dial %v", r3.c.RemoteAddr(), c3.LocalAddr())
	}
	if got := metricValue(t, reg, "tributary_cluster_conns_open"); got != 1 {
		t.Errorf("conns_open = %v, want 1", got)
	}
	if got := metricValue(t, reg, "tributary_cluster_conns_accepted_total"); got != 2 {
		t.Errorf("accepted_total = %v, want 2", got)
	}
	_ = c1.Close()

	// A slot is held from the TCP accept, before the first byte routes
	// the connection: a silent connection counts, and RPC connections
	// share the budget with raft.
	if err := r3.c.Close(); err != nil {
		t.Fatalf("close third: %v", err)
	}
	eventually(t, "the third's slot freed", func() bool { return metricValue(t, reg, "tributary_cluster_conns_open") == 0 })
	silent := dial(t, l)
	eventually(t, "the silent conn admitted", func() bool { return metricValue(t, reg, "tributary_cluster_conns_open") == 1 })
	over := dialRaft(t, l)
	_ = over.SetReadDeadline(time.Now().Add(testTimeout))
	if n, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("conn past a silent one holding the slot: read %d, %v; want it closed by the server", n, err)
	}
	if got := metricValue(t, reg, "tributary_cluster_conns_rejected_total"); got != 2 {
		t.Errorf("rejected_total = %v, want 2", got)
	}
	_ = silent.Close() // the server sees EOF instead of a first byte and frees the slot
	eventually(t, "the silent conn's slot freed", func() bool { return metricValue(t, reg, "tributary_cluster_conns_open") == 0 })
	rpcAccepted := acceptRPCAsync(l)
	rpc := dialRPC(t, l)
	r := <-rpcAccepted
	if r.err != nil {
		t.Fatalf("RPC Accept after the slot freed: %v", r.err)
	}
	defer r.c.Close()
	if r.c.RemoteAddr().String() != rpc.LocalAddr().String() {
		t.Errorf("RPC accepted %v, want %v", r.c.RemoteAddr(), rpc.LocalAddr())
	}
}

func TestCluster_AcceptAfterClose(t *testing.T) {
	l := listenCluster(t, wire.ClusterConfig{})
	pending := acceptAsync(l)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	r := <-pending
	if !errors.Is(r.err, net.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want net.ErrClosed", r.err)
	}
}

func TestCluster_DialErrorIsCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := listenCluster(t, wire.ClusterConfig{Registerer: reg})
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()

	_, err = l.Dial(addr, testTimeout)
	if err == nil || !strings.Contains(err.Error(), "wire: cluster dial "+addr) {
		t.Fatalf("Dial to a closed port = %v, want a wrapped dial error", err)
	}
	if got := metricValue(t, reg, "tributary_cluster_dial_errors_total"); got != 1 {
		t.Errorf("dial_errors_total = %v, want 1", got)
	}
}

func TestListenCluster_DuplicateMetricsFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	listenCluster(t, wire.ClusterConfig{Registerer: reg})
	_, err := wire.ListenCluster(wire.ClusterConfig{Addr: "127.0.0.1:0", Registerer: reg})
	if err == nil || !strings.Contains(err.Error(), "wire: cluster metrics") {
		t.Fatalf("second listener on one registry = %v, want a metrics registration error", err)
	}
}

func TestListenCluster_BindError(t *testing.T) {
	l := listenCluster(t, wire.ClusterConfig{})
	_, err := wire.ListenCluster(wire.ClusterConfig{Addr: l.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "wire: cluster listen") {
		t.Fatalf("ListenCluster on a busy port = %v, want a listen error", err)
	}
}

func TestClusterConfig_ValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := wire.ClusterConfig{
		Addr:             "nohostport",
		MaxConns:         -1,
		DialTimeout:      -time.Second,
		KeepAliveProbes:  -2,
		FirstByteTimeout: -time.Second,
		HandoffTimeout:   -time.Second,
	}.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	for _, want := range []string{"Addr", "MaxConns is negative", "DialTimeout is negative", "KeepAliveProbes is negative",
		"FirstByteTimeout is negative", "HandoffTimeout is negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
	if err := (wire.ClusterConfig{Addr: "127.0.0.1:7946"}).Validate(); err != nil {
		t.Errorf("Validate of a minimal config = %v, want nil", err)
	}
}

// dial opens a connection to l that has sent nothing yet.
func dial(t *testing.T, l *wire.ClusterListener) net.Conn {
	t.Helper()
	c, err := l.Dial(l.Addr().String(), testTimeout)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// dialRaft opens a connection that l routes to raft: it sends raft's
// AppendEntries type byte (0), as a raft transport's first byte.
func dialRaft(t *testing.T, l *wire.ClusterListener) net.Conn {
	t.Helper()
	c := dial(t, l)
	_ = c.SetWriteDeadline(time.Now().Add(testTimeout))
	if _, err := c.Write([]byte{0}); err != nil {
		t.Fatalf("write raft's first byte: %v", err)
	}
	return c
}

// dialRPC opens a connection with DialRPC.
func dialRPC(t *testing.T, l *wire.ClusterListener) net.Conn {
	t.Helper()
	c, err := l.DialRPC(l.Addr().String(), testTimeout)
	if err != nil {
		t.Fatalf("DialRPC: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func acceptRPCAsync(l *wire.ClusterListener) <-chan acceptResult {
	ch := make(chan acceptResult, 1)
	go func() {
		c, err := l.RPC().Accept()
		ch <- acceptResult{c, err}
	}()
	return ch
}

// metricValue gathers g and returns the value of the counter or gauge
// registered under name.
func metricValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) != 1 {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}
