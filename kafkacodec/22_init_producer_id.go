package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// InitProducerId: v0-4
//
// Version notes:
//   - v0: TransactionalID (null for an idempotent producer) and
//     TransactionTimeoutMillis (KIP-98). librdkafka enables idempotence
//     only when v0 is inside the advertised range.
//   - v1: the same request.
//   - v2: flexible.
//   - v3: ProducerID and ProducerEpoch, to bump the epoch of an existing
//     producer (KIP-360).
//   - v4: the same request (PRODUCER_FENCED, KIP-588).

func decodeInitProducerID(r *reader) kmsg.Request {
	q := kmsg.NewPtrInitProducerIDRequest()
	q.Version = r.v
	q.TransactionalID = r.nstr()
	q.TransactionTimeoutMillis = r.int32()
	if r.v >= 3 {
		q.ProducerID = r.int64()
		q.ProducerEpoch = r.int16()
	}
	r.skipTags()
	return q
}
