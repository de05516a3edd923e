package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// SyncGroup: v0-5
//
// Version notes:
//   - v1-v2: the same request.
//   - v3: InstanceID (KIP-345).
//   - v4: flexible.
//   - v5: ProtocolType and Protocol, checked against the group's (KIP-559).
//
// Member assignments alias the frame.

func decodeSyncGroup(r *reader) kmsg.Request {
	q := kmsg.NewPtrSyncGroupRequest()
	q.Version = r.v
	q.Group = r.str()
	q.Generation = r.int32()
	q.MemberID = r.str()
	if r.v >= 3 {
		q.InstanceID = r.nstr()
	}
	if r.v >= 5 {
		q.ProtocolType = r.nstr()
		q.Protocol = r.nstr()
	}
	q.GroupAssignment = alloc[kmsg.SyncGroupRequestGroupAssignment](r.count(r.strMin() + r.bytesMin() + r.tagMin()))
	for i := range q.GroupAssignment {
		syncGroupAssignment(r, &q.GroupAssignment[i])
	}
	r.skipTags()
	return q
}

func syncGroupAssignment(r *reader, a *kmsg.SyncGroupRequestGroupAssignment) {
	a.Default()
	a.MemberID = r.str()
	a.MemberAssignment = r.bytes()
	r.skipTags()
}
