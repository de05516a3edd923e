package raftstore

import (
	"errors"

	"github.com/hashicorp/raft"

	"tributary/raftstore/logstore"
)

// watchedLog is the log store as raft sees it: a write that fails with
// logstore.ErrFatal (Pebble cannot continue after a failed WAL write or
// sync, so the log store refuses every later call) stops the node. Raft
// alone would step down and keep running as a follower that can never
// write again.
type watchedLog struct {
	*logstore.Store
	fail func(error)
}

func (w watchedLog) check(err error) error {
	if errors.Is(err, logstore.ErrFatal) {
		go w.fail(err)
	}
	return err
}

// StoreLog implements raft.LogStore.
func (w watchedLog) StoreLog(l *raft.Log) error { return w.check(w.Store.StoreLog(l)) }

// StoreLogs implements raft.LogStore.
func (w watchedLog) StoreLogs(l []*raft.Log) error { return w.check(w.Store.StoreLogs(l)) }

// DeleteRange implements raft.LogStore.
func (w watchedLog) DeleteRange(lo, hi uint64) error { return w.check(w.Store.DeleteRange(lo, hi)) }

// Set implements raft.StableStore.
func (w watchedLog) Set(k, v []byte) error { return w.check(w.Store.Set(k, v)) }

// SetUint64 implements raft.StableStore.
func (w watchedLog) SetUint64(k []byte, v uint64) error { return w.check(w.Store.SetUint64(k, v)) }

var (
	_ raft.LogStore          = watchedLog{}
	_ raft.StableStore       = watchedLog{}
	_ raft.MonotonicLogStore = watchedLog{}
)
