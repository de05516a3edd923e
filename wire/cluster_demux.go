package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// ClusterRPCByte is the first byte of a forwarding-RPC connection on the
// cluster port (DialRPC writes it); a connection that starts with any
// other byte is a raft stream.
//
// It cannot collide with raft: hashicorp/raft's NetworkTransport (v1.8.0,
// net_transport.go) writes, as the first byte of every request on every
// connection it dials, the request's type (sendRPC: conn.w.WriteByte),
// and the types are
//
//	rpcAppendEntries uint8 = iota // 0
//	rpcRequestVote                // 1
//	rpcInstallSnapshot            // 2
//	rpcTimeoutNow                 // 3
//	rpcRequestPreVote             // 4
//
// so raft's first byte is 0..4; 0xC7 leaves room for raft to add types
// for a long while. A test dials through this listener with a real
// NetworkTransport and checks where every kind of request lands. 0xC7 is
// also no first byte of TLS (0x16), HTTP or PROXY protocol, so a client
// pointed at the wrong port lands on the raft side, which refuses it.
const ClusterRPCByte byte = 0xC7

// proto is the side of the cluster port a connection is routed to; it
// indexes the per-side counters and labels them.
type proto uint8

const (
	protoRaft proto = iota
	protoRPC
	numProtos
)

func (p proto) String() string {
	if p == protoRPC {
		return "rpc"
	}
	return "raft"
}

// The demultiplexer. One goroutine accepts TCP connections and enforces
// MaxConns; each admitted connection then gets a goroutine of its own
// (route) that reads its first byte within FirstByteTimeout and hands it,
// over an unbuffered channel, to an Accept of its side within
// HandoffTimeout. So a peer that stays silent costs only its own
// goroutine, and a side nobody accepts from costs at most MaxConns
// goroutines, each for at most the two timeouts: nothing is queued.
//
// Raft dials and writes its first request at once, except for a
// replication pipeline, whose first AppendEntries follows within the raft
// CommitTimeout (milliseconds): far inside FirstByteTimeout.

// acceptLoop accepts until the listener is closed (or fails for good,
// which Accept then reports).
func (l *ClusterListener) acceptLoop() {
	defer l.running.Done()
	l.acceptErr = AcceptLoop(l.ln, l.admit, l.warned.Warn)
	close(l.acceptDone) // publishes acceptErr to the Accept calls
}

// admit applies MaxConns to a freshly accepted connection and starts its
// router. The slot it takes is freed when the connection is closed, by
// whoever holds it then.
func (l *ClusterListener) admit(nc net.Conn) {
	if n := l.open.Add(1); n > int64(l.cfg.MaxConns) {
		l.open.Add(-1)
		l.rejected.Inc()
		l.log.Debug("cluster conn rejected: too many open", "remote_addr", nc.RemoteAddr().String(), "max_conns", l.cfg.MaxConns)
		_ = nc.Close() // nothing was sent on it; its error tells us nothing
		return
	}
	setNoDelay(nc)
	l.accepted.Inc()
	l.log.Debug("cluster conn accepted", "remote_addr", nc.RemoteAddr().String())
	c := &clusterConn{Conn: nc, l: l}
	c.replay.Store(noReplay)
	l.running.Add(1) // the accept goroutine is counted, so Close's Wait cannot miss this
	go l.route(c)
}

// route reads c's first byte and hands c to the side it names.
func (l *ClusterListener) route(c *clusterConn) {
	defer l.running.Done()
	first, err := l.readFirstByte(c.Conn)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			l.timedOut.Inc()
			l.log.Debug("cluster conn closed: no first byte in time", "remote_addr", c.RemoteAddr().String(),
				"timeout", l.cfg.FirstByteTimeout)
		} else {
			l.log.Debug("cluster conn closed before its first byte", "remote_addr", c.RemoteAddr().String(), "err", err)
		}
		_ = c.Close()
		return
	}
	p := protoRPC
	if first != ClusterRPCByte {
		p = protoRaft
		c.replay.Store(int32(first)) // published to the acceptor by the channel send
	}
	l.routed[p].Inc()
	l.handOff(c, p)
}

// errRouteClosed ends a first-byte read cut short by Close.
var errRouteClosed = fmt.Errorf("wire: cluster port closing: %w", net.ErrClosed)

// readFirstByte reads one byte from nc within FirstByteTimeout, or until
// Close, which moves the deadline into the past to cut the wait.
func (l *ClusterListener) readFirstByte(nc net.Conn) (byte, error) {
	if err := nc.SetReadDeadline(time.Now().Add(l.cfg.FirstByteTimeout)); err != nil {
		return 0, fmt.Errorf("wire: cluster first byte: %w", err)
	}
	// Registered after the deadline above, so Close's deadline always
	// comes last and wins.
	stop := context.AfterFunc(l.ctx, func() { _ = nc.SetReadDeadline(time.Unix(1, 0)) })
	var b [1]byte
	_, err := io.ReadFull(nc, b[:])
	if !stop() {
		return 0, errRouteClosed // Close has begun: the result does not matter
	}
	if err != nil {
		return 0, fmt.Errorf("wire: cluster first byte: %w", err)
	}
	if err := nc.SetReadDeadline(time.Time{}); err != nil {
		return 0, fmt.Errorf("wire: cluster first byte: %w", err)
	}
	return b[0], nil
}

// handOff gives c to an Accept of side p, or closes it if none takes it
// within HandoffTimeout, the side is closed, or the listener is.
func (l *ClusterListener) handOff(c *clusterConn, p proto) {
	conns, sideClosed := l.raftConns, (<-chan struct{})(nil)
	if p == protoRPC {
		conns, sideClosed = l.rpc.conns, l.rpc.closed
	}
	t := time.NewTimer(l.cfg.HandoffTimeout)
	defer t.Stop()
	why := "closed"
	select {
	case conns <- c:
		return
	case <-t.C:
		why = "no Accept within HandoffTimeout"
	case <-sideClosed:
	case <-l.ctx.Done():
	}
	l.dropped[p].Inc()
	l.log.Debug("cluster conn dropped", "remote_addr", c.RemoteAddr().String(), "proto", p.String(), "reason", why)
	_ = c.Close()
}

// acceptFrom is Accept of side p: it takes the next connection handed to
// conns, until the listener or the side (sideClosed; nil for raft, which
// closes only with the listener) is closed.
func (l *ClusterListener) acceptFrom(conns <-chan net.Conn, sideClosed <-chan struct{}, p proto) (net.Conn, error) {
	select {
	case c := <-conns:
		if l.ctx.Err() == nil && !isClosed(sideClosed) {
			return c, nil
		}
		// Close raced with the hand-off: after Close, Accept returns
		// nothing more.
		l.dropped[p].Inc()
		_ = c.Close()
	case <-l.ctx.Done():
	case <-sideClosed:
	case <-l.acceptDone:
		if l.acceptErr != nil {
			return nil, fmt.Errorf("wire: cluster %s accept: %w", p, l.acceptErr)
		}
	}
	return nil, fmt.Errorf("wire: cluster %s accept: %w", p, net.ErrClosed)
}

// isClosed reports whether ch is closed; a nil ch never is.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// rpcListener is the RPC side of a ClusterListener (see RPC).
type rpcListener struct {
	l         *ClusterListener
	conns     chan net.Conn // unbuffered, like raftConns
	closed    chan struct{}
	closeOnce sync.Once
}

// Accept waits for the next inbound RPC connection, its ClusterRPCByte
// already consumed. After the RPC side or the whole listener is closed it
// returns an error wrapping net.ErrClosed.
func (r *rpcListener) Accept() (net.Conn, error) {
	return r.l.acceptFrom(r.conns, r.closed, protoRPC)
}

// Close stops the RPC side only; see ClusterListener.RPC. A second Close
// returns an error wrapping net.ErrClosed, as a TCP listener's does.
func (r *rpcListener) Close() error {
	err := fmt.Errorf("wire: cluster rpc close: %w", net.ErrClosed)
	r.closeOnce.Do(func() {
		close(r.closed)
		err = nil
	})
	return err
}

// Addr returns the cluster port's address.
func (r *rpcListener) Addr() net.Addr { return r.l.Addr() }

// noReplay marks a clusterConn with no byte to replay.
const noReplay = -1

// clusterConn is an inbound connection of the cluster port. It releases
// its MaxConns slot exactly once when closed, and a raft connection
// returns its first byte, which routing read, from its first Read.
type clusterConn struct {
	net.Conn
	l      *ClusterListener
	once   sync.Once
	replay atomic.Int32 // the byte still to return, or noReplay
}

// Read returns the routed first byte, alone, if it was not returned yet;
// then reads from the socket.
func (c *clusterConn) Read(p []byte) (int, error) {
	if len(p) > 0 && c.replay.Load() != noReplay {
		if b := c.replay.Swap(noReplay); b != noReplay {
			p[0] = byte(b)
			return 1, nil
		}
	}
	return c.Conn.Read(p) // unwrapped: io.EOF must reach the caller as is
}

// Close closes the connection and frees its slot.
func (c *clusterConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.open.Add(-1)
		c.l.log.Debug("cluster conn closed", "remote_addr", c.RemoteAddr().String())
	})
	if err != nil {
		return fmt.Errorf("wire: cluster conn close: %w", err)
	}
	return nil
}

// NetConn returns the underlying TCP connection, as tls.Conn.NetConn does,
// for callers that need socket options or zero-copy paths. Reading from
// it directly skips a raft connection's first byte if Read has not
// returned it yet, and closing it directly would leak the MaxConns slot;
// use the clusterConn for both.
func (c *clusterConn) NetConn() net.Conn { return c.Conn }
