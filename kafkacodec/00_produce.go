package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// Produce: v3-9
//
// Version notes:
//   - v3: TransactionID (KIP-98); from here on records are RecordBatch v2
//     (magic 2) only, which is all we accept.
//   - v4-v8: the same request; they change errors and the response
//     (v5 LogStartOffset, v8 RecordErrors, KIP-467).
//   - v9: flexible.
//
// This is a hot path: Records alias the frame (never copied), and a
// request costs one allocation per topic plus the topic name.

func decodeProduce(r *reader) kmsg.Request {
	q := kmsg.NewPtrProduceRequest()
	q.Version = r.v
	q.TransactionID = r.nstr()
	q.Acks = r.int16()
	q.TimeoutMillis = r.int32()
	q.Topics = alloc[kmsg.ProduceRequestTopic](r.count(r.strMin() + r.arrMin() + r.tagMin()))
	for i := range q.Topics {
		produceTopic(r, &q.Topics[i])
	}
	r.skipTags()
	return q
}

func produceTopic(r *reader, t *kmsg.ProduceRequestTopic) {
	t.Default()
	t.Topic = r.str()
	t.Partitions = alloc[kmsg.ProduceRequestTopicPartition](r.count(4 + r.bytesMin() + r.tagMin()))
	for i := range t.Partitions {
		producePartition(r, &t.Partitions[i])
	}
	r.skipTags()
}

func producePartition(r *reader, p *kmsg.ProduceRequestTopicPartition) {
	p.Default()
	p.Partition = r.int32()
	p.Records = r.nbytes()
	r.skipTags()
}
