package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// DescribeConfigs: v0-4
//
// Version notes:
//   - v0: a resource's ConfigNames is nullable: null asks for every config.
//   - v1: IncludeSynonyms (KIP-226).
//   - v2: the same request.
//   - v3: IncludeDocumentation (KIP-569).
//   - v4: flexible.

func decodeDescribeConfigs(r *reader) kmsg.Request {
	q := kmsg.NewPtrDescribeConfigsRequest()
	q.Version = r.v
	// ResourceType, ResourceName and ConfigNames.
	q.Resources = alloc[kmsg.DescribeConfigsRequestResource](r.count(1 + r.strMin() + r.arrMin() + r.tagMin()))
	for i := range q.Resources {
		describeConfigsResource(r, &q.Resources[i])
	}
	if r.v >= 1 {
		q.IncludeSynonyms = r.bool()
	}
	if r.v >= 3 {
		q.IncludeDocumentation = r.bool()
	}
	r.skipTags()
	return q
}

func describeConfigsResource(r *reader, c *kmsg.DescribeConfigsRequestResource) {
	c.Default()
	c.ResourceType = kmsg.ConfigResourceType(r.int8())
	c.ResourceName = r.str()
	c.ConfigNames = r.nullableStrs()
	r.skipTags()
}
