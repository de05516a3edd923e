package raftstore

import (
	"fmt"
	"math"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// The node registry at apply. Partition leadership is not stored: the
// leader of a partition is a function of the live nodes (partitionLeader),
// so a change of the live set moves leadership everywhere at once, and
// apply bumps the leader epoch of exactly the partitions whose leader that
// function moved. Every read goes through the entry's batch, and every
// iteration is in key or name order (DESIGN.md, "Apply is deterministic").

func applyNodeRegister(a *applyContext, payload []byte) ([]byte, error) {
	r, err := decodeNodeRegister(payload)
	if err != nil {
		return nil, rejectErr(CmdNodeRegister.String(), err)
	}
	old, exists, err := a.node(r.ID)
	if err != nil {
		return nil, err
	}
	n := old
	if !exists {
		id, err := a.nextBrokerID()
		if err != nil {
			return nil, err
		}
		n = NodeInfo{ID: r.ID, BrokerID: id}
	}
	n.RaftAddr, n.KafkaAddr = r.RaftAddr, r.KafkaAddr
	if !n.Live {
		n.Live, n.ChangedMillis = true, r.NowMillis
	}
	if exists && n == old {
		return encodeNodeRecord(&n), nil // a live node re-registered as it was
	}
	if err := a.putNode(r.ID, &n, exists && old.Live); err != nil {
		return nil, err
	}
	return encodeNodeRecord(&n), nil
}

// nextBrokerID hands out the next broker id: 1, 2, 3, … in registration
// order, never one handed out before. Exhausting int32 is a rejection,
// decided before anything is written.
func (a *applyContext) nextBrokerID() (int32, error) {
	n, err := a.counter(keyNodeBrokerIDs)
	if err != nil {
		return 0, err
	}
	if n >= math.MaxInt32 {
		return 0, reject("%s: broker ids exhausted", CmdNodeRegister)
	}
	return int32(n + 1), a.set(keyNodeBrokerIDs, appendBrokerIDs(nil, n+1))
}

func applyNodeDown(a *applyContext, payload []byte) ([]byte, error) {
	id, now, err := decodeNodeCommand(payload)
	if err != nil {
		return nil, rejectErr(CmdNodeDown.String(), err)
	}
	n, ok, err := a.node(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, rejectErr(CmdNodeDown.String(), fmt.Errorf("%w: %q", ErrUnknownNode, id))
	}
	if !n.Live {
		return nil, nil // already down: nothing changes
	}
	n.Live, n.ChangedMillis = false, now
	if err := a.putNode(id, &n, true); err != nil {
		return nil, err
	}
	return nil, a.endSessionsOn(id, now)
}

// applyNodeForget removes a node. A live one leaves the live set first,
// as node-down would; and whether it was live or not, the sessions still
// connected to it end, since no node could ever close them once it is
// gone from the registry.
func applyNodeForget(a *applyContext, payload []byte) ([]byte, error) {
	id, now, err := decodeNodeCommand(payload)
	if err != nil {
		return nil, rejectErr(CmdNodeForget.String(), err)
	}
	n, ok, err := a.node(id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, rejectErr(CmdNodeForget.String(), fmt.Errorf("%w: %q", ErrUnknownNode, id))
	}
	if err := a.putNode(id, nil, n.Live); err != nil {
		return nil, err
	}
	return nil, a.endSessionsOn(id, now)
}

// node reads a node's record as of the batch.
func (a *applyContext) node(id string) (NodeInfo, bool, error) {
	v, ok, err := a.read(nodeKey(id))
	if err != nil || !ok {
		return NodeInfo{}, false, err
	}
	n, err := decodeNodeRecord(id, v)
	return n, err == nil, err
}

// putNode writes node id's record (n nil: deletes it) and, when the node
// joins or leaves the live set (wasLive is whether it was in it), moves
// partition leadership to the new live set.
func (a *applyContext) putNode(id string, n *NodeInfo, wasLive bool) error {
	isLive := n != nil && n.Live
	var before []int32
	if wasLive != isLive {
		var err error
		if before, err = liveBrokers(a.batch); err != nil {
			return err
		}
	}
	var err error
	if n == nil {
		err = a.del(nodeKey(id))
	} else {
		err = a.set(nodeKey(id), encodeNodeRecord(n))
	}
	if err != nil {
		return err
	}
	a.nq.set(id, n)
	if wasLive == isLive {
		return nil
	}
	after, err := liveBrokers(a.batch)
	if err != nil {
		return err
	}
	a.kq.setLive(after)
	return a.moveLeaders(before, after)
}

// liveBrokers returns the broker ids of the live nodes in r, ascending.
func liveBrokers(r pebble.Reader) ([]int32, error) {
	var live []int32
	err := scanPrefix(r, []byte{tableNode}, func(k, v []byte) error {
		id, err := nodeIDOfKey(k)
		if err != nil {
			return err
		}
		n, err := decodeNodeRecord(id, v)
		if err == nil && n.Live {
			live = append(live, n.BrokerID)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("raftstore: read live nodes: %w", err)
	}
	slices.Sort(live)
	return live, nil
}

// moveLeaders bumps the leader epoch of every partition whose leader
// differs between the live sets before and after, in topic name then
// partition order.
func (a *applyContext) moveLeaders(before, after []int32) error {
	for _, t := range a.kq.topicsByName() {
		h := topicHash(t.Name)
		for p := range t.Partitions {
			if partitionLeader(before, h, p) == partitionLeader(after, h, p) {
				continue
			}
			if err := a.bumpEpoch(partKey{t.num, p}); err != nil {
				return fmt.Errorf("raftstore: move leader of %q/%d: %w", t.Name, p, err)
			}
		}
	}
	return nil
}

// bumpEpoch starts a partition's next leader epoch at its high watermark:
// the batches appended from now on (produced, or built from MQTT records
// when the entry ends) are stamped with it, and EpochEndOffset ends the
// previous epoch there.
func (a *applyContext) bumpEpoch(k partKey) error {
	s := a.kq.part(k)
	if s.epoch == math.MaxInt32 {
		return fmt.Errorf("%w: leader epochs exhausted", errCorruptKafka)
	}
	s.epoch++
	if err := a.set(epochKey(k, s.epoch), appendI64(nil, s.hw)); err != nil {
		return err
	}
	return a.savePart(k, s)
}

// endSessionsOn ends, in client id order, every session whose replicated
// state says its connection is held by node, exactly as that connection's
// own abnormal close would: its will fires (or waits for its delay), and
// every queued message counts as possibly sent, so the next connection
// resends them with DUP. Each gets an EventSessionEnded for node, so that
// node, if it still runs cut off from the others, drops the connection
// when it applies the command.
func (a *applyContext) endSessionsOn(node string, now int64) error {
	for _, clientID := range a.mq.connectedTo(node) {
		s, ok, err := a.session(clientID)
		if err != nil {
			return err
		}
		if !ok || !s.connected || s.node != node {
			return fmt.Errorf("%w: session %q: index says connected to %q, record says %+v", errCorruptState, clientID, node, s)
		}
		err = a.closeSession(&SessionClose{ClientID: clientID, Generation: s.generation, Reason: CloseAbnormal,
			SentThroughSeq: math.MaxUint64, NowMillis: now})
		if err != nil {
			return err
		}
		a.mq.emit(Event{Kind: EventSessionEnded, ClientID: clientID, Node: node, Generation: s.generation})
	}
	return nil
}

// partitionLeader is the broker leading partition p of the topic whose
// name hashes to h (topicHash), given the live broker ids in ascending
// order: live[(h + p) mod len(live)], computed in 64 bits so that it never
// wraps and consecutive partitions land on consecutive brokers. -1 when
// no broker is live.
func partitionLeader(live []int32, h uint32, p int32) int32 {
	if len(live) == 0 || p < 0 {
		return -1
	}
	return live[(uint64(h)+uint64(p))%uint64(len(live))]
}

// topicHash is the 32-bit FNV-1a hash of a topic name: it offsets each
// topic's partitions, so that the first partitions of many topics do not
// all land on the first broker.
func topicHash(name string) uint32 {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= prime32
	}
	return h
}
