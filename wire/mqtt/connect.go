package mqtt

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"tributary/cluster"
	"tributary/mqttcodec"
)

// pendingConnect is what a CONNECT leaves for the CONNACK, owned (copied
// out of the frame) so it survives enhanced-authentication rounds.
type pendingConnect struct {
	req             cluster.ConnectRequest
	assignedID      bool   // the server chose ClientID (MQTT 5 reports it)
	serverKeepAlive uint16 // MQTT 5 Server Keep Alive to report, 0 for none
	auth            authProgress
}

// authProgress is where an enhanced authentication or re-authentication
// stands.
type authProgress struct {
	step  int
	state any
}

// handleConnect handles the first packet: it decodes and checks the
// CONNECT, authenticates it and, unless authentication needs more rounds,
// opens the session and queues the CONNACK.
func (c *conn) handleConnect(frame []byte) error {
	var p mqttcodec.Connect
	if err := mqttcodec.DecodeConnect(frame, &p); err != nil {
		return c.refuseBadConnect(&p, err)
	}
	c.version = p.Version
	if c.version == mqttcodec.V5 {
		// Reason Strings go only into CONNACK and DISCONNECT, which a
		// client's Request Problem Information of 0 still allows
		// [MQTT-3.1.2-29], so that request needs no state.
		c.maxOutBytes = int(p.Properties.MaximumPacketBytes) // absent: 0, no limit [MQTT-3.1.2-24]
	}
	if c.overLimit {
		return c.refuse(mqttcodec.QuotaExceeded, rejectMaxConnections, "too many connections")
	}
	pc := &pendingConnect{}
	keepAlive, err := c.negotiateKeepAlive(&p, pc)
	if err != nil {
		return err
	}
	c.keepAlive = uint16(keepAlive / time.Second)
	if err := c.fillRequest(&p, pc); err != nil {
		return err
	}
	c.clientID = pc.req.ClientID
	if p.Properties.Has(mqttcodec.PropAuthMethod) {
		c.auth = &enhancedAuth{method: string(p.Properties.AuthMethod)}
	}
	req := c.authRequest(pc, p.Properties.AuthData)
	if p.HasUsername {
		req.Username = p.Username
	}
	if p.HasPassword {
		req.Password = p.Password
	}
	return c.authenticate(pc, req)
}

// refuseBadConnect answers a CONNECT the decoder refused: with a CONNACK
// when the version is known and the code can be said in it, else by
// closing. An unsupported protocol level gets the 3.1.1 CONNACK return
// code 1, which every version's client can read [MQTT-3.1.2-2].
func (c *conn) refuseBadConnect(p *mqttcodec.Connect, err error) error {
	code := mqttcodec.MalformedPacket
	var re *mqttcodec.ReasonError
	if errors.As(err, &re) {
		code = re.Code
	}
	switch {
	case code == mqttcodec.UnsupportedProtocolVersion:
		c.version = mqttcodec.V311
	case p.Version.Valid():
		c.version = p.Version
	default:
		c.srv.metrics.rejected.WithLabelValues(rejectProtocol).Inc()
		return &closeError{reason: "undecodable CONNECT", err: err}
	}
	return c.refuse(code, rejectProtocol, err.Error())
}

// refuse queues a CONNACK with an error code and stops the connection:
// the writer sends the CONNACK, then closes. MQTT 3 hears the nearest
// return code, or nothing when there is none [MQTT-3.2.2-6 of 3.1.1].
func (c *conn) refuse(code mqttcodec.ReasonCode, metric, reason string) error {
	c.srv.metrics.rejected.WithLabelValues(metric).Inc()
	if !code.ValidFor(mqttcodec.TypeConnack) {
		code = mqttcodec.UnspecifiedError
	}
	ack := mqttcodec.Connack{ReasonCode: code}
	if c.version == mqttcodec.V5 && reason != "" {
		ack.Properties.SetReasonString([]byte(reason))
	}
	if _, ok := mqttcodec.ConnackReturnCodeFor(code); c.version == mqttcodec.V5 || ok {
		c.queueFrame(c.encodeControl(&ack))
	}
	c.stopReading = true
	return &closeError{reason: "CONNECT refused: " + reason + " (" + code.String() + ")"}
}

// negotiateKeepAlive applies MaxKeepAlive: an MQTT 5 client asking more,
// or 0, is told the server's value in CONNACK [MQTT-3.2.2-21]; an MQTT 3
// client, which cannot be told, is refused.
func (c *conn) negotiateKeepAlive(p *mqttcodec.Connect, pc *pendingConnect) (time.Duration, error) {
	asked := time.Duration(p.KeepAliveSeconds) * time.Second
	limit := c.srv.cfg.MaxKeepAlive
	if limit >= maxKeepAlive || asked != 0 && asked <= limit {
		return asked, nil
	}
	if c.version != mqttcodec.V5 {
		return 0, c.refuse(mqttcodec.ClientIdentifierNotValid, rejectProtocol, "keep alive above the server's maximum")
	}
	pc.serverKeepAlive = uint16(limit / time.Second)
	return limit, nil
}

// fillRequest builds the session request: the client identifier (one is
// assigned to a client that sent none [MQTT-3.1.3-6]; the decoder has
// refused an empty one that 3.1.1 does not allow [MQTT-3.1.3-8]), the
// session expiry, the client's limits and the will.
func (c *conn) fillRequest(p *mqttcodec.Connect, pc *pendingConnect) error {
	r := &pc.req
	r.ProtocolVersion = byte(p.Version)
	r.CleanStart = p.CleanStart
	r.ClientID = string(p.ClientID) // copy: the session keeps it
	if r.ClientID == "" {
		r.ClientID, pc.assignedID = newClientID(), true
	}
	switch {
	case p.Version == mqttcodec.V5:
		r.ExpirySeconds = p.Properties.SessionExpirySeconds
		c.connectExpiry = r.ExpirySeconds
		r.ReceiveMaximum = 65535 // absent: no limit but the protocol's [MQTT-3.1.2.11.3]
		if p.Properties.Has(mqttcodec.PropReceiveMaximum) {
			r.ReceiveMaximum = p.Properties.ReceiveMaximum
		}
		c.aliasOutMax = min(p.Properties.TopicAliasMaximum, uint16(c.srv.cfg.OutboundTopicAliasMaximum))
	case !p.CleanStart:
		r.ExpirySeconds = cluster.NeverExpires // 3.x persistent session; cluster caps it
	}
	if !p.HasWill {
		return nil
	}
	will, err := willOf(p)
	if err != nil {
		return c.refuse(mqttcodec.PayloadFormatInvalid, rejectProtocol, "will payload is not UTF-8 [MQTT-3.1.3.2.3]")
	}
	r.Will = will
	return nil
}

// willOf copies the will out of the frame: it outlives the connection.
func willOf(p *mqttcodec.Connect) (*cluster.Will, error) {
	props := p.WillProperties
	if props.Has(mqttcodec.PropPayloadFormat) && props.PayloadFormat == 1 {
		if err := mqttcodec.ValidateUTF8(p.WillPayload); err != nil {
			return nil, err
		}
	}
	w := &cluster.Will{}
	if props.Has(mqttcodec.PropWillDelay) {
		w.DelaySeconds = props.WillDelaySeconds
	}
	if props.Has(mqttcodec.PropMessageExpiry) {
		w.ExpirySeconds = props.MessageExpirySeconds
	}
	props.Clear(mqttcodec.PropWillDelay)
	props.Clear(mqttcodec.PropMessageExpiry)
	m, err := ownMessage(string(p.WillTopic), p.WillPayload, &props)
	if err != nil {
		return nil, err
	}
	w.Message = m
	w.Message.QoS, w.Message.Retain = byte(p.WillQoS), p.WillRetain
	return w, nil
}

// newClientID returns a unique identifier for a client that sent none:
// 128 random bits, which no two servers of a cluster will both draw.
func newClientID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24)
	return "auto-" + hex.EncodeToString(b[:])
}

// finishConnect opens the session (taking it over from any other
// connection) and queues the CONNACK, followed by whatever the session
// sent meanwhile.
func (c *conn) finishConnect(pc *pendingConnect, authData []byte) error {
	ctx, cancel := c.opContext(c.srv.cfg.ConnectTimeout)
	defer cancel()
	sess, res, err := c.srv.node.Connect(ctx, pc.req, c)
	if err != nil {
		c.debug("mqtt session not opened", "err", err)
		return c.refuse(mqttcodec.ServerUnavailable, rejectUnavailable, "session unavailable")
	}
	c.session, c.phase = sess, phaseConnected
	if c.auth != nil {
		c.auth.pending = nil
	}
	ack := mqttcodec.Connack{SessionPresent: res.SessionPresent}
	if c.version == mqttcodec.V5 {
		c.connackProperties(&ack.Properties, pc, res, authData)
	}
	frame := c.encodeControl(&ack)
	if frame == nil {
		return &closeError{reason: "CONNACK exceeds the client's maximum packet size"}
	}
	c.mu.Lock()
	if c.state == stateOpen {
		c.connackLocked(frame)
	}
	c.mu.Unlock()
	if err := c.refreshKeepAlive(); err != nil {
		return err
	}
	if c.keepAlive == 0 {
		if err := c.nc.SetReadDeadline(time.Time{}); err != nil {
			return err
		}
	}
	c.debug("mqtt conn connected", "session_present", res.SessionPresent, "keep_alive_seconds", c.keepAlive)
	return nil
}

// connackProperties fills an MQTT 5 CONNACK: the limits the client must
// respect, what the server changed of its request, and the features it
// has.
func (c *conn) connackProperties(p *mqttcodec.Properties, pc *pendingConnect, res cluster.ConnectResult, authData []byte) {
	cfg := &c.srv.cfg
	if res.ExpirySeconds != pc.req.ExpirySeconds {
		p.SetSessionExpirySeconds(res.ExpirySeconds) // [MQTT-3.2.2.3.2]
	}
	if cfg.ReceiveMaximum < 65535 {
		p.SetReceiveMaximum(uint16(cfg.ReceiveMaximum))
	}
	p.SetRetainAvailable(true)
	p.SetMaximumPacketBytes(uint32(cfg.MaxPacketBytes))
	if pc.assignedID {
		p.SetAssignedClientID([]byte(pc.req.ClientID)) // [MQTT-3.2.2-16]
	}
	p.SetTopicAliasMaximum(uint16(cfg.TopicAliasMaximum))
	p.SetWildcardSubAvailable(true)
	p.SetSubIDAvailable(true)
	p.SetSharedSubAvailable(true)
	if pc.serverKeepAlive != 0 {
		p.SetServerKeepAliveSeconds(pc.serverKeepAlive) // [MQTT-3.2.2-21]
	}
	if c.auth != nil {
		p.SetAuthMethod([]byte(c.auth.method)) // [MQTT-4.12.0-5]
		if len(authData) > 0 {
			p.SetAuthData(authData)
		}
	}
}
