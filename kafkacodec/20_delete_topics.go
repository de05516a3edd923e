package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// DeleteTopics: v0-6
//
// Version notes:
//   - v1-v3: the same request.
//   - v4: flexible.
//   - v5: the same request (ErrorMessage in the response).
//   - v6: Topics replaces TopicNames; each names its topic by name or by
//     id (KIP-516). Both are decoded; the handler resolves them.

func decodeDeleteTopics(r *reader) kmsg.Request {
	q := kmsg.NewPtrDeleteTopicsRequest()
	q.Version = r.v
	if r.v <= 5 {
		q.TopicNames = r.strs()
	} else {
		q.Topics = alloc[kmsg.DeleteTopicsRequestTopic](r.count(r.strMin() + 16 + r.tagMin()))
		for i := range q.Topics {
			deleteTopic(r, &q.Topics[i])
		}
	}
	q.TimeoutMillis = r.int32()
	r.skipTags()
	return q
}

func deleteTopic(r *reader, t *kmsg.DeleteTopicsRequestTopic) {
	t.Default()
	t.Topic = r.nstr()
	t.TopicID = r.uuid()
	r.skipTags()
}
