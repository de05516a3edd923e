package raftstore

import (
	"errors"
)

// The MQTT state: sessions, subscriptions, per-session queues, retained
// messages, inbound QoS 2 packet ids and the timers of wills and session
// expiry. Every change is a command in the log; subscription matching and
// queue fan-out happen at apply (DESIGN.md, "Sessions, queues and packet
// ids"). The types below are what cluster proposes and reads; times are
// Unix milliseconds chosen by the proposer, never read from a clock at
// apply.

// NeverExpires is the session expiry interval, in seconds, of a session that
// never expires (MQTT 5's 0xFFFFFFFF).
const NeverExpires uint32 = 0xFFFFFFFF

// Message is one application message, as stored once however many queues
// reference it.
type Message struct {
	// Topic is the topic name it was published to (never an alias).
	Topic string
	// Payload is the application payload.
	Payload []byte
	// QoS and Retain are as published.
	QoS    byte
	Retain bool
	// Properties is the MQTT 5 property section (mqttcodec's
	// AppendPropertySection form, length prefix included) passed through to
	// subscribers unchanged: payload format, content type, response topic,
	// correlation data, user properties. It never holds a topic alias,
	// subscription identifiers or the message expiry interval; nil when
	// there are none.
	Properties []byte
	// ExpiresAtMillis is when the message expires (Unix ms), 0 for never.
	// Deliveries carry the time left; an expired message is never delivered.
	ExpiresAtMillis int64
	// PublisherID is the client identifier of the publisher, for No Local:
	// a will carries the client id of its session (set when it fires), a
	// message from Kafka "".
	PublisherID string
}

// Will is a session's will message and its delay.
type Will struct {
	// Message is published when the will fires; its ExpiresAtMillis is
	// ignored and recomputed from ExpirySeconds at that time.
	Message Message
	// ExpirySeconds is the will's Message Expiry Interval, 0 for none.
	ExpirySeconds uint32
	// DelaySeconds is the Will Delay Interval (MQTT 5): the will fires this
	// long after the connection ends, or when the session ends, whichever
	// comes first, unless the client reconnects in between.
	DelaySeconds uint32
}

// SessionOpen is a connection's claim on a client identifier.
type SessionOpen struct {
	ClientID string
	// Node is the ID of the node that holds the connection.
	Node string
	// CleanStart discards any existing session (MQTT 3 clean session, MQTT 5
	// clean start).
	CleanStart bool
	// ExpirySeconds is how long the session outlives its connection: 0 ends
	// it with the connection, NeverExpires never. The proposer has already
	// capped it to the configured maximum.
	ExpirySeconds uint32
	// ProtocolVersion is the MQTT protocol level (3, 4 or 5).
	ProtocolVersion byte
	// MaxQueuedMessages bounds the messages queued for this session; a
	// publish that finds the queue full is not queued for it (counted as a
	// drop). The proposer passes the configured limit, so apply stays
	// deterministic when the configuration changes.
	MaxQueuedMessages uint32
	// Will is the connection's will, nil for none.
	Will *Will
	// NowMillis is the proposer's clock.
	NowMillis int64
}

// SessionOpened is apply's answer to SessionOpen.
type SessionOpened struct {
	// Present reports that an existing session was resumed (CONNACK's
	// session present flag).
	Present bool
	// Generation identifies this connection's hold on the session; later
	// commands of the connection carry it, and apply ignores or refuses
	// commands of an older generation.
	Generation uint64
	// TakenOver is true when a connection of the session was still open:
	// PreviousNode must close the connection of PreviousGeneration.
	TakenOver          bool
	PreviousNode       string
	PreviousGeneration uint64
}

// CloseReason says how a connection ended.
type CloseReason byte

const (
	// CloseNormal is a DISCONNECT with reason 0x00: the will is discarded.
	CloseNormal CloseReason = iota
	// CloseWithWill is a DISCONNECT with reason 0x04 (MQTT 5).
	CloseWithWill
	// CloseAbnormal is a connection lost without DISCONNECT (or closed for a
	// protocol error, keep alive, takeover by a newer connection is NOT
	// one: a takeover never publishes the will of the old connection when
	// the session continues [MQTT-3.1.4-3] — the new connection's open does
	// that). The will fires.
	CloseAbnormal
)

// SessionClose ends a connection's hold on its session.
type SessionClose struct {
	ClientID   string
	Generation uint64
	Reason     CloseReason
	// NewExpiry, when HasNewExpiry, replaces the session expiry interval
	// (MQTT 5 DISCONNECT).
	HasNewExpiry bool
	NewExpiry    uint32
	// SentThroughSeq is the highest queue sequence number the connection
	// sent; a later connection resends those with DUP set.
	SentThroughSeq uint64
	NowMillis      int64
}

// Subscription is one entry of a SUBSCRIBE.
type Subscription struct {
	// Filter is the topic filter as given, including a $share/group/
	// prefix. The proposer has validated it.
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	// RetainHandling is 0 (send retained messages), 1 (only when the
	// subscription is new) or 2 (never).
	RetainHandling byte
	// SubscriptionID is the MQTT 5 subscription identifier, 0 for none.
	SubscriptionID uint32
}

// SubscribeRequest adds or replaces subscriptions of a session.
type SubscribeRequest struct {
	ClientID      string
	Generation    uint64
	Subscriptions []Subscription
	NowMillis     int64
}

// SubscribeResult is apply's answer to SubscribeRequest.
type SubscribeResult struct {
	// Retained holds the retained messages to send now for a session
	// without persistence (a persistent session has them in its queue,
	// announced by an EventQueued).
	Retained []Delivery
}

// UnsubscribeRequest removes subscriptions of a session.
type UnsubscribeRequest struct {
	ClientID   string
	Generation uint64
	Filters    []string
}

// PublishRequest is a message entering the broker through the log: every
// QoS 1 and 2 publish, every retained publish and every will.
type PublishRequest struct {
	// ClientID is the publisher's client identifier ("" for a message from
	// Kafka). It is the Message's PublisherID when that is empty.
	ClientID string
	// PacketID is the inbound QoS 2 packet identifier: while it is recorded
	// for ClientID (until ReleaseInbound), a publish with the same id is a
	// duplicate and is not routed again [MQTT-4.3.3-2]. 0 for QoS 0 and 1.
	PacketID uint16
	Message  Message
	// AlreadyDelivered is set for a retained QoS 0 publish that the
	// proposer already delivered to online subscribers: apply updates the
	// retained message only.
	AlreadyDelivered bool
	NowMillis        int64
}

// PublishResult is apply's answer to PublishRequest.
type PublishResult struct {
	// Matched counts the deliveries made: sessions the message was queued
	// for or announced to (EventDeliver), one per session for its
	// non-shared subscriptions and one per matching shared subscription.
	// Drops (a full queue, QoS 0 for a session not connected) do not count.
	// 0 is MQTT 5's 0x10 No matching subscribers.
	Matched int
	// Duplicate reports a QoS 2 packet id already recorded: the message was
	// not routed again.
	Duplicate bool
}

// QueueAck acknowledges queued messages of a persistent session.
type QueueAck struct {
	ClientID   string
	Generation uint64
	// Done removes these queue entries: PUBACK of QoS 1, PUBCOMP of QoS 2,
	// and QoS 0 entries once written to the connection.
	Done []uint64
	// Received marks these QoS 2 entries as PUBREC'd, so a resend sends
	// PUBREL, not the PUBLISH.
	Received []uint64
}

// QueuedMessage is one entry of a persistent session's queue.
type QueuedMessage struct {
	// Seq is the entry's sequence number; its outbound packet id is
	// PacketIDOf(Seq).
	Seq uint64
	// QoS is the delivery QoS (min of publish and subscription).
	QoS byte
	// Retain is the RETAIN flag to deliver with.
	Retain bool
	// Dup is set when the entry may have been sent before.
	Dup bool
	// Received is set when the client has PUBREC'd it (QoS 2): send PUBREL.
	Received bool
	// SubscriptionIDs are the identifiers of every matching subscription.
	SubscriptionIDs []uint32
	Message         *Message
}

// Delivery is a message delivered from memory by the node that holds the
// session's connection: any message for a session without persistence, and
// QoS 0 for a connected persistent one (QoS 0 is never queued).
type Delivery struct {
	QoS             byte
	Retain          bool
	SubscriptionIDs []uint32
	Message         *Message
}

// PacketIDOf is the outbound packet identifier of queue sequence number
// seq: seq mod 65535, plus 1. A new owner of the session derives the same
// ids without any write at send time.
func PacketIDOf(seq uint64) uint16 { return uint16(seq%65535) + 1 }

// EventKind names what an applied command changed that a node must act on.
type EventKind byte

const (
	// EventQueued: a connected persistent session's queue grew to Seq
	// (one event per session per raft entry, with the last Seq; none
	// for a session not connected, whose next connection reads the queue).
	EventQueued EventKind = iota + 1
	// EventDeliver: Delivery is for ClientID's in-memory session.
	EventDeliver
	// EventTakenOver: the connection Generation of ClientID on Node must
	// close (MQTT 5 DISCONNECT 0x8E).
	EventTakenOver
	// EventSessionEnded: the session Generation of ClientID no longer
	// exists (expired, or ended by a clean start elsewhere; a session that
	// ends with its own close, expiry 0, raises none), or its connection
	// on Node was ended because Node was marked down or forgotten
	// (MarkNodeDown, ForgetNode: the session itself may live on,
	// disconnected). Node is the last node that held it; a node holding
	// that generation must drop the connection.
	EventSessionEnded
)

// Event is one effect of an applied command. Events reach Config.OnEvents
// after the Pebble batch that holds their cause has committed.
type Event struct {
	Kind       EventKind
	ClientID   string
	Node       string
	Generation uint64
	Seq        uint64
	Delivery   Delivery
}

// SessionInfo is a session's replicated state, as read by a node.
type SessionInfo struct {
	ClientID      string
	Node          string
	Generation    uint64
	Connected     bool
	ExpirySeconds uint32
	Persistent    bool
}

// Route is one session a publish matches, with the overlapping non-shared
// subscriptions of that session merged: the highest QoS (the sender takes
// the minimum with the message's), every subscription identifier, No
// Local and Retain As Published as the matching subscriptions say
// [MQTT-3.3.4-2, MQTT-3.3.4-3]. Each matching shared subscription gives a
// Route of its own, to the one member chosen for the message.
type Route struct {
	ClientID          string
	Node              string
	Generation        uint64
	Connected         bool
	Persistent        bool
	QoS               byte
	RetainAsPublished bool
	SubscriptionIDs   []uint32
}

// ErrSessionGone answers a command whose generation no longer holds the
// session (taken over, or expired): the connection must close.
var ErrSessionGone = errors.New("raftstore: session taken over or ended")

// The Store methods below are the MQTT state's API (mqtt_store.go). Each
// command method proposes one command and waits for its commit (ctx
// bounds the wait); the Async forms queue it and call done once, on the
// proposer's goroutine, so done must not block. Read methods read this
// node's applied state.
//
//	func (s *Store) OpenSession(ctx context.Context, o SessionOpen) (SessionOpened, error)
//	func (s *Store) CloseSession(ctx context.Context, c SessionClose) error
//	func (s *Store) Subscribe(ctx context.Context, r SubscribeRequest) (SubscribeResult, error)
//	func (s *Store) Unsubscribe(ctx context.Context, r UnsubscribeRequest) (existed []bool, err error)
//	func (s *Store) PublishAsync(ctx context.Context, r PublishRequest, done func(PublishResult, error)) error
//	func (s *Store) Publish(ctx context.Context, r PublishRequest) (PublishResult, error)
//	func (s *Store) ReleaseInboundAsync(ctx context.Context, clientID string, packetID uint16, done func(error)) error
//	func (s *Store) AckQueueAsync(ctx context.Context, a QueueAck, done func(error)) error
//	func (s *Store) Tick(ctx context.Context, nowMillis int64) error
//	func (s *Store) NextDeadline() (millis int64, ok bool)
//	func (s *Store) ReadQueue(clientID string, afterSeq uint64, max int) ([]QueuedMessage, error)
//	func (s *Store) Session(clientID string) (SessionInfo, bool, error)
//	func (s *Store) ConnectedSessions(node string) ([]SessionInfo, error)
//	func (s *Store) Match(topic, publisherID string, fn func(Route))
