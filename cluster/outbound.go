package cluster

import (
	"tributary/raftstore"
)

// The outbound flow of a session: the in-flight window, packet ids, the
// memory path of sessions without persistence and the queue path of
// persistent ones, and the batching of acknowledgements.

// expired reports whether m may no longer be delivered [MQTT-3.3.2-5].
func (s *Session) expired(m *raftstore.Message) bool {
	return m.ExpiresAtMillis != 0 && m.ExpiresAtMillis <= s.node.nowMillis()
}

// deliver hands the session a message from memory: QoS 0 straight to the
// connection (dropped and counted when its buffer is full), QoS 1 and 2
// within the in-flight window, queued in memory beyond it up to
// MaxQueuedMessages.
func (s *Session) deliver(d raftstore.Delivery) {
	if s.expired(d.Message) {
		s.node.metrics.dropped.WithLabelValues(dropExpired).Inc()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return
	case s.holding > 0:
		if len(s.held) >= s.node.cfg.MaxQueuedMessages {
			s.node.metrics.dropped.WithLabelValues(dropQueueFull).Inc()
			return
		}
		s.held = append(s.held, d)
		return
	case d.QoS == 0:
		s.sendLocked(raftstore.Delivery{QoS: 0, Retain: d.Retain, SubscriptionIDs: d.SubscriptionIDs, Message: d.Message}, 0)
		return
	}
	if len(s.pending) == 0 && len(s.inflight) < s.window {
		s.sendMemoryLocked(d)
		return
	}
	if len(s.pending) >= s.node.cfg.MaxQueuedMessages {
		s.node.metrics.dropped.WithLabelValues(dropQueueFull).Inc()
		return
	}
	s.pending = append(s.pending, d)
}

// sendMemoryLocked sends a QoS 1 or 2 delivery of the memory path under a
// packet id of its own.
func (s *Session) sendMemoryLocked(d raftstore.Delivery) {
	id := s.allocIDLocked()
	s.track(id, &flight{qos: d.QoS})
	s.sendLocked(d, id)
}

// track records a message in flight. The map is made on first use: an idle
// session holds none.
func (s *Session) track(id uint16, f *flight) {
	if s.inflight == nil {
		s.inflight = make(map[uint16]*flight)
	}
	s.inflight[id] = f
}

// allocIDLocked returns the next packet id not in flight. The window is at
// most 65535, so one is always free.
func (s *Session) allocIDLocked() uint16 {
	for {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		if _, busy := s.inflight[s.nextID]; !busy {
			return s.nextID
		}
	}
}

// sendLocked writes a PUBLISH to the connection.
func (s *Session) sendLocked(d raftstore.Delivery, id uint16) {
	// A refused QoS 0 message is dropped (and counted by the connection);
	// QoS 1 and 2 are bounded by the window and never refused while open.
	s.conn.Send(Outbound{
		PacketID: id, QoS: d.QoS, Retain: d.Retain,
		SubscriptionIDs: d.SubscriptionIDs, Message: d.Message,
	})
}

// Acked completes an outbound message: PUBACK of QoS 1, PUBCOMP of QoS 2,
// or a message the connection discarded because it exceeded the client's
// Maximum Packet Size or expired [MQTT-3.1.2-25]. It reports false for a
// packet id that is not in flight.
func (s *Session) Acked(packetID uint16) bool {
	s.mu.Lock()
	f, ok := s.inflight[packetID]
	if !ok {
		s.mu.Unlock()
		return false
	}
	delete(s.inflight, packetID)
	if f.seq != 0 {
		s.ackDone = append(s.ackDone, f.seq)
		s.mu.Unlock()
		s.flushAcks()
		s.wake()
		return true
	}
	for len(s.pending) > 0 && len(s.inflight) < s.window && !s.closed {
		d := s.pending[0]
		s.pending[0] = raftstore.Delivery{}
		s.pending = s.pending[1:]
		if s.expired(d.Message) {
			s.node.metrics.dropped.WithLabelValues(dropExpired).Inc()
			continue
		}
		s.sendMemoryLocked(d)
	}
	s.mu.Unlock()
	return true
}

// Received records the client's PUBREC of an outbound QoS 2 message and
// sends the PUBREL. For a persistent session the PUBREL leaves only once
// the PUBREC is committed: after a PUBREL the client may complete and
// forget the packet id, so a node that crashed before recording the PUBREC
// would resend the PUBLISH and the client would take it for a new message
// [MQTT-4.3.3, exactly once]. It reports false for a packet id that is not
// a QoS 2 message in flight.
func (s *Session) Received(packetID uint16) bool {
	s.mu.Lock()
	f, ok := s.inflight[packetID]
	if !ok || f.qos != 2 {
		s.mu.Unlock()
		return false
	}
	switch {
	case f.seq == 0: // memory path: nothing durable to wait for
		f.received, f.released = true, true
		s.conn.Send(Outbound{PacketID: packetID, PubRel: true})
	case !f.received:
		f.received = true
		s.ackRecv = append(s.ackRecv, f.seq)
	case f.released: // a repeated PUBREC: repeat the PUBREL
		s.conn.Send(Outbound{PacketID: packetID, PubRel: true})
	}
	s.mu.Unlock()
	s.flushAcks()
	return true
}

// released sends the PUBREL of the queue entries whose PUBREC committed.
func (s *Session) released(seqs []uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, seq := range seqs {
		id := raftstore.PacketIDOf(seq)
		if f := s.inflight[id]; f != nil && f.seq == seq && !f.released && !s.closed {
			f.released = true
			s.conn.Send(Outbound{PacketID: id, PubRel: true})
		}
	}
}

// flushAcks proposes the acknowledgements gathered so far, one proposal at
// a time per session: the acks that arrive meanwhile leave together in the
// next one. A lost acknowledgement only means a resend with DUP.
func (s *Session) flushAcks() {
	s.mu.Lock()
	if s.acking || len(s.ackDone) == 0 && len(s.ackRecv) == 0 {
		s.mu.Unlock()
		return
	}
	ack := raftstore.QueueAck{ClientID: s.clientID, Generation: s.gen, Done: s.ackDone, Received: s.ackRecv}
	s.ackDone, s.ackRecv = nil, nil
	s.acking = true
	s.mu.Unlock()
	ctx, cancel := s.node.proposeContext()
	err := s.node.store.AckQueueAsync(ctx, ack, func(err error) {
		cancel()
		if err != nil {
			// The client keeps waiting for PUBREL; the next connection
			// resends the PUBLISH with DUP, which it answers with PUBREC
			// again without delivering it twice.
			s.node.log.Warn("queue acknowledgement not recorded; the messages will be resent", "client_id", s.clientID, "err", err)
		} else {
			s.released(ack.Received)
		}
		s.mu.Lock()
		s.acking = false
		s.mu.Unlock()
		s.flushAcks()
	})
	if err != nil {
		cancel()
		s.node.log.Warn("queue acknowledgement not recorded; the messages will be resent", "client_id", s.clientID, "err", err)
		s.mu.Lock()
		s.acking = false
		s.mu.Unlock()
	}
}

// wake makes a persistent session read its queue: new entries, or room
// freed in the window. One pump runs at a time.
func (s *Session) wake() {
	s.mu.Lock()
	if !s.persistent || s.closed || s.gen == 0 {
		s.mu.Unlock()
		return
	}
	if s.pumping {
		s.again = true
		s.mu.Unlock()
		return
	}
	s.pumping = true
	s.mu.Unlock()
	go s.pump()
}

// pump moves queue entries into the window until the queue or the window
// is exhausted. It reads Pebble without holding the session lock.
func (s *Session) pump() {
	for {
		s.mu.Lock()
		s.again = false
		s.sendBacklogLocked()
		room := s.window - len(s.inflight) - len(s.backlog)
		after := s.readThrough
		if s.closed || room <= 0 || s.holding > 0 {
			s.pumping = false
			s.mu.Unlock()
			s.flushAcks()
			return
		}
		s.mu.Unlock()
		s.flushAcks()
		msgs, err := s.node.store.ReadQueue(s.clientID, after, room)
		if err != nil {
			s.node.log.Warn("cannot read the session queue", "client_id", s.clientID, "err", err)
		}
		s.mu.Lock()
		for _, m := range msgs {
			if m.Seq > s.readThrough {
				s.readThrough = m.Seq
				s.backlog = append(s.backlog, m)
			}
		}
		s.sendBacklogLocked()
		if err != nil || len(msgs) < room && !s.again {
			s.pumping = false
			s.mu.Unlock()
			s.flushAcks()
			return
		}
		s.mu.Unlock()
	}
}

// sendBacklogLocked sends queue entries while the window has room. An
// entry whose packet id is still in flight (65,535 sequence numbers
// behind) waits: ids are never skipped, so a new owner of the session
// derives the same ones.
func (s *Session) sendBacklogLocked() {
	if s.holding > 0 || s.closed {
		return
	}
	for len(s.backlog) > 0 && len(s.inflight) < s.window {
		m := s.backlog[0]
		id := raftstore.PacketIDOf(m.Seq)
		if _, busy := s.inflight[id]; busy {
			return
		}
		s.backlog[0] = raftstore.QueuedMessage{}
		s.backlog = s.backlog[1:]
		s.sentThrough = max(s.sentThrough, m.Seq)
		if m.QoS == 0 || !m.Received && s.expired(m.Message) {
			if m.QoS != 0 {
				s.node.metrics.dropped.WithLabelValues(dropExpired).Inc()
			}
			s.ackDone = append(s.ackDone, m.Seq)
			if m.QoS == 0 {
				s.sendLocked(raftstore.Delivery{Retain: m.Retain, SubscriptionIDs: m.SubscriptionIDs, Message: m.Message}, 0)
			}
			continue // the pump flushes the acknowledgement
		}
		s.track(id, &flight{seq: m.Seq, qos: m.QoS, received: m.Received, released: m.Received})
		if m.Received {
			s.conn.Send(Outbound{PacketID: id, PubRel: true})
			continue
		}
		s.conn.Send(Outbound{
			PacketID: id, QoS: m.QoS, Retain: m.Retain, Dup: m.Dup,
			SubscriptionIDs: m.SubscriptionIDs, Message: m.Message,
		})
	}
}
