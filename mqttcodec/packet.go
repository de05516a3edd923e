package mqttcodec

import (
	"log/slog"
	"strconv"
)

// Version is the MQTT protocol level carried in CONNECT.
type Version uint8

// Protocol levels this package speaks.
const (
	V31  Version = 3 // MQTT 3.1, protocol name "MQIsdp"
	V311 Version = 4 // MQTT 3.1.1, protocol name "MQTT"
	V5   Version = 5 // MQTT 5.0, protocol name "MQTT"
)

// Valid reports whether v is a protocol level this package can encode and decode.
func (v Version) Valid() bool { return v == V31 || v == V311 || v == V5 }

// String returns the protocol's marketing name, such as "3.1.1".
func (v Version) String() string {
	switch v {
	case V31:
		return "3.1"
	case V311:
		return "3.1.1"
	case V5:
		return "5.0"
	}
	return "level-" + strconv.Itoa(int(v))
}

// PacketType is the control packet type in the high nibble of the first byte.
type PacketType uint8

// Control packet types [MQTT-2.1.2].
const (
	TypeConnect     PacketType = 1
	TypeConnack     PacketType = 2
	TypePublish     PacketType = 3
	TypePuback      PacketType = 4
	TypePubrec      PacketType = 5
	TypePubrel      PacketType = 6
	TypePubcomp     PacketType = 7
	TypeSubscribe   PacketType = 8
	TypeSuback      PacketType = 9
	TypeUnsubscribe PacketType = 10
	TypeUnsuback    PacketType = 11
	TypePingreq     PacketType = 12
	TypePingresp    PacketType = 13
	TypeDisconnect  PacketType = 14
	TypeAuth        PacketType = 15 // MQTT 5.0 only; reserved in 3.1.1
)

var packetTypeNames = [...]string{
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
}

// String returns the name the specification uses, such as "PUBLISH".
func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "TYPE-" + strconv.Itoa(int(t))
}

// fixedFlags is the value of the low nibble of the first byte that every packet
// type but PUBLISH must carry [MQTT-2.1.3-1].
func (t PacketType) fixedFlags() byte {
	if t == TypePubrel || t == TypeSubscribe || t == TypeUnsubscribe {
		return 0x02
	}
	return 0
}

// QoS is a quality-of-service level.
type QoS uint8

// Quality-of-service levels.
const (
	QoS0 QoS = 0 // at most once
	QoS1 QoS = 1 // at least once
	QoS2 QoS = 2 // exactly once
)

// Valid reports whether q is 0, 1 or 2.
func (q QoS) Valid() bool { return q <= QoS2 }

// Packet is implemented by every control packet type of this package. The set
// is closed: only this package's types implement it.
type Packet interface {
	// Type returns the control packet type.
	Type() PacketType
	// Size returns the number of bytes Append would write for version v.
	Size(v Version) int
	// Append appends the encoded frame (fixed header included) to dst. It
	// allocates only when dst lacks capacity.
	Append(dst []byte, v Version) ([]byte, error)
	// LogValue returns a redacted summary: never a payload or a credential.
	LogValue() slog.Value
	// props returns the packet's MQTT 5 properties, or nil for packets that
	// have none (PINGREQ, PINGRESP).
	props() *Properties
}

// Decode decodes one complete frame, as delimited by FrameLen, into a newly
// allocated packet. v is the connection's negotiated version; it is ignored for
// CONNECT, which carries its own. Byte-slice fields of the result alias frame.
// Use the typed DecodeX functions with a reused struct on the hot path.
func Decode(frame []byte, v Version) (Packet, error) {
	if len(frame) == 0 {
		return nil, errTruncated.of(v)
	}
	newPacket := packetFactory[frame[0]>>4]
	if newPacket == nil {
		return nil, errPacketType.of(v)
	}
	p := newPacket()
	if err := p.decode(frame, v); err != nil {
		return nil, err
	}
	return p, nil
}

// decodable is a Packet that Decode can fill.
type decodable interface {
	Packet
	decode(frame []byte, v Version) error
}

// packetFactory makes an empty packet per type; nil for reserved type 0.
var packetFactory = [16]func() decodable{
	TypeConnect:     func() decodable { return new(Connect) },
	TypeConnack:     func() decodable { return new(Connack) },
	TypePublish:     func() decodable { return new(Publish) },
	TypePuback:      func() decodable { return new(Puback) },
	TypePubrec:      func() decodable { return new(Pubrec) },
	TypePubrel:      func() decodable { return new(Pubrel) },
	TypePubcomp:     func() decodable { return new(Pubcomp) },
	TypeSubscribe:   func() decodable { return new(Subscribe) },
	TypeSuback:      func() decodable { return new(Suback) },
	TypeUnsubscribe: func() decodable { return new(Unsubscribe) },
	TypeUnsuback:    func() decodable { return new(Unsuback) },
	TypePingreq:     func() decodable { return new(Pingreq) },
	TypePingresp:    func() decodable { return new(Pingresp) },
	TypeDisconnect:  func() decodable { return new(Disconnect) },
	TypeAuth:        func() decodable { return new(Auth) },
}

// AppendPacket appends p encoded for version v to dst, refusing with a
// *ReasonError of code PacketTooLarge when the frame would exceed maxPacketBytes
// [MQTT-3.1.2-24]. A maxPacketBytes ≤ 0 applies only the protocol's own limit.
// Use Fit first to drop the properties a sender may omit.
func AppendPacket(dst []byte, p Packet, v Version, maxPacketBytes int) ([]byte, error) {
	if maxPacketBytes > 0 && p.Size(v) > maxPacketBytes {
		return dst, errTooLargeToSend
	}
	return p.Append(dst, v)
}

// Fit makes p fit in maxPacketBytes when encoded for v by removing, first, the
// Reason String and then every User Property, which the specification lets a
// sender drop from every packet but PUBLISH and the CONNECT will
// [MQTT-3.2.2-19] [MQTT-3.2.2-20] [MQTT-3.4.2-2] [MQTT-3.4.2-3]. It reports
// whether p now fits. A PUBLISH that does not fit must be discarded
// [MQTT-3.1.2-25], so Fit never alters one. A maxPacketBytes ≤ 0 always fits.
func Fit(p Packet, maxPacketBytes int, v Version) bool {
	if maxPacketBytes <= 0 || p.Size(v) <= maxPacketBytes {
		return true
	}
	props := p.props()
	if props == nil || p.Type() == TypePublish || p.Type() == TypeConnect {
		return false
	}
	props.Clear(PropReasonString)
	if p.Size(v) <= maxPacketBytes {
		return true
	}
	props.ClearUserProperties()
	return p.Size(v) <= maxPacketBytes
}

// frameSize returns the size of a frame whose remaining length is rem.
func frameSize(rem int) int { return 1 + varIntLen(uint32(rem)) + rem }

// logGroup is shared by the LogValue methods.
func logGroup(t PacketType, attrs ...slog.Attr) slog.Value {
	return slog.GroupValue(append([]slog.Attr{slog.String("type", t.String())}, attrs...)...)
}

// logTopic bounds the length of a topic written to a log.
func logTopic(topic []byte) slog.Attr {
	const maxLogTopicBytes = 128
	if len(topic) > maxLogTopicBytes {
		return slog.String("topic", string(topic[:maxLogTopicBytes])+"…")
	}
	return slog.String("topic", string(topic))
}
