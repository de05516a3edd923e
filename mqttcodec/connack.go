package mqttcodec

import "log/slog"

// CONNACK [MQTT-3.2]:
//
//	+------+-----------+-------------+-------------+------------+
//	| 0x20 | remaining | ack flags   | reason code | properties |
//	+------+-----------+-------------+-------------+------------+
//	                     bit 0: session present      5.0 only
//
// 3.x carries a return code where 5.0 carries a reason code; this package
// keeps the 5.0 code and translates (see ConnackReturnCodeFor).

// Connack is a CONNACK packet.
type Connack struct {
	// SessionPresent is always encoded as 0 for 3.1, which has no such flag.
	SessionPresent bool
	// ReasonCode is the 5.0 code. For 3.x it is translated to and from the
	// return code with ConnackReturnCodeFor and ConnackReturnCode.ReasonCode.
	ReasonCode ReasonCode
	Properties Properties // 5.0 only
}

// Type returns TypeConnack.
func (p *Connack) Type() PacketType { return TypeConnack }

func (p *Connack) props() *Properties { return &p.Properties }

func (p *Connack) decode(frame []byte, v Version) error { return DecodeConnack(frame, v, p) }

// DecodeConnack decodes a CONNACK frame into p, overwriting every field.
func DecodeConnack(frame []byte, v Version, p *Connack) error {
	if !v.Valid() {
		return errVersion
	}
	_, body, err := parseFrame(frame, TypeConnack, v)
	if err != nil {
		return err
	}
	r := reader{b: body}
	flags, ok1 := r.byte()
	code, ok2 := r.byte()
	if !ok1 || !ok2 {
		return errTruncated.of(v)
	}
	switch {
	case v == V31:
		// 3.1 has no acknowledge flags: the byte is reserved and unused.
		p.SessionPresent = false
	case flags&0xFE != 0:
		return errConnackFlags.of(v)
	default:
		p.SessionPresent = flags&0x01 != 0
	}
	if err := p.decodeCode(&r, code, v); err != nil {
		return err
	}
	if p.SessionPresent && p.ReasonCode != Success {
		return errSessionPresent.of(v)
	}
	if r.left() != 0 {
		return errTrailing.of(v)
	}
	return nil
}

func (p *Connack) decodeCode(r *reader, code byte, v Version) error {
	if v != V5 {
		p.Properties.Reset()
		c, ok := ConnackReturnCode(code).ReasonCode()
		if !ok {
			return errConnackReturnCode
		}
		p.ReasonCode = c
		return nil
	}
	p.ReasonCode = ReasonCode(code)
	if !p.ReasonCode.ValidFor(TypeConnack) {
		return errReasonCode[TypeConnack]
	}
	if err := decodeProperties(r, &p.Properties, TypeConnack, v); err != nil {
		return err
	}
	if p.Properties.Has(PropAuthData) && !p.Properties.Has(PropAuthMethod) {
		return errAuthDataAlone
	}
	return nil
}

// Size returns the encoded length of p for version v.
func (p *Connack) Size(v Version) int { return frameSize(p.remaining(v)) }

func (p *Connack) remaining(v Version) int {
	if v == V5 {
		return 2 + p.Properties.encodedLen()
	}
	return 2
}

// Append appends p encoded for version v. For 3.x it fails when the reason
// code has no 3.1.1 return code: the broker then closes without a CONNACK.
func (p *Connack) Append(dst []byte, v Version) ([]byte, error) {
	code, err := p.wireCode(v)
	if err != nil {
		return dst, err
	}
	if p.SessionPresent && p.ReasonCode != Success {
		return dst, errSessionPresent.of(v)
	}
	rem := p.remaining(v)
	if err := checkRemaining(rem); err != nil {
		return dst, err
	}
	var flags byte
	if p.SessionPresent && v != V31 {
		flags = 0x01
	}
	dst = append(appendHeader(dst, TypeConnack, 0, rem), flags, code)
	if v == V5 {
		dst = p.Properties.appendTo(dst)
	}
	return dst, nil
}

// wireCode returns the byte to send and checks the properties.
func (p *Connack) wireCode(v Version) (byte, error) {
	switch {
	case !v.Valid():
		return 0, errVersion
	case v != V5:
		rc, ok := ConnackReturnCodeFor(p.ReasonCode)
		if !ok {
			return 0, errConnackReturnCode
		}
		return byte(rc), nil
	case !p.ReasonCode.ValidFor(TypeConnack):
		return 0, errReasonCode[TypeConnack]
	}
	return byte(p.ReasonCode), p.Properties.check(TypeConnack)
}

// LogValue returns a summary of the acknowledgement.
func (p *Connack) LogValue() slog.Value {
	return logGroup(TypeConnack, slog.Bool("session_present", p.SessionPresent),
		slog.String("reason", p.ReasonCode.String()))
}
