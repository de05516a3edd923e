package mqttcodec

import (
	"iter"
	"log/slog"
)

// SUBSCRIBE [MQTT-3.8]:
//
//	+------+-----------+----------------+------------+-----------------------------+
//	| 0x82 | remaining | packet id (2B) | properties | (filter, options byte) ...  |
//	+------+-----------+----------------+------------+-----------------------------+
//	                                      5.0 only
//
// Options, from bit 7 down: 2 reserved bits, retain handling (2 bits), retain
// as published, no local, maximum QoS (2 bits). 3.x uses only the QoS bits.

// RetainHandling says when retained messages are sent for a new subscription
// [MQTT-3.8.3.1].
type RetainHandling uint8

// Retain handling options.
const (
	RetainSendOnSubscribe RetainHandling = 0 // send at every subscribe
	RetainSendIfNew       RetainHandling = 1 // send only if the subscription is new
	RetainSendNever       RetainHandling = 2 // do not send at subscribe
)

// Subscription is one topic filter with its options. NoLocal,
// RetainAsPublished and RetainHandling are 5.0 only.
type Subscription struct {
	Filter            []byte
	QoS               QoS // maximum QoS
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    RetainHandling
}

func (s Subscription) options() byte {
	o := byte(s.QoS) | byte(s.RetainHandling)<<4
	if s.NoLocal {
		o |= 0x04
	}
	if s.RetainAsPublished {
		o |= 0x08
	}
	return o
}

// Subscribe is a SUBSCRIBE packet. Its subscriptions are kept in wire form, a
// view into the frame after DecodeSubscribe, so decoding allocates nothing;
// read them with Subscriptions.
type Subscribe struct {
	PacketID   uint16
	Properties Properties // 5.0 only

	entries []byte // (filter, options) pairs as on the wire
	count   int
}

// Type returns TypeSubscribe.
func (p *Subscribe) Type() PacketType { return TypeSubscribe }

func (p *Subscribe) props() *Properties { return &p.Properties }

func (p *Subscribe) decode(frame []byte, v Version) error { return DecodeSubscribe(frame, v, p) }

// Len returns the number of subscriptions.
func (p *Subscribe) Len() int { return p.count }

// Subscriptions yields the subscriptions in packet order; the broker answers
// them in that order [MQTT-3.9.3-1]. Filters alias the frame.
func (p *Subscribe) Subscriptions() iter.Seq[Subscription] {
	return func(yield func(Subscription) bool) {
		for b := p.entries; len(b) >= 3; {
			l := int(b[0])<<8 | int(b[1])
			if len(b) < 3+l {
				return
			}
			o := b[2+l]
			s := Subscription{Filter: b[2 : 2+l : 2+l], QoS: QoS(o & 0x03), NoLocal: o&0x04 != 0,
				RetainAsPublished: o&0x08 != 0, RetainHandling: RetainHandling(o >> 4 & 0x03)}
			if !yield(s) {
				return
			}
			b = b[3+l:]
		}
	}
}

// Add appends a subscription after checking its filter and options. The filter
// is copied.
func (p *Subscribe) Add(s Subscription) error {
	switch {
	case s.QoS > QoS2:
		return errSubQoS3.v5
	case s.RetainHandling > RetainSendNever:
		return errRetainHandling3
	}
	if err := validateTopicFilter(s.Filter, V5); err != nil {
		return err
	}
	p.entries = append(appendString(p.entries, s.Filter), s.options())
	p.count++
	return nil
}

// DecodeSubscribe decodes a SUBSCRIBE frame into p, overwriting every field.
// It allocates nothing. It enforces the fixed-header flags [MQTT-3.8.1-1], a
// non-zero packet identifier, at least one filter [MQTT-3.8.3-2], valid topic
// filters, reserved option bits clear [MQTT-3.8.3-5], QoS ≤ 2, and in 5.0
// retain handling ≤ 2, well-formed shared subscriptions [MQTT-4.8.2-1]
// [MQTT-4.8.2-2] without No Local [MQTT-3.8.3-4], and at most one
// Subscription Identifier.
func DecodeSubscribe(frame []byte, v Version, p *Subscribe) error {
	if !v.Valid() {
		return errVersion
	}
	_, body, err := parseFrame(frame, TypeSubscribe, v)
	if err != nil {
		return err
	}
	p.entries, p.count = nil, 0
	r := reader{b: body}
	if p.PacketID, err = readPacketID(&r, v); err != nil {
		return err
	}
	if v == V5 {
		if err := decodeProperties(&r, &p.Properties, TypeSubscribe, v); err != nil {
			return err
		}
	} else {
		p.Properties.Reset()
	}
	entries := r.rest()
	if len(entries) == 0 {
		return errSubscribeEmpty.of(v)
	}
	r = reader{b: entries}
	for r.left() > 0 {
		if err := checkSubscription(&r, v); err != nil {
			return err
		}
		p.count++
	}
	p.entries = entries
	return nil
}

// readPacketID reads a packet identifier that must not be 0.
func readPacketID(r *reader, v Version) (uint16, error) {
	id, ok := r.uint16()
	if !ok {
		return 0, errTruncated.of(v)
	}
	if id == 0 {
		return 0, errPacketIDZero.of(v)
	}
	return id, nil
}

// checkSubscription validates the (filter, options) pair at the reader.
func checkSubscription(r *reader, v Version) error {
	filter, ok1 := r.binary()
	o, ok2 := r.byte()
	if !ok1 || !ok2 {
		return errTruncated.of(v)
	}
	if err := validateTopicFilter(filter, v); err != nil {
		return err
	}
	reserved := byte(0xC0)
	if v != V5 {
		reserved = 0xFC
	}
	switch {
	case o&reserved != 0:
		return errSubOptsReserved.of(v)
	case o&0x03 == 0x03:
		return errSubQoS3.of(v)
	case v != V5:
		return nil
	case o>>4&0x03 == 0x03:
		return errRetainHandling3
	}
	if !hasSharePrefix(filter) {
		return nil
	}
	if _, _, _, err := ParseShared(filter); err != nil {
		return err
	}
	if o&0x04 != 0 {
		return errNoLocalShared
	}
	return nil
}

// Size returns the encoded length of p for version v.
func (p *Subscribe) Size(v Version) int { return frameSize(p.remaining(v)) }

func (p *Subscribe) remaining(v Version) int {
	n := 2 + len(p.entries)
	if v == V5 {
		n += p.Properties.encodedLen()
	}
	return n
}

// Append appends p encoded for version v; 3.x keeps only the QoS option bits.
func (p *Subscribe) Append(dst []byte, v Version) ([]byte, error) {
	switch {
	case !v.Valid():
		return dst, errVersion
	case p.PacketID == 0:
		return dst, errPacketIDZero.of(v)
	case p.count == 0:
		return dst, errSubscribeEmpty.of(v)
	}
	if v == V5 {
		if err := p.Properties.check(TypeSubscribe); err != nil {
			return dst, err
		}
	}
	rem := p.remaining(v)
	if err := checkRemaining(rem); err != nil {
		return dst, err
	}
	dst = AppendUint16(appendHeader(dst, TypeSubscribe, 0x02, rem), p.PacketID)
	if v == V5 {
		return append(p.Properties.appendTo(dst), p.entries...), nil
	}
	for s := range p.Subscriptions() {
		dst = append(appendString(dst, s.Filter), byte(s.QoS))
	}
	return dst, nil
}

// LogValue returns a summary of the packet.
func (p *Subscribe) LogValue() slog.Value {
	return logGroup(TypeSubscribe, slog.Int("packet_id", int(p.PacketID)), slog.Int("filters", p.count))
}
