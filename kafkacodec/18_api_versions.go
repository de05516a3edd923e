package kafkacodec

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions: v0-3
//
// Version notes:
//   - v0: an empty body.
//   - v1-v2: the same request (v1: ThrottleMillis in the response).
//   - v3: flexible; ClientSoftwareName and ClientSoftwareVersion (KIP-511).
//   - v4+: not decoded. A client that asks a version above our maximum
//     gets the KIP-511 answer: a v0-format body with UNSUPPORTED_VERSION
//     and our ApiVersions range, so it retries with a version we serve.
//     kgo asks v5 first, Java 3.9 asks v4.
//
// The response header is always v0 (no tag byte), even for flexible
// versions, because the client reads it before it knows our versions.

// APIVersionsMax is the highest ApiVersions version we serve; a request
// above it gets the KIP-511 answer.
const APIVersionsMax = 3

func decodeApiVersions(r *reader) kmsg.Request {
	q := kmsg.NewPtrApiVersionsRequest()
	q.Version = r.v
	if r.v >= 3 {
		q.ClientSoftwareName = r.str()
		q.ClientSoftwareVersion = r.str()
	}
	r.skipTags()
	return q
}

// AppendApiVersionsResponse appends the whole ApiVersions response frame
// for h: our version table at h's version, or, when h asks a version above
// our maximum (or a negative one), the KIP-511 answer (v0 format,
// UNSUPPORTED_VERSION, our ApiVersions range). The response header is
// always v0. h must be an ApiVersions header.
func AppendApiVersionsResponse(dst []byte, h RequestHeader) []byte {
	resp := kmsg.NewPtrApiVersionsResponse()
	if h.APIVersion < 0 || h.APIVersion > APIVersionsMax {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		resp.ApiKeys = []kmsg.ApiVersionsResponseApiKey{{
			ApiKey: APIVersionsKey, MinVersion: lookup(APIVersionsKey).min, MaxVersion: APIVersionsMax,
		}}
		return AppendResponse(dst, h.CorrelationID, resp)
	}
	resp.Version = h.APIVersion
	for _, a := range apis {
		resp.ApiKeys = append(resp.ApiKeys, kmsg.ApiVersionsResponseApiKey{
			ApiKey: a.key, MinVersion: a.min, MaxVersion: a.max,
		})
	}
	return AppendResponse(dst, h.CorrelationID, resp)
}
