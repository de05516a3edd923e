package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// OffsetForLeaderEpoch: v0-4
//
// Version notes:
//   - v0: per-partition LeaderEpoch.
//   - v1: the same request (LeaderEpoch in the response).
//   - v2: per-partition CurrentLeaderEpoch (KIP-320).
//   - v3: ReplicaID (-1 for a consumer).
//   - v4: flexible.

func decodeOffsetForLeaderEpoch(r *reader) kmsg.Request {
	q := kmsg.NewPtrOffsetForLeaderEpochRequest()
	q.Version = r.v
	if r.v >= 3 {
		q.ReplicaID = r.int32()
	}
	q.Topics = alloc[kmsg.OffsetForLeaderEpochRequestTopic](r.count(r.strMin() + r.arrMin() + r.tagMin()))
	for i := range q.Topics {
		offsetForLeaderEpochTopic(r, &q.Topics[i])
	}
	r.skipTags()
	return q
}

func offsetForLeaderEpochTopic(r *reader, t *kmsg.OffsetForLeaderEpochRequestTopic) {
	t.Default()
	t.Topic = r.str()
	// Partition and LeaderEpoch are in every version.
	t.Partitions = alloc[kmsg.OffsetForLeaderEpochRequestTopicPartition](r.count(8 + r.tagMin()))
	for i := range t.Partitions {
		offsetForLeaderEpochPartition(r, &t.Partitions[i])
	}
	r.skipTags()
}

func offsetForLeaderEpochPartition(r *reader, p *kmsg.OffsetForLeaderEpochRequestTopicPartition) {
	p.Default()
	p.Partition = r.int32()
	if r.v >= 2 {
		p.CurrentLeaderEpoch = r.int32()
	}
	p.LeaderEpoch = r.int32()
	r.skipTags()
}
