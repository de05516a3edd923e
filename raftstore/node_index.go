package raftstore

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// nodeIndex is the in-memory copy of the node registry (table 0x30) that
// Nodes and NodesChanged read. Like the MQTT and Kafka indexes it equals
// what Pebble holds as of the last committed batch: rebuilt when the state
// machine opens or restores a snapshot, and changed only after a batch
// has committed (nodeBatch holds a batch's changes until then). Apply
// never reads it: it reads the registry through the entry's batch.
//
// Only raft's FSM goroutine writes it, taking mu for the change alone;
// readers take mu.RLock.
type nodeIndex struct {
	mu   sync.RWMutex
	byID map[string]NodeInfo
	// sorted is every node by broker id; replaced whole, never changed in
	// place, so a reader may hand out a copy of it.
	sorted []NodeInfo
	// changed is closed (and replaced) when a committed batch or a
	// restore changes the registry.
	changed chan struct{}
}

func newNodeIndex() *nodeIndex {
	return &nodeIndex{byID: map[string]NodeInfo{}, changed: make(chan struct{})}
}

// rebuild replaces the index with the registry in r and wakes every
// waiter (a restored snapshot may have changed anything).
func (x *nodeIndex) rebuild(r pebble.Reader) error {
	byID := map[string]NodeInfo{}
	err := scanPrefix(r, []byte{tableNode}, func(k, v []byte) error {
		id, err := nodeIDOfKey(k)
		if err != nil {
			return err
		}
		n, err := decodeNodeRecord(id, v)
		byID[id] = n
		return err
	})
	if err != nil {
		return fmt.Errorf("raftstore: rebuild node index: %w", err)
	}
	x.mu.Lock()
	x.replace(byID)
	x.mu.Unlock()
	return nil
}

// replace installs byID (which the index now owns) and wakes the
// waiters; x.mu is held.
func (x *nodeIndex) replace(byID map[string]NodeInfo) {
	sorted := slices.Collect(maps.Values(byID))
	slices.SortFunc(sorted, func(a, b NodeInfo) int { return cmp.Compare(a.BrokerID, b.BrokerID) })
	x.byID, x.sorted = byID, sorted
	close(x.changed)
	x.changed = make(chan struct{})
}

// list returns a copy of every node, by broker id.
func (x *nodeIndex) list() []NodeInfo {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return slices.Clone(x.sorted)
}

// changedChan returns the channel the next change closes.
func (x *nodeIndex) changedChan() <-chan struct{} {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.changed
}

// nodeBatch holds the registry changes of one ApplyBatch until its Pebble
// batch commits, like mqttBatch and kafkaBatch do.
//
// Only raft's FSM goroutine uses it.
type nodeBatch struct {
	idx   *nodeIndex
	nodes map[string]*NodeInfo // nil: forgotten by this batch
}

func newNodeBatch(idx *nodeIndex) *nodeBatch {
	return &nodeBatch{idx: idx, nodes: map[string]*NodeInfo{}}
}

// set records a change to node id (n nil: forgotten).
func (b *nodeBatch) set(id string, n *NodeInfo) {
	if n != nil {
		c := *n
		n = &c
	}
	b.nodes[id] = n
}

// reset forgets the batch's changes (applied, or abandoned by a node that
// stopped).
func (b *nodeBatch) reset() { clear(b.nodes) }

// commit folds the batch into the index once its Pebble batch committed,
// waking NodesChanged waiters if anything changed.
func (b *nodeBatch) commit() {
	if len(b.nodes) == 0 {
		return
	}
	x := b.idx
	byID := maps.Clone(x.byID) // readers never see byID; sorted is rebuilt from it
	for id, n := range b.nodes {
		if n == nil {
			delete(byID, id)
		} else {
			byID[id] = *n
		}
	}
	x.mu.Lock()
	x.replace(byID)
	x.mu.Unlock()
}
