package raftstore

import (
	"strings"

	"tributary/mqttcodec"
)

// Subscriptions, retained messages sent on subscribe, queue
// acknowledgements and inbound QoS 2 releases, at apply.

// currentSession returns the session of clientID if gen still holds it.
func (a *applyContext) currentSession(clientID string, gen uint64) (sessionRecord, bool, error) {
	s, ok, err := a.session(clientID)
	if err != nil || !ok || s.generation != gen {
		return s, false, err
	}
	return s, true, nil
}

func applySubscribe(a *applyContext, payload []byte) ([]byte, error) {
	r, err := decodeSubscribe(payload)
	if err != nil {
		return nil, rejectErr(CmdSubscribe.String(), err)
	}
	s, ok, err := a.currentSession(r.ClientID, r.Generation)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, rejectErr(CmdSubscribe.String(), ErrSessionGone)
	}
	var res SubscribeResult
	for i := range r.Subscriptions {
		if err := a.subscribe(r.ClientID, &s, &r.Subscriptions[i], r.NowMillis, &res); err != nil {
			return nil, err
		}
	}
	return encodeSubscribeResult(&res), nil
}

// subscribe adds or replaces one subscription [MQTT-3.8.4-3] and sends
// the retained messages its Retain Handling asks for.
func (a *applyContext) subscribe(clientID string, s *sessionRecord, sub *Subscription, now int64, res *SubscribeResult) error {
	ref, err := parseSubRef(clientID, sub.Filter)
	if err != nil {
		return err // decodeSubscribe checked the filter: unreachable
	}
	k := subscriptionKey(clientID, sub.Filter)
	_, existed, err := a.read(k)
	if err != nil {
		return err
	}
	o := optsOf(sub)
	if err := a.set(k, o.encode()); err != nil {
		return err
	}
	a.mq.setSub(ref, o)
	if ref.share != "" {
		return nil // no retained messages for a shared subscription (section 4.8.2)
	}
	// Retain Handling (MQTT 5): [MQTT-3.3.1-9] 0 sends, [MQTT-3.3.1-10] 1
	// sends only for a new subscription, [MQTT-3.3.1-11] 2 never sends.
	if o.retainHandling == 2 || (o.retainHandling == 1 && existed) {
		return nil
	}
	return a.sendRetained(clientID, s, ref.filter, o, now, res)
}

// sendRetained queues (persistent session) or returns (session without
// persistence) the retained messages matching filter, with the RETAIN
// flag set (MQTT 3.1.1 [MQTT-3.3.1-8]; MQTT 5.0 section 3.3.1.3).
func (a *applyContext) sendRetained(clientID string, s *sessionRecord, filter string, o subOpts, now int64, res *SubscribeResult) error {
	hits, err := a.liveRetained(clientID, filter, o, now)
	if err != nil {
		return err
	}
	var ids []uint32
	if o.id != 0 {
		ids = []uint32{o.id}
	}
	for _, h := range hits {
		qos := min(h.msg.QoS, o.qos)
		if !s.persistent() {
			res.Retained = append(res.Retained, Delivery{QoS: qos, Retain: true, SubscriptionIDs: ids, Message: &h.msg})
			continue
		}
		if a.queueFull(s) {
			continue
		}
		if err := a.addRefs(h.id, 1); err != nil {
			return err
		}
		e := queueEntry{msg: h.id, qos: qos, retain: true, subIDs: ids}
		if err := a.enqueue(clientID, s, &e); err != nil {
			return err
		}
	}
	return nil
}

// retainedHit is a retained message to send on subscribe.
type retainedHit struct {
	id  msgID
	msg Message
}

// liveRetained returns the retained messages matching filter that are to
// be sent under o, in topic order. It deletes the expired ones it meets.
func (a *applyContext) liveRetained(clientID, filter string, o subOpts, now int64) ([]retainedHit, error) {
	var hits []retainedHit
	err := a.scanRetained(filter, func(k []byte, id msgID) error {
		m, err := a.loadBody(id)
		if err != nil {
			return err
		}
		switch {
		case m.ExpiresAtMillis != 0 && m.ExpiresAtMillis <= now:
			a.mq.retainedDelta--
			if err := a.del(k); err != nil {
				return err
			}
			return a.addRefs(id, -1)
		case o.noLocal && m.PublisherID == clientID: // [MQTT-3.8.3-3]
		default:
			hits = append(hits, retainedHit{id, m})
		}
		return nil
	})
	return hits, err
}

// scanRetained calls fn with every retained message whose topic matches
// filter, in topic order, after the scan (so fn may write). It reads only
// the topics starting with the filter's levels before its first wildcard.
func (a *applyContext) scanRetained(filter string, fn func(k []byte, id msgID) error) error {
	literal := filter
	if i := strings.IndexAny(filter, "+#"); i >= 0 {
		literal = filter[:i]
	}
	var keys [][]byte
	var ids []msgID
	err := scanPrefix(a.batch, retainedKey(literal), func(k, v []byte) error {
		if !mqttcodec.MatchTopic(filter, k[1:]) {
			return nil
		}
		id, err := decodeRetained(v)
		keys, ids = append(keys, append([]byte(nil), k...)), append(ids, id)
		return err
	})
	if err != nil {
		return err
	}
	for i := range keys {
		if err := fn(keys[i], ids[i]); err != nil {
			return err
		}
	}
	return nil
}

func applyUnsubscribe(a *applyContext, payload []byte) ([]byte, error) {
	r, err := decodeUnsubscribe(payload)
	if err != nil {
		return nil, rejectErr(CmdUnsubscribe.String(), err)
	}
	_, ok, err := a.currentSession(r.ClientID, r.Generation)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, rejectErr(CmdUnsubscribe.String(), ErrSessionGone)
	}
	existed := make([]bool, len(r.Filters))
	for i, f := range r.Filters {
		if existed[i], err = a.unsubscribe(r.ClientID, f); err != nil {
			return nil, err
		}
	}
	return encodeExisted(existed), nil
}

// unsubscribe removes one subscription [MQTT-3.10.4-1]. Messages already
// queued under it stay queued: those being sent must be completed
// [MQTT-3.10.4-3], and the rest may be.
func (a *applyContext) unsubscribe(clientID, filter string) (bool, error) {
	ref, err := parseSubRef(clientID, filter)
	if err != nil {
		return false, err
	}
	k := subscriptionKey(clientID, filter)
	_, existed, err := a.read(k)
	if err != nil || !existed {
		return false, err
	}
	if err := a.del(k); err != nil {
		return false, err
	}
	a.mq.deleteSub(ref)
	if ref.share != "" {
		return true, a.forgetShareIfEmpty(ref)
	}
	return true, nil
}

func applyQueueAck(a *applyContext, payload []byte) ([]byte, error) {
	ack, err := decodeQueueAck(payload)
	if err != nil {
		return nil, rejectErr(CmdQueueAck.String(), err)
	}
	s, ok, err := a.currentSession(ack.ClientID, ack.Generation)
	if err != nil || !ok {
		return nil, err // a stale connection's acks: the new owner resends those ids
	}
	changed := false
	for _, seq := range ack.Done {
		done, err := a.ackDone(ack.ClientID, &s, seq)
		if err != nil {
			return nil, err
		}
		changed = changed || done
	}
	for _, seq := range ack.Received {
		if err := a.ackReceived(ack.ClientID, seq); err != nil {
			return nil, err
		}
	}
	if !changed {
		return nil, nil
	}
	return nil, a.saveSession(ack.ClientID, &s)
}

// ackDone removes a queue entry and releases its message; unknown seqs are
// ignored (acknowledged twice, or never queued).
func (a *applyContext) ackDone(clientID string, s *sessionRecord, seq uint64) (bool, error) {
	k := queueKey(clientID, seq)
	v, ok, err := a.read(k)
	if err != nil || !ok {
		return false, err
	}
	e, err := decodeQueueEntry(v)
	if err != nil {
		return false, err
	}
	if err := a.addRefs(e.msg, -1); err != nil {
		return false, err
	}
	s.queueLen--
	a.mq.queuedDelta--
	return true, a.del(k)
}

// ackReceived marks a QoS 2 entry PUBREC'd, so a resend after a takeover
// sends PUBREL, not the PUBLISH [MQTT-4.4.0-1].
func (a *applyContext) ackReceived(clientID string, seq uint64) error {
	k := queueKey(clientID, seq)
	v, ok, err := a.read(k)
	if err != nil || !ok {
		return err
	}
	e, err := decodeQueueEntry(v)
	if err != nil || e.qos != 2 || e.received {
		return err
	}
	e.received = true
	return a.set(k, e.encode())
}

func applyReleaseInbound(a *applyContext, payload []byte) ([]byte, error) {
	clientID, packetID, err := decodeReleaseInbound(payload)
	if err != nil {
		return nil, rejectErr(CmdReleaseInbound.String(), err)
	}
	k := inboundKey(clientID, packetID)
	if _, ok, err := a.read(k); err != nil || !ok {
		return nil, err // released twice: nothing to do
	}
	return nil, a.del(k)
}
