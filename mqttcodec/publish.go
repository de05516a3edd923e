package mqttcodec

import (
	"log/slog"
	"unicode/utf8"
)

// PUBLISH [MQTT-3.3]:
//
//	+----------+-----------+--------------------+----------------+------------+---------+
//	| 0011 DQQR| remaining | topic (2B len + s) | packet id (2B) | properties | payload |
//	+----------+-----------+--------------------+----------------+------------+---------+
//	                                              QoS > 0 only     5.0 only
//
// D is DUP, QQ the QoS, R RETAIN.

// Publish is a PUBLISH packet. After DecodePublish, Topic, Payload and the
// properties alias the frame.
type Publish struct {
	Dup      bool
	QoS      QoS
	Retain   bool
	Topic    []byte // empty only in 5.0 with a Topic Alias
	PacketID uint16 // present when QoS > 0
	// Properties are MQTT 5 only; they are ignored when encoding for 3.x.
	Properties Properties
	Payload    []byte
}

// Type returns TypePublish.
func (p *Publish) Type() PacketType { return TypePublish }

func (p *Publish) props() *Properties { return &p.Properties }

func (p *Publish) decode(frame []byte, v Version) error { return DecodePublish(frame, v, p) }

// DecodePublish decodes a PUBLISH frame received on a connection of version v
// into p, overwriting every field. It allocates nothing. It enforces QoS ≤ 2
// [MQTT-3.3.1-4], DUP clear at QoS 0 [MQTT-3.3.1-2], a non-zero packet
// identifier at QoS > 0 [MQTT-2.2.1-3], a topic name that is valid UTF-8 with no
// wildcard [MQTT-3.3.2-2], and, in 5.0, the PUBLISH properties and a Topic
// Alias when the topic is empty. Whether a Subscription Identifier may appear
// depends on the direction [MQTT-3.3.4-6], so the broker checks that.
func DecodePublish(frame []byte, v Version, p *Publish) error {
	if !v.Valid() {
		return errVersion
	}
	flags, body, err := parseFrame(frame, TypePublish, v)
	if err != nil {
		return err
	}
	p.Dup, p.QoS, p.Retain = flags&0x08 != 0, QoS(flags>>1&0x03), flags&0x01 != 0
	if p.QoS > QoS2 {
		return errQoS3.of(v)
	}
	if p.Dup && p.QoS == QoS0 {
		return errDupQoS0.of(v)
	}
	r := reader{b: body}
	var ok bool
	if p.Topic, ok = r.binary(); !ok {
		return errTruncated.of(v)
	}
	p.PacketID = 0
	if p.QoS > QoS0 {
		if p.PacketID, ok = r.uint16(); !ok {
			return errTruncated.of(v)
		}
		if p.PacketID == 0 {
			return errPacketIDZero.of(v)
		}
	}
	if v == V5 {
		if err := decodeProperties(&r, &p.Properties, TypePublish, v); err != nil {
			return err
		}
	} else {
		p.Properties.Reset()
	}
	p.Payload = r.rest()
	return p.checkTopic(v)
}

// checkTopic validates a decoded topic name.
func (p *Publish) checkTopic(v Version) error {
	if len(p.Topic) == 0 {
		if v != V5 {
			return errTopicEmpty.of(v)
		}
		if !p.Properties.Has(PropTopicAlias) {
			return errTopicEmptyNoAlias
		}
		return nil
	}
	for _, c := range p.Topic {
		if c == '+' || c == '#' {
			return errPublishWildcard.of(v)
		}
	}
	return validateUTF8(p.Topic, v)
}

// Size returns the encoded length of p for version v.
func (p *Publish) Size(v Version) int { return frameSize(p.remaining(v)) }

func (p *Publish) remaining(v Version) int {
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > QoS0 {
		n += 2
	}
	if v == V5 {
		n += p.Properties.encodedLen()
	}
	return n
}

// Append appends p encoded for version v. It refuses a QoS above 2, DUP at QoS
// 0, a zero packet identifier at QoS > 0 [MQTT-2.2.1-4], an empty topic without
// a 5.0 Topic Alias, properties PUBLISH may not carry, and a packet the
// remaining length cannot express. It does not re-check the topic's characters:
// a broker forwards topics its decoder validated.
func (p *Publish) Append(dst []byte, v Version) ([]byte, error) {
	rem, err := p.check(v, true)
	if err != nil {
		return dst, err
	}
	dst, _ = p.appendTo(dst, v, rem)
	return dst, nil
}

// check validates p for encoding and returns its remaining length. The fan-out
// template skips the packet identifier check: it patches one in per subscriber.
func (p *Publish) check(v Version, needID bool) (int, error) {
	switch {
	case !v.Valid():
		return 0, errVersion
	case p.QoS > QoS2:
		return 0, errQoS3.of(v)
	case p.Dup && p.QoS == QoS0:
		return 0, errDupQoS0.of(v)
	case needID && p.QoS > QoS0 && p.PacketID == 0:
		return 0, errPacketIDZero.of(v)
	case len(p.Topic) > MaxStringBytes:
		return 0, errStringTooLong
	case len(p.Topic) == 0 && (v != V5 || !p.Properties.Has(PropTopicAlias)):
		return 0, errTopicEmpty.of(v)
	}
	if v == V5 {
		if err := p.Properties.check(TypePublish); err != nil {
			return 0, err
		}
	}
	rem := p.remaining(v)
	return rem, checkRemaining(rem)
}

// appendTo encodes p and returns the offset of its packet identifier in the
// appended frame (0 at QoS 0).
func (p *Publish) appendTo(dst []byte, v Version, rem int) ([]byte, int) {
	start := len(dst)
	flags := byte(p.QoS) << 1
	if p.Dup {
		flags |= 0x08
	}
	if p.Retain {
		flags |= 0x01
	}
	dst = appendHeader(dst, TypePublish, flags, rem)
	dst = appendString(dst, p.Topic)
	idOffset := 0
	if p.QoS > QoS0 {
		idOffset = len(dst) - start
		dst = AppendUint16(dst, p.PacketID)
	}
	if v == V5 {
		dst = p.Properties.appendTo(dst)
	}
	return append(dst, p.Payload...), idOffset
}

// ValidatePayloadFormat checks a 5.0 payload against its Payload Format
// Indicator: with indicator 1 it must be valid UTF-8. A receiver MAY check
// this and answer PayloadFormatInvalid [MQTT-3.3.2.3.2]; the decoder does not,
// because it costs a pass over every payload.
func (p *Publish) ValidatePayloadFormat() error {
	if !p.Properties.Has(PropPayloadFormat) || p.Properties.PayloadFormat == 0 {
		return nil
	}
	// Character data, not an Encoded String: U+0000 is allowed here.
	if !utf8.Valid(p.Payload) {
		return errPayloadFormat
	}
	return nil
}

// LogValue returns a summary without the payload.
func (p *Publish) LogValue() slog.Value {
	return logGroup(TypePublish, logTopic(p.Topic), slog.Int("qos", int(p.QoS)),
		slog.Bool("retain", p.Retain), slog.Bool("dup", p.Dup), slog.Int("packet_id", int(p.PacketID)),
		slog.Int("payload_bytes", len(p.Payload)))
}
