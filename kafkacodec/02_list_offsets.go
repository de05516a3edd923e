package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// ListOffsets: v0-7
//
// Version notes:
//   - v0: per-partition MaxNumOffsets (the old offsets API).
//   - v1: one offset per partition; MaxNumOffsets is gone (KIP-79).
//   - v2: IsolationLevel (KIP-98).
//   - v3: the same request.
//   - v4: per-partition CurrentLeaderEpoch (KIP-320).
//   - v5: the same request (OFFSET_NOT_AVAILABLE).
//   - v6: flexible.
//   - v7: the same request; Timestamp -3 asks for the record with the
//     largest timestamp (KIP-734).

func decodeListOffsets(r *reader) kmsg.Request {
	q := kmsg.NewPtrListOffsetsRequest()
	q.Version = r.v
	q.ReplicaID = r.int32()
	if r.v >= 2 {
		q.IsolationLevel = r.int8()
	}
	q.Topics = alloc[kmsg.ListOffsetsRequestTopic](r.count(r.strMin() + r.arrMin() + r.tagMin()))
	for i := range q.Topics {
		listOffsetsTopic(r, &q.Topics[i])
	}
	r.skipTags()
	return q
}

func listOffsetsTopic(r *reader, t *kmsg.ListOffsetsRequestTopic) {
	t.Default()
	t.Topic = r.str()
	// Partition and Timestamp are in every version.
	t.Partitions = alloc[kmsg.ListOffsetsRequestTopicPartition](r.count(12 + r.tagMin()))
	for i := range t.Partitions {
		listOffsetsPartition(r, &t.Partitions[i])
	}
	r.skipTags()
}

func listOffsetsPartition(r *reader, p *kmsg.ListOffsetsRequestTopicPartition) {
	p.Default()
	p.Partition = r.int32()
	if r.v >= 4 {
		p.CurrentLeaderEpoch = r.int32()
	}
	p.Timestamp = r.int64()
	if r.v == 0 {
		p.MaxNumOffsets = r.int32()
	}
	r.skipTags()
}
