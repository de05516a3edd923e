package mqtt

import (
	"tributary/mqttcodec"
)

// Authentication flows: the first step of a CONNECT, the AUTH rounds of
// MQTT 5 enhanced authentication before CONNACK [MQTT-4.12], and
// re-authentication after it [MQTT-4.12.1].

// enhancedAuth is the state of a connection whose CONNECT named an
// Authentication Method; connections without one have none.
type enhancedAuth struct {
	method  string
	pending *pendingConnect // the CONNECT, until its CONNACK
	reauth  *authProgress   // a re-authentication in progress
}

// method returns the connection's Authentication Method, "" for none.
func (c *conn) method() string {
	if c.auth == nil {
		return ""
	}
	return c.auth.method
}

// authRequest is the AuthRequest of the pending CONNECT's next step.
func (c *conn) authRequest(pc *pendingConnect, data []byte) AuthRequest {
	return AuthRequest{
		ClientID: pc.req.ClientID, ProtocolVersion: byte(c.version), RemoteAddr: c.remoteAddr(),
		Method: c.method(), Data: data, Step: pc.auth.step, State: pc.auth.state,
	}
}

// authenticate runs one step of the CONNECT's authentication and acts on
// its result: CONNACK success, an AUTH asking for the next round, or a
// refusal.
func (c *conn) authenticate(pc *pendingConnect, req AuthRequest) error {
	ctx, cancel := c.opContext(c.srv.cfg.ConnectTimeout)
	res, err := c.srv.cfg.Authenticator.Authenticate(ctx, req)
	cancel()
	switch {
	case err != nil:
		c.debug("mqtt authenticator failed", "err", err)
		return c.refuse(mqttcodec.ServerUnavailable, rejectUnavailable, "authentication unavailable")
	case res.Code == mqttcodec.Success:
		return c.finishConnect(pc, res.Data)
	case res.Code == mqttcodec.ContinueAuthentication && c.auth != nil:
		pc.auth = authProgress{step: req.Step + 1, state: res.State}
		c.auth.pending, c.phase = pc, phaseAuth
		c.queueFrame(c.authFrame(mqttcodec.ContinueAuthentication, res.Data)) // [MQTT-4.12.0-2]
		return nil
	}
	code := res.Code
	if !code.IsError() {
		code = mqttcodec.NotAuthorized // Continue without a method: the Authenticator is wrong
	}
	return c.refuse(code, rejectAuth, res.ReasonString)
}

// authFrame encodes an AUTH with the connection's method [MQTT-4.12.0-5].
func (c *conn) authFrame(code mqttcodec.ReasonCode, data []byte) []byte {
	a := mqttcodec.Auth{ReasonCode: code}
	a.Properties.SetAuthMethod([]byte(c.method()))
	if len(data) > 0 {
		a.Properties.SetAuthData(data)
	}
	return c.encodeControl(&a)
}

// handleAuthStep handles a packet during enhanced authentication: only
// AUTH and DISCONNECT may come before the CONNACK [MQTT-3.1.2-30].
func (c *conn) handleAuthStep(frame []byte, t mqttcodec.PacketType) error {
	switch t {
	case mqttcodec.TypeDisconnect:
		c.stopReading = true
		return errClientDisconnected
	case mqttcodec.TypeAuth:
	default:
		return c.refuse(mqttcodec.ProtocolError, rejectProtocol, t.String()+" before CONNACK [MQTT-3.1.2-30]")
	}
	var a mqttcodec.Auth
	if err := mqttcodec.DecodeAuth(frame, c.version, &a); err != nil {
		return c.refuse(mqttcodec.MalformedPacket, rejectProtocol, err.Error())
	}
	if a.ReasonCode != mqttcodec.ContinueAuthentication {
		return c.refuse(mqttcodec.ProtocolError, rejectProtocol, "AUTH must continue authentication [MQTT-4.12.0-3]")
	}
	if string(a.Properties.AuthMethod) != c.auth.method {
		return c.refuse(mqttcodec.ProtocolError, rejectProtocol, "AUTH changed the authentication method [MQTT-4.12.0-5]")
	}
	pc := c.auth.pending
	return c.authenticate(pc, c.authRequest(pc, a.Properties.AuthData))
}

// handleReauth handles an AUTH after CONNACK: a client that authenticated
// with a method may re-authenticate at any time [MQTT-4.12.1-1]; the
// rounds interleave with its other packets.
func (c *conn) handleReauth(frame []byte) error {
	var a mqttcodec.Auth
	if err := mqttcodec.DecodeAuth(frame, c.version, &a); err != nil {
		return decodeError(mqttcodec.TypeAuth, err)
	}
	if err := c.checkReauth(&a); err != nil {
		return err
	}
	ra := c.auth.reauth
	req := AuthRequest{
		ClientID: c.clientID, ProtocolVersion: byte(c.version), RemoteAddr: c.remoteAddr(),
		Method: c.auth.method, Data: a.Properties.AuthData, Step: ra.step,
		Reauthenticate: true, State: ra.state,
	}
	ctx, cancel := c.opContext(c.srv.cfg.ConnectTimeout)
	res, err := c.srv.cfg.Authenticator.Authenticate(ctx, req)
	cancel()
	switch {
	case err != nil:
		return &closeError{code: mqttcodec.UnspecifiedError, reason: "re-authentication unavailable", err: err}
	case res.Code == mqttcodec.Success:
		c.auth.reauth = nil
		c.queueFrame(c.authFrame(mqttcodec.Success, res.Data))
		return nil
	case res.Code == mqttcodec.ContinueAuthentication:
		ra.step, ra.state = req.Step+1, res.State
		c.queueFrame(c.authFrame(mqttcodec.ContinueAuthentication, res.Data))
		return nil
	}
	code := res.Code
	if !code.IsError() || !code.ValidFor(mqttcodec.TypeDisconnect) {
		code = mqttcodec.NotAuthorized
	}
	return &closeError{code: code, reason: "re-authentication refused [MQTT-4.12.1-2]"}
}

// checkReauth checks an AUTH after CONNACK against the exchange in
// progress, and starts one on Re-authenticate.
func (c *conn) checkReauth(a *mqttcodec.Auth) error {
	switch {
	case c.auth == nil:
		return protocolViolation(mqttcodec.ProtocolError, "MQTT-4.12.0-7", "AUTH without an authentication method in CONNECT")
	case string(a.Properties.AuthMethod) != c.auth.method:
		return protocolViolation(mqttcodec.ProtocolError, "MQTT-4.12.1-1", "AUTH changed the authentication method")
	case a.ReasonCode == mqttcodec.ReAuthenticate && c.auth.reauth == nil:
		c.auth.reauth = &authProgress{}
		return nil
	case a.ReasonCode == mqttcodec.ContinueAuthentication && c.auth.reauth != nil:
		return nil
	}
	return protocolViolation(mqttcodec.ProtocolError, "MQTT-4.12.0-3", "unexpected AUTH "+a.ReasonCode.String())
}
