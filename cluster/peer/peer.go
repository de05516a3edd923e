// Package peer is the node-to-node RPC protocol on the cluster port:
// requests of a few kinds (a proposal forwarded to the raft leader, a QoS 0
// message routed to the node holding its subscribers, a status probe,
// membership requests), multiplexed over one TCP connection per peer,
// answered out of order by request id, with a deadline on every call.
// It knows nothing of raft or MQTT: package cluster gives each kind its
// meaning. wire owns the sockets: a Server is handed a net.Listener of
// connections that already chose this protocol, a Client a dial function.
//
// # Wire format
//
// Every integer is big-endian. length counts the bytes after it, so it is
// 9 + the body's length, and is checked against MaxFrameBytes before
// anything is allocated for the body.
//
//	request: +--------------+-----------+-------------------+------------+
//	         | length (u32) | kind (u8) | request id (u64)  | body       |
//	         +--------------+-----------+-------------------+------------+
//	answer:  +--------------+-----------+-------------------+------------+
//	         | length (u32) | status u8 | request id (u64)  | body/error |
//	         +--------------+-----------+-------------------+------------+
//
// A one-way request (Client.Send) carries id 0 and gets no answer. Status
// 0 is an answer, status 1 an error whose text is the body. Kind 0
// (KindPing) is answered by the server itself; clients ping connections
// that have been quiet, which both keeps them open (the server's
// IdleTimeout) and finds dead peers.
//
// # Concurrency
//
// A Server connection has one reader goroutine, which hands requests to
// their handlers one at a time in arrival order, and one writer goroutine,
// which writes the answers gathered meanwhile in one write. A Client keeps
// one connection per address: a writer goroutine per address (it dials),
// a reader goroutine per open connection. Frames wait in one pooled buffer
// while the writer writes the previous batch, so a burst of small frames
// costs one write.
//
// # Buffers
//
// A handler's body aliases the frame, a pooled buffer that is reused once
// the handler returns. A Call's answer is a fresh slice its done owns.
// Call and Send copy the body before they return, so the caller may reuse
// it.
package peer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind names a request type. Values are part of the protocol: never
// renumber or reuse one.
type Kind uint8

// The kinds package cluster uses.
const (
	// KindPing is answered by the server itself, with an empty answer. A
	// handler cannot be set for it.
	KindPing     Kind = 0
	KindForward  Kind = 1 // a batch of raftstore commands for the leader to propose
	KindDeliver  Kind = 2 // one-way: QoS 0 messages for local sessions
	KindStatus   Kind = 3 // the node's id, applied index and readiness
	KindJoin     Kind = 4 // add a node to the raft configuration
	KindMembers  Kind = 5 // the leader's view of the members
	KindRemove   Kind = 6 // remove a node from the cluster
	KindTransfer Kind = 7 // transfer leadership
)

// Errors a call ends with besides a *RemoteError.
var (
	// ErrNotSent: the request never left this node (dial failed, the
	// connection was already broken, the queue was full, ctx ended before
	// its frame was written): the peer did nothing.
	ErrNotSent = errors.New("peer: request not sent")
	// ErrNoAnswer: the request may have reached the peer, but no answer
	// came (connection lost, deadline): its effect is unknown.
	ErrNoAnswer = errors.New("peer: no answer")
	// ErrClosed: the client or server is closed.
	ErrClosed = errors.New("peer: closed")
	// ErrQueueFull: the requests waiting for the connection's writer hold
	// ClientConfig.MaxQueuedBytes already. It wraps ErrNotSent.
	ErrQueueFull = fmt.Errorf("%w: queue to the peer is full", ErrNotSent)
)

// RemoteError is an error a handler answered (or the server answered for
// it: a handler that panicked or timed out).
type RemoteError struct{ Message string }

func (e *RemoteError) Error() string { return "peer: remote: " + e.Message }

// Handler answers one request. body aliases the frame and is valid until
// the handler returns; reply must be called exactly once (for one-way
// kinds, never), from any goroutine. reply never blocks, and copies resp
// before it returns. A reply after the handler's ctx ended is discarded:
// by then the server has answered that the handler timed out (or the
// connection is gone). Requests of one
// connection are handed to their handlers one at a time, in the order
// they arrived, so a handler that queues work in order keeps the sender's
// order; a handler that blocks holds up its connection's later requests.
//
// ctx carries ServerConfig.HandlerTimeout. A one-way request's ctx is its
// connection's, which ends when the connection closes (there is no answer
// to bound).
type Handler func(ctx context.Context, body []byte, reply func(resp []byte, err error))

// Frame layout.
const (
	lengthBytes = 4
	// headerBytes is what follows the length before the body: kind or
	// status (1) and the request id (8).
	headerBytes = 9
	frameHead   = lengthBytes + headerBytes
)

// Answer statuses.
const (
	statusOK    byte = 0
	statusError byte = 1
)

// maxErrorBytes caps the error text of an answer.
const maxErrorBytes = 4 << 10

// appendFrame appends one frame: b0 is the kind of a request or the
// status of an answer.
func appendFrame(dst []byte, b0 byte, id uint64, body []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(headerBytes+len(body)))
	dst = append(dst, b0)
	dst = binary.BigEndian.AppendUint64(dst, id)
	return append(dst, body...)
}

// frameHeader is a decoded frame head.
type frameHeader struct {
	bodyBytes int
	b0        byte // kind or status
	id        uint64
}

// parseHeader decodes a frame head and checks its length against
// maxBody before the caller allocates anything for the body.
func parseHeader(h *[frameHead]byte, maxBody int) (frameHeader, error) {
	n := binary.BigEndian.Uint32(h[:lengthBytes])
	if n < headerBytes {
		return frameHeader{}, fmt.Errorf("peer: frame length %d below the %d-byte header", n, headerBytes)
	}
	if uint64(n-headerBytes) > uint64(maxBody) {
		return frameHeader{}, fmt.Errorf("peer: frame body of %d bytes exceeds MaxFrameBytes %d", n-headerBytes, maxBody)
	}
	return frameHeader{
		bodyBytes: int(n - headerBytes),
		b0:        h[lengthBytes],
		id:        binary.BigEndian.Uint64(h[lengthBytes+1:]),
	}, nil
}

// errorText is the body of an error answer.
func errorText(err error) []byte {
	s := err.Error()
	if len(s) > maxErrorBytes {
		s = s[:maxErrorBytes]
	}
	return []byte(s)
}
