package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// Heartbeat: v0-4
//
// Version notes:
//   - v1-v2: the same request.
//   - v3: InstanceID (KIP-345).
//   - v4: flexible.

func decodeHeartbeat(r *reader) kmsg.Request {
	q := kmsg.NewPtrHeartbeatRequest()
	q.Version = r.v
	q.Group = r.str()
	q.Generation = r.int32()
	q.MemberID = r.str()
	if r.v >= 3 {
		q.InstanceID = r.nstr()
	}
	r.skipTags()
	return q
}
