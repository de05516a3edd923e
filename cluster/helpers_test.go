package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"tributary/raftstore"
	"tributary/raftstore/storetest"
)

// testStack is one real node: a single-voter raft store in a temp dir and
// the cluster node on it.
type testStack struct {
	t     *testing.T
	dir   string
	store *raftstore.Store
	node  *Node
	clock *testClock
}

// testClock is a settable clock; tests move it to expire messages and
// sessions.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *testClock) advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func newStack(t *testing.T) *testStack {
	t.Helper()
	st := &testStack{t: t, dir: t.TempDir(), clock: &testClock{}}
	st.clock.ms.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	st.open()
	t.Cleanup(st.close)
	return st
}

// open starts the store and the node on st.dir.
func (st *testStack) open() {
	t := st.t
	t.Helper()
	var node atomic.Pointer[Node]
	store := storetest.OpenOneNode(t, st.dir, nil, func(evs []raftstore.Event) {
		if n := node.Load(); n != nil {
			n.HandleEvents(evs)
		}
	})
	n, err := New(Config{
		NodeID: "n1", Store: store, Now: st.clock.now,
		TickInterval: 20 * time.Millisecond, MaxQueuedMessages: 50,
	})
	if err != nil {
		t.Fatalf("new node: %v", err)
	}
	node.Store(n)
	st.store, st.node = store, n
}

func (st *testStack) close() {
	if st.node != nil {
		st.node.Close()
	}
	if st.store != nil {
		if err := st.store.Close(); err != nil {
			st.t.Errorf("close store: %v", err)
		}
	}
	st.node, st.store = nil, nil
}

// testConn is a connection that records what the session sends. It is
// the Conn side of a real session, not a stand-in for a client: the
// clients are in wire's and cmd's tests.
type testConn struct {
	out     chan Outbound
	kicked  chan byte
	full    atomic.Bool  // refuse everything, like a full outbound buffer
	refused atomic.Int64 // sends refused while full
	once    sync.Once
}

func newTestConn() *testConn {
	return &testConn{out: make(chan Outbound, 1000), kicked: make(chan byte, 1)}
}

func (c *testConn) Send(o Outbound) bool {
	if c.full.Load() {
		c.refused.Add(1)
		return false
	}
	c.out <- o
	return true
}

func (c *testConn) Kick(reason byte) { c.once.Do(func() { c.kicked <- reason }) }

// next waits for the next outbound packet.
func (c *testConn) next(t *testing.T) Outbound {
	t.Helper()
	select {
	case o := <-c.out:
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("no outbound packet within 10s")
		return Outbound{}
	}
}

// none checks that nothing more is sent within a short while. It can only
// miss a late packet, never report a false one.
func (c *testConn) none(t *testing.T) {
	t.Helper()
	select {
	case o := <-c.out:
		t.Fatalf("unexpected outbound packet: id %d qos %d pubrel %v", o.PacketID, o.QoS, o.PubRel)
	case <-time.After(100 * time.Millisecond):
	}
}

func (st *testStack) connect(req ConnectRequest) (*Session, *testConn, ConnectResult) {
	st.t.Helper()
	if req.ProtocolVersion == 0 {
		req.ProtocolVersion = 5
	}
	c := newTestConn()
	s, res, err := st.node.Connect(context.Background(), req, c)
	if err != nil {
		st.t.Fatalf("connect %q: %v", req.ClientID, err)
	}
	return s, c, res
}

func subscribe(t *testing.T, s *Session, subs ...raftstore.Subscription) {
	t.Helper()
	if err := s.Subscribe(context.Background(), subs, nil); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
}

// publish publishes and waits for the commit (QoS 1/2) or the delivery
// (QoS 0).
func publish(t *testing.T, s *Session, m raftstore.Message, packetID uint16) raftstore.PublishResult {
	t.Helper()
	type answer struct {
		r   raftstore.PublishResult
		err error
	}
	ch := make(chan answer, 1)
	if err := s.Publish(context.Background(), m, packetID, func(r raftstore.PublishResult, err error) { ch <- answer{r, err} }); err != nil {
		t.Fatalf("publish: %v", err)
	}
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatalf("publish: %v", a.err)
		}
		return a.r
	case <-time.After(10 * time.Second):
		t.Fatal("publish not answered within 10s")
		return raftstore.PublishResult{}
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
