package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// OffsetCommit: v0-8
//
// Version notes:
//   - v0: offsets kept in ZooKeeper by old brokers; we keep them all alike.
//   - v1: Generation, MemberID and a per-partition Timestamp.
//   - v2: RetentionTimeMillis replaces the per-partition Timestamp.
//   - v3-v4: the same request.
//   - v5: RetentionTimeMillis is gone (KIP-211).
//   - v6: per-partition LeaderEpoch (KIP-320).
//   - v7: InstanceID (KIP-345).
//   - v8: flexible.
//   - v9+ (KIP-848, then topic ids in v10) is not served yet.

func decodeOffsetCommit(r *reader) kmsg.Request {
	q := kmsg.NewPtrOffsetCommitRequest()
	q.Version = r.v
	q.Group = r.str()
	if r.v >= 1 {
		q.Generation = r.int32()
		q.MemberID = r.str()
	}
	if r.v >= 7 {
		q.InstanceID = r.nstr()
	}
	if r.v >= 2 && r.v <= 4 {
		q.RetentionTimeMillis = r.int64()
	}
	q.Topics = alloc[kmsg.OffsetCommitRequestTopic](r.count(r.strMin() + r.arrMin() + r.tagMin()))
	for i := range q.Topics {
		offsetCommitTopic(r, &q.Topics[i])
	}
	r.skipTags()
	return q
}

func offsetCommitTopic(r *reader, t *kmsg.OffsetCommitRequestTopic) {
	t.Default()
	t.Topic = r.str()
	// Partition, Offset and Metadata are in every version.
	t.Partitions = alloc[kmsg.OffsetCommitRequestTopicPartition](r.count(12 + r.strMin() + r.tagMin()))
	for i := range t.Partitions {
		offsetCommitPartition(r, &t.Partitions[i])
	}
	r.skipTags()
}

func offsetCommitPartition(r *reader, p *kmsg.OffsetCommitRequestTopicPartition) {
	p.Default()
	p.Partition = r.int32()
	p.Offset = r.int64()
	if r.v == 1 {
		p.Timestamp = r.int64()
	}
	if r.v >= 6 {
		p.LeaderEpoch = r.int32()
	}
	p.Metadata = r.nstr()
	r.skipTags()
}
