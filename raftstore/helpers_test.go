package raftstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// loopbackLayer is a TCP stream layer on 127.0.0.1 for tests.
func loopbackLayer(t testing.TB) raft.StreamLayer {
	t.Helper()
	l, err := listenLayer("127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return l
}

func listenLayer(addr string) (raft.StreamLayer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewStreamLayer(ln, func(addr string, timeout time.Duration) (net.Conn, error) {
		return net.DialTimeout("tcp", addr, timeout)
	}), nil
}

// testConfig is a fast single-node configuration for tests.
func testConfig(t testing.TB, dir string) Config {
	return Config{
		NodeID:           "n1",
		DataDir:          dir,
		StreamLayer:      loopbackLayer(t),
		HeartbeatTimeout: 100 * time.Millisecond,
		ElectionTimeout:  100 * time.Millisecond,
		LogCheckInterval: time.Hour, // tests call truncateIfLarge themselves
		SnapshotInterval: time.Hour, // and Snapshot, when they want one
	}
}

// openStore opens a store and waits until it is ready.
func openStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	waitReady(t, s)
	return s
}

func waitReady(t testing.TB, s *Store) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := s.Ready()
		if err == nil && s.IsLeader() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("store not ready: %v (leader=%v)", err, s.IsLeader())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// must unwraps a command constructor's result; the tests only build valid
// commands, so an error is a bug in the test.
func must(c Command, err error) Command {
	if err != nil {
		panic(err)
	}
	return c
}

func propose(t testing.TB, s *Store, c Command) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := s.Propose(ctx, c)
	if err != nil {
		t.Fatalf("propose %s: %v", c.Type, err)
	}
	return v
}

func counter(t testing.TB, s *Store, key string) uint64 {
	t.Helper()
	v, ok, err := s.KVGet([]byte(key))
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if !ok {
		return 0
	}
	return decodeCounter(t, v)
}

func decodeCounter(t testing.TB, v []byte) uint64 {
	t.Helper()
	if len(v) != 8 {
		t.Fatalf("counter value has %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v)
}

// dumpDB returns every key/value pair of a Pebble reader, in key order.
func dumpDB(t testing.TB, r pebble.Reader) [][2][]byte {
	t.Helper()
	it, err := r.NewIter(nil)
	if err != nil {
		t.Fatalf("iter: %v", err)
	}
	defer it.Close()
	var out [][2][]byte
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, [2][]byte{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	if err := it.Error(); err != nil {
		t.Fatalf("iterate: %v", err)
	}
	return out
}

func sameDump(a, b [][2][]byte) error {
	if len(a) != len(b) {
		return errors.New("different number of keys")
	}
	for i := range a {
		if !bytes.Equal(a[i][0], b[i][0]) || !bytes.Equal(a[i][1], b[i][1]) {
			return errors.New("key " + string(a[i][0]) + " differs")
		}
	}
	return nil
}

// newTestFSM opens a state machine on an in-memory filesystem.
func newTestFSM(t testing.TB, fs vfs.FS, dir string) *fsm {
	t.Helper()
	f, err := openFSM(fs, dir, discardLogger(), newMetrics())
	if err != nil {
		t.Fatalf("open fsm: %v", err)
	}
	t.Cleanup(func() { f.close() })
	return f
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// entry builds a command log entry.
func entry(index uint64, cmds ...Command) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: appendEntry(nil, cmds)}
}
