package cluster

import (
	"cmp"
	"hash/fnv"
	"net"
	"slices"
	"strconv"
)

// The brokers of the Kafka view (DESIGN.md, "The Kafka view"). Every live
// node of the replicated node registry (raftstore.Store.Nodes) is a
// broker, under the broker id the registry gave it and at the Kafka
// address it registered. Every node holds every partition, so every
// broker is a replica of every partition and in its ISR; the leader of a
// partition and its epoch are the registry's (Store.PartitionLeader), and
// a group's coordinator is the rendezvous hash of the group id over the
// brokers. All of it is replicated state, so every node answers the same.
//
// Standalone: while the registry has no live node (a node alone before
// membership registered it, or a node run without membership), this node
// answers alone, as today's single node: broker KafkaConfig.BrokerID at
// its advertised address, leading every partition with the epoch of its
// PartitionState, controller, and coordinator of every group.

// kafkaBroker is one broker as Metadata lists it.
type kafkaBroker struct {
	id     int32
	nodeID string // the node's raft server id ("" when standalone)
	host   string
	port   int32
}

// brokerView is the registry as one request answers from it: read once,
// so one answer is consistent with itself.
type brokerView struct {
	// brokers are the live nodes with a usable Kafka address, by broker
	// id. A live node registered without one (no Kafka listener) cannot be
	// reached by clients and is left out.
	brokers []kafkaBroker
	// self is this node's broker id: its registry entry's (live or not),
	// KafkaConfig.BrokerID when standalone, -1 when the registry has live
	// nodes but no entry for this one yet.
	self int32
	// controller is the broker id Metadata and DescribeCluster name as
	// controller (see brokerView.pickController); -1 when there is no
	// broker.
	controller int32
	standalone bool
}

// brokers reads the registry into a view.
func (k *Kafka) brokers() brokerView {
	nodes := k.store.Nodes()
	v := brokerView{self: -1, controller: -1}
	live := false
	for _, n := range nodes {
		if n.ID == k.node.cfg.NodeID {
			v.self = n.BrokerID
		}
		if !n.Live {
			continue
		}
		live = true
		host, port, ok := splitKafkaAddr(n.KafkaAddr)
		if !ok {
			continue
		}
		v.brokers = append(v.brokers, kafkaBroker{id: n.BrokerID, nodeID: n.ID, host: host, port: port})
	}
	if !live {
		b := kafkaBroker{id: k.cfg.BrokerID, host: k.cfg.AdvertiseHost, port: k.cfg.AdvertisePort}
		return brokerView{brokers: []kafkaBroker{b}, self: b.id, controller: b.id, standalone: true}
	}
	slices.SortFunc(v.brokers, func(a, b kafkaBroker) int { return cmp.Compare(a.id, b.id) })
	_, leaderID := k.store.Leader()
	v.controller = v.pickController(leaderID)
	return v
}

// pickController names the raft leader's broker, which orders every
// proposal; when the leader is unknown or not a listed broker, this node
// if it is one, else the first broker. Any node serves admin requests
// (proposals are forwarded to the leader), so the choice only steers
// clients that send them to the controller.
func (v *brokerView) pickController(raftLeaderID string) int32 {
	if b, ok := v.byNode(raftLeaderID); ok {
		return b.id
	}
	if _, ok := v.byID(v.self); ok {
		return v.self
	}
	if len(v.brokers) > 0 {
		return v.brokers[0].id
	}
	return -1
}

// byID returns the listed broker with broker id id.
func (v *brokerView) byID(id int32) (kafkaBroker, bool) {
	for _, b := range v.brokers {
		if b.id == id {
			return b, true
		}
	}
	return kafkaBroker{}, false
}

// byNode returns the listed broker of raft server id nodeID.
func (v *brokerView) byNode(nodeID string) (kafkaBroker, bool) {
	if nodeID == "" {
		return kafkaBroker{}, false
	}
	for _, b := range v.brokers {
		if b.nodeID == nodeID {
			return b, true
		}
	}
	return kafkaBroker{}, false
}

// coordinator returns the broker coordinating group: when standalone this
// node, otherwise the rendezvous (highest random weight) choice over the
// listed brokers — the one whose groupWeight is highest, ties (which take
// a 64-bit collision) to the lower broker id. A broker joining or
// leaving moves only the groups it wins or held, and every node computes
// the same answer from the same replicated registry, so two nodes never
// both coordinate one group (once both have applied the same registry).
// False when there is no broker.
func (v *brokerView) coordinator(group string) (kafkaBroker, bool) {
	if v.standalone {
		return v.brokers[0], true
	}
	var best kafkaBroker
	var bestWeight uint64
	found := false
	for _, b := range v.brokers { // by broker id: the lower wins a tie
		if w := groupWeight(group, b.nodeID); !found || w > bestWeight {
			best, bestWeight, found = b, w, true
		}
	}
	return best, found
}

// coordinates reports whether this node coordinates group.
func (v *brokerView) coordinates(group string) bool {
	c, ok := v.coordinator(group)
	return ok && c.id == v.self
}

// groupWeight is the rendezvous weight of a node for a group: FNV-1a (64
// bit) of the group id, a zero byte and the node's raft server id, then
// murmur3's 64-bit finalizer (fmix64). The node id, not the broker id, so
// a node's weights do not depend on the order nodes registered in; the
// zero byte keeps ("ab","c") and ("a","bc") apart. The finalizer is not
// optional: FNV-1a ends with h = (s ^ b) * prime, so for ids that differ
// only in their last byte ("n1", "n2", "n3") the weights differ by small
// multiples of the prime and rank the nodes the same way for most groups;
// fmix64 spreads every input bit over the whole word.
func groupWeight(group, nodeID string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(group))
	h.Write([]byte{0})
	h.Write([]byte(nodeID))
	return fmix64(h.Sum64())
}

// fmix64 is murmur3's 64-bit finalizer: a bijection whose every output
// bit depends on every input bit.
func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

// replicasLedBy returns every listed broker id with leader first (the
// others by broker id; all by broker id for a negative leader): each node
// holds every partition, so all are replicas and in sync as far as a
// client is concerned.
func (v *brokerView) replicasLedBy(leader int32) []int32 {
	out := make([]int32, 0, len(v.brokers))
	if leader >= 0 {
		out = append(out, leader)
	}
	for _, b := range v.brokers {
		if b.id != leader {
			out = append(out, b.id)
		}
	}
	return out
}

// splitKafkaAddr parses a registered Kafka address ("host:port", IPv6
// hosts bracketed). An empty host or a port outside [1, 65535] is not an
// address a client can use.
func splitKafkaAddr(addr string) (string, int32, bool) {
	if addr == "" {
		return "", 0, false
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return "", 0, false
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil || port == 0 {
		return "", 0, false
	}
	return host, int32(port), true
}

// watchRegistry hands over the groups this node stops coordinating each
// time the registry changes: their in-memory state goes, and their
// members, answered NOT_COORDINATOR, rejoin at the new coordinator
// (committed offsets are replicated, so they resume where they were).
// Requests for a group that arrive here in between are answered
// NOT_COORDINATOR already (handleGroup checks the registry itself).
func (k *Kafka) watchRegistry() {
	defer k.bg.Done()
	for {
		// Taken before reading: a change after the read closes it.
		changed := k.store.NodesChanged()
		v := k.brokers()
		if n := k.groups.Relinquish(v.coordinates); n > 0 {
			k.log.Info("kafka groups handed over after a membership change", "groups", n, "brokers", len(v.brokers))
		}
		k.warnUnreachable()
		select {
		case <-changed:
		case <-k.stop:
			return
		}
	}
}

// warnUnreachable logs the live nodes whose registered Kafka address is
// unusable: they are left out of Metadata, so partitions they lead answer
// LEADER_NOT_AVAILABLE until the registry changes.
func (k *Kafka) warnUnreachable() {
	for _, n := range k.store.Nodes() {
		if _, _, ok := splitKafkaAddr(n.KafkaAddr); n.Live && !ok {
			k.log.Warn("live node has no usable kafka address; not listed as a broker",
				"member", n.ID, "broker_id", n.BrokerID, "kafka_addr", n.KafkaAddr)
		}
	}
}
