package mqttcodec

import "log/slog"

// PINGREQ [MQTT-3.12] is a fixed header alone: 0xC0 0x00.

// Pingreq is a PINGREQ packet.
type Pingreq struct{}

// Type returns TypePingreq.
func (p *Pingreq) Type() PacketType { return TypePingreq }

func (p *Pingreq) props() *Properties { return nil }

func (p *Pingreq) decode(frame []byte, v Version) error { return decodeEmpty(frame, v, TypePingreq) }

// DecodePingreq checks a PINGREQ frame: reserved flags clear, no body.
func DecodePingreq(frame []byte, v Version) error { return decodeEmpty(frame, v, TypePingreq) }

// decodeEmpty checks a packet that is a fixed header alone.
func decodeEmpty(frame []byte, v Version, t PacketType) error {
	if !v.Valid() {
		return errVersion
	}
	_, body, err := parseFrame(frame, t, v)
	if err != nil {
		return err
	}
	if len(body) != 0 {
		return errTrailing.of(v)
	}
	return nil
}

// Size returns 2.
func (p *Pingreq) Size(Version) int { return 2 }

// Append appends the two bytes of a PINGREQ.
func (p *Pingreq) Append(dst []byte, v Version) ([]byte, error) {
	return appendEmpty(dst, v, TypePingreq)
}

func appendEmpty(dst []byte, v Version, t PacketType) ([]byte, error) {
	if !v.Valid() {
		return dst, errVersion
	}
	return append(dst, byte(t)<<4, 0), nil
}

// LogValue returns the packet type.
func (p *Pingreq) LogValue() slog.Value { return logGroup(TypePingreq) }
