package mqttcodec

import "log/slog"

// PINGRESP [MQTT-3.13] is a fixed header alone: 0xD0 0x00.

// Pingresp is a PINGRESP packet.
type Pingresp struct{}

// Type returns TypePingresp.
func (p *Pingresp) Type() PacketType { return TypePingresp }

func (p *Pingresp) props() *Properties { return nil }

func (p *Pingresp) decode(frame []byte, v Version) error { return decodeEmpty(frame, v, TypePingresp) }

// DecodePingresp checks a PINGRESP frame: reserved flags clear, no body.
func DecodePingresp(frame []byte, v Version) error { return decodeEmpty(frame, v, TypePingresp) }

// Size returns 2.
func (p *Pingresp) Size(Version) int { return 2 }

// Append appends the two bytes of a PINGRESP.
func (p *Pingresp) Append(dst []byte, v Version) ([]byte, error) {
	return appendEmpty(dst, v, TypePingresp)
}

// LogValue returns the packet type.
func (p *Pingresp) LogValue() slog.Value { return logGroup(TypePingresp) }
