package mqttcodec

import "log/slog"

// CONNECT [MQTT-3.1]:
//
//	+------+-----------+---------------+-------+-------+-----------+------------+
//	| 0x10 | remaining | protocol name | level | flags | keepalive | properties |
//	+------+-----------+---------------+-------+-------+-----------+------------+
//	| client id | will properties | will topic | will payload | user | password |
//	+-----------+-----------------+------------+--------------+------+----------+
//
// Properties and will properties are 5.0 only; the will fields, user name and
// password are present when their flags say so. Flags, from bit 7 down: user
// name, password, will retain, will QoS (2 bits), will, clean start, reserved.

// Protocol names by version [MQTT-3.1.2.1].
const (
	protocolNameV3 = "MQIsdp" // 3.1
	protocolName   = "MQTT"   // 3.1.1 and 5.0
)

// Connect is a CONNECT packet. After DecodeConnect its byte slices alias the
// frame.
type Connect struct {
	// Version is the protocol level DecodeConnect read. Append writes the
	// level of its version argument instead.
	Version          Version
	CleanStart       bool // Clean Session in 3.x
	KeepAliveSeconds uint16
	Properties       Properties // 5.0 only
	ClientID         []byte

	HasWill        bool
	WillQoS        QoS
	WillRetain     bool
	WillProperties Properties // 5.0 only
	WillTopic      []byte
	WillPayload    []byte

	HasUsername bool
	Username    []byte
	HasPassword bool
	Password    []byte
}

// Type returns TypeConnect.
func (p *Connect) Type() PacketType { return TypeConnect }

func (p *Connect) props() *Properties { return &p.Properties }

func (p *Connect) decode(frame []byte, _ Version) error { return DecodeConnect(frame, p) }

// DecodeConnect decodes a CONNECT frame into p, overwriting every field. The
// frame says its own version. On error p.Version holds the protocol level if
// the decoder got that far (0 otherwise), so the broker can answer with a
// CONNACK of the right version — or, for a code ConnackReturnCodeFor cannot
// map, close without one. Beyond the format it enforces the protocol name and
// level [MQTT-3.1.2-1] [MQTT-3.1.2-2], the reserved flag [MQTT-3.1.2-3], the
// will flags [MQTT-3.1.2-11..13], a 3.1.1 password only with a user name
// [MQTT-3.1.2-22 of 3.1.1], a 3.x empty client identifier only with a clean
// session [MQTT-3.1.3-8 of 3.1.1], UTF-8 strings and a valid will topic.
func DecodeConnect(frame []byte, p *Connect) error {
	*p = Connect{}
	_, body, err := splitFrame(frame, TypeConnect, V5)
	if err != nil {
		return err
	}
	r := reader{b: body}
	if err := p.decodeVersion(&r); err != nil {
		return err
	}
	v := p.Version
	if frame[0]&0x0F != 0 {
		return errReservedFlags[TypeConnect].of(v)
	}
	flags, ok := r.byte()
	if !ok {
		return errTruncated.of(v)
	}
	if err := p.setFlags(flags); err != nil {
		return err
	}
	if p.KeepAliveSeconds, ok = r.uint16(); !ok {
		return errTruncated.of(v)
	}
	if v == V5 {
		if err := decodeProperties(&r, &p.Properties, TypeConnect, v); err != nil {
			return err
		}
		if p.Properties.Has(PropAuthData) && !p.Properties.Has(PropAuthMethod) {
			return errAuthDataAlone
		}
	}
	if err := p.decodePayload(&r); err != nil {
		return err
	}
	if r.left() != 0 {
		return errTrailing.of(v)
	}
	return nil
}

// decodeVersion reads the protocol name and level.
func (p *Connect) decodeVersion(r *reader) error {
	name, ok := r.binary()
	if !ok {
		return errTruncated.v5
	}
	level, ok := r.byte()
	if !ok {
		return errTruncated.v5
	}
	p.Version = Version(level)
	switch string(name) {
	case protocolName:
		if p.Version == V311 || p.Version == V5 {
			return nil
		}
	case protocolNameV3:
		if p.Version == V31 {
			return nil
		}
	default:
		return errProtocolName.of(p.Version)
	}
	return errProtocolVersion.of(p.Version)
}

// setFlags unpacks and checks the connect flags.
func (p *Connect) setFlags(f byte) error {
	v := p.Version
	p.HasUsername, p.HasPassword = f&0x80 != 0, f&0x40 != 0
	p.WillRetain, p.WillQoS, p.HasWill = f&0x20 != 0, QoS(f>>3&0x03), f&0x04 != 0
	p.CleanStart = f&0x02 != 0
	switch {
	case f&0x01 != 0:
		return errConnectReserved.of(v)
	case !p.HasWill && p.WillQoS != QoS0:
		return errWillQoSNoWill.of(v)
	case !p.HasWill && p.WillRetain:
		return errWillRetainNoWill.of(v)
	case p.WillQoS > QoS2:
		return errWillQoS3.of(v)
	case v != V5 && p.HasPassword && !p.HasUsername:
		return errPasswordNoUser
	}
	return nil
}

// decodePayload reads the client identifier, the will, user name and password.
func (p *Connect) decodePayload(r *reader) error {
	v := p.Version
	var ok bool
	if p.ClientID, ok = r.binary(); !ok {
		return errClientIDMissing.of(v)
	}
	if err := validateUTF8(p.ClientID, v); err != nil {
		return err
	}
	if v != V5 && len(p.ClientID) == 0 && (!p.CleanStart || v == V31) {
		return errClientIDEmpty
	}
	if p.HasWill {
		if err := p.decodeWill(r); err != nil {
			return err
		}
	}
	if p.HasUsername {
		if p.Username, ok = r.binary(); !ok {
			return errUsernameMissing.of(v)
		}
		if err := validateUTF8(p.Username, v); err != nil {
			return err
		}
	}
	if p.HasPassword {
		if p.Password, ok = r.binary(); !ok {
			return errPasswordMissing.of(v)
		}
	}
	return nil
}

func (p *Connect) decodeWill(r *reader) error {
	v := p.Version
	if v == V5 {
		if err := decodeProperties(r, &p.WillProperties, willContext, v); err != nil {
			return err
		}
	}
	var ok1, ok2 bool
	p.WillTopic, ok1 = r.binary()
	p.WillPayload, ok2 = r.binary()
	if !ok1 || !ok2 {
		return errWillMissing.of(v)
	}
	return validateTopicName(p.WillTopic, v)
}

// Size returns the encoded length of p for version v.
func (p *Connect) Size(v Version) int { return frameSize(p.remaining(v)) }

func (p *Connect) remaining(v Version) int {
	n := 2 + len(protocolName) + 1 + 1 + 2 + 2 + len(p.ClientID)
	if v == V31 {
		n += len(protocolNameV3) - len(protocolName)
	}
	if v == V5 {
		n += p.Properties.encodedLen()
	}
	if p.HasWill {
		n += 4 + len(p.WillTopic) + len(p.WillPayload)
		if v == V5 {
			n += p.WillProperties.encodedLen()
		}
	}
	if p.HasUsername {
		n += 2 + len(p.Username)
	}
	if p.HasPassword {
		n += 2 + len(p.Password)
	}
	return n
}

// Append appends p encoded for version v, writing v's protocol name and level.
func (p *Connect) Append(dst []byte, v Version) ([]byte, error) {
	rem, err := p.check(v)
	if err != nil {
		return dst, err
	}
	dst = appendHeader(dst, TypeConnect, 0, rem)
	if v == V31 {
		dst = appendString(dst, protocolNameV3)
	} else {
		dst = appendString(dst, protocolName)
	}
	dst = append(dst, byte(v), p.flags())
	dst = AppendUint16(dst, p.KeepAliveSeconds)
	if v == V5 {
		dst = p.Properties.appendTo(dst)
	}
	dst = appendString(dst, p.ClientID)
	if p.HasWill {
		if v == V5 {
			dst = p.WillProperties.appendTo(dst)
		}
		dst = appendString(appendString(dst, p.WillTopic), p.WillPayload)
	}
	if p.HasUsername {
		dst = appendString(dst, p.Username)
	}
	if p.HasPassword {
		dst = appendString(dst, p.Password)
	}
	return dst, nil
}

func (p *Connect) flags() byte {
	var f byte
	if p.HasUsername {
		f |= 0x80
	}
	if p.HasPassword {
		f |= 0x40
	}
	if p.HasWill {
		f |= byte(p.WillQoS)<<3 | 0x04
		if p.WillRetain {
			f |= 0x20
		}
	}
	if p.CleanStart {
		f |= 0x02
	}
	return f
}

// check validates p for encoding and returns its remaining length.
func (p *Connect) check(v Version) (int, error) {
	switch {
	case !v.Valid():
		return 0, errVersion
	case p.HasWill && p.WillQoS > QoS2:
		return 0, errWillQoS3.of(v)
	case v != V5 && p.HasPassword && !p.HasUsername:
		return 0, errPasswordNoUser
	}
	for _, s := range [...][]byte{p.ClientID, p.WillTopic, p.WillPayload, p.Username, p.Password} {
		if len(s) > MaxStringBytes {
			return 0, errStringTooLong
		}
	}
	if v == V5 {
		if err := p.Properties.check(TypeConnect); err != nil {
			return 0, err
		}
		if err := p.WillProperties.check(willContext); p.HasWill && err != nil {
			return 0, err
		}
	}
	rem := p.remaining(v)
	return rem, checkRemaining(rem)
}

// LogValue returns a summary without the password, the user name or the will
// payload.
func (p *Connect) LogValue() slog.Value {
	return logGroup(TypeConnect, slog.String("proto", p.Version.String()),
		slog.String("client_id", string(p.ClientID)), slog.Bool("clean_start", p.CleanStart),
		slog.Int("keep_alive", int(p.KeepAliveSeconds)), slog.Bool("has_will", p.HasWill),
		slog.Bool("has_username", p.HasUsername), slog.Bool("has_password", p.HasPassword))
}
