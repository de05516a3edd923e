package kafkacodec

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// A response frame:
//
//	+--------+----------------+-----------------------+------------------+
//	| size 4 | correlation 4  | tags (header v1 only) | body             |
//	+--------+----------------+-----------------------+------------------+
//
// Response header v1 (one empty tag section, a 0 byte) goes with flexible
// versions, except ApiVersions, whose response header is always v0 so that
// a client that does not yet know our versions can read it (KIP-511).

// AppendResponse appends resp as a whole frame (size prefix, correlation
// id, the response header's tag byte for flexible versions other than
// ApiVersions, body) encoded at resp's version. kmsg's encoders only
// write, so they are safe to use here.
func AppendResponse(dst []byte, correlationID int32, resp kmsg.Response) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // size, patched below
	dst = binary.BigEndian.AppendUint32(dst, uint32(correlationID))
	if resp.IsFlexible() && resp.Key() != APIVersionsKey {
		dst = append(dst, 0) // empty tag section
	}
	dst = resp.AppendTo(dst)
	binary.BigEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}
