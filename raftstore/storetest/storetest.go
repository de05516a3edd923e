// Package storetest opens one-node raftstore stores for the tests of the
// packages above raftstore (cluster, wire/mqtt, wire/kafka): on a loopback
// port, with short raft timeouts, and ready to take proposals when it
// returns. It is test support only; no production code imports it.
package storetest

import (
	"log/slog"
	"net"
	"time"

	"tributary/raftstore"
)

// TB is the part of testing.TB this package needs. (A non-test file may
// not import "testing": the layering test enforces it.)
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// readyWithin bounds the wait for the store to lead and be ready. It only
// turns a hang into a failure.
const readyWithin = 20 * time.Second

// OpenOneNode opens (or reopens) the single-voter store of node "n1" in
// dir and waits until it leads and has applied everything committed.
// onEvents is its Config.OnEvents; logger may be nil; opts adjust the
// configuration before it opens. The caller closes the store.
func OpenOneNode(t TB, dir string, logger *slog.Logger, onEvents func([]raftstore.Event), opts ...func(*raftstore.Config)) *raftstore.Store {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("storetest: listen: %v", err)
	}
	cfg := raftstore.Config{
		NodeID:  "n1",
		DataDir: dir,
		StreamLayer: raftstore.NewStreamLayer(ln, func(addr string, timeout time.Duration) (net.Conn, error) {
			return net.DialTimeout("tcp", addr, timeout)
		}),
		HeartbeatTimeout: 100 * time.Millisecond,
		ElectionTimeout:  100 * time.Millisecond,
		Logger:           logger,
		OnEvents:         onEvents,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	store, err := raftstore.Open(cfg)
	if err != nil {
		t.Fatalf("storetest: open store: %v", err)
	}
	deadline := time.Now().Add(readyWithin)
	for store.Ready() != nil || !store.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatalf("storetest: store not ready within %v: %v", readyWithin, store.Ready())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return store
}
