package kafkacodec

import "github.com/twmb/franz-go/pkg/kmsg"

// api is one row of the version table: what we advertise for a key, and
// from which version its requests are flexible (KIP-482: header v2,
// compact encodings, tag sections). decodeBody holds the decoder of each.
type api struct {
	key      int16
	min, max int16
	flexible int16 // first flexible version
}

// apis is the advertised table, ordered by key. Keys whose min is 0 keep it
// at 0 even where no client sends v0 any more: librdkafka enables features
// only when a specific old version lies inside the range (its feature map).
// Not advertised yet, because not served: Fetch 13+ and OffsetCommit /
// OffsetFetch 10+ (topic ids), ConsumerGroupHeartbeat (68), telemetry
// (71/72), SASL (17/36).
var apis = [...]api{
	{key: 0, min: 3, max: 9, flexible: 9},
	{key: 1, min: 4, max: 12, flexible: 12},
	{key: 2, min: 0, max: 7, flexible: 6},
	{key: 3, min: 0, max: 12, flexible: 9},
	{key: 8, min: 0, max: 8, flexible: 8},
	{key: 9, min: 0, max: 8, flexible: 6},
	{key: 10, min: 0, max: 4, flexible: 3},
	{key: 11, min: 0, max: 9, flexible: 6},
	{key: 12, min: 0, max: 4, flexible: 4},
	{key: 13, min: 0, max: 5, flexible: 4},
	{key: 14, min: 0, max: 5, flexible: 4},
	{key: 15, min: 0, max: 5, flexible: 5},
	{key: 16, min: 0, max: 4, flexible: 3},
	{key: 18, min: 0, max: APIVersionsMax, flexible: 3},
	{key: 19, min: 0, max: 7, flexible: 5},
	{key: 20, min: 0, max: 6, flexible: 4},
	{key: 22, min: 0, max: 4, flexible: 2},
	{key: 23, min: 0, max: 4, flexible: 4},
	{key: 32, min: 0, max: 4, flexible: 4},
	{key: 60, min: 0, max: 1, flexible: 0},
}

// APIVersionsKey is ApiVersions' key, whose responses keep header v0 and
// whose too-new requests get the KIP-511 answer.
const APIVersionsKey = 18

// lookup returns the table row for key, or nil when we do not serve it.
func lookup(key int16) *api {
	for i := range apis {
		if apis[i].key == key {
			return &apis[i]
		}
	}
	return nil
}

// Versions returns the advertised version table, ordered by API key. The
// slice is the caller's.
func Versions() []VersionRange {
	out := make([]VersionRange, len(apis))
	for i, a := range apis {
		out[i] = VersionRange{APIKey: a.key, Min: a.min, Max: a.max}
	}
	return out
}

// IsFlexible reports whether requests of key at version use the flexible
// encodings of KIP-482 (request header v2, response header v1 except for
// ApiVersions, compact strings and arrays, tag sections). Keys we serve
// use our table; others use kmsg's knowledge of them (no decoding
// involved), and unknown keys are not flexible.
func IsFlexible(key, version int16) bool {
	if a := lookup(key); a != nil {
		return version >= a.flexible
	}
	req := kmsg.RequestForKey(key)
	if req == nil {
		return false
	}
	req.SetVersion(version)
	return req.IsFlexible()
}

// RequestName returns the name of an API key for logs and metrics
// ("Produce", "ApiVersions"), or "Unknown" for a key kmsg does not know,
// so that a label built from it has bounded cardinality.
func RequestName(key int16) string { return kmsg.NameForKey(key) }

// supported reports whether we decode key at version.
func supported(key, version int16) bool {
	a := lookup(key)
	return a != nil && version >= a.min && version <= a.max
}
