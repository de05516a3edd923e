package raftstore

import (
	"bytes"
	"fmt"
)

// Sessions at apply: open (resume, clean start, takeover), close, the
// timers of delayed wills and session expiry, and the end of a session.

// applySessionOpen answers a SessionOpened.
func applySessionOpen(a *applyContext, payload []byte) ([]byte, error) {
	o, err := decodeSessionOpen(payload)
	if err != nil {
		return nil, rejectErr(CmdSessionOpen.String(), err)
	}
	res, err := a.openSession(&o)
	if err != nil {
		return nil, err
	}
	return encodeSessionOpened(&res), nil
}

func (a *applyContext) openSession(o *SessionOpen) (SessionOpened, error) {
	old, exists, err := a.session(o.ClientID)
	if err != nil {
		return SessionOpened{}, err
	}
	gen, err := a.nextGeneration()
	if err != nil {
		return SessionOpened{}, err
	}
	res := SessionOpened{Generation: gen}
	rec := sessionRecord{node: o.Node, generation: gen, connected: true, protocol: o.ProtocolVersion,
		expiry: o.ExpirySeconds, maxQueued: o.MaxQueuedMessages, nextSeq: 1}
	if exists {
		if res, err = a.replaceSession(o, &old, &rec, res); err != nil {
			return res, err
		}
	}
	if !res.Present {
		a.mq.sessionsDelta++
	}
	if o.Will != nil {
		rec.hasWill = true
		if err := a.set(willKey(o.ClientID), encodeWill(o.Will)); err != nil {
			return res, err
		}
	}
	a.mq.setSession(o.ClientID, &rec)
	return res, a.saveSession(o.ClientID, &rec)
}

// replaceSession settles the session a new connection finds: it resumes
// it into rec, or ends it, and tells the previous connection's node to
// close it.
func (a *applyContext) replaceSession(o *SessionOpen, old, rec *sessionRecord, res SessionOpened) (SessionOpened, error) {
	expired := !old.connected && old.expireAt != 0 && old.expireAt <= o.NowMillis
	// [MQTT-3.1.2-4] Clean Start discards the session; [MQTT-3.1.2-5]
	// otherwise it resumes — unless it has expired, or it is a session
	// without persistence, which ends with the connection being taken over.
	resume := !o.CleanStart && !expired && old.persistent()
	if old.connected {
		// [MQTT-3.1.4-3] the existing connection of the client id is closed.
		res.TakenOver, res.PreviousNode, res.PreviousGeneration = true, old.node, old.generation
		a.mq.emit(Event{Kind: EventTakenOver, ClientID: o.ClientID, Node: old.node, Generation: old.generation})
	}
	if err := a.settleOldWill(o.ClientID, old, resume, o.NowMillis); err != nil {
		return res, err
	}
	if !resume {
		return res, a.endSession(o.ClientID, old, true)
	}
	res.Present = true // [MQTT-3.2.2-3]
	if err := a.setTimers(o.ClientID, old, 0, 0); err != nil {
		return res, err
	}
	rec.queueLen, rec.nextSeq, rec.sentThrough = old.queueLen, old.nextSeq, old.sentThrough
	if old.connected {
		// The previous connection may have sent anything in its queue: a
		// new owner resends all of it with DUP set.
		rec.sentThrough = old.nextSeq - 1
	}
	return res, nil
}

// settleOldWill decides the will of the connection a new one replaces. A
// will still held fires now if the session does not continue (it ends
// [MQTT-3.1.2-8]), or if its connection was open and its delay is 0; a
// reconnect within the delay cancels it [MQTT-3.1.3-9].
func (a *applyContext) settleOldWill(clientID string, old *sessionRecord, resume bool, now int64) error {
	if !old.hasWill {
		return nil
	}
	w, err := a.loadWill(clientID)
	if err != nil {
		return err
	}
	if !resume || (old.connected && w.DelaySeconds == 0) {
		return a.fireWill(clientID, old, &w, now)
	}
	old.hasWill = false
	return a.del(willKey(clientID)) // [MQTT-3.1.2-10]
}

func (a *applyContext) loadWill(clientID string) (Will, error) {
	v, ok, err := a.read(willKey(clientID))
	if err != nil {
		return Will{}, err
	}
	if !ok {
		return Will{}, fmt.Errorf("%w: session %q has a will flag and no will", errCorruptState, clientID)
	}
	return decodeWill(v)
}

// fireWill publishes a will and removes it from the session
// [MQTT-3.1.2-10]. Its publisher is the session's client id, so No Local
// subscriptions of that client id do not receive it.
//
// The will may match a subscription of its own session, and routing reads
// and updates the session record in Pebble. So s is saved before the
// publish and read back after it: the caller's copy then includes any
// entry the will added to its own queue.
func (a *applyContext) fireWill(clientID string, s *sessionRecord, w *Will, now int64) error {
	m := w.Message
	m.PublisherID = clientID
	m.ExpiresAtMillis = 0
	if w.ExpirySeconds > 0 {
		m.ExpiresAtMillis = now + int64(w.ExpirySeconds)*1000
	}
	s.hasWill = false
	if err := a.del(willKey(clientID)); err != nil {
		return err
	}
	if err := a.saveSession(clientID, s); err != nil {
		return err
	}
	a.mq.setSession(clientID, s) // routing sees what Pebble holds
	if _, err := a.publish(&m, now, false); err != nil {
		return err
	}
	after, ok, err := a.session(clientID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: session %q vanished while its will was published", errCorruptState, clientID)
	}
	*s = after
	return nil
}

func applySessionClose(a *applyContext, payload []byte) ([]byte, error) {
	c, err := decodeSessionClose(payload)
	if err != nil {
		return nil, rejectErr(CmdSessionClose.String(), err)
	}
	return nil, a.closeSession(&c)
}

// closeSession ends a connection's hold on its session. A close of an
// older generation, or of a connection already closed, changes nothing.
func (a *applyContext) closeSession(c *SessionClose) error {
	s, ok, err := a.session(c.ClientID)
	if err != nil || !ok || s.generation != c.Generation || !s.connected {
		return err
	}
	s.connected = false
	s.disconnectedAt = c.NowMillis
	if c.HasNewExpiry {
		s.expiry = c.NewExpiry // MQTT 5 DISCONNECT Session Expiry Interval
	}
	s.sentThrough = max(s.sentThrough, min(c.SentThroughSeq, s.nextSeq-1))
	willDue, err := a.closeWill(c, &s)
	if err != nil {
		return err
	}
	if s.expiry == 0 {
		// [MQTT-3.1.2-23] only a positive expiry keeps the state after the connection.
		return a.endSession(c.ClientID, &s, false)
	}
	var expireAt int64
	if s.expiry != NeverExpires {
		expireAt = c.NowMillis + int64(s.expiry)*1000
	}
	if err := a.setTimers(c.ClientID, &s, willDue, expireAt); err != nil {
		return err
	}
	a.mq.setSession(c.ClientID, &s)
	return a.saveSession(c.ClientID, &s)
}

// closeWill settles the will of a closing connection and returns when a
// delayed will is due (0 for none).
func (a *applyContext) closeWill(c *SessionClose, s *sessionRecord) (int64, error) {
	if !s.hasWill {
		return 0, nil
	}
	if c.Reason == CloseNormal {
		// DISCONNECT 0x00 deletes the will [MQTT-3.1.2-8, MQTT-3.1.2-10].
		s.hasWill = false
		return 0, a.del(willKey(c.ClientID))
	}
	w, err := a.loadWill(c.ClientID)
	if err != nil {
		return 0, err
	}
	if w.DelaySeconds == 0 || s.expiry == 0 {
		return 0, a.fireWill(c.ClientID, s, &w, c.NowMillis)
	}
	// The will waits for its delay or the end of the session, whichever
	// comes first [MQTT-3.1.3-9].
	delay := w.DelaySeconds
	if s.expiry != NeverExpires {
		delay = min(delay, s.expiry)
	}
	return c.NowMillis + int64(delay)*1000, nil
}

func applyTick(a *applyContext, payload []byte) ([]byte, error) {
	now, maxSessions, err := decodeTick(payload)
	if err != nil {
		return nil, rejectErr(CmdTick.String(), err)
	}
	return nil, a.tick(now, maxSessions)
}

// tick fires every will and expires every session whose deadline is at or
// before now, in deadline then client id order (the deadline table's key
// order), for at most maxSessions sessions.
func (a *applyContext) tick(now int64, maxSessions uint32) error {
	type due struct {
		key      []byte
		clientID string
	}
	var dues []due
	seen := make(map[string]bool)
	// Keys up to (now+1, "") are the deadlines at or before now.
	err := scanRange(a.batch, []byte{tableDeadline}, deadlineKey(now+1, ""), func(k, _ []byte) (bool, error) {
		_, clientID, err := parseDeadlineKey(k)
		if err != nil {
			return false, err
		}
		if !seen[clientID] {
			seen[clientID] = true
			dues = append(dues, due{bytes.Clone(k), clientID})
		}
		return len(dues) < int(maxSessions), nil
	})
	if err != nil {
		return err
	}
	for _, d := range dues {
		if err := a.tickSession(d.clientID, d.key, now); err != nil {
			return err
		}
	}
	return nil
}

// tickSession acts on what is due for one session at now. A client with
// two due deadlines is settled by the first; the second finds nothing.
func (a *applyContext) tickSession(clientID string, key []byte, now int64) error {
	s, ok, err := a.session(clientID)
	if err != nil {
		return err
	}
	if !ok {
		return a.del(key) // cannot happen while the timers are kept in step
	}
	willDue, expireAt := s.willDue, s.expireAt
	if willDue != 0 && willDue <= now && s.hasWill {
		w, err := a.loadWill(clientID)
		if err != nil {
			return err
		}
		if err := a.fireWill(clientID, &s, &w, now); err != nil {
			return err
		}
		willDue = 0
	}
	if expireAt != 0 && expireAt <= now {
		// The session expires; a will still waiting fires first [MQTT-3.1.2-8].
		if err := a.settleOldWill(clientID, &s, false, now); err != nil {
			return err
		}
		return a.endSession(clientID, &s, true)
	}
	if err := a.setTimers(clientID, &s, willDue, expireAt); err != nil {
		return err
	}
	return a.saveSession(clientID, &s)
}

// endSession deletes a session and everything it holds: subscriptions,
// queue entries (releasing their messages, or moving a shared
// subscription's unacknowledged messages to another member), inbound QoS 2
// ids, timers and will. Its will was settled by the caller. announce emits
// EventSessionEnded (not for the session's own close).
func (a *applyContext) endSession(clientID string, s *sessionRecord, announce bool) error {
	shares, err := a.dropSubscriptions(clientID)
	if err != nil {
		return err
	}
	if err := a.dropQueue(clientID, s); err != nil {
		return err
	}
	for _, r := range shares {
		if err := a.forgetShareIfEmpty(r); err != nil {
			return err
		}
	}
	err = a.scan(clientPrefix(tableInbound, clientID, 0), func(k, _ []byte) error { return a.del(k) })
	if err != nil {
		return err
	}
	if err := a.setTimers(clientID, s, 0, 0); err != nil {
		return err
	}
	if s.hasWill {
		if err := a.del(willKey(clientID)); err != nil {
			return err
		}
	}
	if err := a.del(sessionKey(clientID)); err != nil {
		return err
	}
	a.mq.deleteSession(clientID)
	a.mq.sessionsDelta--
	if announce {
		a.mq.emit(Event{Kind: EventSessionEnded, ClientID: clientID, Node: s.node, Generation: s.generation})
	}
	return nil
}

// dropSubscriptions deletes every subscription of a session and returns
// its shared ones.
func (a *applyContext) dropSubscriptions(clientID string) ([]subRef, error) {
	prefix := clientPrefix(tableSub, clientID, 0)
	var shares []subRef
	err := a.scan(prefix, func(k, _ []byte) error {
		r, err := parseSubRef(clientID, string(keySuffix(k, prefix)))
		if err != nil {
			return err
		}
		if r.share != "" {
			shares = append(shares, r)
		}
		a.mq.deleteSub(r)
		return a.del(k)
	})
	return shares, err
}

// dropQueue deletes a session's queue. An entry of a shared subscription
// that is QoS 1 and not yet acknowledged moves to another member of the
// group; a QoS 2 one moves only if it was never sent, since one that may
// have been must not reach another client [MQTT-4.8.2-5, MQTT-4.8.2-6].
func (a *applyContext) dropQueue(clientID string, s *sessionRecord) error {
	prefix := clientPrefix(tableQueue, clientID, 0)
	err := a.scan(prefix, func(k, v []byte) error {
		e, err := decodeQueueEntry(v)
		if err != nil {
			return err
		}
		seq, err := decodeU64(keySuffix(k, prefix), "queue seq")
		if err != nil {
			return err
		}
		unsent := !s.connected && seq > s.sentThrough
		moved := false
		if e.share != "" && !e.received && (e.qos == 1 || (e.qos == 2 && unsent)) {
			if moved, err = a.moveShared(&e); err != nil {
				return err
			}
		}
		if !moved {
			if err := a.addRefs(e.msg, -1); err != nil {
				return err
			}
		}
		return a.del(k)
	})
	a.mq.queuedDelta -= int64(s.queueLen)
	s.queueLen = 0
	return err
}
