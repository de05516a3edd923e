package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeGroups: v0-5
//
// Version notes:
//   - v1-v2: the same request.
//   - v3: IncludeAuthorizedOperations (KIP-430).
//   - v4: the same request (member InstanceID in the response).
//   - v5: flexible.

func decodeDescribeGroups(r *reader) kmsg.Request {
	q := kmsg.NewPtrDescribeGroupsRequest()
	q.Version = r.v
	q.Groups = r.strs()
	if r.v >= 3 {
		q.IncludeAuthorizedOperations = r.bool()
	}
	r.skipTags()
	return q
}
