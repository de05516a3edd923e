package cluster

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"tributary/cluster/peer"
	"tributary/raftstore"
)

// A three-node cluster in process, on loopback TCP: each node has its
// raft store (raft on a listener of its own), its cluster Node, and a
// peer server on a second listener; Config.PeerAddr maps node ids to
// those. No wire involved: the cluster port's demultiplexing is wire's.

// clusterWithin bounds every wait on the cluster; it only turns a hang
// into a failure.
const clusterWithin = 30 * time.Second

type member struct {
	id       string
	dir      string
	store    *raftstore.Store
	node     *Node
	peers    *peer.Client
	srv      *peer.Server
	raftAddr string
	peerAddr string
	// gate, when set, holds forwarded proposals at this node's server
	// (see TestForwardDuringLeaderShutdown).
	gate atomic.Pointer[chan struct{}]
	down bool
}

type testCluster struct {
	t       *testing.T
	members []*member
	clock   *testClock
}

func within(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clusterWithin)
	t.Cleanup(cancel)
	return ctx
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// newCluster starts n1 (bootstrapped), adds n2 and n3 as voters, and
// waits until every store is ready.
func newCluster(t *testing.T) *testCluster {
	t.Helper()
	c := &testCluster{t: t, clock: &testClock{}}
	c.clock.ms.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli())
	peerLns := make([]net.Listener, 3)
	peerAddrs := make(map[string]string, 3)
	for i := range 3 {
		peerLns[i] = listenLoopback(t)
		id := fmt.Sprintf("n%d", i+1)
		peerAddrs[id] = peerLns[i].Addr().String()
		// The data directory first: cleanups run last-registered first, and
		// the stores must close before their directories go.
		c.members = append(c.members, &member{id: id, peerAddr: peerAddrs[id], dir: t.TempDir()})
	}
	t.Cleanup(c.close)
	for i, m := range c.members {
		c.start(m, i > 0, peerLns[i], func(nodeID, _ string) string { return peerAddrs[nodeID] })
		if i == 0 {
			c.waitReady(m, true)
			continue
		}
		if err := c.members[0].store.AddVoter(m.id, m.raftAddr); err != nil {
			t.Fatalf("add voter %s: %v", m.id, err)
		}
	}
	for _, m := range c.members {
		c.waitReady(m, false)
	}
	return c
}

// start opens m's store, node and peer server.
func (c *testCluster) start(m *member, join bool, peerLn net.Listener, peerAddr func(string, string) string) {
	t := c.t
	t.Helper()
	raftLn := listenLoopback(t)
	m.raftAddr = raftLn.Addr().String()
	var node atomic.Pointer[Node]
	store, err := raftstore.Open(raftstore.Config{
		NodeID:  m.id,
		DataDir: m.dir,
		StreamLayer: raftstore.NewStreamLayer(raftLn, func(addr string, timeout time.Duration) (net.Conn, error) {
			return net.DialTimeout("tcp", addr, timeout)
		}),
		NoBootstrap:      join,
		LogCheckInterval: time.Hour,
		SnapshotInterval: time.Hour,
		OnEvents: func(evs []raftstore.Event) {
			if n := node.Load(); n != nil {
				n.HandleEvents(evs)
			}
		},
	})
	if err != nil {
		t.Fatalf("open store %s: %v", m.id, err)
	}
	m.store = store
	m.peers = peer.NewClient(peer.ClientConfig{})
	n, err := New(Config{
		NodeID: m.id, Store: store, Now: c.clock.now,
		TickInterval: 50 * time.Millisecond, ProposeTimeout: 20 * time.Second,
		Peers: m.peers, PeerAddr: peerAddr,
	})
	if err != nil {
		t.Fatalf("new node %s: %v", m.id, err)
	}
	node.Store(n)
	m.node = n
	m.srv = peer.NewServer(peer.ServerConfig{})
	m.srv.Handle(peer.KindForward, func(ctx context.Context, body []byte, reply func([]byte, error)) {
		if g := m.gate.Load(); g != nil {
			*g <- struct{}{}
			<-ctx.Done() // held until the connection (the server) closes
			return
		}
		n.handleForward(ctx, body, reply)
	})
	m.srv.Handle(peer.KindDeliver, n.handleDeliver)
	go func() { _ = m.srv.Serve(peerLn) }()
}

func (c *testCluster) waitReady(m *member, leader bool) {
	t := c.t
	t.Helper()
	deadline := time.Now().Add(clusterWithin)
	for m.store.Ready() != nil || leader && !m.store.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %v: %v", m.id, clusterWithin, m.store.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shutdown stops m as a process would: node, peer server, then store.
func (c *testCluster) shutdown(m *member) {
	if m.down {
		return
	}
	m.down = true
	m.node.Close()
	if err := m.srv.Close(); err != nil {
		c.t.Errorf("close peer server %s: %v", m.id, err)
	}
	if err := m.peers.Close(); err != nil {
		c.t.Errorf("close peer client %s: %v", m.id, err)
	}
	if err := m.store.Close(); err != nil {
		c.t.Logf("close store %s: %v", m.id, err)
	}
}

func (c *testCluster) close() {
	for _, m := range c.members {
		if m.store != nil {
			c.shutdown(m)
		}
	}
}

func (c *testCluster) leader() *member {
	c.t.Helper()
	for _, m := range c.members {
		if !m.down && m.store.IsLeader() {
			return m
		}
	}
	c.t.Fatal("no leader")
	return nil
}

func (c *testCluster) followers() []*member {
	var out []*member
	for _, m := range c.members {
		if !m.down && !m.store.IsLeader() {
			out = append(out, m)
		}
	}
	if len(out) < 2 {
		c.t.Fatalf("%d followers, want 2", len(out))
	}
	return out
}

// catchUp waits until m has applied everything from has applied.
func (c *testCluster) catchUp(m, from *member) {
	c.t.Helper()
	if err := m.store.WaitApplied(within(c.t), from.store.AppliedIndex()); err != nil {
		c.t.Fatalf("%s catching up with %s: %v", m.id, from.id, err)
	}
}

func (c *testCluster) connect(m *member, req ConnectRequest) (*Session, *testConn, ConnectResult) {
	c.t.Helper()
	if req.ProtocolVersion == 0 {
		req.ProtocolVersion = 5
	}
	conn := newTestConn()
	s, res, err := m.node.Connect(within(c.t), req, conn)
	if err != nil {
		c.t.Fatalf("connect %q on %s: %v", req.ClientID, m.id, err)
	}
	return s, conn, res
}
