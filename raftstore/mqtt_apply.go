package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// The Pebble side of MQTT apply: reads and writes through the entry's
// indexed batch (so a command sees what earlier commands of the batch
// wrote), session records, generations, timers and message references.
// Every function here is deterministic: it reads only the batch.

// read returns a copy of key's value in the batch's view of the state.
func (a *applyContext) read(key []byte) ([]byte, bool, error) {
	v, closer, err := a.batch.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("raftstore: read %x: %w", key, err)
	}
	out := bytes.Clone(v) // the batch may move it on the next write
	closer.Close()
	return out, true, nil
}

func (a *applyContext) set(key, value []byte) error {
	if err := a.batch.Set(key, value, nil); err != nil {
		return fmt.Errorf("raftstore: stage %x: %w", key, err)
	}
	return nil
}

func (a *applyContext) del(key []byte) error {
	if err := a.batch.Delete(key, nil); err != nil {
		return fmt.Errorf("raftstore: stage delete %x: %w", key, err)
	}
	return nil
}

// scan calls fn with a copy of every key and value under prefix, in key
// order, as of the call. fn may write to the batch.
func (a *applyContext) scan(prefix []byte, fn func(k, v []byte) error) error {
	type kv struct{ k, v []byte }
	var all []kv
	err := scanPrefix(a.batch, prefix, func(k, v []byte) error {
		all = append(all, kv{bytes.Clone(k), bytes.Clone(v)})
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range all {
		if err := fn(e.k, e.v); err != nil {
			return err
		}
	}
	return nil
}

func (a *applyContext) session(clientID string) (sessionRecord, bool, error) {
	v, ok, err := a.read(sessionKey(clientID))
	if err != nil || !ok {
		return sessionRecord{}, false, err
	}
	s, err := decodeSessionRecord(v)
	return s, err == nil, err
}

// saveSession writes a session record. Changes to what routing knows of a
// session (owner, generation, connected, expiry) also go to mq.setSession.
func (a *applyContext) saveSession(clientID string, s *sessionRecord) error {
	return a.set(sessionKey(clientID), s.encode())
}

// nextGeneration hands out the next session generation.
func (a *applyContext) nextGeneration() (uint64, error) {
	v, ok, err := a.read(keyMQTTGeneration)
	if err != nil {
		return 0, err
	}
	var g uint64
	if ok {
		if g, err = decodeU64(v, "generation counter"); err != nil {
			return 0, err
		}
	}
	g++
	return g, a.set(keyMQTTGeneration, binary.BigEndian.AppendUint64(nil, g))
}

// setTimers replaces a session's timers, keeping the deadline table in
// step: one entry per distinct non-zero deadline.
func (a *applyContext) setTimers(clientID string, s *sessionRecord, willDue, expireAt int64) error {
	old := [2]int64{s.willDue, s.expireAt}
	next := [2]int64{willDue, expireAt}
	for _, t := range old {
		if t != 0 && t != next[0] && t != next[1] {
			if err := a.del(deadlineKey(t, clientID)); err != nil {
				return err
			}
		}
	}
	gen := binary.BigEndian.AppendUint64(nil, s.generation)
	for _, t := range next {
		if t != 0 && t != old[0] && t != old[1] {
			if err := a.set(deadlineKey(t, clientID), gen); err != nil {
				return err
			}
		}
	}
	s.willDue, s.expireAt = willDue, expireAt
	return nil
}

// addRefs adds delta to a stored message's reference count, and deletes
// the message when the count reaches zero. The body itself is written
// once, when it is stored, and never rewritten.
func (a *applyContext) addRefs(id msgID, delta int64) error {
	v, ok, err := a.read(refsKey(id))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: message %x has no reference count", errCorruptState, id)
	}
	n, err := decodeU64(v, "reference count")
	if err != nil {
		return err
	}
	if delta < 0 && uint64(-delta) > n {
		return fmt.Errorf("%w: message %x: %d references, releasing %d", errCorruptState, id, n, -delta)
	}
	n = uint64(int64(n) + delta)
	if n == 0 {
		if err := a.del(bodyKey(id)); err != nil {
			return err
		}
		return a.del(refsKey(id))
	}
	return a.set(refsKey(id), binary.BigEndian.AppendUint64(nil, n))
}

// loadBody reads a stored message; its byte fields are the caller's.
func (a *applyContext) loadBody(id msgID) (Message, error) {
	v, ok, err := a.read(bodyKey(id))
	if err != nil {
		return Message{}, err
	}
	if !ok {
		return Message{}, fmt.Errorf("%w: message %x is referenced but missing", errCorruptState, id)
	}
	return decodeBody(v)
}

// publishing is a message being published: its body is stored, once, only if
// something references it (a queue entry, the retained table), under an
// id the entry derives (newMsgID).
type publishing struct {
	msg    *Message
	id     msgID
	refs   uint64
	copied *Message // msg copied out of the log entry, for events
}

// ref returns the message's id, counting one more reference.
func (a *applyContext) ref(p *publishing) msgID {
	if p.refs == 0 {
		p.id = newMsgID(a.index, a.bodies)
		a.bodies++
	}
	p.refs++
	return p.id
}

// event returns the message as events carry it: one copy per publish,
// shared by all its deliveries, because msg aliases the raft entry.
func (p *publishing) event() *Message {
	if p.copied == nil {
		p.copied = cloneMessage(*p.msg)
	}
	return p.copied
}

// store writes the body and its reference count if anything referenced it.
func (a *applyContext) store(p *publishing) error {
	if p.refs == 0 {
		return nil
	}
	if err := a.set(bodyKey(p.id), encodeBody(p.msg)); err != nil {
		return err
	}
	return a.set(refsKey(p.id), binary.BigEndian.AppendUint64(nil, p.refs))
}

// queueFull reports whether s's queue already holds s.maxQueued entries,
// counting the message the caller then does not queue as a drop.
func (a *applyContext) queueFull(s *sessionRecord) bool {
	if s.queueLen < s.maxQueued {
		return false
	}
	a.mq.drops++
	return true
}

// enqueue appends e to the queue of the persistent session s and saves s;
// the caller has checked queueFull and holds e's message reference.
func (a *applyContext) enqueue(clientID string, s *sessionRecord, e *queueEntry) error {
	seq := s.nextSeq
	s.nextSeq++
	s.queueLen++
	if err := a.set(queueKey(clientID, seq), e.encode()); err != nil {
		return err
	}
	a.mq.queuedDelta++
	a.mq.queuedEvent(clientID, s, seq)
	return a.saveSession(clientID, s)
}

// deliver announces a message for a session without persistence (or a
// QoS 0 one for any connected session) to the node holding it.
func (a *applyContext) deliver(clientID string, v sessionView, d Delivery) {
	a.mq.emit(Event{Kind: EventDeliver, ClientID: clientID, Node: v.node, Generation: v.generation, Delivery: d})
}
