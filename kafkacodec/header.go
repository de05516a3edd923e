package kafkacodec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// A Kafka frame is a 4-byte big-endian size followed by that many bytes.
// A request's bytes start with its header:
//
//	+---------+-------------+----------------+---------------------+------------+
//	| key 2   | version 2   | correlation 4  | client id (int16    | tags       |
//	|         |             |                | length, -1 = null)  | (v2 only)  |
//	+---------+-------------+----------------+---------------------+------------+
//
// Header v1 is used by classic versions, v2 by flexible ones (KIP-482); the
// client id stays a classic nullable string in v2.

// headerFixedBytes is the size of key, version and correlation id.
const headerFixedBytes = 8

// FrameLen returns the size of the first frame in b (4-byte size prefix
// included) and true, or false when b holds fewer than 4 bytes. The size
// is not bounded here: the caller checks it against its limit before
// allocating. A size that is negative as Kafka's int32 comes back as
// math.MaxInt, which no limit admits.
func FrameLen(b []byte) (int, bool) {
	if len(b) < 4 {
		return 0, false
	}
	n := binary.BigEndian.Uint32(b)
	if n > math.MaxInt32 {
		return math.MaxInt, true
	}
	return int(n) + 4, true
}

// ParseRequestHeader parses the header at the start of frame (the bytes
// after the size prefix) and returns it with the body that follows, a
// sub-slice of frame. The header's own fields are copies.
//
// For a key or version we do not serve, it parses as far as it can (key,
// version, correlation id, client id, and the tag section when kmsg knows
// the version is flexible), so that the caller can log the request, and
// returns an error wrapping ErrUnsupported. ApiVersions above our maximum
// parses without error (as header v2): the caller answers it with the
// KIP-511 reply of AppendApiVersionsResponse.
func ParseRequestHeader(frame []byte) (RequestHeader, []byte, error) {
	var h RequestHeader
	if len(frame) < headerFixedBytes {
		return h, nil, fmt.Errorf("kafkacodec: request header of %d bytes: %w", len(frame), ErrMalformed)
	}
	h.APIKey = int16(binary.BigEndian.Uint16(frame))
	h.APIVersion = int16(binary.BigEndian.Uint16(frame[2:]))
	h.CorrelationID = int32(binary.BigEndian.Uint32(frame[4:]))
	flexible := IsFlexible(h.APIKey, h.APIVersion)
	// The header's own encodings are classic; only its tag section is not.
	r := newReader(frame, h.APIVersion, false)
	r.off = headerFixedBytes
	h.ClientID = r.nstr()
	if flexible {
		r.flex = true
		r.skipTags()
	}
	if err := headerSupported(h); err != nil {
		return h, r.rest(), err
	}
	if r.err != nil {
		return h, nil, fmt.Errorf("kafkacodec: request header of %s v%d: %w", RequestName(h.APIKey), h.APIVersion, r.err)
	}
	return h, r.rest(), nil
}

// headerSupported reports whether a request with header h may go on to
// DecodeRequest or, for a too-new ApiVersions, to the KIP-511 reply.
func headerSupported(h RequestHeader) error {
	if supported(h.APIKey, h.APIVersion) || h.APIKey == APIVersionsKey && h.APIVersion > APIVersionsMax {
		return nil
	}
	return fmt.Errorf("kafkacodec: %s (key %d) v%d: %w", RequestName(h.APIKey), h.APIKey, h.APIVersion, ErrUnsupported)
}
