package mqtt

import (
	"tributary/cluster"
	"tributary/mqttcodec"
)

// Inbound PUBLISH and its acknowledgements. A QoS 1 or 2 publish is
// proposed to the log and acknowledged (PUBACK, PUBREC) once it commits;
// PUBREL is recorded the same way and answered with PUBCOMP. The commit
// callbacks run on the store's goroutines and may finish out of order,
// so acknowledgements wait in ackQueue and leave in the order their
// packets arrived [MQTT-4.6.0-2] [MQTT-4.6.0-3].

// pendingAck is an acknowledgement waiting for its commit.
type pendingAck struct {
	pkt   mqttcodec.PacketType // PUBACK, PUBREC or PUBCOMP
	id    uint16
	code  mqttcodec.ReasonCode
	ready bool
	// quota: sending it (a PUBACK or PUBCOMP) ends a publish counted
	// against the server's Receive Maximum (MQTT 5).
	quota bool
}

// ackQueue holds acknowledgements in arrival order; seq numbers them.
type ackQueue struct {
	items []pendingAck
	head  uint64 // seq of items[0]
}

func (q *ackQueue) push(a pendingAck) uint64 {
	q.items = append(q.items, a)
	return q.head + uint64(len(q.items)-1)
}

// complete marks seq ready; a second completion is ignored.
func (q *ackQueue) complete(seq uint64, code mqttcodec.ReasonCode) {
	if seq < q.head || seq-q.head >= uint64(len(q.items)) {
		return
	}
	a := &q.items[seq-q.head]
	if !a.ready {
		a.ready, a.code = true, code
	}
}

// pop returns the first acknowledgement if it is ready.
func (q *ackQueue) pop() (pendingAck, bool) {
	if len(q.items) == 0 || !q.items[0].ready {
		return pendingAck{}, false
	}
	a := q.items[0]
	q.items, q.head = q.items[1:], q.head+1
	if len(q.items) == 0 {
		q.items = nil // an idle connection keeps no slice
	}
	return a, true
}

// handlePublish handles an inbound PUBLISH.
func (c *conn) handlePublish(frame []byte) error {
	var p mqttcodec.Publish
	if err := mqttcodec.DecodePublish(frame, c.version, &p); err != nil {
		return decodeError(mqttcodec.TypePublish, err)
	}
	c.srv.metrics.received[p.QoS].Inc()
	topic, err := c.resolveTopic(&p)
	if err != nil {
		return err
	}
	formatOK := c.version != mqttcodec.V5 || p.ValidatePayloadFormat() == nil
	if p.QoS == mqttcodec.QoS0 {
		if !formatOK {
			// [MQTT-3.3.2.3.2]: a receiver may refuse a payload that is
			// not the UTF-8 its Payload Format Indicator says.
			return &closeError{code: mqttcodec.PayloadFormatInvalid, reason: "payload is not UTF-8 [MQTT-3.3.2.3.2]"}
		}
		m, err := c.message(topic, &p)
		if err != nil {
			return decodeError(mqttcodec.TypePublish, err)
		}
		if err := c.session.Publish(c.srv.ctx, m, 0, nil); err != nil {
			c.debug("mqtt QoS 0 publish failed", "err", err)
		}
		return nil
	}
	return c.publishAcked(topic, &p, formatOK)
}

// publishAcked proposes a QoS 1 or 2 publish; its acknowledgement follows
// the commit. A payload that is not the UTF-8 it claims is refused in the
// acknowledgement (0x99) without being published.
func (c *conn) publishAcked(topic string, p *mqttcodec.Publish, formatOK bool) error {
	seq, err := c.admit(p)
	if err != nil {
		return err
	}
	if !formatOK {
		c.ackDone(seq, mqttcodec.PayloadFormatInvalid)
		return nil
	}
	m, err := c.message(topic, p)
	if err != nil {
		return decodeError(mqttcodec.TypePublish, err)
	}
	done := func(r cluster.PublishResult, err error) { c.published(seq, r, err) }
	if err := c.session.Publish(c.srv.ctx, m, p.PacketID, done); err != nil {
		c.published(seq, cluster.PublishResult{}, err)
	}
	return nil
}

// resolveTopic returns the PUBLISH's topic as a string the message may
// keep, applying an MQTT 5 Topic Alias [MQTT-3.3.2.3.4].
func (c *conn) resolveTopic(p *mqttcodec.Publish) (string, error) {
	if c.version != mqttcodec.V5 {
		return string(p.Topic), nil // copy: the message outlives the frame
	}
	if p.Properties.SubscriptionIDCount() > 0 {
		return "", protocolViolation(mqttcodec.ProtocolError, "MQTT-3.3.4-6", "subscription identifier in a client PUBLISH")
	}
	if !p.Properties.Has(mqttcodec.PropTopicAlias) {
		return string(p.Topic), nil // copy: the message outlives the frame
	}
	a := p.Properties.TopicAlias
	if a == 0 || int(a) > c.srv.cfg.TopicAliasMaximum {
		return "", protocolViolation(mqttcodec.TopicAliasInvalid, "MQTT-3.3.2-9", "topic alias out of range")
	}
	if len(p.Topic) > 0 {
		t := string(p.Topic) // copy: the alias table and the message keep it
		if c.aliasIn == nil {
			c.aliasIn = make(map[uint16]string)
		}
		c.aliasIn[a] = t
		return t, nil
	}
	t, ok := c.aliasIn[a]
	if !ok {
		return "", protocolViolation(mqttcodec.ProtocolError, "MQTT-3.3.2.3.4", "unknown topic alias")
	}
	return t, nil
}

// message builds the cluster message of a PUBLISH. Its properties are the
// ones passed on to subscribers: the alias and the expiry interval are
// connection matters (the expiry becomes a deadline).
func (c *conn) message(topic string, p *mqttcodec.Publish) (cluster.Message, error) {
	props := p.Properties // a copy of the views; the frame's properties stay intact
	var expires int64
	if props.Has(mqttcodec.PropMessageExpiry) {
		expires = c.srv.now().UnixMilli() + int64(props.MessageExpirySeconds)*1000
	}
	props.Clear(mqttcodec.PropTopicAlias)
	props.Clear(mqttcodec.PropMessageExpiry)
	m, err := ownMessage(topic, p.Payload, &props)
	m.QoS, m.Retain, m.ExpiresAtMillis = byte(p.QoS), p.Retain, expires
	return m, err
}

// ownMessage copies a message's payload and pass-through properties out of
// the frame — once, into one allocation — since the session keeps the
// message after the frame's buffer returns to the pool.
func ownMessage(topic string, payload []byte, props *mqttcodec.Properties) (cluster.Message, error) {
	n, sec := len(payload), 0
	if !props.Empty() {
		sec = mqttcodec.PropertySectionSize(props)
	}
	block := make([]byte, n+sec)
	copy(block, payload)
	m := cluster.Message{Topic: topic, Payload: block[:n:n]}
	if sec == 0 {
		return m, nil
	}
	section, err := mqttcodec.AppendPropertySection(block[n:n], props, mqttcodec.TypePublish)
	m.Properties = section
	return m, err
}

// admit counts a QoS 1 or 2 publish in and queues its acknowledgement's
// place. MQTT 5 clients must stay within the Receive Maximum the server
// announced [MQTT-3.3.4-9]; MQTT 3 clients, which were told nothing, are
// not read until one of their publishes commits.
func (c *conn) admit(p *mqttcodec.Publish) (uint64, error) {
	if c.version != mqttcodec.V5 {
		if err := c.waitSlot(); err != nil {
			return 0, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	counted := c.version == mqttcodec.V5
	if counted && p.QoS == mqttcodec.QoS2 {
		_, resent := c.awaitRel[p.PacketID]
		counted = !resent // a resend of a publish waiting for its PUBREL
	}
	if counted {
		if c.inflightIn >= c.srv.cfg.ReceiveMaximum {
			return 0, protocolViolation(mqttcodec.ReceiveMaximumExceeded, "MQTT-3.3.4-9",
				"more QoS 1 and 2 publishes in flight than the Receive Maximum")
		}
		c.inflightIn++
	}
	if p.QoS == mqttcodec.QoS1 {
		return c.acks.push(pendingAck{pkt: mqttcodec.TypePuback, id: p.PacketID, quota: counted}), nil
	}
	if counted {
		// The publish counts until its PUBCOMP, or a failed PUBREC.
		if c.awaitRel == nil {
			c.awaitRel = make(map[uint16]struct{})
		}
		c.awaitRel[p.PacketID] = struct{}{}
	}
	return c.acks.push(pendingAck{pkt: mqttcodec.TypePubrec, id: p.PacketID}), nil
}

// waitSlot blocks an MQTT 3 reader while ReceiveMaximum acknowledgements
// wait for their commits.
func (c *conn) waitSlot() error {
	for {
		c.mu.Lock()
		if c.state != stateOpen {
			c.mu.Unlock()
			return &closeError{reason: "closed while waiting for commits"}
		}
		if len(c.acks.items) < c.srv.cfg.ReceiveMaximum {
			c.mu.Unlock()
			return nil
		}
		if c.slotFree == nil {
			c.slotFree = make(chan struct{})
		}
		ch := c.slotFree
		c.mu.Unlock()
		<-ch
	}
}

// published is the commit callback of a QoS 1 or 2 publish. MQTT 5 hears
// the outcome in the acknowledgement's reason code; MQTT 3, which has no
// negative acknowledgement, is disconnected, so the client resends.
func (c *conn) published(seq uint64, r cluster.PublishResult, err error) {
	defer c.recoverPanic("publish callback")
	code := mqttcodec.Success
	switch {
	case err != nil && c.version != mqttcodec.V5:
		c.debug("mqtt publish not committed; closing", "err", err)
		c.Kick(byte(mqttcodec.UnspecifiedError))
		return
	case err != nil:
		c.debug("mqtt publish not committed", "err", err)
		code = mqttcodec.UnspecifiedError
	case r.Matched == 0 && !r.Duplicate:
		code = mqttcodec.NoMatchingSubscribers
	}
	c.ackDone(seq, code)
}

// ackDone completes an acknowledgement and sends every one that is now
// first in line.
func (c *conn) ackDone(seq uint64, code mqttcodec.ReasonCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.acks.complete(seq, code)
	for {
		a, ok := c.acks.pop()
		if !ok {
			break
		}
		c.sendAckLocked(a)
	}
	if c.slotFree != nil && len(c.acks.items) < c.srv.cfg.ReceiveMaximum {
		close(c.slotFree)
		c.slotFree = nil
	}
}

// sendAckLocked queues an acknowledgement whose turn came, and frees the
// Receive Maximum slot of the publish it ends.
func (c *conn) sendAckLocked(a pendingAck) {
	switch {
	case a.pkt == mqttcodec.TypePubrec && a.code.IsError():
		// A failed PUBREC ends the exchange [MQTT-4.3.3].
		if _, ok := c.awaitRel[a.id]; ok {
			delete(c.awaitRel, a.id)
			c.inflightIn--
		}
	case a.quota: // a PUBACK, or the PUBCOMP of a counted QoS 2 publish
		c.inflightIn--
	}
	if c.state == stateOpen {
		c.queueLocked(outItem{kind: itemAck, pkt: a.pkt, id: a.id, code: a.code}, 4)
	}
}

// handlePubrel records the release of an inbound QoS 2 packet id and
// answers PUBCOMP once it commits.
func (c *conn) handlePubrel(frame []byte) error {
	var p mqttcodec.Pubrel
	if err := mqttcodec.DecodePubrel(frame, c.version, &p); err != nil {
		return decodeError(mqttcodec.TypePubrel, err)
	}
	if c.version != mqttcodec.V5 {
		if err := c.waitSlot(); err != nil {
			return err
		}
	}
	c.mu.Lock()
	_, counted := c.awaitRel[p.PacketID]
	delete(c.awaitRel, p.PacketID)
	seq := c.acks.push(pendingAck{pkt: mqttcodec.TypePubcomp, id: p.PacketID, quota: counted})
	c.mu.Unlock()
	done := func(err error) { c.released(seq, err) }
	if err := c.session.Release(c.srv.ctx, p.PacketID, done); err != nil {
		c.released(seq, err)
	}
	return nil
}

// released is the commit callback of a PUBREL. PUBCOMP has no failure
// code, so a release that did not commit closes the connection: the
// client sends the PUBREL again on its next one [MQTT-4.4.0-1].
func (c *conn) released(seq uint64, err error) {
	defer c.recoverPanic("release callback")
	if err != nil {
		c.debug("mqtt release not committed; closing", "err", err)
		c.Kick(byte(mqttcodec.UnspecifiedError))
		return
	}
	c.ackDone(seq, mqttcodec.Success)
}

// handleOutboundAck handles the client's PUBACK, PUBREC or PUBCOMP of a
// message the server sent.
func (c *conn) handleOutboundAck(frame []byte, t mqttcodec.PacketType) error {
	var id uint16
	var code mqttcodec.ReasonCode
	var err error
	switch t {
	case mqttcodec.TypePuback:
		var p mqttcodec.Puback
		err, id = mqttcodec.DecodePuback(frame, c.version, &p), p.PacketID
	case mqttcodec.TypePubcomp:
		var p mqttcodec.Pubcomp
		err, id = mqttcodec.DecodePubcomp(frame, c.version, &p), p.PacketID
	default:
		var p mqttcodec.Pubrec
		err, id, code = mqttcodec.DecodePubrec(frame, c.version, &p), p.PacketID, p.ReasonCode
	}
	if err != nil {
		return decodeError(t, err)
	}
	switch {
	case t != mqttcodec.TypePubrec || code.IsError():
		// PUBACK, PUBCOMP, or a PUBREC that refuses the message: the
		// exchange is over [MQTT-4.3.3].
		c.session.Acked(id)
	case !c.session.Received(id):
		// Not in flight: MQTT 5 says so in the PUBREL [MQTT-3.6.2.1].
		c.queueAck(mqttcodec.TypePubrel, id, mqttcodec.PacketIdentifierNotFound)
	}
	return nil
}

// queueAck queues an acknowledgement the reader answers at once.
func (c *conn) queueAck(t mqttcodec.PacketType, id uint16, code mqttcodec.ReasonCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == stateOpen {
		c.queueLocked(outItem{kind: itemAck, pkt: t, id: id, code: code}, 4)
	}
}
