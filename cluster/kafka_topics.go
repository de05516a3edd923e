package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/raftstore"
)

// CreateTopics: v0-7
//
// Behavior:
//   - Names follow Kafka's rules (INVALID_TOPIC_EXCEPTION); a topic listed
//     twice in one request is INVALID_REQUEST for each entry.
//   - NumPartitions -1 is DefaultPartitions; 0, below -1 or above
//     maxPartitions is INVALID_PARTITIONS.
//   - Every node holds every partition, so a topic has as many replicas
//     as there are brokers (live nodes; 1 standalone). ReplicationFactor
//     may be -1 or anything from 1 to that count (the topic gets them all,
//     at least what was asked); more is INVALID_REPLICATION_FACTOR, as
//     Kafka answers when it has too few brokers. ReplicaAssignment is not
//     supported (INVALID_REQUEST). Any node creates and deletes topics
//     (the proposal is forwarded to the raft leader).
//   - Configs: retention.ms, retention.bytes and cleanup.policy=delete;
//     anything else is INVALID_CONFIG, saying which (v1+ ErrorMessage).
//   - ValidateOnly checks everything, existence included, and creates
//     nothing.
//   - The topic id is a random (v4) UUID; the wait for the commit is
//     bounded by TimeoutMillis (capped at 30s): REQUEST_TIMED_OUT after.
//
// Version notes:
//   - v1: ValidateOnly, ErrorMessage
//   - v5: flexible versions; NumPartitions, ReplicationFactor and Configs
//     in the response
//   - v7: TopicID in the response

// maxPartitions bounds a topic's partition count.
const maxPartitions = 10000

// maxReplicationFactor is the largest replication factor the wire can
// carry (an int16).
const maxReplicationFactor = 1<<15 - 1

func (k *Kafka) createTopics(ctx context.Context, req *kmsg.CreateTopicsRequest) *kmsg.CreateTopicsResponse {
	resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
	count := make(map[string]int, len(req.Topics))
	for _, rt := range req.Topics {
		count[rt.Topic]++
	}
	wctx, cancel := requestWait(ctx, req.TimeoutMillis)
	defer cancel()
	brokers := k.brokers()
	resp.Topics = make([]kmsg.CreateTopicsResponseTopic, 0, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := kmsg.NewCreateTopicsResponseTopic()
		st.Topic = rt.Topic
		var e *kerr.Error
		var msg string
		if count[rt.Topic] > 1 {
			e, msg = kerr.InvalidRequest, "topic listed more than once"
		} else {
			e, msg = k.createTopic(wctx, req, rt, &st, &brokers)
		}
		if e != nil {
			st.ErrorCode = e.Code
			if req.Version >= 1 && msg != "" {
				st.ErrorMessage = strPtr(msg)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// createTopic validates and (unless ValidateOnly) creates one topic,
// filling st on success.
func (k *Kafka) createTopic(ctx context.Context, req *kmsg.CreateTopicsRequest, rt *kmsg.CreateTopicsRequestTopic,
	st *kmsg.CreateTopicsResponseTopic, brokers *brokerView) (*kerr.Error, string) {
	if !validTopicName(rt.Topic) {
		return kerr.InvalidTopicException, "topic names are 1-249 characters of [a-zA-Z0-9._-], not . or .."
	}
	if _, ok := k.store.TopicByName(rt.Topic); ok {
		return kerr.TopicAlreadyExists, ""
	}
	partitions := rt.NumPartitions
	if partitions == -1 {
		partitions = k.cfg.DefaultPartitions
	}
	replicas := int16(min(len(brokers.brokers), maxReplicationFactor))
	switch {
	case partitions <= 0 || partitions > maxPartitions:
		return kerr.InvalidPartitions, fmt.Sprintf("partitions must be in [1, %d] (or -1 for the default)", maxPartitions)
	case rt.ReplicationFactor != -1 && (rt.ReplicationFactor < 1 || rt.ReplicationFactor > replicas):
		return kerr.InvalidReplicationFactor, fmt.Sprintf("replication factor must be in [1, %d] (or -1): every one of the %d brokers holds every partition", replicas, replicas)
	case len(rt.ReplicaAssignment) > 0:
		return kerr.InvalidRequest, "replica assignments are not supported"
	}
	settings, bad := k.parseTopicConfigs(rt.Configs)
	if bad != "" {
		return kerr.InvalidConfig, bad
	}
	if !req.ValidateOnly {
		id, err := newTopicID()
		if err != nil {
			return kerr.UnknownServerError, ""
		}
		t, err := k.store.CreateTopic(ctx, raftstore.CreateTopicRequest{
			Name: strings.Clone(rt.Topic), ID: id, Partitions: partitions,
			RetentionMillis: settings.retentionMillis, RetentionBytes: settings.retentionBytes,
			NowMillis: k.node.nowMillis(),
		})
		if err != nil {
			return k.adminErr(err), ""
		}
		k.log.Info("kafka topic created", "topic", t.Name, "partitions", t.Partitions)
		st.TopicID = t.ID
	}
	st.NumPartitions, st.ReplicationFactor = partitions, replicas
	st.Configs = createdConfigs(k.topicConfigs(settings.retentionMillis, settings.retentionBytes))
	return nil, ""
}

// newTopicID draws a random version 4 UUID.
func newTopicID() ([16]byte, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return id, fmt.Errorf("cluster: topic id: %w", err)
	}
	id[6] = id[6]&0x0f | 0x40 // version 4
	id[8] = id[8]&0x3f | 0x80 // RFC 4122 variant
	return id, nil
}

// DeleteTopics: v0-6
//
// Behavior:
//   - By name, or (v6) by id; unknown: UNKNOWN_TOPIC_OR_PARTITION or
//     UNKNOWN_TOPIC_ID. The records, producer state and committed offsets
//     go with the topic.
//   - The wait is bounded by TimeoutMillis (capped at 30s).
//
// Version notes:
//   - v4: flexible versions
//   - v5: ErrorMessage
//   - v6: Topics with names or ids

func (k *Kafka) deleteTopics(ctx context.Context, req *kmsg.DeleteTopicsRequest) *kmsg.DeleteTopicsResponse {
	resp := req.ResponseKind().(*kmsg.DeleteTopicsResponse)
	asked := req.Topics
	if req.Version < 6 {
		asked = make([]kmsg.DeleteTopicsRequestTopic, 0, len(req.TopicNames))
		for _, name := range req.TopicNames {
			asked = append(asked, kmsg.DeleteTopicsRequestTopic{Topic: &name})
		}
	}
	wctx, cancel := requestWait(ctx, req.TimeoutMillis)
	defer cancel()
	var byID map[[16]byte]raftstore.Topic
	resp.Topics = make([]kmsg.DeleteTopicsResponseTopic, 0, len(asked))
	for _, rt := range asked {
		st := kmsg.NewDeleteTopicsResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		name := ""
		switch {
		case rt.TopicID != [16]byte{}:
			if byID == nil {
				byID = k.topicsByID()
			}
			t, ok := byID[rt.TopicID]
			if !ok {
				st.ErrorCode = kerr.UnknownTopicID.Code
				resp.Topics = append(resp.Topics, st)
				continue
			}
			name, st.Topic = t.Name, strPtr(t.Name)
		case rt.Topic != nil:
			name = *rt.Topic
		}
		if e := k.deleteTopic(wctx, name, &st); e != nil {
			st.ErrorCode = e.Code
			if req.Version >= 5 {
				st.ErrorMessage = strPtr(e.Message)
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// deleteTopic deletes one topic by name, filling its id in st.
func (k *Kafka) deleteTopic(ctx context.Context, name string, st *kmsg.DeleteTopicsResponseTopic) *kerr.Error {
	t, ok := k.store.TopicByName(name)
	if !ok {
		return kerr.UnknownTopicOrPartition
	}
	st.TopicID = t.ID
	if err := k.store.DeleteTopic(ctx, strings.Clone(name)); err != nil {
		return k.adminErr(err)
	}
	k.log.Info("kafka topic deleted", "topic", name)
	return nil
}

// InitProducerId: v0-4
//
// Behavior:
//   - Idempotent producers only: a TransactionalID is answered
//     TRANSACTIONAL_ID_AUTHORIZATION_FAILED (transactions are not
//     supported).
//   - v3+ with a ProducerID and ProducerEpoch bumps that producer's epoch
//     (KIP-360); a producer the store no longer knows gets a new id, as
//     Kafka does for producers without a transactional id.
//
// Version notes:
//   - v2: flexible versions
//   - v3: ProducerID and ProducerEpoch (KIP-360)
//   - v4: same as v3 (PRODUCER_FENCED may be answered; we never fence)

func (k *Kafka) initProducerID(ctx context.Context, req *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	if req.TransactionalID != nil {
		resp.ErrorCode = kerr.TransactionalIDAuthorizationFailed.Code
		return resp
	}
	wctx, cancel := context.WithTimeout(ctx, k.node.cfg.ProposeTimeout)
	defer cancel()
	var prev *raftstore.ProducerID
	if req.Version >= 3 && req.ProducerID >= 0 && req.ProducerEpoch >= 0 {
		prev = &raftstore.ProducerID{ID: req.ProducerID, Epoch: req.ProducerEpoch}
	}
	pid, err := k.store.InitProducerID(wctx, prev)
	if prev != nil && (errors.Is(err, raftstore.ErrUnknownProducerID) || errors.Is(err, raftstore.ErrInvalidProducerEpoch)) {
		pid, err = k.store.InitProducerID(wctx, nil)
	}
	if err != nil {
		resp.ErrorCode = k.coordinatorErr(err)
		return resp
	}
	resp.ProducerID, resp.ProducerEpoch = pid.ID, pid.Epoch
	return resp
}
