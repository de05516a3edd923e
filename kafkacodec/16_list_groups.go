package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// ListGroups: v0-4
//
// Version notes:
//   - v0-v2: an empty body.
//   - v3: flexible.
//   - v4: StatesFilter (KIP-518).

func decodeListGroups(r *reader) kmsg.Request {
	q := kmsg.NewPtrListGroupsRequest()
	q.Version = r.v
	if r.v >= 4 {
		q.StatesFilter = r.strs()
	}
	r.skipTags()
	return q
}
