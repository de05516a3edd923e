package mqttcodec

import "log/slog"

// SUBACK [MQTT-3.9]:
//
//	+------+-----------+----------------+------------+------------------------+
//	| 0x90 | remaining | packet id (2B) | properties | one reason code per    |
//	|      |           |                | 5.0 only   | filter, in filter order|
//	+------+-----------+----------------+------------+------------------------+
//
// 3.1.1 return codes are the granted QoS (0, 1, 2) or 0x80 Failure.

// Suback is a SUBACK packet.
type Suback struct {
	PacketID   uint16
	Properties Properties // 5.0 only
	// ReasonCodes has one entry per filter of the SUBSCRIBE [MQTT-3.8.4-6]. For
	// 3.x every error code is sent as 0x80 Failure. DecodeSuback reuses its
	// capacity.
	ReasonCodes []ReasonCode
}

// Type returns TypeSuback.
func (p *Suback) Type() PacketType { return TypeSuback }

func (p *Suback) props() *Properties { return &p.Properties }

func (p *Suback) decode(frame []byte, v Version) error { return DecodeSuback(frame, v, p) }

// DecodeSuback decodes a SUBACK frame into p, overwriting every field. It
// allocates only when p.ReasonCodes lacks capacity.
func DecodeSuback(frame []byte, v Version, p *Suback) error {
	return decodeCodeList(frame, v, TypeSuback, &p.PacketID, &p.Properties, &p.ReasonCodes)
}

// decodeCodeList decodes SUBACK and 5.0 UNSUBACK, which share their layout.
func decodeCodeList(frame []byte, v Version, t PacketType, id *uint16, props *Properties, out *[]ReasonCode) error {
	if !v.Valid() {
		return errVersion
	}
	_, body, err := parseFrame(frame, t, v)
	if err != nil {
		return err
	}
	r := reader{b: body}
	if *id, err = readPacketID(&r, v); err != nil {
		return err
	}
	if v == V5 {
		if err := decodeProperties(&r, props, t, v); err != nil {
			return err
		}
	} else {
		props.Reset()
	}
	raw := r.rest()
	if len(raw) == 0 {
		return errAckEmpty.of(v)
	}
	codes := (*out)[:0]
	if cap(codes) < len(raw) {
		codes = make([]ReasonCode, 0, len(raw))
	}
	for _, c := range raw {
		rc := ReasonCode(c)
		if !validListCode(rc, t, v) {
			return errReasonCode[t]
		}
		codes = append(codes, rc)
	}
	*out = codes
	return nil
}

func validListCode(c ReasonCode, t PacketType, v Version) bool {
	if v == V5 {
		return c.ValidFor(t)
	}
	return c <= GrantedQoS2 || c == UnspecifiedError
}

// Size returns the encoded length of p for version v.
func (p *Suback) Size(v Version) int { return frameSize(p.remaining(v)) }

func (p *Suback) remaining(v Version) int {
	n := 2 + len(p.ReasonCodes)
	if v == V5 {
		n += p.Properties.encodedLen()
	}
	return n
}

// Append appends p encoded for version v.
func (p *Suback) Append(dst []byte, v Version) ([]byte, error) {
	rem, err := checkCodeList(v, TypeSuback, p.PacketID, &p.Properties, p.ReasonCodes, p.remaining(v))
	if err != nil {
		return dst, err
	}
	dst = AppendUint16(appendHeader(dst, TypeSuback, 0, rem), p.PacketID)
	if v == V5 {
		dst = p.Properties.appendTo(dst)
	}
	for _, c := range p.ReasonCodes {
		if v == V5 {
			dst = append(dst, byte(c))
		} else {
			dst = append(dst, subackCodeV3(c))
		}
	}
	return dst, nil
}

// checkCodeList validates SUBACK and UNSUBACK for encoding.
func checkCodeList(v Version, t PacketType, id uint16, props *Properties, codes []ReasonCode, rem int) (int, error) {
	switch {
	case !v.Valid():
		return 0, errVersion
	case id == 0:
		return 0, errPacketIDZero.of(v)
	case len(codes) == 0 && (t == TypeSuback || v == V5):
		return 0, errAckEmpty.of(v)
	}
	if v == V5 {
		for _, c := range codes {
			if !c.ValidFor(t) {
				return 0, errReasonCode[t]
			}
		}
		if err := props.check(t); err != nil {
			return 0, err
		}
	}
	return rem, checkRemaining(rem)
}

// LogValue returns a summary of the packet.
func (p *Suback) LogValue() slog.Value {
	return logGroup(TypeSuback, slog.Int("packet_id", int(p.PacketID)), slog.Int("codes", len(p.ReasonCodes)))
}
