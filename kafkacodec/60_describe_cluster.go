package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeCluster: v0-1
//
// Version notes:
//   - v0: flexible from the start (KIP-700).
//   - v1: EndpointType: 1 brokers, 2 controllers (KIP-919).

func decodeDescribeCluster(r *reader) kmsg.Request {
	q := kmsg.NewPtrDescribeClusterRequest()
	q.Version = r.v
	q.IncludeClusterAuthorizedOperations = r.bool()
	if r.v >= 1 {
		q.EndpointType = r.int8()
	}
	r.skipTags()
	return q
}
