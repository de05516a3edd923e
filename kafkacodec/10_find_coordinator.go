package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// FindCoordinator: v0-4
//
// Version notes:
//   - v0: a group's coordinator only.
//   - v1: CoordinatorType: 0 group, 1 transaction (KIP-98).
//   - v2: the same request.
//   - v3: flexible.
//   - v4: CoordinatorKeys, a batch of keys, replaces CoordinatorKey
//     (KIP-699).

func decodeFindCoordinator(r *reader) kmsg.Request {
	q := kmsg.NewPtrFindCoordinatorRequest()
	q.Version = r.v
	if r.v <= 3 {
		q.CoordinatorKey = r.str()
	}
	if r.v >= 1 {
		q.CoordinatorType = r.int8()
	}
	if r.v >= 4 {
		q.CoordinatorKeys = r.strs()
	}
	r.skipTags()
	return q
}
