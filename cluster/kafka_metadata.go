package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/raftstore"
)

// Metadata: v0-12
//
// Behavior:
//   - Brokers are the live nodes of the node registry (kafka_brokers.go),
//     each at the Kafka address it registered; the controller is the raft
//     leader's broker. Each partition's leader and leader epoch are the
//     registry's (PartitionLeader); replicas and ISR are every broker,
//     leader first, since every node holds every partition; no replica is
//     offline (a node that is down is no broker). A partition whose
//     leader is no listed broker is LEADER_NOT_AVAILABLE (the client asks
//     again).
//   - Standalone (no live node registered): one broker, this node, which
//     leads every partition (epoch from its PartitionState) and is the
//     controller.
//   - Null Topics (v1+), or an empty list at v0, lists every topic; an
//     empty list at v1+ lists none.
//   - A missing topic is created when KafkaConfig.AutoCreateTopics is set
//     and the request allows it (v4+ AllowAutoTopicCreation, implicitly
//     below), with DefaultPartitions; at most maxAutoCreates per request,
//     the rest answer LEADER_NOT_AVAILABLE and the client asks again.
//   - Topics may be named by id (v10+): an unknown id is UNKNOWN_TOPIC_ID.
//   - Authorized operations are not computed (INT32_MIN, "not requested").
//
// Version notes:
//   - v1: ControllerID, IsInternal, Rack; null Topics means all
//   - v2: ClusterID
//   - v4: AllowAutoTopicCreation
//   - v5: OfflineReplicas
//   - v7: LeaderEpoch
//   - v8: authorized operations
//   - v9: flexible versions
//   - v10: TopicID

// maxAutoCreates bounds the topics one Metadata request may create.
const maxAutoCreates = 100

// authorizedOpsOmitted is Kafka's value for authorized operations that were
// not computed.
const authorizedOpsOmitted = -2147483648

func (k *Kafka) metadata(ctx context.Context, req *kmsg.MetadataRequest) *kmsg.MetadataResponse {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	v := k.brokers()
	resp.Brokers = make([]kmsg.MetadataResponseBroker, 0, len(v.brokers))
	for _, vb := range v.brokers {
		b := kmsg.NewMetadataResponseBroker()
		b.NodeID, b.Host, b.Port = vb.id, vb.host, vb.port
		resp.Brokers = append(resp.Brokers, b)
	}
	resp.ClusterID = strPtr(k.cfg.ClusterID)
	resp.ControllerID = v.controller
	resp.AuthorizedOperations = authorizedOpsOmitted
	leaders := newLeaderView(&v)

	if req.Topics == nil || req.Version == 0 && len(req.Topics) == 0 {
		for _, t := range k.store.Topics() {
			resp.Topics = append(resp.Topics, k.metadataTopic(t, leaders))
		}
		return resp
	}
	autoCreate := k.cfg.AutoCreateTopics && (req.Version < 4 || req.AllowAutoTopicCreation)
	var byID map[[16]byte]raftstore.Topic
	seen := make(map[string]bool, len(req.Topics))
	created := 0
	for _, rt := range req.Topics {
		if rt.Topic == nil {
			if rt.TopicID == ([16]byte{}) {
				continue
			}
			if byID == nil {
				byID = k.topicsByID()
			}
			t, ok := byID[rt.TopicID]
			if !ok {
				resp.Topics = append(resp.Topics, metadataError(nil, rt.TopicID, kerr.UnknownTopicID))
				continue
			}
			rt.Topic = &t.Name
		}
		name := *rt.Topic
		if seen[name] {
			continue
		}
		seen[name] = true
		resp.Topics = append(resp.Topics, k.metadataNamed(ctx, name, autoCreate, &created, leaders))
	}
	return resp
}

// metadataNamed answers one topic asked for by name, creating it when
// allowed.
func (k *Kafka) metadataNamed(ctx context.Context, name string, autoCreate bool, created *int, leaders *leaderView) kmsg.MetadataResponseTopic {
	if !validTopicName(name) {
		return metadataError(&name, [16]byte{}, kerr.InvalidTopicException)
	}
	if t, ok := k.store.TopicByName(name); ok {
		return k.metadataTopic(t, leaders)
	}
	if !autoCreate {
		return metadataError(&name, [16]byte{}, kerr.UnknownTopicOrPartition)
	}
	if *created >= maxAutoCreates {
		return metadataError(&name, [16]byte{}, kerr.LeaderNotAvailable)
	}
	*created++
	t, err := k.autoCreate(ctx, name)
	if err != nil {
		e := k.kafkaErr(err)
		if e != kerr.InvalidTopicException {
			e = kerr.LeaderNotAvailable // retriable: the client asks again
		}
		return metadataError(&name, [16]byte{}, e)
	}
	return k.metadataTopic(t, leaders)
}

// autoCreate creates a topic with the defaults; a topic created meanwhile
// by someone else is as good.
func (k *Kafka) autoCreate(ctx context.Context, name string) (raftstore.Topic, error) {
	id, err := newTopicID()
	if err != nil {
		return raftstore.Topic{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, k.node.cfg.ProposeTimeout)
	defer cancel()
	t, err := k.store.CreateTopic(cctx, raftstore.CreateTopicRequest{
		Name: strings.Clone(name), ID: id, Partitions: k.cfg.DefaultPartitions,
		RetentionMillis: k.defaultRetentionMillis(), RetentionBytes: k.cfg.DefaultRetentionBytes,
		NowMillis: k.node.nowMillis(),
	})
	if errors.Is(err, raftstore.ErrTopicExists) {
		if t, ok := k.store.TopicByName(name); ok {
			return t, nil
		}
	}
	if err == nil {
		k.log.Info("kafka topic auto-created", "topic", name, "partitions", t.Partitions)
	}
	return t, err
}

// metadataTopic describes an existing topic and its partitions.
func (k *Kafka) metadataTopic(t raftstore.Topic, leaders *leaderView) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	st.Topic = strPtr(t.Name)
	st.TopicID = t.ID
	st.AuthorizedOperations = authorizedOpsOmitted
	st.Partitions = make([]kmsg.MetadataResponseTopicPartition, 0, t.Partitions)
	for p := range t.Partitions {
		sp := kmsg.NewMetadataResponseTopicPartition()
		sp.Partition = p
		sp.OfflineReplicas = []int32{}
		leader, epoch, err := k.partitionLeader(t.Name, p, leaders.v)
		switch {
		case err != nil:
			// Deleted while we were reading: the client asks again.
			sp.ErrorCode, sp.Leader = kerr.LeaderNotAvailable.Code, -1
			sp.Replicas, sp.ISR = leaders.ledBy(-1), leaders.ledBy(-1)
		case leader < 0:
			// No live broker leads it (the registry changed while we
			// read, or its leader has no Kafka address).
			sp.ErrorCode, sp.Leader, sp.LeaderEpoch = kerr.LeaderNotAvailable.Code, -1, epoch
			sp.Replicas, sp.ISR = leaders.ledBy(-1), leaders.ledBy(-1)
		default:
			sp.Leader, sp.LeaderEpoch = leader, epoch
			sp.Replicas, sp.ISR = leaders.ledBy(leader), leaders.ledBy(leader)
		}
		st.Partitions = append(st.Partitions, sp)
	}
	return st
}

// partitionLeader returns a partition's leader broker and leader epoch as
// Metadata gives them: the registry's, with leader -1 when it is not a
// listed broker; when standalone, this node with its PartitionState's
// epoch. An error when the partition does not exist (any more).
func (k *Kafka) partitionLeader(topic string, partition int32, v *brokerView) (int32, int32, error) {
	if v.standalone {
		state, err := k.store.Partition(topic, partition)
		if err != nil {
			return -1, -1, err
		}
		return v.self, state.LeaderEpoch, nil
	}
	leader, epoch, err := k.store.PartitionLeader(topic, partition)
	if err != nil {
		return -1, -1, fmt.Errorf("cluster: leader of %s/%d: %w", topic, partition, err)
	}
	if _, ok := v.byID(leader); !ok {
		return -1, epoch, nil
	}
	return leader, epoch, nil
}

// leaderView hands out replica lists (every broker, leader first) for one
// Metadata answer, built once per leader and shared by its partitions
// (the encoder only reads them).
type leaderView struct {
	v        *brokerView
	replicas map[int32][]int32
}

func newLeaderView(v *brokerView) *leaderView {
	return &leaderView{v: v, replicas: make(map[int32][]int32, len(v.brokers)+1)}
}

// ledBy returns every broker id with leader first (none first for -1).
func (l *leaderView) ledBy(leader int32) []int32 {
	r, ok := l.replicas[leader]
	if !ok {
		r = l.v.replicasLedBy(leader)
		l.replicas[leader] = r
	}
	return r
}

// metadataError answers a topic that cannot be described.
func metadataError(name *string, id [16]byte, e *kerr.Error) kmsg.MetadataResponseTopic {
	st := kmsg.NewMetadataResponseTopic()
	st.Topic, st.TopicID, st.ErrorCode = name, id, e.Code
	st.AuthorizedOperations = authorizedOpsOmitted
	st.Partitions = []kmsg.MetadataResponseTopicPartition{}
	return st
}

// topicsByID indexes every topic by id.
func (k *Kafka) topicsByID() map[[16]byte]raftstore.Topic {
	ts := k.store.Topics()
	m := make(map[[16]byte]raftstore.Topic, len(ts))
	for _, t := range ts {
		m[t.ID] = t
	}
	return m
}

// DescribeCluster: v0-1
//
// Behavior:
//   - The brokers and controller of Metadata: the live registered nodes
//     and the raft leader's broker; standalone, this node alone.
//   - v1: EndpointType 1 (brokers) only; 2 (controllers) is
//     UNSUPPORTED_ENDPOINT_TYPE.
//
// Version notes:
//   - v1: EndpointType

func (k *Kafka) describeCluster(req *kmsg.DescribeClusterRequest) *kmsg.DescribeClusterResponse {
	resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
	if req.Version >= 1 && req.EndpointType != 1 {
		resp.ErrorCode = kerr.UnsupportedEndpointType.Code
		resp.ErrorMessage = strPtr("only broker endpoints (type 1) are served")
		resp.EndpointType = req.EndpointType
		return resp
	}
	v := k.brokers()
	resp.ClusterID = k.cfg.ClusterID
	resp.ControllerID = v.controller
	resp.Brokers = make([]kmsg.DescribeClusterResponseBroker, 0, len(v.brokers))
	for _, vb := range v.brokers {
		b := kmsg.NewDescribeClusterResponseBroker()
		b.NodeID, b.Host, b.Port = vb.id, vb.host, vb.port
		resp.Brokers = append(resp.Brokers, b)
	}
	resp.ClusterAuthorizedOperations = authorizedOpsOmitted
	return resp
}

// FindCoordinator: v0-4
//
// Behavior:
//   - Groups (key type 0): the broker the rendezvous hash of the group id
//     picks over the live brokers (brokerView.coordinator), the same
//     answer on every node and every call while the registry stands;
//     standalone, this node. With no broker to name,
//     COORDINATOR_NOT_AVAILABLE (the client asks again).
//   - Transactions (type 1) are not supported: COORDINATOR_NOT_AVAILABLE.
//     Other types and empty keys are INVALID_REQUEST.
//
// Version notes:
//   - v1: CoordinatorType, ErrorMessage
//   - v3: flexible versions
//   - v4: a batch of CoordinatorKeys (KIP-699)

func (k *Kafka) findCoordinator(req *kmsg.FindCoordinatorRequest) *kmsg.FindCoordinatorResponse {
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	v := k.brokers()
	if req.Version < 4 {
		c := coordinatorFor(&v, req.CoordinatorKey, req.CoordinatorType)
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
		return resp
	}
	resp.Coordinators = make([]kmsg.FindCoordinatorResponseCoordinator, 0, len(req.CoordinatorKeys))
	for _, key := range req.CoordinatorKeys {
		resp.Coordinators = append(resp.Coordinators, coordinatorFor(&v, key, req.CoordinatorType))
	}
	return resp
}

// coordinatorFor answers one coordinator key from v.
func coordinatorFor(v *brokerView, key string, keyType int8) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key, c.NodeID, c.Port = key, -1, -1
	var e *kerr.Error
	switch {
	case keyType == 1:
		e = kerr.CoordinatorNotAvailable
		c.ErrorMessage = strPtr("transactions are not supported")
	case keyType != 0:
		e = kerr.InvalidRequest
		c.ErrorMessage = strPtr("unknown coordinator type")
	case key == "":
		e = kerr.InvalidRequest
		c.ErrorMessage = strPtr("empty group id")
	}
	if e != nil {
		c.ErrorCode = e.Code
		return c
	}
	b, ok := v.coordinator(key)
	if !ok {
		c.ErrorCode = kerr.CoordinatorNotAvailable.Code
		c.ErrorMessage = strPtr("no live broker")
		return c
	}
	c.NodeID, c.Host, c.Port = b.id, b.host, b.port
	return c
}
