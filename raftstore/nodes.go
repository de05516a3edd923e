package raftstore

import (
	"context"
	"errors"
	"fmt"
)

// The node registry: the replicated set of nodes the cluster knows, which
// of them are live, their Kafka broker ids and advertised addresses, and
// (through it) each Kafka partition's leader and leader epoch (DESIGN.md,
// "The Kafka view"). Raft's own configuration says who votes; this says
// who serves.
//
// A partition's leader is not stored: it is a function of the live nodes
// (sorted by broker id, the leader of partition p of topic t is
// live[(fnv32a(t) + p) mod len(live)]), so every node computes the same
// leaders from the same applied state. When a command changes the live
// set, apply bumps the leader epoch of exactly the partitions whose leader
// moved, starting the new epoch at the partition's high watermark.

// NodeRegistration is what a node proposes about itself when it starts,
// and again whenever it finds itself marked down while it runs.
type NodeRegistration struct {
	// ID is the node's raft server id: 1..255 bytes.
	ID       string
	RaftAddr string
	// KafkaAddr is the advertised Kafka host:port, "" when the node has no
	// Kafka listener.
	KafkaAddr string
	// NowMillis is the proposer's clock (apply reads none); it becomes
	// ChangedMillis when the registration makes the node live.
	NowMillis int64
}

// NodeInfo is one registered node.
type NodeInfo struct {
	ID string
	// BrokerID is the node's Kafka broker id: assigned at its first
	// registration (1, 2, 3, … in registration order), kept across down
	// and up, never reused after ForgetNode.
	BrokerID  int32
	RaftAddr  string
	KafkaAddr string
	Live      bool
	// ChangedMillis is the proposer's time of the last change of Live.
	ChangedMillis int64
}

// ErrUnknownNode answers MarkNodeDown and ForgetNode for a node that is
// not registered.
var ErrUnknownNode = errors.New("raftstore: unknown node")

// RegisterNode records the node as live with its addresses (new nodes get
// the next broker id; a known node keeps its own and takes the new
// addresses) and returns what the registry now holds for it. When the
// node was not live, partition leadership is recomputed over the new live
// set (see PartitionLeader) and the epochs of the partitions whose leader
// changed are bumped. Re-registering a live node with the same addresses
// changes nothing.
func (s *Store) RegisterNode(ctx context.Context, r NodeRegistration) (NodeInfo, error) {
	v, err := s.Propose(ctx, nodeRegisterCommand(&r))
	if err != nil {
		return NodeInfo{}, err
	}
	n, err := decodeNodeRecord(r.ID, v)
	if err != nil {
		return NodeInfo{}, fmt.Errorf("raftstore: node-register result: %w", err)
	}
	return n, nil
}

// MarkNodeDown records a lost node as not live: every session connected
// to it ends as a lost connection would (will messages fire, respecting
// their delay; the queue counts as possibly sent, so the next connection
// resends with DUP), each with an EventSessionEnded for the node's own
// benefit should it still run, and partition leadership moves to the live
// nodes with bumped epochs. Marking a node already down changes nothing;
// an unregistered one is rejected with ErrUnknownNode.
func (s *Store) MarkNodeDown(ctx context.Context, id string, nowMillis int64) error {
	_, err := s.Propose(ctx, nodeCommand(CmdNodeDown, id, nowMillis))
	return err
}

// ForgetNode removes a node from the registry (after it left the raft
// configuration): a live node is marked down first (leadership moves), and
// every session still connected to it ends as MarkNodeDown ends them. Its
// broker id is never handed out again. An unregistered node is rejected
// with ErrUnknownNode.
func (s *Store) ForgetNode(ctx context.Context, id string, nowMillis int64) error {
	_, err := s.Propose(ctx, nodeCommand(CmdNodeForget, id, nowMillis))
	return err
}

// Nodes returns every registered node, by broker id, as this node last
// applied the registry. The slice is the caller's.
func (s *Store) Nodes() []NodeInfo { return s.fsm.nodes.list() }

// NodesChanged returns a channel closed the next time the registry
// changes (a node registered, re-addressed, marked down or forgotten, or
// a snapshot restored): take it before reading Nodes, wait on it, read
// again. When it closes, PartitionLeader already answers for the new live
// set.
func (s *Store) NodesChanged() <-chan struct{} { return s.fsm.nodes.changedChan() }

// PartitionLeader returns the broker id leading a partition and its
// leader epoch, as this node last applied them: leader -1 when no node is
// live; (-1, -1, ErrUnknownTopicOrPartition) for a partition that does not
// exist. The two always belong to the same live set.
func (s *Store) PartitionLeader(topic string, partition int32) (leader int32, epoch int32, err error) {
	return s.fsm.kafka.leader(topic, partition)
}
