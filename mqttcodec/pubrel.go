package mqttcodec

import "log/slog"

// Pubrel is a PUBREL packet [MQTT-3.6]; it releases a QoS 2 PUBLISH (fixed-header flags 0010). The layout is in ack.go.
// In 3.x only PacketID is on the wire.
type Pubrel struct {
	PacketID   uint16
	ReasonCode ReasonCode // 5.0 only
	Properties Properties // 5.0 only
}

func (p *Pubrel) body() pubResponse {
	return pubResponse{t: TypePubrel, id: &p.PacketID, code: &p.ReasonCode, props: &p.Properties}
}

// Type returns TypePubrel.
func (p *Pubrel) Type() PacketType { return TypePubrel }

func (p *Pubrel) props() *Properties { return &p.Properties }

func (p *Pubrel) decode(frame []byte, v Version) error { return DecodePubrel(frame, v, p) }

// DecodePubrel decodes a PUBREL frame into p, overwriting every field. It allocates
// nothing.
func DecodePubrel(frame []byte, v Version, p *Pubrel) error { return p.body().decode(frame, v) }

// Size returns the encoded length of p for version v.
func (p *Pubrel) Size(v Version) int { return frameSize(p.body().remaining(v)) }

// Append appends p encoded for version v, in the short form when the 5.0
// reason code is Success and there are no properties.
func (p *Pubrel) Append(dst []byte, v Version) ([]byte, error) { return p.body().append(dst, v) }

// LogValue returns a summary of the packet.
func (p *Pubrel) LogValue() slog.Value { return p.body().logValue() }
