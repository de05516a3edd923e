package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// OffsetFetch: v0-8
//
// Version notes:
//   - v0: offsets kept in ZooKeeper by old brokers; we keep them all alike.
//   - v1: offsets kept by Kafka.
//   - v2: Topics is nullable: null asks for every committed partition
//     (KIP-88). Before v2 a null reads as empty.
//   - v3-v5: the same request (response additions).
//   - v6: flexible.
//   - v7: RequireStable (KIP-447).
//   - v8: many groups per request, Groups replaces Group and Topics
//     (KIP-709); a group's Topics is nullable.
//   - v9+ (KIP-848, then topic ids in v10) is not served yet.

func decodeOffsetFetch(r *reader) kmsg.Request {
	q := kmsg.NewPtrOffsetFetchRequest()
	q.Version = r.v
	if r.v <= 7 {
		q.Group = r.str()
		q.Topics = allocNullable[kmsg.OffsetFetchRequestTopic](r.count(r.strMin()+r.arrMin()+r.tagMin()), r.v >= 2)
		for i := range q.Topics {
			offsetFetchTopic(r, &q.Topics[i])
		}
	} else {
		q.Groups = alloc[kmsg.OffsetFetchRequestGroup](r.count(r.strMin() + r.arrMin() + r.tagMin()))
		for i := range q.Groups {
			offsetFetchGroup(r, &q.Groups[i])
		}
	}
	if r.v >= 7 {
		q.RequireStable = r.bool()
	}
	r.skipTags()
	return q
}

func offsetFetchTopic(r *reader, t *kmsg.OffsetFetchRequestTopic) {
	t.Default()
	t.Topic = r.str()
	t.Partitions = r.int32s()
	r.skipTags()
}

func offsetFetchGroup(r *reader, g *kmsg.OffsetFetchRequestGroup) {
	g.Default()
	g.Group = r.str()
	g.Topics = allocNullable[kmsg.OffsetFetchRequestGroupTopic](r.count(r.strMin()+r.arrMin()+r.tagMin()), true)
	for i := range g.Topics {
		offsetFetchGroupTopic(r, &g.Topics[i])
	}
	r.skipTags()
}

func offsetFetchGroupTopic(r *reader, t *kmsg.OffsetFetchRequestGroupTopic) {
	t.Default()
	t.Topic = r.str()
	t.Partitions = r.int32s()
	r.skipTags()
}
