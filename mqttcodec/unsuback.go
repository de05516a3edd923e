package mqttcodec

import "log/slog"

// UNSUBACK [MQTT-3.11]: in 5.0 the layout of SUBACK (packet identifier,
// properties, one reason code per filter); in 3.x only the packet identifier.

// Unsuback is an UNSUBACK packet.
type Unsuback struct {
	PacketID   uint16
	Properties Properties // 5.0 only
	// ReasonCodes has one entry per filter of the UNSUBSCRIBE; 5.0 only.
	// DecodeUnsuback reuses its capacity.
	ReasonCodes []ReasonCode
}

// Type returns TypeUnsuback.
func (p *Unsuback) Type() PacketType { return TypeUnsuback }

func (p *Unsuback) props() *Properties { return &p.Properties }

func (p *Unsuback) decode(frame []byte, v Version) error { return DecodeUnsuback(frame, v, p) }

// DecodeUnsuback decodes an UNSUBACK frame into p, overwriting every field. It
// allocates only when p.ReasonCodes lacks capacity.
func DecodeUnsuback(frame []byte, v Version, p *Unsuback) error {
	if v == V5 || !v.Valid() {
		return decodeCodeList(frame, v, TypeUnsuback, &p.PacketID, &p.Properties, &p.ReasonCodes)
	}
	_, body, err := parseFrame(frame, TypeUnsuback, v)
	if err != nil {
		return err
	}
	r := reader{b: body}
	if p.PacketID, err = readPacketID(&r, v); err != nil {
		return err
	}
	p.Properties.Reset()
	p.ReasonCodes = p.ReasonCodes[:0]
	if r.left() != 0 {
		return errTrailing.of(v)
	}
	return nil
}

// Size returns the encoded length of p for version v.
func (p *Unsuback) Size(v Version) int { return frameSize(p.remaining(v)) }

func (p *Unsuback) remaining(v Version) int {
	if v != V5 {
		return 2
	}
	return 2 + p.Properties.encodedLen() + len(p.ReasonCodes)
}

// Append appends p encoded for version v; 3.x drops the reason codes.
func (p *Unsuback) Append(dst []byte, v Version) ([]byte, error) {
	rem, err := checkCodeList(v, TypeUnsuback, p.PacketID, &p.Properties, p.ReasonCodes, p.remaining(v))
	if err != nil {
		return dst, err
	}
	dst = AppendUint16(appendHeader(dst, TypeUnsuback, 0, rem), p.PacketID)
	if v != V5 {
		return dst, nil
	}
	dst = p.Properties.appendTo(dst)
	for _, c := range p.ReasonCodes {
		dst = append(dst, byte(c))
	}
	return dst, nil
}

// LogValue returns a summary of the packet.
func (p *Unsuback) LogValue() slog.Value {
	return logGroup(TypeUnsuback, slog.Int("packet_id", int(p.PacketID)), slog.Int("codes", len(p.ReasonCodes)))
}
