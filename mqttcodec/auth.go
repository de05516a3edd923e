package mqttcodec

import "log/slog"

// AUTH [MQTT-3.15] exists only in 5.0; its layout is DISCONNECT's (see
// disconnect.go). It carries an extended-authentication exchange.

// Auth is an AUTH packet.
type Auth struct {
	ReasonCode ReasonCode // Success, ContinueAuthentication or ReAuthenticate
	Properties Properties
}

// Type returns TypeAuth.
func (p *Auth) Type() PacketType { return TypeAuth }

func (p *Auth) props() *Properties { return &p.Properties }

func (p *Auth) body() codeBody {
	return codeBody{t: TypeAuth, code: &p.ReasonCode, props: &p.Properties}
}

func (p *Auth) decode(frame []byte, v Version) error { return DecodeAuth(frame, v, p) }

// DecodeAuth decodes an AUTH frame into p, overwriting every field. AUTH is a
// reserved packet type before 5.0. A Continue authentication or
// Re-authenticate AUTH must name its Authentication Method [MQTT-3.15.2.2.2];
// whether it matches the CONNECT's is the broker's check [MQTT-4.12.0-5].
func DecodeAuth(frame []byte, v Version, p *Auth) error {
	if v != V5 {
		*p = Auth{}
		if !v.Valid() {
			return errVersion
		}
		return errPacketType.of(v)
	}
	if err := p.body().decode(frame, v); err != nil {
		return err
	}
	return p.checkMethod()
}

func (p *Auth) checkMethod() error {
	switch {
	case p.Properties.Has(PropAuthData) && !p.Properties.Has(PropAuthMethod):
		return errAuthDataAlone
	case p.ReasonCode != Success && !p.Properties.Has(PropAuthMethod):
		return errAuthNoMethod
	}
	return nil
}

// Size returns the encoded length of p; AUTH has no 3.x form.
func (p *Auth) Size(v Version) int { return frameSize(p.body().remaining(V5)) }

// Append appends p encoded for 5.0; other versions fail.
func (p *Auth) Append(dst []byte, v Version) ([]byte, error) {
	if v != V5 {
		return dst, errPacketType.of(v)
	}
	if err := p.checkMethod(); err != nil {
		return dst, err
	}
	return p.body().append(dst, v)
}

// LogValue returns a summary without the authentication data.
func (p *Auth) LogValue() slog.Value {
	return logGroup(TypeAuth, slog.String("reason", p.ReasonCode.String()),
		slog.String("method", string(p.Properties.AuthMethod)))
}
