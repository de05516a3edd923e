package kafkacodec

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrMalformed reports a request that cannot be decoded: a count larger
// than the bytes left, a length past the end, a body shorter than its
// fields. Bytes after a complete body are ignored, as Kafka ignores them.
var ErrMalformed = errors.New("kafkacodec: malformed request")

// ErrUnsupported reports an API key or version this broker does not serve;
// the connection that sent it is closed (Kafka does the same).
var ErrUnsupported = errors.New("kafkacodec: unsupported api key or version")

// RequestHeader is a request header v1 or v2 (v2 = flexible versions: a
// tag section follows the client id, which is still a non-compact
// nullable string).
type RequestHeader struct {
	APIKey        int16
	APIVersion    int16
	CorrelationID int32   // echoed in the response
	ClientID      *string // nil when the client sent null; a copy
}

// maxLoggedClientIDBytes caps the client id a log line carries: a client
// chooses it, up to 32 KiB.
const maxLoggedClientIDBytes = 256

// LogValue implements slog.LogValuer with the log vocabulary's keys
// (api_key, api_version, client_id); the client id is cut to
// maxLoggedClientIDBytes.
func (h RequestHeader) LogValue() slog.Value {
	clientID := ""
	if h.ClientID != nil {
		clientID = *h.ClientID
		if len(clientID) > maxLoggedClientIDBytes {
			clientID = clientID[:maxLoggedClientIDBytes]
		}
	}
	return slog.GroupValue(
		slog.Int("api_key", int(h.APIKey)),
		slog.Int("api_version", int(h.APIVersion)),
		slog.String("client_id", clientID),
	)
}

// VersionRange is the range of versions advertised for one API key.
type VersionRange struct {
	APIKey int16
	Min    int16 // lowest version served
	Max    int16 // highest version served
}

// DecodeRequest decodes body as the request h names, with bounded code of
// our own (never a kmsg decoder), into a kmsg request whose version is
// set. Errors wrap ErrUnsupported or ErrMalformed. ApiVersions requests of
// a version above the advertised maximum are not decoded: answer them with
// AppendApiVersionsResponse.
//
// Byte fields of the result (Produce's Records, group metadata and
// assignments) alias body: they stay valid as long as body does. Strings
// are copies. Known tagged fields land in their kmsg fields; unknown tags
// are skipped and not kept.
func DecodeRequest(h RequestHeader, body []byte) (kmsg.Request, error) {
	a := lookup(h.APIKey)
	if a == nil || h.APIVersion < a.min || h.APIVersion > a.max {
		return nil, fmt.Errorf("kafkacodec: decode %s (key %d) v%d: %w",
			RequestName(h.APIKey), h.APIKey, h.APIVersion, ErrUnsupported)
	}
	r := newReader(body, h.APIVersion, h.APIVersion >= a.flexible)
	req := decodeBody(&r, h.APIKey)
	if r.err != nil {
		return nil, fmt.Errorf("kafkacodec: decode %s v%d: %w", RequestName(h.APIKey), h.APIVersion, r.err)
	}
	return req, nil
}

// decodeBody calls the decoder of key. A switch rather than a function in
// the version table: an indirect call would move the reader to the heap.
func decodeBody(r *reader, key int16) kmsg.Request {
	switch key {
	case 0:
		return decodeProduce(r)
	case 1:
		return decodeFetch(r)
	case 2:
		return decodeListOffsets(r)
	case 3:
		return decodeMetadata(r)
	case 8:
		return decodeOffsetCommit(r)
	case 9:
		return decodeOffsetFetch(r)
	case 10:
		return decodeFindCoordinator(r)
	case 11:
		return decodeJoinGroup(r)
	case 12:
		return decodeHeartbeat(r)
	case 13:
		return decodeLeaveGroup(r)
	case 14:
		return decodeSyncGroup(r)
	case 15:
		return decodeDescribeGroups(r)
	case 16:
		return decodeListGroups(r)
	case 18:
		return decodeApiVersions(r)
	case 19:
		return decodeCreateTopics(r)
	case 20:
		return decodeDeleteTopics(r)
	case 22:
		return decodeInitProducerID(r)
	case 23:
		return decodeOffsetForLeaderEpoch(r)
	case 32:
		return decodeDescribeConfigs(r)
	case 60:
		return decodeDescribeCluster(r)
	}
	r.fail("no decoder") // unreachable while apis and this switch agree
	return nil
}
