package mqttcodec

import "log/slog"

// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout [MQTT-3.4] to [MQTT-3.7]:
//
//	+--------+-----------+----------------+-------------+------------+
//	| type|f | remaining | packet id (2B) | reason code | properties |
//	+--------+-----------+----------------+-------------+------------+
//	                                        5.0 only, and both may be left out
//
// In 5.0 the reason code and the properties may be omitted when the code is
// 0x00 and there are no properties; a missing property length means none.

// pubResponse is the common body of the four publish responses.
type pubResponse struct {
	t     PacketType
	id    *uint16
	code  *ReasonCode
	props *Properties
}

func (a pubResponse) decode(frame []byte, v Version) error {
	if !v.Valid() {
		return errVersion
	}
	_, body, err := parseFrame(frame, a.t, v)
	if err != nil {
		return err
	}
	r := reader{b: body}
	id, ok := r.uint16()
	if !ok {
		return errTruncated.of(v)
	}
	if id == 0 {
		return errPacketIDZero.of(v)
	}
	*a.id, *a.code = id, Success
	a.props.Reset()
	if v != V5 || r.left() == 0 {
		if r.left() != 0 {
			return errTrailing.of(v)
		}
		return nil
	}
	c, _ := r.byte()
	if *a.code = ReasonCode(c); !a.code.ValidFor(a.t) {
		return errReasonCode[a.t]
	}
	if r.left() == 0 {
		return nil
	}
	if err := decodeProperties(&r, a.props, a.t, v); err != nil {
		return err
	}
	if r.left() != 0 {
		return errTrailing.of(v)
	}
	return nil
}

func (a pubResponse) remaining(v Version) int {
	switch {
	case v != V5:
		return 2
	case a.props.Empty() && *a.code == Success:
		return 2
	case a.props.Empty():
		return 3
	}
	return 3 + a.props.encodedLen()
}

func (a pubResponse) append(dst []byte, v Version) ([]byte, error) {
	switch {
	case !v.Valid():
		return dst, errVersion
	case *a.id == 0:
		return dst, errPacketIDZero.of(v)
	}
	if v == V5 {
		if !a.code.ValidFor(a.t) {
			return dst, errReasonCode[a.t]
		}
		if err := a.props.check(a.t); err != nil {
			return dst, err
		}
	}
	rem := a.remaining(v)
	if err := checkRemaining(rem); err != nil {
		return dst, err
	}
	dst = AppendUint16(appendHeader(dst, a.t, a.t.fixedFlags(), rem), *a.id)
	if rem == 2 {
		return dst, nil
	}
	dst = append(dst, byte(*a.code))
	if rem == 3 {
		return dst, nil
	}
	return a.props.appendTo(dst), nil
}

func (a pubResponse) logValue() slog.Value {
	return logGroup(a.t, slog.Int("packet_id", int(*a.id)), slog.String("reason", a.code.String()))
}
