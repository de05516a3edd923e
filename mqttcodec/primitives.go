package mqttcodec

import (
	"unicode/utf8"
)

// MaxVarInt is the largest value a Variable Byte Integer can encode (four
// bytes of seven bits) [MQTT-1.5.5].
const MaxVarInt = 268_435_455

// MaxStringBytes is the largest UTF-8 string or binary field: its length is a
// two-byte integer [MQTT-1.5.4] [MQTT-1.5.6].
const MaxStringBytes = 65_535

// varIntLen returns the encoded length of v, which must be ≤ MaxVarInt.
func varIntLen(v uint32) int {
	switch {
	case v < 1<<7:
		return 1
	case v < 1<<14:
		return 2
	case v < 1<<21:
		return 3
	}
	return 4
}

// VarIntLen returns the number of bytes AppendVarInt writes for v, or 0 when v
// exceeds MaxVarInt.
func VarIntLen(v uint32) int {
	if v > MaxVarInt {
		return 0
	}
	return varIntLen(v)
}

// appendVarInt appends v, which the caller has checked is ≤ MaxVarInt.
func appendVarInt(dst []byte, v uint32) []byte {
	if invariants && v > MaxVarInt {
		panic("mqttcodec: variable byte integer out of range")
	}
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// AppendVarInt appends v as a Variable Byte Integer using the fewest bytes
// [MQTT-1.5.5-1]. It fails when v exceeds MaxVarInt.
func AppendVarInt(dst []byte, v uint32) ([]byte, error) {
	if v > MaxVarInt {
		return dst, errVarIntRange
	}
	return appendVarInt(dst, v), nil
}

// varIntStatus tells why parseVarInt stopped.
type varIntStatus uint8

const (
	varIntOK         varIntStatus = iota
	varIntShort                   // b ended inside the integer
	varIntTooLong                 // a fifth byte would be needed [MQTT-1.5.5]
	varIntNonMinimal              // more bytes than the value needs [MQTT-1.5.5-1]
)

// parseVarInt reads a Variable Byte Integer from the start of b.
func parseVarInt(b []byte) (v uint32, n int, st varIntStatus) {
	for n = 0; n < 4; n++ {
		if n >= len(b) {
			return 0, 0, varIntShort
		}
		c := b[n]
		v |= uint32(c&0x7F) << (7 * n)
		if c&0x80 == 0 {
			if n > 0 && c == 0 {
				return 0, 0, varIntNonMinimal
			}
			return v, n + 1, varIntOK
		}
	}
	return 0, 0, varIntTooLong
}

// ReadVarInt reads a Variable Byte Integer from the start of b and returns it
// with the number of bytes it used. A truncated, over-long (five bytes) or
// non-minimal encoding is a *ReasonError of code MalformedPacket.
func ReadVarInt(b []byte) (v uint32, n int, err error) {
	v, n, st := parseVarInt(b)
	if st != varIntOK {
		return 0, 0, varIntError(st, V5)
	}
	return v, n, nil
}

func varIntError(st varIntStatus, v Version) error {
	switch st {
	case varIntTooLong:
		return errVarIntTooLong.of(v)
	case varIntNonMinimal:
		return errVarIntNonMinimal.of(v)
	}
	return errTruncated.of(v)
}

// ReadUint16 reads a big-endian Two Byte Integer from the start of b.
func ReadUint16(b []byte) (uint16, error) {
	if len(b) < 2 {
		return 0, errTruncated.v5
	}
	return uint16(b[0])<<8 | uint16(b[1]), nil
}

// AppendUint16 appends v as a big-endian Two Byte Integer.
func AppendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// ReadString reads a UTF-8 Encoded String (two-byte length, then the bytes) from
// the start of b, validates it with ValidateUTF8 and returns it with the number
// of bytes consumed. The result aliases b.
func ReadString(b []byte) (s []byte, n int, err error) {
	s, n, err = ReadBinary(b)
	if err != nil {
		return nil, 0, err
	}
	if err := ValidateUTF8(s); err != nil {
		return nil, 0, err
	}
	return s, n, nil
}

// ReadBinary reads Binary Data (two-byte length, then the bytes) from the start
// of b and returns it with the number of bytes consumed. The result aliases b.
func ReadBinary(b []byte) (data []byte, n int, err error) {
	if len(b) < 2 {
		return nil, 0, errTruncated.v5
	}
	l := int(b[0])<<8 | int(b[1])
	if len(b)-2 < l {
		return nil, 0, errTruncated.v5
	}
	return b[2 : 2+l : 2+l], 2 + l, nil
}

// AppendString appends s as a UTF-8 Encoded String. It checks the length, not
// the encoding: strings this package decoded are already valid, and strings the
// broker builds can be checked once with ValidateUTF8.
func AppendString[T BytesOrString](dst []byte, s T) ([]byte, error) {
	if len(s) > MaxStringBytes {
		return dst, errStringTooLong
	}
	return appendString(dst, s), nil
}

// AppendBinary appends data as Binary Data.
func AppendBinary(dst, data []byte) ([]byte, error) { return AppendString(dst, data) }

// appendString appends a length-prefixed field whose length the caller checked.
func appendString[T BytesOrString](dst []byte, s T) []byte {
	dst = append(dst, byte(len(s)>>8), byte(len(s)))
	return append(dst, s...)
}

// ValidateUTF8 enforces the rules every receiver must enforce on a UTF-8 Encoded
// String: well-formed UTF-8 with no surrogate code points [MQTT-1.5.4-1] and no
// U+0000 [MQTT-1.5.4-2]. Both failures are MalformedPacket.
//
// The other code points of 1.5.4 — the controls U+0001..U+001F and
// U+007F..U+009F and the Unicode non-characters — are ones a sender SHOULD NOT
// use and a receiver MAY reject. This package accepts them, as EMQX and HiveMQ
// do, because rejecting costs a connection for data that harms no one here; a
// broker that wants Mosquitto's stricter stance calls ValidateStrictUTF8.
func ValidateUTF8(b []byte) error { return validateUTF8(b, V5) }

func validateUTF8[T BytesOrString](s T, v Version) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return errUTF8Null.of(v)
			}
			i++
			continue
		}
		n := utf8SeqLen(s, i)
		if n == 0 {
			return errUTF8.of(v)
		}
		i += n
	}
	return nil
}

// utf8SeqLen returns the length of the well-formed multi-byte sequence at s[i],
// or 0 if it is ill-formed: overlong, a surrogate, above U+10FFFF or cut short
// (RFC 3629, table 3-7 of Unicode).
func utf8SeqLen[T BytesOrString](s T, i int) int {
	c := s[i]
	lo, hi := byte(0x80), byte(0xBF) // range of the second byte
	n := 0
	switch {
	case c >= 0xC2 && c <= 0xDF:
		n = 2
	case c == 0xE0:
		n, lo = 3, 0xA0
	case c == 0xED:
		n, hi = 3, 0x9F // excludes the surrogates U+D800..U+DFFF
	case c >= 0xE1 && c <= 0xEF:
		n = 3
	case c == 0xF0:
		n, lo = 4, 0x90
	case c == 0xF4:
		n, hi = 4, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		n = 4
	default:
		return 0
	}
	if len(s)-i < n || s[i+1] < lo || s[i+1] > hi {
		return 0
	}
	for j := i + 2; j < i+n; j++ {
		if s[j] < 0x80 || s[j] > 0xBF {
			return 0
		}
	}
	return n
}

// ValidateStrictUTF8 applies ValidateUTF8 and also rejects, as MalformedPacket,
// the code points 1.5.4 says a sender SHOULD NOT send: control characters and
// Unicode non-characters.
func ValidateStrictUTF8(b []byte) error {
	if err := ValidateUTF8(b); err != nil {
		return err
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		i += n
		if r <= 0x1F || (r >= 0x7F && r <= 0x9F) || (r >= 0xFDD0 && r <= 0xFDEF) || r&0xFFFE == 0xFFFE {
			return errUTF8Discouraged
		}
	}
	return nil
}

// reader is a cursor over a packet body. Its methods report failure with
// ok=false so the decoders build no error on the hot path and choose the
// *ReasonError that names the violated rule. Every read checks the bytes left
// before using a length, so work is linear in the input.
type reader struct {
	b   []byte
	off int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) byte() (byte, bool) {
	if r.off >= len(r.b) {
		return 0, false
	}
	c := r.b[r.off]
	r.off++
	return c, true
}

func (r *reader) uint16() (uint16, bool) {
	if r.left() < 2 {
		return 0, false
	}
	v := uint16(r.b[r.off])<<8 | uint16(r.b[r.off+1])
	r.off += 2
	return v, true
}

func (r *reader) uint32() (uint32, bool) {
	if r.left() < 4 {
		return 0, false
	}
	b := r.b[r.off:]
	r.off += 4
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), true
}

func (r *reader) varInt() (uint32, varIntStatus) {
	v, n, st := parseVarInt(r.b[r.off:])
	r.off += n
	return v, st
}

// take returns the next n bytes as a capacity-limited view.
func (r *reader) take(n int) ([]byte, bool) {
	if n < 0 || r.left() < n {
		return nil, false
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s, true
}

// binary reads a two-byte length and that many bytes.
func (r *reader) binary() ([]byte, bool) {
	l, ok := r.uint16()
	if !ok {
		return nil, false
	}
	return r.take(int(l))
}

// rest returns the unread bytes as a capacity-limited view.
func (r *reader) rest() []byte {
	s := r.b[r.off:len(r.b):len(r.b)]
	r.off = len(r.b)
	return s
}
