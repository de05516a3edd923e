package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// hashFSM applies commands into a count and a hash chain, so two replicas
// agree only if they applied the same commands in the same order.
type hashFSM struct {
	mu    sync.Mutex
	count uint64
	hash  uint64
}

func (f *hashFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	h := fnv.New64a()
	_ = binary.Write(h, binary.BigEndian, f.hash)
	_, _ = h.Write(l.Data)
	f.count, f.hash = f.count+1, h.Sum64()
	return nil
}

func (f *hashFSM) state() (uint64, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count, f.hash
}

func (f *hashFSM) Snapshot() (raft.FSMSnapshot, error) {
	count, hash := f.state()
	return fsmSnapshot(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, count), hash)), nil
}

func (f *hashFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [16]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count, f.hash = binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	return nil
}

type fsmSnapshot []byte

func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (fsmSnapshot) Release() {}

// raftNode is one member of the in-process cluster.
type raftNode struct {
	id    raft.ServerID
	addr  raft.ServerAddress
	fs    *vfs.MemFS
	store *Store
	snaps *raft.InmemSnapshotStore
	trans *raft.InmemTransport
	fsm   *hashFSM
	raft  *raft.Raft
}

func raftConfig(id raft.ServerID) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = id
	// Short enough for a quick election, long enough that a leader stalled
	// by -race and the rest of `go test ./...` on two cores keeps its
	// lease: a lost leadership fails applyN. (250ms lost it at a load
	// average of 8 on two cores.)
	c.HeartbeatTimeout = time.Second
	c.ElectionTimeout = time.Second
	c.LeaderLeaseTimeout = time.Second
	c.CommitTimeout = 5 * time.Millisecond
	c.MaxAppendEntries = 128
	c.TrailingLogs = 100
	c.SnapshotThreshold = 1 << 40 // snapshots are taken explicitly
	c.Logger = hclog.NewNullLogger()
	return c
}

// start (re)starts n's raft on its store, with a fresh FSM and transport
// connected to peers, as a restarted process would.
func (n *raftNode) start(t *testing.T, peers []*raftNode) {
	t.Helper()
	n.fsm = &hashFSM{}
	_, n.trans = raft.NewInmemTransport(n.addr)
	for _, p := range peers {
		if p != n && p.trans != nil {
			n.trans.Connect(p.addr, p.trans)
			p.trans.Connect(n.addr, n.trans)
		}
	}
	r, err := raft.NewRaft(raftConfig(n.id), n.fsm, n.store, n.store, n.snaps, n.trans)
	if err != nil {
		t.Fatalf("NewRaft %s: %v", n.id, err)
	}
	n.raft = r
	// A failing test returns before stop: shut raft down before the
	// store's cleanup closes it, or raft panics on the closed store and
	// hides the failure. (Cleanups run last-registered first.)
	t.Cleanup(func() { _ = r.Shutdown().Error() })
}

func (n *raftNode) stop(t *testing.T) {
	t.Helper()
	if err := n.raft.Shutdown().Error(); err != nil {
		t.Fatalf("Shutdown %s: %v", n.id, err)
	}
	mustClose(t, n.store)
}

// TestRaftCluster runs a three-node raft cluster on our stores over
// raft.InmemTransport, applies a few thousand entries, crash-restarts a
// follower (its store reopened from synced data only) while the leader
// compacts its log past that follower, and checks that the follower catches
// up through a snapshot and every replica applied the same commands.
func TestRaftCluster(t *testing.T) {
	t.Parallel()
	nodes := make([]*raftNode, 3)
	var servers []raft.Server
	for i := range nodes {
		n := &raftNode{id: raft.ServerID(fmt.Sprint("node", i)), addr: raft.ServerAddress(fmt.Sprint("addr", i)),
			fs: vfs.NewCrashableMem(), snaps: raft.NewInmemSnapshotStore()}
		n.store = mustOpen(t, n.fs)
		nodes[i] = n
		servers = append(servers, raft.Server{ID: n.id, Address: n.addr})
	}
	for _, n := range nodes {
		n.start(t, nodes)
	}
	if err := nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		t.Fatalf("BootstrapCluster: %v", err)
	}
	leader := waitLeader(t, nodes)
	applyN(t, leader, 0, 2000)
	waitConverged(t, nodes)

	follower := nodes[0]
	if follower == leader {
		follower = nodes[1]
	}
	followerLast, _ := follower.store.LastIndex()
	follower.stop(t)

	applyN(t, leader, 2000, 1500)
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatalf("leader Snapshot: %v", err)
	}
	if first, _ := leader.store.FirstIndex(); first <= followerLast {
		t.Fatalf("leader log starts at %d, not past the follower's %d; no snapshot would be sent", first, followerLast)
	}

	follower.fs = follower.fs.CrashClone(vfs.CrashCloneCfg{})
	follower.store = mustOpen(t, follower.fs)
	follower.start(t, nodes)
	applyN(t, leader, 3500, 500)
	waitConverged(t, nodes)
	if err := checkContiguous(t, follower.store); err != nil {
		t.Fatalf("restarted follower's log: %v", err)
	}
	if snaps, err := follower.snaps.List(); err != nil || len(snaps) == 0 {
		t.Fatalf("restarted follower caught up without a snapshot (%v)", err)
	}
	// IsMonotonic: after installing the snapshot raft removed the old log
	// instead of leaving it below a gap.
	if first, _ := follower.store.FirstIndex(); first <= followerLast {
		t.Fatalf("follower log starts at %d, still holding pre-snapshot entries up to %d", first, followerLast)
	}
	for _, n := range nodes {
		n.stop(t)
	}
}

func waitLeader(t *testing.T, nodes []*raftNode) *raftNode {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				return n
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("no leader elected within 10s")
	return nil
}

// applyN applies count commands numbered from start and waits for all.
func applyN(t *testing.T, leader *raftNode, start, count int) {
	t.Helper()
	futures := make([]raft.ApplyFuture, 0, count)
	for i := start; i < start+count; i++ {
		data := fmt.Appendf(nil, "command %06d %x", i, make([]byte, 40))
		futures = append(futures, leader.raft.Apply(data, 5*time.Second))
	}
	for i, f := range futures {
		if err := f.Error(); err != nil {
			t.Fatalf("Apply %d: %v", start+i, err)
		}
	}
}

// waitConverged waits until every node's FSM holds the leader's state.
func waitConverged(t *testing.T, nodes []*raftNode) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		c0, h0 := nodes[0].fsm.state()
		same := true
		for _, n := range nodes[1:] {
			if c, h := n.fsm.state(); c != c0 || h != h0 {
				same = false
			}
		}
		if same && c0 > 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, n := range nodes {
		c, h := n.fsm.state()
		t.Logf("%s: applied %d commands, hash %x", n.id, c, h)
	}
	t.Fatal("replicas did not converge within 10s")
}

// checkContiguous checks that every index in [FirstIndex, LastIndex] is
// readable and holds its own index.
func checkContiguous(t *testing.T, s *Store) error {
	t.Helper()
	first, err1 := s.FirstIndex()
	last, err2 := s.LastIndex()
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if first == 0 || last < first {
		return fmt.Errorf("bounds [%d,%d]", first, last)
	}
	for i := first; i <= last; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || l.Index != i {
			return fmt.Errorf("GetLog(%d) = index %d, %v", i, l.Index, err)
		}
	}
	return nil
}
