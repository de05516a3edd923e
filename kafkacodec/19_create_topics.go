package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// CreateTopics: v0-7
//
// Version notes:
//   - v1: ValidateOnly.
//   - v2-v3: the same request.
//   - v4: NumPartitions and ReplicationFactor may be -1, the broker's
//     defaults (KIP-464).
//   - v5: flexible.
//   - v6: the same request.
//   - v7: the same request (TopicID in the response, KIP-516).

func decodeCreateTopics(r *reader) kmsg.Request {
	q := kmsg.NewPtrCreateTopicsRequest()
	q.Version = r.v
	// Topic, NumPartitions, ReplicationFactor and two arrays.
	q.Topics = alloc[kmsg.CreateTopicsRequestTopic](r.count(r.strMin() + 6 + 2*r.arrMin() + r.tagMin()))
	for i := range q.Topics {
		createTopic(r, &q.Topics[i])
	}
	q.TimeoutMillis = r.int32()
	if r.v >= 1 {
		q.ValidateOnly = r.bool()
	}
	r.skipTags()
	return q
}

func createTopic(r *reader, t *kmsg.CreateTopicsRequestTopic) {
	t.Default()
	t.Topic = r.str()
	t.NumPartitions = r.int32()
	t.ReplicationFactor = r.int16()
	t.ReplicaAssignment = alloc[kmsg.CreateTopicsRequestTopicReplicaAssignment](r.count(4 + r.arrMin() + r.tagMin()))
	for i := range t.ReplicaAssignment {
		createTopicAssignment(r, &t.ReplicaAssignment[i])
	}
	t.Configs = alloc[kmsg.CreateTopicsRequestTopicConfig](r.count(2*r.strMin() + r.tagMin()))
	for i := range t.Configs {
		createTopicConfig(r, &t.Configs[i])
	}
	r.skipTags()
}

func createTopicAssignment(r *reader, a *kmsg.CreateTopicsRequestTopicReplicaAssignment) {
	a.Default()
	a.Partition = r.int32()
	a.Replicas = r.int32s()
	r.skipTags()
}

func createTopicConfig(r *reader, c *kmsg.CreateTopicsRequestTopicConfig) {
	c.Default()
	c.Name = r.str()
	c.Value = r.nstr()
	r.skipTags()
}
