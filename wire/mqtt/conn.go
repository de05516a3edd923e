package mqtt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"tributary/cluster"
	"tributary/mqttcodec"
)

// phase is where a connection is in its handshake. Only the reader reads
// or writes it.
type phase uint8

const (
	phaseConnect   phase = iota // waiting for CONNECT
	phaseAuth                   // enhanced authentication rounds before CONNACK
	phaseConnected              // CONNACK success sent
)

// connState is the state of a connection's socket and writer, guarded by
// conn.mu.
type connState uint8

const (
	stateOpen    connState = iota
	stateClosing           // the writer flushes what is queued, then closes the socket
	stateClosed            // the socket is closed
)

// conn is one client connection: the MQTT state machine, driven by the
// reader goroutine (serve), and the outbound queue that the session, the
// reader and the commit callbacks fill and a short-lived writer goroutine
// drains. It implements cluster.Conn.
//
// An idle conn is this struct, its socket and one parked goroutine: no
// buffer, no writer, no per-connection logger or context.
type conn struct {
	srv *Server
	nc  net.Conn
	raw syscall.RawConn // nil when nc is not a plain TCP socket
	id  uint64

	// PROXY protocol (proxy.go). proxy is set at accept; remote and
	// pending by the reader before the state machine runs, and remote is
	// read-only after that.
	proxy   proxyTrust
	remote  net.Addr // the PROXY header's source; nil: the socket's peer
	pending []byte   // bytes read with the PROXY header, handled before the next read

	// Set by the reader while connecting and read-only once the CONNACK is
	// queued: the writer and Send see them through mu.
	version     mqttcodec.Version
	clientID    string
	session     *cluster.Session
	maxOutBytes int    // the client's Maximum Packet Size; 0 for none
	aliasOutMax uint16 // aliases the writer may assign

	// Owned by the reader goroutine.
	phase         phase
	overLimit     bool    // accepted past MaxConnections: refuse the CONNECT
	first         [1]byte // the byte a non-socket connection was woken by
	hasFirst      bool
	ready         bool               // peekOnce's answer
	peekNow       func(uintptr) bool // c.peekOnce, made on first use
	stopReading   bool
	closeReason   cluster.CloseReason
	hasNewExpiry  bool
	keepAlive     uint16 // seconds, as negotiated
	connectExpiry uint32 // the CONNECT's Session Expiry Interval
	newExpiry     uint32
	auth          *enhancedAuth // nil without an Authentication Method
	aliasIn       map[uint16]string

	// Owned by whichever writer goroutine runs (one at a time).
	aliasOut *aliasTable

	mu         sync.Mutex
	state      connState
	connacked  bool   // CONNACK queued: PUBLISHes may follow it
	queue      *batch // packets for the writer; nil when empty
	held       *batch // what Send queued before the CONNACK
	outBytes   int    // bytes in queue and held
	writing    bool   // a writer goroutine runs
	writerExit chan struct{}
	acks       ackQueue // acknowledgements of inbound publishes, in order
	inflightIn int      // MQTT 5: QoS 1 and 2 publishes not yet completed [MQTT-3.3.4-9]
	awaitRel   map[uint16]struct{}
	slotFree   chan struct{} // closed when an MQTT 3 reader may publish again
}

func newConn(s *Server, nc net.Conn, id uint64, overLimit bool) *conn {
	return &conn{srv: s, nc: nc, raw: rawConnOf(nc), id: id, overLimit: overLimit,
		closeReason: cluster.CloseAbnormal}
}

// closeError ends a connection. code is the MQTT 5 DISCONNECT reason sent
// first (0: close without one); reason is its Reason String and what the
// log says.
type closeError struct {
	code   mqttcodec.ReasonCode
	reason string
	err    error
}

func (e *closeError) Error() string {
	if e.err != nil {
		return fmt.Sprintf("mqtt: %s: %v", e.reason, e.err)
	}
	return "mqtt: " + e.reason
}

func (e *closeError) Unwrap() error { return e.err }

// protocolViolation closes with code after a rule of clause was broken.
func protocolViolation(code mqttcodec.ReasonCode, clause, what string) error {
	return &closeError{code: code, reason: what + " [" + clause + "]"}
}

// decodeError closes after a decoder refused a packet, with the reason
// code the decoder chose.
func decodeError(t mqttcodec.PacketType, err error) error {
	code := mqttcodec.MalformedPacket
	var re *mqttcodec.ReasonError
	if errors.As(err, &re) {
		code = re.Code
	}
	return &closeError{code: code, reason: "bad " + t.String(), err: err}
}

// errClientDisconnected stops the reader after a DISCONNECT from the
// client or a refused CONNECT: nothing more is read.
var errClientDisconnected = errors.New("mqtt: connection ended by the protocol")

// serve starts the connection's reader. The reader is one goroutine at a
// time, but not always the same one: it handles bursts of packets while
// they keep coming, and when the socket has nothing more to read it hands
// the wait to a fresh goroutine and exits. Handling a packet grows a
// goroutine's stack to several KiB (a PUBLISH reaches down to the
// subscription trie), and the runtime never shrinks a stack below 4 KiB
// once it grew; a fresh goroutine parks in 2 KiB, which is most of what an
// idle connection costs. A busy connection keeps its goroutine, so its
// stack is not grown again per burst. The state passes with the hand-off
// (the go statement orders it).
//
// On a server with ProxyProtocolFrom set, the reader first reads the
// PROXY header, if one comes (readProxyHeader).
func (c *conn) serve() {
	c.debug("mqtt conn accepted")
	accepted := time.Now()
	if err := c.nc.SetReadDeadline(accepted.Add(c.srv.cfg.ConnectTimeout)); err != nil {
		c.finish(err)
		return
	}
	if c.proxy != proxyOff {
		if err := c.readProxyHeaderSafely(accepted); err != nil {
			c.finish(err)
			return
		}
	}
	c.turn()
}

// turn is one reader goroutine: a wait, then bursts for as long as bytes
// are ready.
func (c *conn) turn() {
	wait := true
	for {
		err := c.burstSafely(wait)
		if err != nil || c.stopReading {
			c.finish(err)
			return
		}
		if !c.readableNow() {
			go c.turn()
			return
		}
		wait = false
	}
}

// burstSafely waits for readability (unless told the socket is ready,
// or bytes that came with a PROXY header wait to be handled) and handles
// one burst; a panic in it closes this connection only.
func (c *conn) burstSafely(wait bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = c.panicked("reader", r)
		}
	}()
	if wait && len(c.pending) == 0 {
		if err := c.waitReadable(); err != nil {
			return err
		}
	}
	return c.readBurst()
}

// finish is the reader's last turn: it closes the connection and its
// session.
func (c *conn) finish(err error) {
	defer c.srv.forget(c)
	defer c.recoverPanic("close")
	c.end(err)
}

func (c *conn) recoverPanic(where string) {
	if r := recover(); r != nil {
		_ = c.panicked(where, r)
	}
}

// panicked logs a recovered panic with its stack and cuts the connection.
func (c *conn) panicked(where string, r any) error {
	c.srv.metrics.panics.Inc()
	c.srv.log.Error("mqtt connection panicked; closing it", "conn_id", c.id, "client_id", c.clientID,
		"where", where, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	c.abort()
	return &closeError{reason: "panic in " + where}
}

// end closes the connection after the reader stopped for err. The session
// closes first — the will fires unless the client disconnected normally
// [MQTT-3.1.2-8] — so a client that reconnects once it sees its socket
// close finds the session as this connection left it. Then the writer
// sends what is queued and, for MQTT 5, a DISCONNECT saying why, and
// closes the socket.
func (c *conn) end(err error) {
	code, reason := c.disconnectReason(err)
	if c.session != nil {
		var expiry *uint32
		if c.hasNewExpiry {
			expiry = &c.newExpiry
		}
		c.session.Close(c.closeReason, expiry)
	}
	var final []byte
	if code != 0 && c.version == mqttcodec.V5 && c.phase == phaseConnected {
		final = c.disconnectFrame(code, reason)
	}
	c.closeAfterFlush(final)
	c.debug("mqtt conn closed", "reason", reason, "code", code.String())
}

// disconnectReason picks the DISCONNECT code and the log's reason for the
// error that stopped the reader.
func (c *conn) disconnectReason(err error) (mqttcodec.ReasonCode, string) {
	var ce *closeError
	switch {
	case err == nil || errors.Is(err, errClientDisconnected):
		return 0, "disconnected"
	case errors.As(err, &ce):
		return ce.code, ce.reason
	case errors.Is(err, os.ErrDeadlineExceeded) && c.phase == phaseConnected:
		// 1.5 times the keep alive passed without a packet [MQTT-3.1.2-22]
		// (3.1.1: [MQTT-3.1.2-24]).
		return mqttcodec.KeepAliveTimeout, "keep alive timeout"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return 0, "no CONNECT within ConnectTimeout"
	case errors.Is(err, io.EOF):
		return 0, "connection closed by the client"
	}
	return 0, err.Error()
}

// disconnectFrame encodes a server DISCONNECT, dropping the Reason String
// if the client's Maximum Packet Size demands it.
func (c *conn) disconnectFrame(code mqttcodec.ReasonCode, reason string) []byte {
	d := mqttcodec.Disconnect{ReasonCode: code}
	if reason != "" {
		d.Properties.SetReasonString([]byte(truncate(reason, maxReasonBytes)))
	}
	return c.encodeControl(&d)
}

// maxReasonBytes bounds the Reason Strings the server sends.
const maxReasonBytes = 256

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// encodeControl encodes a control packet the reader sends, fitted to the
// client's Maximum Packet Size by dropping what a sender may drop. It
// returns nil when even that does not fit: the packet is not sent.
func (c *conn) encodeControl(p mqttcodec.Packet) []byte {
	if !mqttcodec.Fit(p, c.maxOutBytes, c.version) {
		return nil
	}
	frame, err := mqttcodec.AppendPacket(make([]byte, 0, p.Size(c.version)), p, c.version, c.maxOutBytes)
	if err != nil {
		if invariants {
			panic(fmt.Sprintf("mqtt: encode %s: %v", p.Type(), err))
		}
		c.srv.warn("mqtt: cannot encode a control packet", "conn_id", c.id, "packet", p.Type().String(), "err", err)
		return nil
	}
	return frame
}

// Send queues an outbound PUBLISH or PUBREL (cluster.Conn). It never
// blocks. It refuses a QoS 0 message once MaxOutboundBytes are queued
// (unless the queue is empty, so one large message still passes), and
// everything once the connection is closing.
func (c *conn) Send(o cluster.Outbound) bool {
	size := outboundSize(&o)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return false
	}
	if !o.PubRel && o.QoS == 0 && c.outBytes > 0 && c.outBytes+size > c.srv.cfg.MaxOutboundBytes {
		c.srv.metrics.outFull.Inc()
		return false
	}
	c.queueLocked(outItem{kind: itemOutbound, ob: o}, size)
	return true
}

// Kick closes the connection (cluster.Conn): queued PUBLISHes are dropped
// (the session resends what was not acknowledged), acknowledgements
// already queued are still written, then MQTT 5 clients get a DISCONNECT
// with reason. Before its CONNACK a connection is just closed: no
// DISCONNECT may precede it [MQTT-3.14.0-1].
func (c *conn) Kick(reason byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	if !c.connacked {
		c.closeSocketLocked()
		return
	}
	c.state = stateClosing
	c.dropPublishesLocked()
	if c.version == mqttcodec.V5 {
		if f := c.disconnectFrame(mqttcodec.ReasonCode(reason), ""); f != nil {
			c.appendLocked(outItem{kind: itemFrame, frame: f}, len(f))
		}
	}
	c.flushOrCloseLocked()
}

// abort closes the socket at once, without flushing.
func (c *conn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeSocketLocked()
}

// closeAfterFlush moves the connection to closing, queues final, and
// waits until the writer has written what is queued and closed the
// socket (a stalled client is cut after WriteTimeout).
func (c *conn) closeAfterFlush(final []byte) {
	c.mu.Lock()
	if c.state == stateOpen {
		c.state = stateClosing
		if final != nil {
			c.appendLocked(outItem{kind: itemFrame, frame: final}, len(final))
		}
	}
	c.flushOrCloseLocked()
	var wait chan struct{}
	if c.writing {
		if c.writerExit == nil {
			c.writerExit = make(chan struct{})
		}
		wait = c.writerExit
	}
	c.mu.Unlock()
	if wait != nil {
		<-wait
	}
}

// flushOrCloseLocked, on a closing connection, starts the writer if there
// is something to write (it closes the socket when done) or closes the
// socket now.
func (c *conn) flushOrCloseLocked() {
	switch {
	case c.state != stateClosing, c.writing:
	case c.queue != nil:
		c.startWriterLocked()
	default:
		c.closeSocketLocked()
	}
}

func (c *conn) closeSocketLocked() {
	if c.state == stateClosed {
		return
	}
	c.state = stateClosed
	_ = c.nc.Close() // the reader and the writer see the close; its error adds nothing
	if c.slotFree != nil {
		close(c.slotFree)
		c.slotFree = nil
	}
}

// opContext bounds a call into the cluster or the Authenticator: it ends
// at server shutdown or after d.
func (c *conn) opContext(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.srv.ctx, d)
}

// debug logs a lifecycle event with the connection's fixed keys, only
// when Debug is enabled (building the address string costs).
func (c *conn) debug(msg string, args ...any) {
	log := c.srv.log
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	args = append(args, "conn_id", c.id, "client_id", c.clientID,
		"remote_addr", c.remoteAddr().String(), "proto", c.version.String())
	log.Debug(msg, args...)
}
