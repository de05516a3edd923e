package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// JoinGroup: v0-9
//
// Version notes:
//   - v1: RebalanceTimeoutMillis (KIP-62).
//   - v2-v3: the same request.
//   - v4: the first join of a member without id gets MEMBER_ID_REQUIRED
//     and rejoins with the id it was given (KIP-394).
//   - v5: InstanceID, static membership (KIP-345).
//   - v6: flexible.
//   - v7: the same request (ProtocolType in the response).
//   - v8: Reason (KIP-800).
//   - v9: the same request (SkipAssignment in the response, KIP-814).
//
// Protocol metadata aliases the frame.

func decodeJoinGroup(r *reader) kmsg.Request {
	q := kmsg.NewPtrJoinGroupRequest()
	q.Version = r.v
	q.Group = r.str()
	q.SessionTimeoutMillis = r.int32()
	if r.v >= 1 {
		q.RebalanceTimeoutMillis = r.int32()
	}
	q.MemberID = r.str()
	if r.v >= 5 {
		q.InstanceID = r.nstr()
	}
	q.ProtocolType = r.str()
	q.Protocols = alloc[kmsg.JoinGroupRequestProtocol](r.count(r.strMin() + r.bytesMin() + r.tagMin()))
	for i := range q.Protocols {
		joinGroupProtocol(r, &q.Protocols[i])
	}
	if r.v >= 8 {
		q.Reason = r.nstr()
	}
	r.skipTags()
	return q
}

func joinGroupProtocol(r *reader, p *kmsg.JoinGroupRequestProtocol) {
	p.Default()
	p.Name = r.str()
	p.Metadata = r.bytes()
	r.skipTags()
}
