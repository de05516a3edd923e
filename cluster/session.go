package cluster

import (
	"context"
	"sync"

	"tributary/raftstore"
)

// Session is one local connection's hold on its MQTT session. The
// connection's reader calls its methods; deliveries come from the store's
// events and from QoS 0 routing, and leave through the Conn.
//
// Outbound QoS 1 and 2 messages of a persistent session come from its
// durable queue, with packet ids derived from the queue sequence
// (raftstore.PacketIDOf), so a resend after a takeover or a restart
// carries the same ids. A session without persistence delivers them from
// memory, with ids it allocates itself.
type Session struct {
	node       *Node
	conn       Conn
	clientID   string
	version    byte
	persistent bool
	window     int // QoS 1/2 messages in flight at most

	// gen, early and kickLater are guarded by node.mu until start; gen is
	// read-only afterwards.
	gen       uint64
	early     []raftstore.Event
	kickLater bool

	closeDone chan struct{} // closed when Close has finished

	mu       sync.Mutex
	closed   bool
	kicked   bool
	holding  int                  // Subscribe calls waiting to SUBACK
	held     []raftstore.Delivery // deliveries waiting for holding to end
	inflight map[uint16]*flight
	// Memory path (sessions without persistence).
	pending []raftstore.Delivery
	nextID  uint16
	// Queue path (persistent sessions).
	pumping     bool
	again       bool
	readThrough uint64                    // highest queue seq read
	backlog     []raftstore.QueuedMessage // read, not sent yet
	sentThrough uint64
	// Acknowledgements waiting to be proposed; one proposal at a time.
	ackDone []uint64
	ackRecv []uint64
	acking  bool
}

// flight is a QoS 1 or 2 message sent and not yet acknowledged.
type flight struct {
	seq      uint64 // queue sequence; 0 on the memory path
	qos      byte
	received bool // PUBREC seen (QoS 2)
	released bool // PUBREL sent: the PUBREC is durable (or needs not be)
}

func newSession(n *Node, req ConnectRequest, expiry uint32, conn Conn) *Session {
	window := n.cfg.MaxInflightMessages
	if req.ReceiveMaximum > 0 {
		window = min(window, int(req.ReceiveMaximum))
	}
	return &Session{
		node:       n,
		conn:       conn,
		clientID:   req.ClientID,
		version:    req.ProtocolVersion,
		persistent: expiry > 0,
		window:     window,
		closeDone:  make(chan struct{}),
	}
}

// ClientID returns the session's client identifier.
func (s *Session) ClientID() string { return s.clientID }

// Generation returns the connection's generation of the session.
func (s *Session) Generation() uint64 { return s.gen }

// park keeps an event that arrived while the session was opening. Called
// with node.mu held.
func (s *Session) park(ev raftstore.Event) {
	if len(s.early) < s.node.cfg.MaxQueuedMessages {
		s.early = append(s.early, ev)
	}
}

// takeEarly returns the parked events of generation gen. Called with
// node.mu held.
func (s *Session) takeEarly(gen uint64) []raftstore.Event {
	var keep []raftstore.Event
	for _, ev := range s.early {
		if ev.Generation == 0 || ev.Generation == gen {
			keep = append(keep, ev)
		}
	}
	s.early = nil
	return keep
}

// start begins delivery once the session is open: the events that arrived
// meanwhile, then (persistent sessions) everything unacknowledged in the
// queue, resent with DUP.
func (s *Session) start(early []raftstore.Event) {
	s.node.mu.Lock()
	lost := s.kickLater
	s.node.mu.Unlock()
	if lost {
		s.kick(reasonSessionTakenOver)
		return
	}
	for _, ev := range early {
		if ev.Kind == raftstore.EventDeliver {
			s.deliver(ev.Delivery)
		}
	}
	s.wake()
}

// Publish takes a message the client published. The session owns m from
// now on: the caller must not change it, and its byte slices must not
// alias a buffer the caller reuses.
//
// QoS 0 is delivered from memory before Publish returns, and done (if not
// nil) is called then; a retained QoS 0 message, or one whose topic is
// mapped to a Kafka topic, is also proposed to the log in the background
// (to update the retained store, to append its Kafka record), and is lost
// there if this node dies before the commit, as QoS 0 allows [DESIGN.md:
// The Kafka view]. QoS 1 and 2 are proposed to
// the log, and done is called once, after the commit, on another goroutine
// — the moment to send PUBACK or PUBREC. A packetID of a QoS 2 message is
// recorded until Release, so a resend is not routed twice [MQTT-4.3.3-2].
func (s *Session) Publish(ctx context.Context, m raftstore.Message, packetID uint16, done func(raftstore.PublishResult, error)) error {
	m.PublisherID = s.clientID
	if m.QoS == 0 {
		matched := s.node.routeQoS0(&m)
		switch {
		case m.Retain:
			s.proposeRetained(m)
		case s.node.store.MappedToKafka(m.Topic):
			s.proposeDelivered(m)
		}
		if done != nil {
			done(raftstore.PublishResult{Matched: matched}, nil)
		}
		return nil
	}
	req := raftstore.PublishRequest{ClientID: s.clientID, Message: m, NowMillis: s.node.nowMillis()}
	if m.QoS == 2 {
		req.PacketID = packetID
	}
	return s.node.store.PublishAsync(ctx, req, done)
}

// proposeRetained records a retained QoS 0 message already delivered from
// memory (and appends its Kafka record when mapped). It is proposed at
// once, not batched: the retained store must keep the order of a
// publisher's retained messages whatever their QoS, and QoS 1 and 2 go
// straight to the proposer too. It waits only while the proposal queue is
// full; a failure is logged, as QoS 0 allows.
func (s *Session) proposeRetained(m raftstore.Message) {
	err := s.node.store.PublishAsync(s.node.life, raftstore.PublishRequest{
		ClientID: s.clientID, Message: m, AlreadyDelivered: true, NowMillis: s.node.nowMillis(),
	}, s.node.logRetainedFailure)
	if err != nil {
		s.node.log.Warn("retained QoS 0 message not stored", "client_id", s.clientID, "err", err)
	}
}

// logRetainedFailure completes proposeRetained: one function for every
// message, not a closure each.
func (n *Node) logRetainedFailure(_ raftstore.PublishResult, err error) {
	if err != nil {
		n.log.Warn("retained QoS 0 message not stored", "err", err)
	}
}

// proposeDelivered records a QoS 0 message already delivered from memory
// whose topic is mapped to Kafka: apply appends its record and routes it
// to no one again. It is best effort, as QoS 0 is: a failure is logged.
// Messages leave in batches (delivered.go); it waits only while
// maxDeliveredPending messages wait, which slows a QoS 0 publisher down to
// what the log takes rather than drop its records. A publisher's QoS 0
// records stay in order among themselves, but may reach Kafka after a
// later QoS 1, 2 or retained message of the same publisher.
func (s *Session) proposeDelivered(m raftstore.Message) {
	r := raftstore.PublishRequest{ClientID: s.clientID, Message: m, AlreadyDelivered: true, NowMillis: s.node.nowMillis()}
	if !s.node.delivered.add(r) {
		s.node.log.Warn("QoS 0 message not stored: the node is closing", "client_id", s.clientID)
	}
}

// Release forgets an inbound QoS 2 packet id (PUBREL); done is called after
// the commit, the moment to send PUBCOMP.
func (s *Session) Release(ctx context.Context, packetID uint16, done func(error)) error {
	return s.node.store.ReleaseInboundAsync(ctx, s.clientID, packetID, done)
}

// Subscribe adds subscriptions and waits for their commit. suback, when not
// nil, is called after the commit and before any retained message of the
// new subscriptions is handed to the Conn, so the SUBACK is written first.
func (s *Session) Subscribe(ctx context.Context, subs []raftstore.Subscription, suback func()) error {
	s.mu.Lock()
	s.holding++
	s.mu.Unlock()
	res, err := s.node.store.Subscribe(ctx, raftstore.SubscribeRequest{
		ClientID: s.clientID, Generation: s.gen, Subscriptions: subs, NowMillis: s.node.nowMillis(),
	})
	if err == nil && suback != nil {
		suback()
	}
	s.mu.Lock()
	s.holding--
	var held []raftstore.Delivery
	if s.holding == 0 {
		held, s.held = s.held, nil
	}
	s.mu.Unlock()
	if err == nil {
		for _, d := range res.Retained {
			s.deliver(d)
		}
	}
	for _, d := range held {
		s.deliver(d)
	}
	s.wake()
	return err
}

// Unsubscribe removes subscriptions and reports, per filter, whether it
// existed.
func (s *Session) Unsubscribe(ctx context.Context, filters []string) ([]bool, error) {
	return s.node.store.Unsubscribe(ctx, raftstore.UnsubscribeRequest{
		ClientID: s.clientID, Generation: s.gen, Filters: filters,
	})
}

// kick closes the connection once.
func (s *Session) kick(reason byte) {
	s.mu.Lock()
	if s.kicked {
		s.mu.Unlock()
		return
	}
	s.kicked = true
	s.mu.Unlock()
	s.conn.Kick(reason)
}

// Close ends the connection's hold on the session: reason says whether the
// will fires, newExpiry (MQTT 5 DISCONNECT) replaces the session expiry.
// It waits for the close to commit (bounded by Config.ProposeTimeout); a
// close that cannot commit is left to the node's restart or to the next
// connection of the client. Idempotent.
func (s *Session) Close(reason raftstore.CloseReason, newExpiry *uint32) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.pending, s.held, s.backlog = nil, nil, nil
	sent := s.sentThrough
	s.mu.Unlock()
	s.node.remove(s)
	defer s.node.closedDone(s)
	s.flushAcks()
	if s.gen == 0 {
		return
	}
	c := raftstore.SessionClose{
		ClientID: s.clientID, Generation: s.gen, Reason: reason,
		SentThroughSeq: sent, NowMillis: s.node.nowMillis(),
	}
	if newExpiry != nil {
		c.HasNewExpiry, c.NewExpiry = true, s.node.capExpiry(*newExpiry)
	}
	ctx, cancel := s.node.proposeContext()
	defer cancel()
	if err := s.node.store.CloseSession(ctx, c); err != nil {
		s.node.log.Warn("session close not recorded", "client_id", s.clientID, "err", err)
	}
}
