package mqttcodec

import "log/slog"

// DISCONNECT [MQTT-3.14] and AUTH [MQTT-3.15] share one 5.0 layout:
//
//	+--------+-----------+-------------+------------+
//	| type|0 | remaining | reason code | properties |
//	+--------+-----------+-------------+------------+
//
// Both fields may be left out when the code is 0x00 and there are no
// properties, and the properties alone when there are none. A 3.x DISCONNECT
// is the fixed header alone.

// Disconnect is a DISCONNECT packet.
type Disconnect struct {
	ReasonCode ReasonCode // 5.0 only
	Properties Properties // 5.0 only
}

// Type returns TypeDisconnect.
func (p *Disconnect) Type() PacketType { return TypeDisconnect }

func (p *Disconnect) props() *Properties { return &p.Properties }

func (p *Disconnect) body() codeBody {
	return codeBody{t: TypeDisconnect, code: &p.ReasonCode, props: &p.Properties}
}

func (p *Disconnect) decode(frame []byte, v Version) error { return DecodeDisconnect(frame, v, p) }

// DecodeDisconnect decodes a DISCONNECT frame into p, overwriting every field.
// Whether a Session Expiry Interval is allowed depends on the direction and
// the CONNECT [MQTT-3.14.2-2], so the broker checks that.
func DecodeDisconnect(frame []byte, v Version, p *Disconnect) error {
	if v != V5 {
		*p = Disconnect{}
		return decodeEmpty(frame, v, TypeDisconnect)
	}
	return p.body().decode(frame, v)
}

// Size returns the encoded length of p for version v.
func (p *Disconnect) Size(v Version) int { return frameSize(p.body().remaining(v)) }

// Append appends p encoded for version v; for 3.x the fixed header alone.
func (p *Disconnect) Append(dst []byte, v Version) ([]byte, error) {
	if v != V5 {
		return appendEmpty(dst, v, TypeDisconnect)
	}
	return p.body().append(dst, v)
}

// LogValue returns a summary of the packet.
func (p *Disconnect) LogValue() slog.Value {
	return logGroup(TypeDisconnect, slog.String("reason", p.ReasonCode.String()))
}

// codeBody is the common body of DISCONNECT and AUTH in 5.0.
type codeBody struct {
	t     PacketType
	code  *ReasonCode
	props *Properties
}

func (c codeBody) decode(frame []byte, v Version) error {
	_, body, err := parseFrame(frame, c.t, v)
	if err != nil {
		return err
	}
	*c.code = Success
	c.props.Reset()
	r := reader{b: body}
	if r.left() == 0 {
		return nil
	}
	b, _ := r.byte()
	if *c.code = ReasonCode(b); !c.code.ValidFor(c.t) {
		return errReasonCode[c.t]
	}
	if r.left() == 0 {
		return nil
	}
	if err := decodeProperties(&r, c.props, c.t, v); err != nil {
		return err
	}
	if r.left() != 0 {
		return errTrailing.of(v)
	}
	return nil
}

func (c codeBody) remaining(v Version) int {
	switch {
	case v != V5:
		return 0
	case c.props.Empty() && *c.code == Success:
		return 0
	case c.props.Empty():
		return 1
	}
	return 1 + c.props.encodedLen()
}

func (c codeBody) append(dst []byte, v Version) ([]byte, error) {
	if !c.code.ValidFor(c.t) {
		return dst, errReasonCode[c.t]
	}
	if err := c.props.check(c.t); err != nil {
		return dst, err
	}
	rem := c.remaining(v)
	if err := checkRemaining(rem); err != nil {
		return dst, err
	}
	dst = appendHeader(dst, c.t, 0, rem)
	if rem == 0 {
		return dst, nil
	}
	dst = append(dst, byte(*c.code))
	if rem == 1 {
		return dst, nil
	}
	return c.props.appendTo(dst), nil
}
