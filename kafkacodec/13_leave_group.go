package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// LeaveGroup: v0-5
//
// Version notes:
//   - v1-v2: the same request.
//   - v3: Members, a batch of leaving members, replaces MemberID (KIP-345).
//   - v4: flexible.
//   - v5: per-member Reason (KIP-800).

func decodeLeaveGroup(r *reader) kmsg.Request {
	q := kmsg.NewPtrLeaveGroupRequest()
	q.Version = r.v
	q.Group = r.str()
	if r.v <= 2 {
		q.MemberID = r.str()
	} else {
		q.Members = alloc[kmsg.LeaveGroupRequestMember](r.count(2*r.strMin() + r.tagMin()))
		for i := range q.Members {
			leaveGroupMember(r, &q.Members[i])
		}
	}
	r.skipTags()
	return q
}

func leaveGroupMember(r *reader, m *kmsg.LeaveGroupRequestMember) {
	m.Default()
	m.MemberID = r.str()
	m.InstanceID = r.nstr()
	if r.v >= 5 {
		m.Reason = r.nstr()
	}
	r.skipTags()
}
