package load

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// Every payload starts with a header that lets the subscriber, in the same
// process, measure latency and check delivery without any shared state with
// the publisher:
//
//	+---------------+---------------+---------------+-----------+----------
//	| sent (8B)     | sequence (8B) | publisher (4B)| run (4B)  | filler ...
//	+---------------+---------------+---------------+-----------+----------
//
// sent is the monotonic time of the write, in nanoseconds since the run's
// epoch (a time.Time whose monotonic reading both sides share, so a wall
// clock step cannot distort latency); sequence counts the publisher's
// messages from 0; run is a hash of the run id, so a message left over from
// another run is recognised rather than counted. Big-endian throughout.
const (
	// HeaderBytes is the smallest payload: the header alone.
	HeaderBytes = 24

	fillerByte = 'x'
)

// header is the decoded payload header.
type header struct {
	sent      time.Duration // since the run's epoch
	seq       uint64
	publisher uint32
	run       uint32
}

// putHeader writes h over the first HeaderBytes of b, which must be that long.
func putHeader(b []byte, h header) {
	_ = b[HeaderBytes-1]
	binary.BigEndian.PutUint64(b[0:], uint64(h.sent))
	binary.BigEndian.PutUint64(b[8:], h.seq)
	binary.BigEndian.PutUint32(b[16:], h.publisher)
	binary.BigEndian.PutUint32(b[20:], h.run)
}

// parseHeader reads the header at the start of b. It reports false when b
// is shorter than HeaderBytes.
func parseHeader(b []byte) (header, bool) {
	if len(b) < HeaderBytes {
		return header{}, false
	}
	return header{
		sent:      time.Duration(binary.BigEndian.Uint64(b[0:])),
		seq:       binary.BigEndian.Uint64(b[8:]),
		publisher: binary.BigEndian.Uint32(b[16:]),
		run:       binary.BigEndian.Uint32(b[20:]),
	}, true
}

// newPayload returns a payload of n bytes (n ≥ HeaderBytes) with a zero
// header and the filler after it.
func newPayload(n int) []byte {
	b := make([]byte, n)
	for i := HeaderBytes; i < n; i++ {
		b[i] = fillerByte
	}
	return b
}

// runTag returns the 4-byte tag payloads of run id carry.
func runTag(id string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(id)) // a hash.Hash never fails to write
	return h.Sum32()
}

// newRunID returns a random run id of maxRunIDBytes lower-case letters and
// digits.
func newRunID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, maxRunIDBytes)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}
