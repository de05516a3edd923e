package mqtt

import (
	"tributary/cluster"
	"tributary/mqttcodec"
)

// SUBSCRIBE, UNSUBSCRIBE, PINGREQ and DISCONNECT.

// handleSubscribe records the subscriptions of a SUBSCRIBE and answers
// SUBACK once they commit — before any retained message they bring, which
// the session holds until the SUBACK is queued.
func (c *conn) handleSubscribe(frame []byte) error {
	var p mqttcodec.Subscribe
	if err := mqttcodec.DecodeSubscribe(frame, c.version, &p); err != nil {
		return decodeError(mqttcodec.TypeSubscribe, err)
	}
	subID, _ := p.Properties.SubscriptionID()
	codes := make([]mqttcodec.ReasonCode, 0, p.Len())
	subs := make([]cluster.Subscription, 0, p.Len())
	for s := range p.Subscriptions() {
		if code := filterRefusal(s.Filter); code != 0 {
			codes = append(codes, code)
			continue
		}
		codes = append(codes, mqttcodec.ReasonCode(s.QoS)) // every QoS is granted [MQTT-3.9.3]
		subs = append(subs, cluster.Subscription{
			Filter: string(s.Filter), // copy: the session keeps it
			QoS:    byte(s.QoS), NoLocal: s.NoLocal, RetainAsPublished: s.RetainAsPublished,
			RetainHandling: byte(s.RetainHandling), SubscriptionID: subID,
		})
	}
	suback := func() { c.queueFrame(c.encodeControl(&mqttcodec.Suback{PacketID: p.PacketID, ReasonCodes: codes})) }
	if len(subs) == 0 {
		suback()
		return nil
	}
	ctx, cancel := c.opContext(c.srv.cfg.CommitTimeout)
	defer cancel()
	if err := c.session.Subscribe(ctx, subs, suback); err != nil {
		c.debug("mqtt subscribe not committed", "err", err)
		for i, code := range codes {
			if !code.IsError() {
				codes[i] = mqttcodec.UnspecifiedError // 3.1.1 hears 0x80 Failure
			}
		}
		suback()
	}
	return nil
}

// filterRefusal returns the SUBACK code refusing a filter the decoder
// accepted, or 0. An MQTT 3 SUBSCRIBE is not checked for shared
// subscriptions by the decoder (3.1.1 has none), but this server serves
// them to every version, so a malformed share name is refused here, per
// filter: 0x8F Topic Filter invalid, which 3.1.1 hears as 0x80 Failure.
func filterRefusal(filter []byte) mqttcodec.ReasonCode {
	if _, _, _, err := mqttcodec.ParseShared(filter); err != nil {
		return mqttcodec.TopicFilterInvalid
	}
	return 0
}

// handleUnsubscribe removes subscriptions and answers UNSUBACK: per
// filter, in MQTT 5, whether one existed [MQTT-3.11.3]. MQTT 3's UNSUBACK
// cannot report a failure, so a failed removal closes its connection.
func (c *conn) handleUnsubscribe(frame []byte) error {
	var p mqttcodec.Unsubscribe
	if err := mqttcodec.DecodeUnsubscribe(frame, c.version, &p); err != nil {
		return decodeError(mqttcodec.TypeUnsubscribe, err)
	}
	filters := make([]string, 0, p.Len())
	for f := range p.Filters() {
		filters = append(filters, string(f)) // copy: it goes into a proposal
	}
	ctx, cancel := c.opContext(c.srv.cfg.CommitTimeout)
	defer cancel()
	existed, err := c.session.Unsubscribe(ctx, filters)
	if err != nil && c.version != mqttcodec.V5 {
		return &closeError{reason: "unsubscribe not committed", err: err}
	}
	ack := mqttcodec.Unsuback{PacketID: p.PacketID}
	if c.version == mqttcodec.V5 {
		ack.ReasonCodes = make([]mqttcodec.ReasonCode, len(filters))
		for i := range filters {
			switch {
			case err != nil:
				ack.ReasonCodes[i] = mqttcodec.UnspecifiedError
			case i >= len(existed) || !existed[i]:
				ack.ReasonCodes[i] = mqttcodec.NoSubscriptionExisted
			}
		}
	}
	c.queueFrame(c.encodeControl(&ack))
	return nil
}

// handlePingreq answers PINGRESP [MQTT-3.12.4-1].
func (c *conn) handlePingreq(frame []byte) error {
	if err := mqttcodec.DecodePingreq(frame, c.version); err != nil {
		return decodeError(mqttcodec.TypePingreq, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateOpen {
		c.queueLocked(outItem{kind: itemPingresp}, len(pingresp))
	}
	return nil
}

// handleDisconnect ends the connection as the client asks: reason 0x00
// discards the will [MQTT-3.14.4-3], 0x04 keeps it (MQTT 5), and any other
// reason is an abnormal end, which fires it. An MQTT 5 client may change
// the session expiry, but not from 0, which it cannot revive
// [MQTT-3.14.2.2.2].
func (c *conn) handleDisconnect(frame []byte) error {
	var d mqttcodec.Disconnect
	if err := mqttcodec.DecodeDisconnect(frame, c.version, &d); err != nil {
		return decodeError(mqttcodec.TypeDisconnect, err)
	}
	c.closeReason = cluster.CloseNormal
	if c.version != mqttcodec.V5 {
		c.stopReading = true
		return errClientDisconnected
	}
	if d.Properties.Has(mqttcodec.PropSessionExpiry) {
		if c.connectExpiry == 0 && d.Properties.SessionExpirySeconds != 0 {
			c.closeReason = cluster.CloseAbnormal
			return protocolViolation(mqttcodec.ProtocolError, "MQTT-3.14.2.2.2",
				"session expiry set on DISCONNECT after 0 on CONNECT")
		}
		c.hasNewExpiry, c.newExpiry = true, d.Properties.SessionExpirySeconds
	}
	switch d.ReasonCode {
	case mqttcodec.NormalDisconnection:
	case mqttcodec.DisconnectWithWillMessage:
		c.closeReason = cluster.CloseWithWill
	default:
		c.closeReason = cluster.CloseAbnormal
	}
	c.stopReading = true
	return errClientDisconnected
}
