package kafkacodec

import (
	"encoding/binary"
	"fmt"
	"math"
)

// reader decodes the primitive types of the Kafka protocol from untrusted
// bytes, bounding every length and count by the bytes left. It is
// kbin.Reader's pattern with the bounds kbin leaves out: the first failure
// sticks, later reads return zero values and consume nothing, and the
// decoder looks at err once at the end. Every count is checked against the
// bytes left before anything loops on it, so the work done is linear in
// the input.
//
// The reader advances an offset rather than re-slicing: writing a slice
// (a pointer) per field costs a GC write barrier while the collector runs.
//
// Strings are copied (a string must not alias a pooled buffer); byte
// fields alias the input as b[i:j:j].
type reader struct {
	src  []byte
	off  int   // next byte to read; len(src) after a failure
	err  error // first failure, wrapping ErrMalformed
	flex bool  // flexible version (KIP-482): compact encodings, tag sections
	v    int16 // request version
}

func newReader(b []byte, version int16, flexible bool) reader {
	return reader{src: b, flex: flexible, v: version}
}

// ok reports whether every read so far succeeded.
func (r *reader) ok() bool { return r.err == nil }

// left returns the number of bytes not read yet.
func (r *reader) left() int { return len(r.src) - r.off }

// rest returns the bytes not read yet, aliasing the input.
func (r *reader) rest() []byte { return r.src[r.off:] }

// fail records the first failure and drops the bytes left, so that every
// later read fails too.
func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d of %d", ErrMalformed, what, r.off, len(r.src))
	}
	r.off = len(r.src)
}

// take returns the next n bytes, aliasing the input.
func (r *reader) take(n int, what string) []byte {
	if n < 0 || n > r.left() {
		r.fail(what)
		return nil
	}
	end := r.off + n
	s := r.src[r.off:end:end]
	r.off = end
	return s
}

func (r *reader) int8() int8 {
	s := r.take(1, "int8")
	if s == nil {
		return 0
	}
	return int8(s[0])
}

func (r *reader) bool() bool { return r.int8() != 0 }

func (r *reader) int16() int16 {
	s := r.take(2, "int16")
	if s == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(s))
}

func (r *reader) int32() int32 {
	s := r.take(4, "int32")
	if s == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(s))
}

func (r *reader) int64() int64 {
	s := r.take(8, "int64")
	if s == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(s))
}

func (r *reader) uuid() (u [16]byte) {
	copy(u[:], r.take(16, "uuid"))
	return u
}

// uvarint reads an unsigned varint of at most 5 bytes that fits 32 bits.
func (r *reader) uvarint() uint32 {
	var x uint32
	b := r.rest()
	for i := 0; i < 5 && i < len(b); i++ {
		c := b[i]
		if i == 4 && c > 0x0f {
			break // more than 32 bits
		}
		x |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			r.off += i + 1
			return x
		}
	}
	r.fail("uvarint")
	return 0
}

// compactLen reads the uvarint "length + 1" of the compact encodings and
// returns the length, or -1 for null.
func (r *reader) compactLen() int {
	u := r.uvarint()
	if u > math.MaxInt32 {
		r.fail("compact length")
		return 0
	}
	return int(u) - 1
}

// strLen reads a STRING / COMPACT_STRING length: -1 (or any negative
// int16, as Kafka reads it) means null.
func (r *reader) strLen() int {
	if r.flex {
		return r.compactLen()
	}
	return int(r.int16())
}

// str reads a non-nullable string, copied.
func (r *reader) str() string {
	n := r.strLen()
	if n < 0 {
		r.fail("null non-nullable string")
		return ""
	}
	return string(r.take(n, "string"))
}

// nstr reads a nullable string, copied.
func (r *reader) nstr() *string {
	n := r.strLen()
	if n < 0 || !r.ok() {
		return nil
	}
	s := string(r.take(n, "string"))
	if !r.ok() {
		return nil
	}
	return &s
}

// bytesLen reads a BYTES / COMPACT_BYTES length; negative means null.
func (r *reader) bytesLen() int {
	if r.flex {
		return r.compactLen()
	}
	return int(r.int32())
}

// bytes reads non-nullable bytes, aliasing the input. A null (-1) reads as
// empty, as kmsg's decoders do: some clients (sarama) write a nil slice as
// -1 even where the field is not nullable.
func (r *reader) bytes() []byte {
	n := r.bytesLen()
	if n == -1 && r.ok() {
		return []byte{}
	}
	return r.take(n, "bytes")
}

// nbytes reads nullable bytes, aliasing the input.
func (r *reader) nbytes() []byte {
	n := r.bytesLen()
	if n < 0 || !r.ok() {
		return nil
	}
	return r.take(n, "bytes")
}

// arrayLen reads an ARRAY / COMPACT_ARRAY count; -1 means null.
func (r *reader) arrayLen() int {
	if r.flex {
		return r.compactLen()
	}
	return int(r.int32())
}

// count reads an array count and checks that that many elements of at
// least minBytes each fit in the bytes left. It returns -1 for a null
// array.
func (r *reader) count(minBytes int) int {
	n := r.arrayLen()
	switch {
	case !r.ok():
		return 0
	case n < -1:
		r.fail("negative array length")
		return 0
	case n > r.left()/minBytes:
		r.fail(fmt.Sprintf("array of %d elements of ≥ %d bytes", n, minBytes))
		return 0
	}
	return n
}

// Minimum encoded sizes, used to bound array counts: every element of an
// array needs at least the sum of the minimum sizes of its fields.
func (r *reader) strMin() int   { return r.pick(1, 2) } // (compact) string or null
func (r *reader) arrMin() int   { return r.pick(1, 4) } // (compact) array count
func (r *reader) bytesMin() int { return r.pick(1, 4) } // (compact) bytes length
func (r *reader) tagMin() int   { return r.pick(1, 0) } // tag section

func (r *reader) pick(flexible, classic int) int {
	if r.flex {
		return flexible
	}
	return classic
}

// tagCount reads the count of a tag section and checks it against the
// bytes left: each tag takes at least 2 bytes (key and size).
func (r *reader) tagCount() int {
	u := r.uvarint()
	if int64(u) > int64(r.left()/2) {
		r.fail(fmt.Sprintf("tag section of %d tags", u))
		return 0
	}
	return int(u)
}

// tag reads one tagged field: its key and its payload, aliasing the input.
func (r *reader) tag() (uint32, []byte) {
	key := r.uvarint()
	n := r.uvarint()
	if n > math.MaxInt32 {
		r.fail("tag size")
		return 0, nil
	}
	return key, r.take(int(n), "tag payload")
}

// skipTags reads the tag section of a flexible version and ignores every
// tag; classic versions have none.
func (r *reader) skipTags() {
	if !r.flex {
		return
	}
	for n := r.tagCount(); n > 0 && r.ok(); n-- {
		r.tag()
	}
}

// sub returns a reader over one tag's payload, at r's version.
func (r *reader) sub(payload []byte) reader {
	return newReader(payload, r.v, r.flex)
}

// adopt takes the failure of a reader returned by sub, if any.
func (r *reader) adopt(t *reader, tag uint32) {
	if t.err != nil && r.err == nil {
		r.err = fmt.Errorf("tag %d: %w", tag, t.err)
		r.off = len(r.src)
	}
}

// Arrays are decoded as
//
//	q.Topics = alloc[kmsg.ProduceRequestTopic](r.count(minTopicBytes))
//	for i := range q.Topics {
//		produceTopic(r, &q.Topics[i])
//	}
//
// with a direct call per element: a generic helper taking the element
// decoder as a function value would move the reader to the heap. After a
// failure the loop runs on over zero values, which costs little: count
// bounded the elements by the bytes.

// alloc returns the elements of a non-nullable array of n elements (a
// count), or nil when n ≤ 0: kmsg decodes an empty (or -1) array as nil.
func alloc[T any](n int) []T {
	if n <= 0 {
		return nil
	}
	return make([]T, n)
}

// allocNullable returns the elements of an array of n elements that is
// nullable when nullable is true: null (-1) is nil and empty is a non-nil
// empty slice. In versions where the field is not nullable kmsg never
// returns nil, and neither do we.
func allocNullable[T any](n int, nullable bool) []T {
	if n < 0 && nullable {
		return nil
	}
	return make([]T, max(n, 0))
}

// int32s reads a non-nullable array of int32.
func (r *reader) int32s() []int32 {
	a := alloc[int32](r.count(4))
	for i := range a {
		a[i] = r.int32()
	}
	return a
}

// strs reads a non-nullable array of non-nullable strings.
func (r *reader) strs() []string {
	a := alloc[string](r.count(r.strMin()))
	for i := range a {
		a[i] = r.str()
	}
	return a
}

// nullableStrs reads a nullable array of non-nullable strings.
func (r *reader) nullableStrs() []string {
	a := allocNullable[string](r.count(r.strMin()), true)
	for i := range a {
		a[i] = r.str()
	}
	return a
}
