package mqtt

import (
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"tributary/cluster"
	"tributary/mqttcodec"
)

// Outbound PUBLISH encoding, on the writer goroutine. A message is encoded
// per connection, into the batch buffer: the variable parts — packet id,
// DUP, RETAIN, subscription identifiers, topic alias and the expiry left —
// differ per subscriber and per instant, so a shared encoding would rarely
// be reused, while the part that is large and shared, the payload, is
// written from the message itself without a copy.

// encodePublish appends the PUBLISH of o, or drops it: a message that
// expired [MQTT-3.3.2-5] or that exceeds the client's Maximum Packet Size
// [MQTT-3.1.2-25] is not sent, and a QoS 1 or 2 one is completed with the
// session as if acknowledged, so its window slot frees.
func (c *conn) encodePublish(b *batch, o *cluster.Outbound, nowMillis int64) {
	m := o.Message
	p := mqttcodec.Publish{
		Dup: o.Dup, QoS: mqttcodec.QoS(o.QoS), Retain: o.Retain,
		Topic: bytesOf(m.Topic), PacketID: o.PacketID, Payload: m.Payload,
	}
	if m.ExpiresAtMillis != 0 && m.ExpiresAtMillis <= nowMillis {
		c.dropPublish(o, c.srv.metrics.expired)
		return
	}
	var alias uint16
	var known bool
	if c.version == mqttcodec.V5 {
		if err := c.publishProperties(&p, o, nowMillis); err != nil {
			c.srv.warn("mqtt: stored message has bad properties; dropped", "conn_id", c.id,
				"client_id", c.clientID, "err", err)
			c.dropPublish(o, nil)
			return
		}
		alias, known = c.chooseAlias(&p, m.Topic)
		if c.maxOutBytes > 0 && p.Size(c.version) > c.maxOutBytes {
			c.dropPublish(o, c.srv.metrics.tooLarge)
			return
		}
	}
	if err := c.appendPublish(b, &p); err != nil {
		if invariants {
			panic("mqtt: encode outbound PUBLISH: " + err.Error())
		}
		c.srv.warn("mqtt: outbound PUBLISH not encodable; dropped", "conn_id", c.id,
			"client_id", c.clientID, "err", err)
		c.dropPublish(o, nil)
		return
	}
	if alias != 0 {
		c.aliasOut.use(alias, m.Topic, !known)
	}
	c.srv.metrics.sent[qosIndex(o.QoS)].Inc()
}

// publishProperties sets p's MQTT 5 properties: the message's stored
// ones, the expiry left in whole seconds, rounded up so a message never
// outlives its deadline by less than a second [MQTT-3.3.2-6], and the
// identifiers of the matching subscriptions [MQTT-3.3.4-3].
func (c *conn) publishProperties(p *mqttcodec.Publish, o *cluster.Outbound, nowMillis int64) error {
	m := o.Message
	if len(m.Properties) > 0 {
		if _, err := mqttcodec.DecodePropertySection(m.Properties, mqttcodec.TypePublish, &p.Properties); err != nil {
			return err
		}
		// cluster strips these when it stores a message; a stale one
		// must not reach the client.
		p.Properties.Clear(mqttcodec.PropTopicAlias)
		p.Properties.Clear(mqttcodec.PropSubscriptionID)
		p.Properties.Clear(mqttcodec.PropMessageExpiry)
	}
	if m.ExpiresAtMillis != 0 {
		left := (m.ExpiresAtMillis - nowMillis + 999) / 1000
		p.Properties.SetMessageExpirySeconds(uint32(min(left, int64(^uint32(0)))))
	}
	for _, id := range o.SubscriptionIDs {
		if err := p.Properties.AddSubscriptionID(id); err != nil {
			return err
		}
	}
	return nil
}

// dropPublish counts a dropped outbound PUBLISH (under reason, when not
// nil) and completes it with the session.
func (c *conn) dropPublish(o *cluster.Outbound, reason prometheus.Counter) {
	if reason != nil {
		reason.Inc()
	}
	if o.QoS > 0 && o.PacketID != 0 && c.session != nil {
		c.session.Acked(o.PacketID)
	}
}

// chooseAlias gives p a topic alias when the client accepts them
// [MQTT-3.3.2-11]: the topic's own alias, sent alone, once the client
// knows it; otherwise a free alias, or the least recently used one
// rebound, sent with the topic. The table changes only once the packet is
// encoded (aliasTable.use), so a dropped packet leaves it as it was.
func (c *conn) chooseAlias(p *mqttcodec.Publish, topic string) (alias uint16, known bool) {
	if c.aliasOutMax == 0 {
		return 0, false
	}
	if c.aliasOut == nil {
		c.aliasOut = newAliasTable(c.aliasOutMax)
	}
	alias, known = c.aliasOut.find(topic)
	p.Properties.SetTopicAlias(alias)
	if known {
		p.Topic = nil
	}
	return alias, known
}

// appendPublish encodes p into the batch. A payload of inlinePayloadBytes
// or more is not copied: the frame is encoded without it, with the
// remaining length counting it, and the payload becomes its own vector.
func (c *conn) appendPublish(b *batch, p *mqttcodec.Publish) error {
	start := len(b.bb.B)
	if len(p.Payload) < inlinePayloadBytes {
		out, err := p.Append(b.bb.B, c.version)
		if err != nil {
			return err
		}
		b.bb.B = out
		b.mark(start)
		return nil
	}
	out, frameStart, err := appendPublishHead(b.bb.B, p, c.version)
	if err != nil {
		return err
	}
	b.bb.B = out
	b.mark(frameStart)
	b.segs = append(b.segs, segment{ext: p.Payload})
	return nil
}

// appendPublishHead appends p's frame up to its payload, with a remaining
// length that counts the payload, and returns where the frame starts.
//
// It reserves four bytes, lets the codec encode p without the payload,
// then rewrites the fixed header — the type byte and the remaining
// length, which can only grow — right-aligned against the body:
//
//	start                 frameStart
//	| gap (unused) .......| type | remaining (with payload) | body without payload |
func appendPublishHead(dst []byte, p *mqttcodec.Publish, v mqttcodec.Version) ([]byte, int, error) {
	const gap = 4 // a remaining length grows by at most three bytes
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	payload := p.Payload
	p.Payload = nil
	out, err := p.Append(dst, v)
	p.Payload = payload
	if err != nil {
		return dst[:start], 0, err
	}
	at := start + gap
	rem0, n, err := mqttcodec.ReadVarInt(out[at+1:])
	if err != nil {
		return out[:start], 0, err
	}
	var hdr [5]byte
	h, err := mqttcodec.AppendVarInt(append(hdr[:0], out[at]), rem0+uint32(len(payload)))
	if err != nil {
		return out[:start], 0, err
	}
	frameStart := at + 1 + n - len(h)
	copy(out[frameStart:], h)
	return out, frameStart, nil
}

// bytesOf returns the bytes of s without copying them. The codec only
// reads the slices it encodes, so the string's immutability holds.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// aliasTable is the writer's outbound topic aliases [MQTT-3.3.2.3.4]:
// alias i names topics[i-1]. When every alias is bound, the least
// recently used one is rebound. It holds the topics of delivered
// messages, which are shared, not copies.
type aliasTable struct {
	max    uint16
	ids    map[string]uint16
	topics []string
	used   []uint64 // by alias-1: the tick of the last use
	tick   uint64
}

func newAliasTable(max uint16) *aliasTable {
	return &aliasTable{max: max, ids: make(map[string]uint16)}
}

// find returns topic's alias and true, or the alias to bind to topic and
// false.
func (t *aliasTable) find(topic string) (uint16, bool) {
	if a, ok := t.ids[topic]; ok {
		return a, true
	}
	if len(t.topics) < int(t.max) {
		return uint16(len(t.topics) + 1), false
	}
	lru := 0
	for i, u := range t.used {
		if u < t.used[lru] {
			lru = i
		}
	}
	return uint16(lru + 1), false
}

// use records that alias was sent for topic, bound anew when bind is set.
func (t *aliasTable) use(alias uint16, topic string, bind bool) {
	t.tick++
	i := int(alias) - 1
	if !bind {
		t.used[i] = t.tick
		return
	}
	if i == len(t.topics) {
		t.topics = append(t.topics, topic)
		t.used = append(t.used, t.tick)
	} else {
		delete(t.ids, t.topics[i])
		t.topics[i], t.used[i] = topic, t.tick
	}
	t.ids[topic] = alias
}
