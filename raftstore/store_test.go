package raftstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"tributary/raftstore/logstore"
)

func TestStoreProposeAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, testConfig(t, dir))
	if got := binary.BigEndian.Uint64(propose(t, s, must(KVAdd([]byte("n"), 41)))); got != 41 {
		t.Fatalf("add answered %d", got)
	}
	propose(t, s, must(KVPut([]byte("name"), []byte("tributary"))))
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}

	s = openStore(t, testConfig(t, dir))
	defer s.Close()
	if got := binary.BigEndian.Uint64(propose(t, s, must(KVAdd([]byte("n"), 1)))); got != 42 {
		t.Fatalf("after restart add answered %d, want 42", got)
	}
	if v, ok, err := s.KVGet([]byte("name")); err != nil || !ok || string(v) != "tributary" {
		t.Fatalf("after restart name = %q %v %v", v, ok, err)
	}
}

func TestStoreRefusesAnotherNodesDataDir(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, testConfig(t, dir))
	s.Close()
	cfg := testConfig(t, dir)
	cfg.NodeID = "n2"
	if s, err := Open(cfg); err == nil || !strings.Contains(err.Error(), `belongs to node "n1"`) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("open with another node id: err = %v", err)
	}
}

func TestConfigValidateReportsEveryProblem(t *testing.T) {
	err := Config{MaxAppendEntries: 5000, SnapshotRetain: -1}.Validate()
	for _, want := range []string{"NodeID", "DataDir", "StreamLayer", "MaxAppendEntries", "SnapshotRetain"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to name %s", err, want)
		}
	}
}

// TestStoreStopsOnUnknownCommand is what a rolling upgrade relies on: a
// command written by a newer binary stops this node, before and after a
// restart, instead of being skipped.
func TestStoreStopsOnUnknownCommand(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, testConfig(t, dir))
	propose(t, s, must(KVAdd([]byte("n"), 1)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.Propose(ctx, Command{Type: 4242, Version: 1, Payload: []byte("future")})
	if err == nil {
		t.Fatal("unknown command committed without error")
	}
	waitDone(t, s)
	if !errors.Is(s.Err(), ErrUnknownCommand) {
		t.Fatalf("Err() = %v, want ErrUnknownCommand", s.Err())
	}
	if s.Ready() == nil {
		t.Fatal("a stopped store says it is ready")
	}
	if _, err := s.Propose(ctx, must(KVAdd([]byte("n"), 1))); !errors.Is(err, ErrClosed) {
		t.Fatalf("propose after stop: %v, want ErrClosed", err)
	}
	s.Close()

	s, err = Open(testConfig(t, dir))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	waitDone(t, s) // replaying the same entry stops it again
	if !errors.Is(s.Err(), ErrUnknownCommand) {
		t.Fatalf("after restart Err() = %v, want ErrUnknownCommand", s.Err())
	}
	// A stopped store closes itself and answers no reads: look at its state
	// database directly, once it is closed, for the entry before the
	// unknown one.
	s.Close()
	f := newTestFSM(t, vfs.Default, filepath.Join(dir, "fsm"))
	if got := counterOf(t, f, "n"); got != 1 {
		t.Fatalf("counter = %d, want 1", got)
	}
}

func waitDone(t *testing.T, s *Store) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("store did not stop")
	}
}

// TestCrashKeepsAcknowledgedCommands crashes the node's disk (a crash clone
// of an in-memory filesystem that drops unsynced writes) while proposals are
// in flight, many times: every command acknowledged before the crash is in
// the state after restart, exactly once.
func TestCrashKeepsAcknowledgedCommands(t *testing.T) {
	for seed := int64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			dir := t.TempDir() // snapshots live here; the databases live in fs
			cfg := testConfig(t, dir)
			cfg.FS = fs
			cfg.SnapshotThreshold = 64
			cfg.TrailingLogs = 16
			cfg.SnapshotInterval = 50 * time.Millisecond
			s := openStore(t, cfg)

			// A command counts as acknowledged only if its Propose returned
			// before the crash image was taken: crashed is set first, so
			// a worker that still sees it false returned before the clone.
			var acked sync.Map
			var crashed atomic.Bool
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ctx.Err() == nil; i++ {
						key := fmt.Sprintf("w%d-%d", w, i)
						if _, err := s.Propose(ctx, must(KVAdd([]byte(key), 1))); err == nil && !crashed.Load() {
							acked.Store(key, true)
						}
					}
				}()
			}
			waitForCount(t, &acked, 300)
			crashed.Store(true)
			crashedFS := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(uint64(seed), 1))})
			cancel()
			wg.Wait()
			s.Close()

			cfg = testConfig(t, dir)
			cfg.FS = crashedFS
			s = openStore(t, cfg)
			defer s.Close()
			n := 0
			acked.Range(func(k, _ any) bool {
				n++
				if got := counter(t, s, k.(string)); got != 1 {
					t.Errorf("acknowledged %s has count %d after the crash, want 1", k, got)
				}
				return true
			})
			if n < 300 {
				t.Fatalf("only %d acknowledged", n)
			}
		})
	}
}

func waitForCount(t *testing.T, m *sync.Map, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c := 0
		m.Range(func(_, _ any) bool { c++; return c < n })
		if c >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d acknowledgements in time", n)
}

// TestLostStateIsRestoredFromSnapshot removes the state database of a
// stopped node whose log was truncated behind a snapshot: raft alone would
// replay only the entries after the snapshot, so the store restores the
// snapshot first and the state comes back whole.
func TestLostStateIsRestoredFromSnapshot(t *testing.T) {
	fs := vfs.NewMem()
	dir := t.TempDir()
	cfg := testConfig(t, dir)
	cfg.FS = fs
	cfg.TrailingLogs = 5
	s := openStore(t, cfg)
	for i := 0; i < 50; i++ {
		propose(t, s, must(KVAdd([]byte("n"), 1)))
	}
	if err := s.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	for i := 0; i < 10; i++ { // after the snapshot: replayed from the log
		propose(t, s, must(KVAdd([]byte("n"), 1)))
	}
	s.Close()
	if err := fs.RemoveAll(filepath.Join(dir, "fsm")); err != nil {
		t.Fatal(err)
	}
	cfg.StreamLayer = loopbackLayer(t)
	s = openStore(t, cfg)
	defer s.Close()
	if got := counter(t, s, "n"); got != 60 {
		t.Fatalf("counter = %d after losing the state, want 60", got)
	}
}

func TestTruncateWhenLogPassesByteBudget(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.MaxLogBytes = 256 << 10
	cfg.TrailingLogBytes = 32 << 10
	s := openStore(t, cfg)
	defer s.Close()
	value := make([]byte, 4<<10)
	for i := 0; i < 200; i++ { // ~800 KiB of log
		propose(t, s, must(KVPut([]byte(fmt.Sprint("k", i)), value)))
	}
	before := s.logs.LogBytes()
	if before <= cfg.MaxLogBytes {
		t.Fatalf("log holds %d bytes, test needs more than %d", before, cfg.MaxLogBytes)
	}
	s.truncateIfLarge()
	first, _ := s.logs.FirstIndex()
	last, _ := s.logs.LastIndex()
	if kept := last - first + 1; kept > 64 {
		t.Fatalf("log keeps %d entries after truncation; TrailingLogBytes allows about 8, at least 64", kept)
	}
	if after := s.logs.LogBytes(); after >= before/2 {
		t.Fatalf("log bytes %d → %d: truncation did not shrink it", before, after)
	}
	if v, ok, _ := s.KVGet([]byte("k0")); !ok || len(v) != len(value) {
		t.Fatal("state lost by truncation")
	}
	if got := s.raft.ReloadableConfig().TrailingLogs; got != s.cfg.TrailingLogs {
		t.Fatalf("TrailingLogs left at %d after the size-triggered snapshot, want %d back", got, s.cfg.TrailingLogs)
	}
}

func TestTrailingFor(t *testing.T) {
	cfg := Config{TrailingLogs: 10240, TrailingLogBytes: 64 << 20}
	for _, c := range []struct {
		size    int64
		entries uint64
		want    uint64
	}{
		{size: 1 << 30, entries: 1024, want: 64},       // 1 MiB entries: floor
		{size: 1 << 30, entries: 1 << 20, want: 10240}, // 1 KiB entries: capped by count
		{size: 512 << 20, entries: 32768, want: 4096},  // 16 KiB entries
	} {
		if got := trailingFor(c.size, c.entries, cfg); got != c.want {
			t.Errorf("trailingFor(%d, %d) = %d, want %d", c.size, c.entries, got, c.want)
		}
	}
}

func TestMetricsExposed(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	cfg := testConfig(t, t.TempDir())
	cfg.Registerer = reg
	s := openStore(t, cfg)
	defer s.Close()
	propose(t, s, must(KVAdd([]byte("n"), 1)))
	if got := testutil.ToFloat64(s.metrics.proposals.WithLabelValues("committed")); got != 1 {
		t.Fatalf("committed proposals = %v, want 1", got)
	}
	n, err := testutil.GatherAndCount(reg, "tributary_raft_applied_index", "tributary_raft_leader", "tributary_raft_log_bytes")
	if err != nil || n != 3 {
		t.Fatalf("gathered %d series (%v), want 3", n, err)
	}
}

// TestThreeNodesReplicateAndInstallSnapshots runs three stores over
// loopback TCP: commands proposed on the leader reach the followers'
// state; a follower is refused (ErrNotLeader); a follower that was down
// while the leader truncated its log comes back through a snapshot.
func TestThreeNodesReplicateAndInstallSnapshots(t *testing.T) {
	stores, cfgs := openCluster(t, 3, func(c *Config) { c.TrailingLogs = 10 })
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
	leader := stores[0]
	for i := 0; i < 20; i++ {
		propose(t, leader, must(KVAdd([]byte("n"), 1)))
	}
	waitCounter(t, stores[1], "n", 20)
	waitCounter(t, stores[2], "n", 20)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := stores[1].Propose(ctx, must(KVAdd([]byte("n"), 1))); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("follower propose: %v, want ErrNotLeader", err)
	}

	stores[2].Close()
	for i := 0; i < 100; i++ {
		propose(t, leader, must(KVAdd([]byte("n"), 1)))
	}
	if err := leader.raft.Snapshot().Error(); err != nil {
		t.Fatalf("leader snapshot: %v", err)
	}
	if first, _ := leader.logs.FirstIndex(); first <= stores[2].AppliedIndex() {
		t.Fatalf("leader log starts at %d; the test needs it truncated past the follower's %d", first, stores[2].AppliedIndex())
	}
	cfgs[2].StreamLayer = loopbackLayerAt(t, cfgs[2].AdvertiseAddr)
	s, err := Open(cfgs[2])
	if err != nil {
		t.Fatal(err)
	}
	stores[2] = s
	waitCounter(t, s, "n", 120)
	if testutil.ToFloat64(s.metrics.restores) == 0 {
		t.Fatal("follower caught up without a snapshot restore")
	}
	waitReady(t, leader)
}

// openCluster starts n stores on loopback TCP: the first bootstraps, the
// others join it as voters. tune adjusts each configuration.
func openCluster(t testing.TB, n int, tune func(*Config)) ([]*Store, []Config) {
	t.Helper()
	cfgs := make([]Config, n)
	stores := make([]*Store, n)
	for i := range cfgs {
		cfgs[i] = testConfig(t, t.TempDir())
		cfgs[i].NodeID = fmt.Sprintf("n%d", i+1)
		cfgs[i].NoBootstrap = i > 0
		cfgs[i].AdvertiseAddr = cfgs[i].StreamLayer.Addr().String()
		// Raft's default timeouts: with several nodes, 100ms leases are too
		// tight for a loaded 2-core machine under -race.
		cfgs[i].HeartbeatTimeout = time.Second
		cfgs[i].ElectionTimeout = time.Second
		tune(&cfgs[i])
	}
	stores[0] = openStore(t, cfgs[0])
	for i := 1; i < n; i++ {
		s, err := Open(cfgs[i])
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
		f := stores[0].raft.AddVoter(raft.ServerID(cfgs[i].NodeID), raft.ServerAddress(cfgs[i].AdvertiseAddr), 0, 10*time.Second)
		if err := f.Error(); err != nil {
			t.Fatalf("add voter: %v", err)
		}
	}
	return stores, cfgs
}

func loopbackLayerAt(t *testing.T, addr string) raft.StreamLayer {
	t.Helper()
	var err error
	for i := 0; i < 100; i++ { // the old listener's port may linger briefly
		var l raft.StreamLayer
		if l, err = listenLayer(addr); err == nil {
			return l
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("listen %s again: %v", addr, err)
	return nil
}

func waitCounter(t *testing.T, s *Store, key string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := counter(t, s, key)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counter %s = %d, want %d", key, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogDiskFailureStopsTheNode fails every write to the raft log's files:
// the proposal fails, and the node stops (Done, Err) instead of lingering as
// a follower that can never write; the process survives to shut down.
func TestLogDiskFailureStopsTheNode(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	logDir := filepath.Join(cfg.DataDir, "raft")
	toggle := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if strings.HasPrefix(op.Path, logDir) && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return errorfs.ErrInjected
		}
		return nil
	})}
	cfg.FS = errorfs.Wrap(vfs.NewMem(), toggle)
	s := openStore(t, cfg)
	defer s.Close()
	propose(t, s, must(KVAdd([]byte("n"), 1)))
	toggle.On()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Propose(ctx, must(KVAdd([]byte("n"), 1))); err == nil {
		t.Fatal("a proposal committed on a failing disk")
	}
	waitDone(t, s)
	if !errors.Is(s.Err(), logstore.ErrFatal) {
		t.Fatalf("Err() = %v, want logstore.ErrFatal", s.Err())
	}
}
