package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// Fetch: v4-12
//
// Version notes:
//   - v4: IsolationLevel (KIP-98).
//   - v5: per-partition LogStartOffset (KIP-107).
//   - v6: the same request.
//   - v7: fetch sessions: SessionID, SessionEpoch, ForgottenTopics (KIP-227).
//   - v8: the same request (throttling, KIP-219).
//   - v9: per-partition CurrentLeaderEpoch (KIP-320).
//   - v10: the same request (zstd, KIP-110).
//   - v11: Rack (KIP-392).
//   - v12: flexible; per-partition LastFetchedEpoch (KIP-595); tagged
//     ClusterID (tag 0) and ReplicaState (tag 1), and per-partition
//     ReplicaDirectoryID (tag 0) and HighWatermark (tag 1), decoded into
//     their kmsg fields as kmsg does, whatever the flexible version.
//   - v13+ (topic ids) is not served yet.
//
// This is a hot path: one allocation per topic, plus the topic name.

func decodeFetch(r *reader) kmsg.Request {
	q := kmsg.NewPtrFetchRequest()
	q.Version = r.v
	q.ReplicaID = r.int32()
	q.MaxWaitMillis = r.int32()
	q.MinBytes = r.int32()
	q.MaxBytes = r.int32()
	q.IsolationLevel = r.int8()
	if r.v >= 7 {
		q.SessionID = r.int32()
		q.SessionEpoch = r.int32()
	}
	q.Topics = alloc[kmsg.FetchRequestTopic](r.count(r.strMin() + r.arrMin() + r.tagMin()))
	for i := range q.Topics {
		fetchTopic(r, &q.Topics[i])
	}
	if r.v >= 7 {
		q.ForgottenTopics = alloc[kmsg.FetchRequestForgottenTopic](r.count(r.strMin() + r.arrMin() + r.tagMin()))
		for i := range q.ForgottenTopics {
			fetchForgottenTopic(r, &q.ForgottenTopics[i])
		}
	}
	if r.v >= 11 {
		q.Rack = r.str()
	}
	fetchTags(r, q)
	return q
}

func fetchTags(r *reader, q *kmsg.FetchRequest) {
	if !r.flex {
		return
	}
	for n := r.tagCount(); n > 0 && r.ok(); n-- {
		key, payload := r.tag()
		t := r.sub(payload)
		switch key {
		case 0:
			q.ClusterID = t.nstr()
		case 1:
			s := &q.ReplicaState
			s.Default()
			s.ID = t.int32()
			s.Epoch = t.int64()
			t.skipTags()
		}
		r.adopt(&t, key)
	}
}

func fetchTopic(r *reader, t *kmsg.FetchRequestTopic) {
	t.Default()
	t.Topic = r.str()
	// Partition, FetchOffset and PartitionMaxBytes are in every version.
	t.Partitions = alloc[kmsg.FetchRequestTopicPartition](r.count(16 + r.tagMin()))
	for i := range t.Partitions {
		fetchPartition(r, &t.Partitions[i])
	}
	r.skipTags()
}

func fetchPartition(r *reader, p *kmsg.FetchRequestTopicPartition) {
	p.Default()
	p.Partition = r.int32()
	if r.v >= 9 {
		p.CurrentLeaderEpoch = r.int32()
	}
	p.FetchOffset = r.int64()
	if r.v >= 12 {
		p.LastFetchedEpoch = r.int32()
	}
	if r.v >= 5 {
		p.LogStartOffset = r.int64()
	}
	p.PartitionMaxBytes = r.int32()
	fetchPartitionTags(r, p)
}

func fetchPartitionTags(r *reader, p *kmsg.FetchRequestTopicPartition) {
	if !r.flex {
		return
	}
	for n := r.tagCount(); n > 0 && r.ok(); n-- {
		key, payload := r.tag()
		t := r.sub(payload)
		switch key {
		case 0:
			p.ReplicaDirectoryID = t.uuid()
		case 1:
			p.HighWatermark = t.int64()
		}
		r.adopt(&t, key)
	}
}

func fetchForgottenTopic(r *reader, t *kmsg.FetchRequestForgottenTopic) {
	t.Default()
	t.Topic = r.str()
	t.Partitions = r.int32s()
	r.skipTags()
}
