package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"tributary/mqttcodec"
)

// The primitives of the MQTT command payloads and of the MQTT records kept
// in Pebble. Integers of fixed width are big-endian; lengths and counts are
// uvarints, each checked against the bytes left before anything is
// allocated, so decoding costs time and memory linear in its input.
//
//	string / bytes:  length (uvarint) | bytes
//	message:         topic (string) | qos (1) | flags (1, bit 0 retain) |
//	                 expires at ms (i64) | publisher (string) |
//	                 properties (bytes) | payload (bytes)

// errMalformedPayload is the root of every decoding failure of an MQTT
// or Kafka command payload; apply rejects such a command (RejectedError
// unwraps to it).
var errMalformedPayload = errors.New("raftstore: malformed command payload")

// Bounds a payload must respect. They are the protocol's own limits, so a
// command the wire layer accepted always fits.
const (
	maxStringBytes = 65535 // an MQTT UTF-8 string [MQTT-1.5.4]
	maxNodeIDBytes = 255
	maxSubID       = 268435455 // a Variable Byte Integer's largest value [MQTT-3.8.2.1.2]
	messageRetain  = 1 << 0
	maxPacketID    = 65535
)

// decoder reads a payload front to back; the first failure sticks and
// later reads return zero values, so a decode function checks err once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errMalformedPayload, what)
	}
	d.b = nil
}

func (d *decoder) take(n int, what string) []byte {
	if d.err != nil || n > len(d.b) {
		d.fail(what + " past the end")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u8(what string) byte {
	if v := d.take(1, what); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16(what string) uint16 {
	if v := d.take(2, what); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32(what string) uint32 {
	if v := d.take(4, what); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64(what string) uint64 {
	if v := d.take(8, what); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// millis reads a Unix time in milliseconds, which is never negative.
func (d *decoder) millis(what string) int64 {
	v := d.u64(what)
	if v > math.MaxInt64 {
		d.fail(what + " is negative")
		return 0
	}
	return int64(v)
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a number of elements that each take at least minBytes
// bytes, so that what a decoder allocates for them is bounded by its
// input.
func (d *decoder) count(what string, minBytes int) int {
	n := d.uvarint(what)
	if n > uint64(len(d.b)/minBytes) {
		d.fail(what + " exceeds the bytes left")
		return 0
	}
	return int(n)
}

// Smallest encodings of repeated elements, for decoder.count.
const (
	minSubscriptionBytes = 6  // filter (length + 1 byte), qos, flags, retain handling, id
	minFilterBytes       = 2  // length + 1 byte
	minMessageBytes      = 15 // topic (length + 1 byte), qos, flags, expiry (8), publisher, properties, payload
	minDeliveryBytes     = 3 + minMessageBytes
)

// bytes returns a view of a length-prefixed byte string of at most max
// bytes.
func (d *decoder) bytes(what string, max int) []byte {
	if d.err != nil {
		return nil
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 {
		// The label is built only on failure: this runs for every field
		// of every message applied.
		d.fail("bad varint " + what + " length")
		return nil
	}
	d.b = d.b[k:]
	if n > uint64(max) {
		d.fail(what + " too long")
		return nil
	}
	return d.take(int(n), what)
}

// str copies a length-prefixed string of at most max bytes.
func (d *decoder) str(what string, max int) string { return string(d.bytes(what, max)) }

func (d *decoder) flag(what string, known byte) byte {
	v := d.u8(what)
	if v&^known != 0 {
		d.fail(fmt.Sprintf("unknown %s bits %#x", what, v&^known))
	}
	return v
}

// done reports the first failure, or trailing bytes.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	return d.err
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func appendMillis(dst []byte, ms int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(ms))
}

func boolBit(b bool, bit byte) byte {
	if b {
		return bit
	}
	return 0
}

// messageLen bounds the encoded size of m, for preallocation.
func messageLen(m *Message) int {
	return 3*binary.MaxVarintLen64 + len(m.Topic) + len(m.PublisherID) +
		len(m.Properties) + len(m.Payload) + 2*binary.MaxVarintLen64 + 10
}

func appendMessage(dst []byte, m *Message) []byte {
	dst = appendString(dst, m.Topic)
	dst = append(dst, m.QoS, boolBit(m.Retain, messageRetain))
	dst = appendMillis(dst, m.ExpiresAtMillis)
	dst = appendString(dst, m.PublisherID)
	dst = appendBytes(dst, m.Properties)
	return appendBytes(dst, m.Payload)
}

// message decodes a message whose byte fields alias the decoder's input;
// a caller keeping it beyond the input's life copies it (cloneMessage).
func (d *decoder) message() Message {
	var m Message
	m.Topic = d.str("topic", maxStringBytes)
	m.QoS = d.u8("qos")
	m.Retain = d.flag("message flags", messageRetain)&messageRetain != 0
	m.ExpiresAtMillis = d.millis("message expiry")
	m.PublisherID = d.str("publisher", maxStringBytes)
	m.Properties = d.bytes("properties", math.MaxInt32)
	m.Payload = d.bytes("payload", math.MaxInt32)
	if len(m.Properties) == 0 {
		m.Properties = nil
	}
	if d.err == nil {
		if err := checkMessage(&m); err != nil {
			d.fail(err.Error())
		}
	}
	return m
}

// checkMessage validates what apply relies on: a topic name a filter can
// match [MQTT-4.7.3-1] and a QoS the protocol has.
func checkMessage(m *Message) error {
	if err := mqttcodec.ValidateTopicName(m.Topic); err != nil {
		return fmt.Errorf("topic %q: %w", m.Topic, err)
	}
	if m.QoS > 2 {
		return fmt.Errorf("qos %d", m.QoS)
	}
	return nil
}

// cloneMessage copies m's byte fields, which alias a raft log entry or a
// Pebble value, so that m can outlive them (events, read results).
func cloneMessage(m Message) *Message {
	m.Payload = cloneBytes(m.Payload)
	m.Properties = cloneBytes(m.Properties)
	return &m
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func checkClientID(id string) error {
	if id == "" || len(id) > maxStringBytes {
		return fmt.Errorf("%w: client id of %d bytes", errMalformedPayload, len(id))
	}
	return nil
}
