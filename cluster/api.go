package cluster

import (
	"tributary/raftstore"
)

// Conn is the side of a client connection that a Session writes to. wire's
// MQTT connections implement it.
type Conn interface {
	// Send queues an outbound packet for the connection's writer. It never
	// blocks. It returns false when the connection cannot take it (its
	// outbound buffer is full, or it is closing); the session then drops a
	// QoS 0 message (counted) and keeps a QoS 1 or 2 message to send again
	// later.
	Send(o Outbound) bool
	// Kick closes the connection. reason is the MQTT 5 DISCONNECT reason
	// code to send first (0x8E session taken over, 0x8B server shutting
	// down); MQTT 3 connections are just closed.
	Kick(reason byte)
}

// Outbound is one packet a session sends: a PUBLISH, or a PUBREL for an
// outbound QoS 2 message the client has PUBREC'd.
type Outbound struct {
	// PacketID is 0 for QoS 0.
	PacketID uint16
	// PubRel asks for a PUBREL for PacketID instead of the message.
	PubRel bool
	QoS    byte
	Retain bool
	Dup    bool
	// SubscriptionIDs go into the PUBLISH (MQTT 5).
	SubscriptionIDs []uint32
	// Message is shared between the sessions it is delivered to: read only.
	Message *raftstore.Message
}

// ConnectRequest is a CONNECT that passed authentication.
type ConnectRequest struct {
	ClientID        string
	ProtocolVersion byte
	CleanStart      bool
	// ExpirySeconds is the session expiry the client asked for (MQTT 3:
	// 0 for clean session, raftstore.NeverExpires otherwise); Connect caps
	// it to Config.MaxSessionExpiry.
	ExpirySeconds uint32
	// ReceiveMaximum is how many QoS 1 and 2 publishes the client accepts
	// in flight (MQTT 3: 0, meaning the server's default).
	ReceiveMaximum uint16
	Will           *raftstore.Will
}

// ConnectResult is what CONNACK reports.
type ConnectResult struct {
	SessionPresent bool
	// ExpirySeconds is the session expiry granted (MQTT 5 CONNACK reports
	// it when it differs from the request).
	ExpirySeconds uint32
}

// The replicated store's MQTT types, under the names wire uses: wire
// reaches the store only through this package (DESIGN.md, "Packages").
type (
	// Message is an application message, shared by every session it is
	// delivered to.
	Message = raftstore.Message
	// Will is a connection's will message and its delay.
	Will = raftstore.Will
	// Subscription is one entry of a SUBSCRIBE.
	Subscription = raftstore.Subscription
	// PublishResult is the answer to a publish.
	PublishResult = raftstore.PublishResult
	// CloseReason says how a connection ended.
	CloseReason = raftstore.CloseReason
)

// ErrSessionGone answers a Subscribe or Unsubscribe of a connection whose
// session was taken over or ended meanwhile: the connection must close.
var ErrSessionGone = raftstore.ErrSessionGone

// How a connection ended (see raftstore.CloseReason).
const (
	CloseNormal   = raftstore.CloseNormal
	CloseWithWill = raftstore.CloseWithWill
	CloseAbnormal = raftstore.CloseAbnormal
	// NeverExpires is the session expiry of a session that never expires.
	NeverExpires = raftstore.NeverExpires
)
