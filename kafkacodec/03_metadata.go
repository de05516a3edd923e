package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// Metadata: v0-12
//
// Version notes:
//   - v0: Topics is never null; an empty Topics asks for every topic. The
//     decoded slice is then empty, not nil: the handler checks the version.
//   - v1: Topics is nullable: null asks for every topic, empty for none.
//   - v2-v3: the same request (response additions).
//   - v4: AllowAutoTopicCreation (before v4 Kafka always auto-created).
//   - v5-v7: the same request (v7: leader epochs in the response).
//   - v8: IncludeClusterAuthorizedOperations and
//     IncludeTopicAuthorizedOperations (KIP-430).
//   - v9: flexible.
//   - v10: per-topic TopicID; the topic name becomes nullable (KIP-516).
//   - v11: IncludeClusterAuthorizedOperations is gone (KIP-700).
//   - v12: the same request.

func decodeMetadata(r *reader) kmsg.Request {
	q := kmsg.NewPtrMetadataRequest()
	q.Version = r.v
	minTopic := r.strMin() + r.tagMin()
	if r.v >= 10 {
		minTopic += 16
	}
	q.Topics = allocNullable[kmsg.MetadataRequestTopic](r.count(minTopic), r.v >= 1)
	for i := range q.Topics {
		metadataTopic(r, &q.Topics[i])
	}
	if r.v >= 4 {
		q.AllowAutoTopicCreation = r.bool()
	}
	if r.v >= 8 && r.v <= 10 {
		q.IncludeClusterAuthorizedOperations = r.bool()
	}
	if r.v >= 8 {
		q.IncludeTopicAuthorizedOperations = r.bool()
	}
	r.skipTags()
	return q
}

func metadataTopic(r *reader, t *kmsg.MetadataRequestTopic) {
	t.Default()
	if r.v >= 10 {
		t.TopicID = r.uuid()
		t.Topic = r.nstr()
	} else {
		name := r.str()
		t.Topic = &name
	}
	r.skipTags()
}
