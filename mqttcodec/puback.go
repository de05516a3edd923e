package mqttcodec

import "log/slog"

// Puback is a PUBACK packet [MQTT-3.4]; it acknowledges a QoS 1 PUBLISH. The layout is in ack.go.
// In 3.x only PacketID is on the wire.
type Puback struct {
	PacketID   uint16
	ReasonCode ReasonCode // 5.0 only
	Properties Properties // 5.0 only
}

func (p *Puback) body() pubResponse {
	return pubResponse{t: TypePuback, id: &p.PacketID, code: &p.ReasonCode, props: &p.Properties}
}

// Type returns TypePuback.
func (p *Puback) Type() PacketType { return TypePuback }

func (p *Puback) props() *Properties { return &p.Properties }

func (p *Puback) decode(frame []byte, v Version) error { return DecodePuback(frame, v, p) }

// DecodePuback decodes a PUBACK frame into p, overwriting every field. It allocates
// nothing.
func DecodePuback(frame []byte, v Version, p *Puback) error { return p.body().decode(frame, v) }

// Size returns the encoded length of p for version v.
func (p *Puback) Size(v Version) int { return frameSize(p.body().remaining(v)) }

// Append appends p encoded for version v, in the short form when the 5.0
// reason code is Success and there are no properties.
func (p *Puback) Append(dst []byte, v Version) ([]byte, error) { return p.body().append(dst, v) }

// LogValue returns a summary of the packet.
func (p *Puback) LogValue() slog.Value { return p.body().logValue() }
