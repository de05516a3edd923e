package mqttcodec

import "log/slog"

// Pubcomp is a PUBCOMP packet [MQTT-3.7]; it completes the QoS 2 exchange. The layout is in ack.go.
// In 3.x only PacketID is on the wire.
type Pubcomp struct {
	PacketID   uint16
	ReasonCode ReasonCode // 5.0 only
	Properties Properties // 5.0 only
}

func (p *Pubcomp) body() pubResponse {
	return pubResponse{t: TypePubcomp, id: &p.PacketID, code: &p.ReasonCode, props: &p.Properties}
}

// Type returns TypePubcomp.
func (p *Pubcomp) Type() PacketType { return TypePubcomp }

func (p *Pubcomp) props() *Properties { return &p.Properties }

func (p *Pubcomp) decode(frame []byte, v Version) error { return DecodePubcomp(frame, v, p) }

// DecodePubcomp decodes a PUBCOMP frame into p, overwriting every field. It allocates
// nothing.
func DecodePubcomp(frame []byte, v Version, p *Pubcomp) error { return p.body().decode(frame, v) }

// Size returns the encoded length of p for version v.
func (p *Pubcomp) Size(v Version) int { return frameSize(p.body().remaining(v)) }

// Append appends p encoded for version v, in the short form when the 5.0
// reason code is Success and there are no properties.
func (p *Pubcomp) Append(dst []byte, v Version) ([]byte, error) { return p.body().append(dst, v) }

// LogValue returns a summary of the packet.
func (p *Pubcomp) LogValue() slog.Value { return p.body().logValue() }
