package raftstore

import (
	"encoding/binary"
	"fmt"

	"tributary/mqttcodec"
)

// Payloads of the MQTT commands (all version 1) and of their results.
// Primitives are described in mqtt_codec.go. Each decoder also checks what
// apply relies on, so a payload either decodes into a request apply can
// carry out or is rejected whole, before anything is written.
//
//	session-open:    client | node | flags (1: clean start, will) | protocol (1) |
//	                 expiry s (u32) | max queued (u32) | now ms (i64) |
//	                 [will delay s (u32) | will expiry s (u32) | message]
//	session-close:   client | generation (u64) | reason (1) | flags (1: new expiry) |
//	                 new expiry s (u32) | sent through seq (u64) | now ms (i64)
//	subscribe:       client | generation (u64) | now ms (i64) | count (uvarint) |
//	                 count × [filter | qos (1) | flags (1: no local, retain as
//	                 published) | retain handling (1) | subscription id (uvarint)]
//	unsubscribe:     client | generation (u64) | count (uvarint) | count × filter
//	publish:         client | packet id (u16) | flags (1: already delivered) |
//	                 now ms (i64) | message
//	release-inbound: client | packet id (u16)
//	queue-ack:       client | generation (u64) | count | count × seq (uvarint) |
//	                 count | count × seq (uvarint)
//	tick:            now ms (i64) | max sessions (u32)
const mqttCommandVersion = 1

// Flag bits of the payloads.
const (
	openCleanStart = 1 << 0
	openWill       = 1 << 1

	closeNewExpiry = 1 << 0

	subNoLocal           = 1 << 0
	subRetainAsPublished = 1 << 1

	publishAlreadyDelivered = 1 << 0
)

func sessionOpenCommand(o *SessionOpen) Command {
	p := make([]byte, 0, 32+len(o.ClientID)+len(o.Node))
	p = appendString(p, o.ClientID)
	p = appendString(p, o.Node)
	p = append(p, boolBit(o.CleanStart, openCleanStart)|boolBit(o.Will != nil, openWill), o.ProtocolVersion)
	p = binary.BigEndian.AppendUint32(p, o.ExpirySeconds)
	p = binary.BigEndian.AppendUint32(p, o.MaxQueuedMessages)
	p = appendMillis(p, o.NowMillis)
	if w := o.Will; w != nil {
		p = binary.BigEndian.AppendUint32(p, w.DelaySeconds)
		p = binary.BigEndian.AppendUint32(p, w.ExpirySeconds)
		p = appendMessage(p, &w.Message)
	}
	return Command{Type: CmdSessionOpen, Version: mqttCommandVersion, Payload: p}
}

func decodeSessionOpen(p []byte) (SessionOpen, error) {
	d := decoder{b: p}
	var o SessionOpen
	o.ClientID = d.str("client id", maxStringBytes)
	o.Node = d.str("node", maxNodeIDBytes)
	flags := d.flag("open flags", openCleanStart|openWill)
	o.CleanStart = flags&openCleanStart != 0
	o.ProtocolVersion = d.u8("protocol version")
	o.ExpirySeconds = d.u32("session expiry")
	o.MaxQueuedMessages = d.u32("max queued messages")
	o.NowMillis = d.millis("now")
	if flags&openWill != 0 {
		w := &Will{DelaySeconds: d.u32("will delay"), ExpirySeconds: d.u32("will expiry")}
		w.Message = d.message()
		o.Will = w
	}
	if err := d.done(); err != nil {
		return o, err
	}
	switch {
	case checkClientID(o.ClientID) != nil:
		return o, checkClientID(o.ClientID)
	case o.Node == "":
		return o, fmt.Errorf("%w: empty node id", errMalformedPayload)
	case o.ProtocolVersion < 3 || o.ProtocolVersion > 5:
		return o, fmt.Errorf("%w: protocol version %d", errMalformedPayload, o.ProtocolVersion)
	case o.MaxQueuedMessages == 0:
		return o, fmt.Errorf("%w: max queued messages is 0", errMalformedPayload)
	}
	return o, nil
}

func sessionCloseCommand(c *SessionClose) Command {
	p := make([]byte, 0, 40+len(c.ClientID))
	p = appendString(p, c.ClientID)
	p = binary.BigEndian.AppendUint64(p, c.Generation)
	p = append(p, byte(c.Reason), boolBit(c.HasNewExpiry, closeNewExpiry))
	p = binary.BigEndian.AppendUint32(p, c.NewExpiry)
	p = binary.BigEndian.AppendUint64(p, c.SentThroughSeq)
	p = appendMillis(p, c.NowMillis)
	return Command{Type: CmdSessionClose, Version: mqttCommandVersion, Payload: p}
}

func decodeSessionClose(p []byte) (SessionClose, error) {
	d := decoder{b: p}
	var c SessionClose
	c.ClientID = d.str("client id", maxStringBytes)
	c.Generation = d.u64("generation")
	c.Reason = CloseReason(d.u8("reason"))
	c.HasNewExpiry = d.flag("close flags", closeNewExpiry) != 0
	c.NewExpiry = d.u32("new expiry")
	c.SentThroughSeq = d.u64("sent through")
	c.NowMillis = d.millis("now")
	if err := d.done(); err != nil {
		return c, err
	}
	if c.Reason > CloseAbnormal {
		return c, fmt.Errorf("%w: close reason %d", errMalformedPayload, c.Reason)
	}
	return c, checkClientID(c.ClientID)
}

func subscribeCommand(r *SubscribeRequest) Command {
	p := make([]byte, 0, 32+len(r.ClientID)+len(r.Subscriptions)*16)
	p = appendString(p, r.ClientID)
	p = binary.BigEndian.AppendUint64(p, r.Generation)
	p = appendMillis(p, r.NowMillis)
	p = binary.AppendUvarint(p, uint64(len(r.Subscriptions)))
	for i := range r.Subscriptions {
		s := &r.Subscriptions[i]
		p = appendString(p, s.Filter)
		p = append(p, s.QoS, boolBit(s.NoLocal, subNoLocal)|boolBit(s.RetainAsPublished, subRetainAsPublished), s.RetainHandling)
		p = binary.AppendUvarint(p, uint64(s.SubscriptionID))
	}
	return Command{Type: CmdSubscribe, Version: mqttCommandVersion, Payload: p}
}

func decodeSubscribe(p []byte) (SubscribeRequest, error) {
	d := decoder{b: p}
	var r SubscribeRequest
	r.ClientID = d.str("client id", maxStringBytes)
	r.Generation = d.u64("generation")
	r.NowMillis = d.millis("now")
	n := d.count("subscription count", minSubscriptionBytes)
	r.Subscriptions = make([]Subscription, 0, n)
	for range n {
		var s Subscription
		s.Filter = d.str("filter", maxStringBytes)
		s.QoS = d.u8("qos")
		flags := d.flag("subscription flags", subNoLocal|subRetainAsPublished)
		s.NoLocal, s.RetainAsPublished = flags&subNoLocal != 0, flags&subRetainAsPublished != 0
		s.RetainHandling = d.u8("retain handling")
		id := d.uvarint("subscription id")
		if id > maxSubID {
			d.fail("subscription id out of range")
		}
		s.SubscriptionID = uint32(id)
		r.Subscriptions = append(r.Subscriptions, s)
	}
	if err := d.done(); err != nil {
		return r, err
	}
	if len(r.Subscriptions) == 0 {
		return r, fmt.Errorf("%w: no subscriptions", errMalformedPayload)
	}
	for _, s := range r.Subscriptions {
		if err := checkFilter(s.Filter); err != nil {
			return r, err
		}
		if s.QoS > 2 || s.RetainHandling > 2 {
			return r, fmt.Errorf("%w: qos %d, retain handling %d", errMalformedPayload, s.QoS, s.RetainHandling)
		}
	}
	return r, checkClientID(r.ClientID)
}

// checkFilter validates a topic filter, shared or not [MQTT-4.7.1, MQTT-4.8.2].
func checkFilter(f string) error {
	if err := mqttcodec.ValidateTopicFilter(f); err != nil {
		return fmt.Errorf("%w: filter %q: %w", errMalformedPayload, f, err)
	}
	if _, _, _, err := mqttcodec.ParseShared(f); err != nil {
		return fmt.Errorf("%w: filter %q: %w", errMalformedPayload, f, err)
	}
	return nil
}

func unsubscribeCommand(r *UnsubscribeRequest) Command {
	p := make([]byte, 0, 24+len(r.ClientID)+len(r.Filters)*16)
	p = appendString(p, r.ClientID)
	p = binary.BigEndian.AppendUint64(p, r.Generation)
	p = binary.AppendUvarint(p, uint64(len(r.Filters)))
	for _, f := range r.Filters {
		p = appendString(p, f)
	}
	return Command{Type: CmdUnsubscribe, Version: mqttCommandVersion, Payload: p}
}

func decodeUnsubscribe(p []byte) (UnsubscribeRequest, error) {
	d := decoder{b: p}
	var r UnsubscribeRequest
	r.ClientID = d.str("client id", maxStringBytes)
	r.Generation = d.u64("generation")
	n := d.count("filter count", minFilterBytes)
	r.Filters = make([]string, 0, n)
	for range n {
		r.Filters = append(r.Filters, d.str("filter", maxStringBytes))
	}
	if err := d.done(); err != nil {
		return r, err
	}
	if len(r.Filters) == 0 {
		return r, fmt.Errorf("%w: no filters", errMalformedPayload)
	}
	for _, f := range r.Filters {
		if err := checkFilter(f); err != nil {
			return r, err
		}
	}
	return r, checkClientID(r.ClientID)
}

func publishCommand(r *PublishRequest) Command {
	p := make([]byte, 0, 16+len(r.ClientID)+messageLen(&r.Message))
	p = appendString(p, r.ClientID)
	p = binary.BigEndian.AppendUint16(p, r.PacketID)
	p = append(p, boolBit(r.AlreadyDelivered, publishAlreadyDelivered))
	p = appendMillis(p, r.NowMillis)
	p = appendMessage(p, &r.Message)
	return Command{Type: CmdPublish, Version: mqttCommandVersion, Payload: p}
}

// decodePublish returns a request whose Message aliases p.
func decodePublish(p []byte) (PublishRequest, error) {
	d := decoder{b: p}
	var r PublishRequest
	r.ClientID = d.str("client id", maxStringBytes)
	r.PacketID = d.u16("packet id")
	r.AlreadyDelivered = d.flag("publish flags", publishAlreadyDelivered) != 0
	r.NowMillis = d.millis("now")
	r.Message = d.message()
	if err := d.done(); err != nil {
		return r, err
	}
	if r.PacketID != 0 && (r.Message.QoS != 2 || r.ClientID == "") {
		return r, fmt.Errorf("%w: packet id %d on a QoS %d publish of client %q", errMalformedPayload, r.PacketID, r.Message.QoS, r.ClientID)
	}
	return r, nil
}

func releaseInboundCommand(clientID string, packetID uint16) Command {
	p := appendString(make([]byte, 0, 4+len(clientID)), clientID)
	p = binary.BigEndian.AppendUint16(p, packetID)
	return Command{Type: CmdReleaseInbound, Version: mqttCommandVersion, Payload: p}
}

func decodeReleaseInbound(p []byte) (string, uint16, error) {
	d := decoder{b: p}
	id := d.str("client id", maxStringBytes)
	pid := d.u16("packet id")
	if err := d.done(); err != nil {
		return id, pid, err
	}
	if pid == 0 {
		return id, pid, fmt.Errorf("%w: packet id 0", errMalformedPayload)
	}
	return id, pid, checkClientID(id)
}

func queueAckCommand(a *QueueAck) Command {
	p := make([]byte, 0, 24+len(a.ClientID)+(len(a.Done)+len(a.Received))*4)
	p = appendString(p, a.ClientID)
	p = binary.BigEndian.AppendUint64(p, a.Generation)
	for _, seqs := range [][]uint64{a.Done, a.Received} {
		p = binary.AppendUvarint(p, uint64(len(seqs)))
		for _, s := range seqs {
			p = binary.AppendUvarint(p, s)
		}
	}
	return Command{Type: CmdQueueAck, Version: mqttCommandVersion, Payload: p}
}

func decodeQueueAck(p []byte) (QueueAck, error) {
	d := decoder{b: p}
	var a QueueAck
	a.ClientID = d.str("client id", maxStringBytes)
	a.Generation = d.u64("generation")
	for _, seqs := range []*[]uint64{&a.Done, &a.Received} {
		n := d.count("seq count", 1)
		*seqs = make([]uint64, 0, n)
		for range n {
			*seqs = append(*seqs, d.uvarint("seq"))
		}
	}
	if err := d.done(); err != nil {
		return a, err
	}
	return a, checkClientID(a.ClientID)
}

func tickCommand(nowMillis int64, maxSessions uint32) Command {
	p := appendMillis(make([]byte, 0, 12), nowMillis)
	p = binary.BigEndian.AppendUint32(p, maxSessions)
	return Command{Type: CmdTick, Version: mqttCommandVersion, Payload: p}
}

func decodeTick(p []byte) (int64, uint32, error) {
	d := decoder{b: p}
	now := d.millis("now")
	max := d.u32("max sessions")
	if err := d.done(); err != nil {
		return now, max, err
	}
	if max == 0 {
		return now, max, fmt.Errorf("%w: tick of 0 sessions", errMalformedPayload)
	}
	return now, max, nil
}

// Results.
//
//	session-opened:   flags (1: present, taken over) | generation (u64) |
//	                  previous generation (u64) | previous node
//	subscribe result: count | count × delivery
//	                  delivery: qos (1) | flags (1: retain) | count | count × id (uvarint) | message
//	unsubscribe:      count | count × existed (1)
//	publish result:   flags (1: duplicate) | matched (uvarint)
const (
	openedPresent   = 1 << 0
	openedTakenOver = 1 << 1
	publishedDup    = 1 << 0
)

func encodeSessionOpened(r *SessionOpened) []byte {
	p := []byte{boolBit(r.Present, openedPresent) | boolBit(r.TakenOver, openedTakenOver)}
	p = binary.BigEndian.AppendUint64(p, r.Generation)
	p = binary.BigEndian.AppendUint64(p, r.PreviousGeneration)
	return appendString(p, r.PreviousNode)
}

func decodeSessionOpened(p []byte) (SessionOpened, error) {
	d := decoder{b: p}
	var r SessionOpened
	flags := d.flag("opened flags", openedPresent|openedTakenOver)
	r.Present, r.TakenOver = flags&openedPresent != 0, flags&openedTakenOver != 0
	r.Generation = d.u64("generation")
	r.PreviousGeneration = d.u64("previous generation")
	r.PreviousNode = d.str("previous node", maxNodeIDBytes)
	return r, d.done()
}

func appendDelivery(p []byte, dl *Delivery) []byte {
	p = append(p, dl.QoS, boolBit(dl.Retain, messageRetain))
	p = binary.AppendUvarint(p, uint64(len(dl.SubscriptionIDs)))
	for _, id := range dl.SubscriptionIDs {
		p = binary.AppendUvarint(p, uint64(id))
	}
	return appendMessage(p, dl.Message)
}

func encodeSubscribeResult(r *SubscribeResult) []byte {
	if len(r.Retained) == 0 {
		return nil
	}
	p := binary.AppendUvarint(nil, uint64(len(r.Retained)))
	for i := range r.Retained {
		p = appendDelivery(p, &r.Retained[i])
	}
	return p
}

func decodeSubscribeResult(p []byte) (SubscribeResult, error) {
	var r SubscribeResult
	if len(p) == 0 {
		return r, nil
	}
	d := decoder{b: p}
	n := d.count("delivery count", minDeliveryBytes)
	r.Retained = make([]Delivery, 0, n)
	for range n {
		var dl Delivery
		dl.QoS = d.u8("qos")
		dl.Retain = d.flag("delivery flags", messageRetain) != 0
		ids := d.count("subscription id count", 1)
		for range ids {
			dl.SubscriptionIDs = append(dl.SubscriptionIDs, uint32(d.uvarint("subscription id")))
		}
		m := d.message()
		dl.Message = cloneMessage(m)
		r.Retained = append(r.Retained, dl)
	}
	return r, d.done()
}

func encodeExisted(existed []bool) []byte {
	p := binary.AppendUvarint(nil, uint64(len(existed)))
	for _, e := range existed {
		p = append(p, boolBit(e, 1))
	}
	return p
}

func decodeExisted(p []byte) ([]bool, error) {
	d := decoder{b: p}
	n := d.count("filter count", 1)
	out := make([]bool, 0, n)
	for range n {
		out = append(out, d.flag("existed", 1) != 0)
	}
	return out, d.done()
}

func encodePublishResult(r *PublishResult) []byte {
	return binary.AppendUvarint([]byte{boolBit(r.Duplicate, publishedDup)}, uint64(r.Matched))
}

func decodePublishResult(p []byte) (PublishResult, error) {
	d := decoder{b: p}
	var r PublishResult
	r.Duplicate = d.flag("publish result flags", publishedDup) != 0
	r.Matched = int(d.uvarint("matched") & 0x7fffffff)
	return r, d.done()
}
