package mqtt

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"tributary/cluster"
	"tributary/raftstore"
	"tributary/raftstore/storetest"
)

// waitFor bounds every wait in these tests. It only ever fails a test that
// hangs: nothing asserts how fast something happens.
const waitFor = 10 * time.Second

// stack is the whole broker of one node, as `tributary serve` runs it: a
// single-voter raft store in a temporary directory, the cluster node on
// it, and the MQTT server on 127.0.0.1:0.
type stack struct {
	t     testing.TB
	store *raftstore.Store
	node  *cluster.Node
	srv   *Server
	reg   *prometheus.Registry
	clock *testClock
	// events routes the store's events to the node once it exists.
	events *atomic.Pointer[cluster.Node]
}

// testClock is the node's and the server's clock: real time plus an offset
// that tests move forward to expire messages.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// stackOptions adjusts a stack before it starts.
type stackOptions struct {
	config func(*Config)
	hooks  testHooks
}

func newStack(t testing.TB, opts stackOptions) *stack {
	t.Helper()
	st := &stack{t: t, reg: prometheus.NewRegistry(), clock: &testClock{}}
	st.openStore(t.TempDir())
	t.Cleanup(st.close)
	node, err := cluster.New(cluster.Config{
		NodeID: "n1", Store: st.store, Now: st.clock.now, TickInterval: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	st.node = node
	st.events.Store(node)
	cfg := Config{Addr: "127.0.0.1:0", Node: node, Registerer: st.reg, Logger: testLogger()}
	if opts.config != nil {
		opts.config(&cfg)
	}
	hooks := opts.hooks
	hooks.now = st.clock.now
	srv, err := listen(cfg, hooks)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	st.srv = srv
	return st
}

func (st *stack) openStore(dir string) {
	t := st.t
	t.Helper()
	var node atomic.Pointer[cluster.Node]
	store := storetest.OpenOneNode(t, dir, nil, func(evs []raftstore.Event) {
		if n := node.Load(); n != nil {
			n.HandleEvents(evs)
		}
	})
	st.store = store
	st.events = &node
}

// close stops the server, then the node, then the store: the order
// `tributary serve` must use, so sessions close while the log still runs.
func (st *stack) close() {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if st.srv != nil {
		if err := st.srv.Shutdown(ctx); err != nil {
			st.t.Errorf("shutdown: %v", err)
		}
	}
	if st.node != nil {
		st.node.Close()
	}
	if err := st.store.Close(); err != nil {
		st.t.Errorf("close store: %v", err)
	}
}

func (st *stack) addr() string { return st.srv.Addr().String() }

// testLogger discards logs unless TRIBUTARY_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TRIBUTARY_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// counter reads a counter of the stack's registry; labels select one
// child of a vector.
func (st *stack) counter(name string, labels ...string) float64 {
	st.t.Helper()
	mfs, err := st.reg.Gather()
	if err != nil {
		st.t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if matchLabels(m, labels) {
				if g := m.GetGauge(); g != nil {
					return g.GetValue()
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func matchLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds; it fails only after waitFor.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// connOf returns the server's connection of clientID once its CONNACK is
// queued.
func (st *stack) connOf(t testing.TB, clientID string) *conn {
	t.Helper()
	var found *conn
	eventually(t, "connection of "+clientID, func() bool {
		for _, c := range st.srv.snapshot() {
			c.mu.Lock()
			ok := c.connacked && c.clientID == clientID
			c.mu.Unlock()
			if ok {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

func contextWithWait() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), waitFor)
}

// dialRawErr dials without failing the test.
func dialRawErr(addr string) (net.Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, waitFor)
	if err == nil {
		_ = nc.Close()
	}
	return nc, err
}
