package raftstore

import (
	"encoding/binary"
	"fmt"
	"slices"

	"tributary/mqttcodec"
)

// Publishing at apply: inbound QoS 2 ids, retained messages, and routing a
// message to every session whose subscriptions match it.

func applyPublish(a *applyContext, payload []byte) ([]byte, error) {
	r, err := decodePublish(payload)
	if err != nil {
		return nil, rejectErr(CmdPublish.String(), err)
	}
	res, err := a.publishRequest(&r)
	if err != nil {
		return nil, err
	}
	return encodePublishResult(&res), nil
}

func (a *applyContext) publishRequest(r *PublishRequest) (PublishResult, error) {
	if r.PacketID != 0 {
		k := inboundKey(r.ClientID, r.PacketID)
		_, dup, err := a.read(k)
		if err != nil {
			return PublishResult{}, err
		}
		if dup {
			// [MQTT-4.3.3-9] (3.1.1: MQTT-4.3.3-2) not delivered onward again.
			return PublishResult{Duplicate: true}, nil
		}
		// The id is session state (section 4.1): recorded only while the
		// session exists, so that ending the session forgets it.
		_, live, err := a.read(sessionKey(r.ClientID))
		if err != nil {
			return PublishResult{}, err
		}
		if live {
			if err := a.set(k, nil); err != nil {
				return PublishResult{}, err
			}
		}
	}
	if r.Message.PublisherID == "" {
		r.Message.PublisherID = r.ClientID // No Local compares with it
	}
	matched, err := a.publish(&r.Message, r.NowMillis, r.AlreadyDelivered)
	return PublishResult{Matched: matched}, err
}

// publish retains m if it says so and, unless skipRoute, routes it; a
// message that has not expired is also appended to the Kafka topics whose
// mappings match it (mirrorToKafka). It returns the number of sessions the
// message was delivered or queued to.
func (a *applyContext) publish(m *Message, now int64, skipRoute bool) (int, error) {
	p := &publishing{msg: m}
	expired := m.ExpiresAtMillis != 0 && m.ExpiresAtMillis <= now
	if m.Retain {
		if err := a.retain(p, expired); err != nil {
			return 0, err
		}
	}
	matched := 0
	if !skipRoute && !expired {
		var err error
		if matched, err = a.route(p); err != nil {
			return 0, err
		}
	}
	if !expired {
		// Also for AlreadyDelivered (the proposer sends a QoS 0 publish
		// through the log only because it is mapped or retained).
		a.mirrorToKafka(m, now)
	}
	return matched, a.store(p)
}

// retain replaces the retained message of the topic [MQTT-3.3.1-5]. An
// empty payload removes it and is not stored itself [MQTT-3.3.1-6,
// MQTT-3.3.1-7] (MQTT 3.1.1: MQTT-3.3.1-10, MQTT-3.3.1-11); nor is a
// message that has already expired. The retained copy keeps the
// message's expiry.
func (a *applyContext) retain(p *publishing, expired bool) error {
	k := retainedKey(p.msg.Topic)
	v, had, err := a.read(k)
	if err != nil {
		return err
	}
	if had {
		old, err := decodeRetained(v)
		if err != nil {
			return err
		}
		if err := a.addRefs(old, -1); err != nil {
			return err
		}
	}
	if len(p.msg.Payload) == 0 || expired {
		if !had {
			return nil
		}
		a.mq.retainedDelta--
		return a.del(k)
	}
	if !had {
		a.mq.retainedDelta++
	}
	id := a.ref(p)
	return a.set(k, id[:])
}

func decodeRetained(v []byte) (msgID, error) {
	var id msgID
	if len(v) != len(id) {
		return id, fmt.Errorf("%w: retained value of %d bytes", errCorruptState, len(v))
	}
	copy(id[:], v)
	return id, nil
}

// target is one delivery of a message: a session and the subscription
// options it is delivered under.
type target struct {
	clientID string
	qos      byte
	rap      bool // Retain As Published
	subIDs   []uint32
	share    string // the shared subscription's full filter, "" for none
}

// route delivers or queues p to every session a subscription matches:
// one delivery per session for its non-shared subscriptions, merged, and
// one per shared subscription, to one of its members. It returns the
// number of deliveries made (queued, or announced to a connected
// session); drops are not counted.
func (a *applyContext) route(p *publishing) (int, error) {
	direct, groups := a.mq.match(p.msg.Topic)
	matched := 0
	for i := 0; i < len(direct); {
		t, ok := a.merge(direct, &i, p.msg)
		if !ok {
			continue
		}
		done, err := a.routeTo(p, &t)
		if err != nil {
			return 0, err
		}
		matched += boolInt(done)
	}
	for _, g := range groups {
		m, ok, err := a.pickMember(&g, p.msg.PublisherID)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		t := target{clientID: m.clientID, qos: min(p.msg.QoS, m.opts.qos), rap: m.opts.retainAsPub,
			share: subRef{share: g.share, filter: g.filter}.full()}
		if m.opts.id != 0 {
			t.subIDs = []uint32{m.opts.id}
		}
		done, err := a.routeTo(p, &t)
		if err != nil {
			return 0, err
		}
		matched += boolInt(done)
	}
	return matched, nil
}

// merge folds the overlapping subscriptions of the session at direct[*i]
// into one target [MQTT-3.3.4-2, MQTT-3.3.4-3]: the highest QoS, every
// subscription identifier (sorted), Retain As Published if any asks for it.
// A No Local subscription of the publisher's own client id takes no part
// [MQTT-3.8.3-3]. It advances *i past the session.
func (a *applyContext) merge(direct []member, i *int, m *Message) (target, bool) {
	t := target{clientID: direct[*i].clientID}
	taking := false
	for ; *i < len(direct) && direct[*i].clientID == t.clientID; *i++ {
		o := direct[*i].opts
		if o.noLocal && t.clientID == m.PublisherID {
			continue
		}
		taking = true
		t.qos = max(t.qos, o.qos)
		t.rap = t.rap || o.retainAsPub
		if o.id != 0 {
			t.subIDs = append(t.subIDs, o.id)
		}
	}
	t.qos = min(t.qos, m.QoS)
	slices.Sort(t.subIDs)
	return t, taking
}

// routeTo delivers p to one target. A delivery at QoS 0, or to a session
// without persistence, is an EventDeliver for the connected session (and
// dropped for one that is not); a QoS 1 or 2 delivery to a persistent
// session is queued, connected or not, unless its queue is full.
//
// A delivery needs only the session's routing facts, which the index holds
// (equal to Pebble, see mqttBatch); only a queued one reads the record.
func (a *applyContext) routeTo(p *publishing, t *target) (bool, error) {
	v, ok := a.mq.sessionView(t.clientID)
	if !ok {
		return false, fmt.Errorf("%w: subscription of client %q, which has no session", errCorruptState, t.clientID)
	}
	// [MQTT-3.3.1-12, MQTT-3.3.1-13]: the RETAIN flag is kept only under Retain As Published.
	retain := p.msg.Retain && t.rap
	if t.qos == 0 || v.expiry == 0 {
		if !v.connected {
			return false, nil
		}
		a.deliver(t.clientID, v, Delivery{QoS: t.qos, Retain: retain, SubscriptionIDs: t.subIDs, Message: p.event()})
		return true, nil
	}
	s, ok, err := a.session(t.clientID)
	if err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%w: client %q has a session view and no session", errCorruptState, t.clientID)
		}
		return false, err
	}
	if a.queueFull(&s) {
		return false, nil
	}
	e := queueEntry{msg: a.ref(p), qos: t.qos, retain: retain, share: t.share, subIDs: t.subIDs}
	return true, a.enqueue(t.clientID, &s, &e)
}

// pickMember chooses the member of a shared subscription that gets a
// message [MQTT-4.8.2]: the next connected member at or after the
// subscription's round-robin position (a counter in Pebble, so every
// replica picks the same), or the next member when none is connected. A
// member whose No Local subscription excludes the publisher is skipped.
// The scan stops at the first fit, so a pick costs O(1) map lookups while
// most members are connected.
func (a *applyContext) pickMember(g *groupMatch, publisher string) (member, bool, error) {
	k := shareNextKey(subRef{share: g.share, filter: g.filter}.full())
	v, ok, err := a.read(k)
	if err != nil {
		return member{}, false, err
	}
	var next uint64
	if ok {
		if next, err = decodeU64(v, "share position"); err != nil {
			return member{}, false, err
		}
	}
	n := uint64(len(g.ids))
	for _, wantConnected := range []bool{true, false} {
		for i := range n {
			c := g.ids[(next+i)%n]
			o := g.opts[c]
			if o.noLocal && c == publisher {
				continue
			}
			if view, known := a.mq.sessionView(c); wantConnected && (!known || !view.connected) {
				continue
			}
			return member{c, o}, true, a.set(k, binary.BigEndian.AppendUint64(nil, next+i+1))
		}
	}
	return member{}, false, nil
}

// moveShared hands a queue entry of a shared subscription, from a session
// that ends, to another member of the subscription. It reports whether the
// entry's message reference moved with it (false: the caller releases it).
func (a *applyContext) moveShared(e *queueEntry) (bool, error) {
	share, filter, _, err := mqttcodec.ParseShared(e.share)
	if err != nil {
		return false, fmt.Errorf("%w: queue entry share %q: %w", errCorruptState, e.share, err)
	}
	g := a.mq.group(groupKey{share, filter})
	m, ok, err := a.pickMember(&g, "")
	if err != nil || !ok {
		return false, err
	}
	msg, err := a.loadBody(e.msg)
	if err != nil {
		return false, err
	}
	s, ok, err := a.session(m.clientID)
	if err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%w: shared member %q has no session", errCorruptState, m.clientID)
		}
		return false, err
	}
	t := queueEntry{msg: e.msg, qos: min(msg.QoS, m.opts.qos), retain: msg.Retain && m.opts.retainAsPub, share: e.share}
	if m.opts.id != 0 {
		t.subIDs = []uint32{m.opts.id}
	}
	if t.qos == 0 || !s.persistent() {
		if s.connected {
			a.deliver(m.clientID, viewOf(&s), Delivery{QoS: t.qos, Retain: t.retain, SubscriptionIDs: t.subIDs, Message: &msg})
		}
		return false, nil
	}
	if a.queueFull(&s) {
		return false, nil
	}
	return true, a.enqueue(m.clientID, &s, &t)
}

// forgetShareIfEmpty deletes the round-robin position of a shared
// subscription that has no members left.
func (a *applyContext) forgetShareIfEmpty(r subRef) error {
	if len(a.mq.group(groupKey{r.share, r.filter}).ids) != 0 {
		return nil
	}
	return a.del(shareNextKey(r.full()))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
