package mqttcodec

import "log/slog"

// Pubrec is a PUBREC packet [MQTT-3.5]; it is the first acknowledgement of a QoS 2 PUBLISH. The layout is in ack.go.
// In 3.x only PacketID is on the wire.
type Pubrec struct {
	PacketID   uint16
	ReasonCode ReasonCode // 5.0 only
	Properties Properties // 5.0 only
}

func (p *Pubrec) body() pubResponse {
	return pubResponse{t: TypePubrec, id: &p.PacketID, code: &p.ReasonCode, props: &p.Properties}
}

// Type returns TypePubrec.
func (p *Pubrec) Type() PacketType { return TypePubrec }

func (p *Pubrec) props() *Properties { return &p.Properties }

func (p *Pubrec) decode(frame []byte, v Version) error { return DecodePubrec(frame, v, p) }

// DecodePubrec decodes a PUBREC frame into p, overwriting every field. It allocates
// nothing.
func DecodePubrec(frame []byte, v Version, p *Pubrec) error { return p.body().decode(frame, v) }

// Size returns the encoded length of p for version v.
func (p *Pubrec) Size(v Version) int { return frameSize(p.body().remaining(v)) }

// Append appends p encoded for version v, in the short form when the 5.0
// reason code is Success and there are no properties.
func (p *Pubrec) Append(dst []byte, v Version) ([]byte, error) { return p.body().append(dst, v) }

// LogValue returns a summary of the packet.
func (p *Pubrec) LogValue() slog.Value { return p.body().logValue() }
