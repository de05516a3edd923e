package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"
)

// ServerConfig configures a Server. Zero values mean defaults, never
// "unlimited".
type ServerConfig struct {
	// MaxFrameBytes bounds one request's body, and one answer's: a larger
	// length prefix closes the connection, a larger answer is replaced by
	// an error. Default 64 MiB.
	MaxFrameBytes int
	// MaxPendingRequests bounds the requests of one connection handed to
	// handlers and not answered yet; past it the connection's reader waits
	// (and TCP pushes back on the sender). Default 4096.
	MaxPendingRequests int
	// HandlerTimeout is the deadline of each handler's ctx; a handler that
	// has not replied by then is answered with an error. Default 30s.
	HandlerTimeout time.Duration
	// IdleTimeout closes a connection that sends nothing for that long.
	// Default 5m (clients ping quiet connections every PingInterval).
	IdleTimeout time.Duration
	// WriteTimeout bounds writing a batch of answers. Default 10s.
	WriteTimeout time.Duration
	// Logger receives connection lifecycle at Debug and bad frames at
	// Warn; nil discards.
	Logger *slog.Logger
}

// Defaults of ServerConfig and ClientConfig.
const (
	DefaultMaxFrameBytes      = 64 << 20
	DefaultMaxPendingRequests = 4096
	DefaultHandlerTimeout     = 30 * time.Second
	DefaultIdleTimeout        = 5 * time.Minute
	DefaultWriteTimeout       = 10 * time.Second
)

// readBufferBytes is the read buffer of a connection: a batch of small
// frames is read in one system call. Cluster connections are few (one per
// peer and direction), so it is kept for the connection's life.
const readBufferBytes = 32 << 10

func (c ServerConfig) withDefaults() ServerConfig {
	setDefault(&c.MaxFrameBytes, DefaultMaxFrameBytes)
	setDefault(&c.MaxPendingRequests, DefaultMaxPendingRequests)
	setDefault(&c.HandlerTimeout, DefaultHandlerTimeout)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of c at once. NewServer replaces a value
// that is not positive by its default, so cmd calls Validate first.
func (c ServerConfig) Validate() error {
	var errs []error
	if c.MaxFrameBytes < 0 || c.MaxFrameBytes > maxFrameLimit {
		errs = append(errs, fmt.Errorf("peer: ServerConfig.MaxFrameBytes %d is outside [1, %d]", c.MaxFrameBytes, maxFrameLimit))
	}
	if c.MaxPendingRequests < 0 {
		errs = append(errs, fmt.Errorf("peer: ServerConfig.MaxPendingRequests is negative (%d)", c.MaxPendingRequests))
	}
	if c.HandlerTimeout < 0 || c.IdleTimeout < 0 || c.WriteTimeout < 0 {
		errs = append(errs, errors.New("peer: ServerConfig timeouts must not be negative"))
	}
	return errors.Join(errs...)
}

// maxFrameLimit is the largest body a u32 length prefix can announce.
const maxFrameLimit = 1<<32 - 1 - headerBytes

func setDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Server answers requests on the connections of one or more listeners.
type Server struct {
	cfg      ServerConfig
	log      *slog.Logger
	metrics  *serverMetrics
	handlers [256]Handler
	served   atomic.Bool // Serve was called: handlers are fixed

	mu     sync.Mutex
	closed bool
	lns    map[net.Listener]struct{}
	conns  map[*serverConn]struct{}
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

// NewServer returns a server with no handlers.
func NewServer(cfg ServerConfig) *Server {
	cfg = cfg.withDefaults()
	return &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: newServerMetrics(),
		lns:     make(map[net.Listener]struct{}),
		conns:   make(map[*serverConn]struct{}),
		done:    make(chan struct{}),
	}
}

// Handle sets the handler of kind; call it before Serve. Setting one for
// KindPing, or after Serve, is a programming error and panics.
func (s *Server) Handle(kind Kind, h Handler) {
	if kind == KindPing {
		panic("peer: KindPing is answered by the server itself")
	}
	if s.served.Load() {
		panic(fmt.Sprintf("peer: Handle(%d) after Serve", kind))
	}
	s.handlers[kind] = h
	s.metrics.addKind(kind)
}

// Serve accepts connections until ln is closed (it returns an error
// wrapping net.ErrClosed) or Close is called (it returns ErrClosed).
// Accept errors of another kind are logged and retried with a backoff.
// Serve may run on several listeners at once.
func (s *Server) Serve(ln net.Listener) error {
	s.served.Store(true)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close() // refused before any connection: nothing to report
		return ErrClosed
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err == nil {
			backoff = 0
			s.startConn(nc)
			continue
		}
		select {
		case <-s.done:
			return ErrClosed
		default:
		}
		if errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("peer: accept: %w", err)
		}
		backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
		s.log.Warn("peer: accept failed; retrying", "err", err, "backoff", backoff)
		select {
		case <-s.done:
			return ErrClosed
		case <-time.After(backoff):
		}
	}
}

// Close stops serving: it closes the listeners Serve runs on and every
// connection, and waits for their goroutines. Handlers still running see
// their ctx end; their replies are discarded.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	var errs []error
	for ln := range s.lns {
		if err := ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("peer: close listener: %w", err))
		}
	}
	conns := make([]*serverConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close(closeServerClosing, nil)
	}
	s.wg.Wait()
	return errors.Join(errs...)
}

func (s *Server) startConn(nc net.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &serverConn{
		s:      s,
		nc:     nc,
		log:    s.log.With("remote_addr", nc.RemoteAddr().String()),
		ctx:    ctx,
		cancel: cancel,
		slots:  make(chan struct{}, s.cfg.MaxPendingRequests),
		wake:   make(chan struct{}, 1),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		_ = nc.Close() // accepted while closing: the peer sees EOF
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	s.metrics.conns.Inc()
	c.log.Debug("peer conn accepted")
	go c.readLoop()
	go c.writeLoop()
}

// Why a server connection closed: the label of
// tributary_peer_server_conns_closed_total.
const (
	closePeer          = "peer_closed"
	closeIdle          = "idle"
	closeClosed        = "closed"
	closeReadFailed    = "read_failed"
	closeWriteFailed   = "write_failed"
	closeMalformed     = "malformed"
	closeUnknownKind   = "unknown_kind"
	closePanic         = "panic"
	closeServerClosing = "server_closing"
)

var closeReasons = []string{closePeer, closeIdle, closeClosed, closeReadFailed, closeWriteFailed,
	closeMalformed, closeUnknownKind, closePanic, closeServerClosing}

// serverConn is one inbound connection.
type serverConn struct {
	s      *Server
	nc     net.Conn
	log    *slog.Logger
	ctx    context.Context // ends when the connection closes
	cancel context.CancelFunc
	slots  chan struct{} // one per request handed to a handler and not answered
	wake   chan struct{} // answers are waiting for the writer

	mu     sync.Mutex
	out    *bytebufferpool.ByteBuffer // answers not yet taken by the writer
	closed bool
}

// readLoop reads requests and hands them to their handlers in order.
func (c *serverConn) readLoop() {
	defer c.s.wg.Done()
	var reason string
	var rerr error
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("peer: connection reader panicked", "panic", p, "stack", string(debug.Stack()))
			reason, rerr = closePanic, fmt.Errorf("panic: %v", p)
		}
		c.close(reason, rerr)
	}()
	br := bufio.NewReaderSize(c.nc, readBufferBytes)
	var head [frameHead]byte
	for {
		if err := c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.IdleTimeout)); err != nil {
			reason, rerr = closeReadFailed, err
			return
		}
		if _, err := io.ReadFull(br, head[:]); err != nil {
			reason, rerr = readFailure(err)
			return
		}
		h, err := parseHeader(&head, c.s.cfg.MaxFrameBytes)
		if err != nil {
			c.bad("malformed frame", err)
			reason = closeMalformed
			return
		}
		if reason, rerr = c.handleFrame(br, h); reason != "" {
			return
		}
	}
}

// readFailure names why reading a connection stopped.
func readFailure(err error) (string, error) {
	switch {
	case errors.Is(err, io.EOF):
		return closePeer, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return closeIdle, nil
	case errors.Is(err, net.ErrClosed):
		return closeClosed, nil
	}
	return closeReadFailed, err
}

// handleFrame reads one request's body and runs its handler; a non-empty
// reason closes the connection.
func (c *serverConn) handleFrame(br *bufio.Reader, h frameHeader) (string, error) {
	kind := Kind(h.b0)
	if kind == KindPing {
		if h.bodyBytes != 0 {
			c.bad("malformed frame", fmt.Errorf("peer: ping with a %d-byte body", h.bodyBytes))
			return closeMalformed, nil
		}
		if h.id != 0 {
			c.answer(h.id, nil, nil)
		}
		return "", nil
	}
	handler := c.s.handlers[kind]
	if handler == nil {
		c.bad("unknown kind", fmt.Errorf("peer: no handler for kind %d", kind))
		return closeUnknownKind, nil
	}
	if h.id != 0 {
		select {
		case c.slots <- struct{}{}:
		case <-c.ctx.Done():
			return closeClosed, nil
		}
	}
	buf := bytebufferpool.Get()
	defer bytebufferpool.Put(buf)
	if cap(buf.B) < h.bodyBytes {
		buf.B = make([]byte, h.bodyBytes)
	}
	buf.B = buf.B[:h.bodyBytes]
	if _, err := io.ReadFull(br, buf.B); err != nil {
		if h.id != 0 {
			<-c.slots
		}
		return readFailure(err)
	}
	c.s.metrics.request(kind)
	c.dispatch(handler, kind, h.id, buf.B)
	return "", nil
}

// bad logs and counts a frame that closes the connection.
func (c *serverConn) bad(what string, err error) {
	c.s.metrics.badFrames.Inc()
	c.log.Warn("peer: "+what+"; closing the connection", "err", err)
}

// dispatch runs the handler of one request on the reader's goroutine.
func (c *serverConn) dispatch(h Handler, kind Kind, id uint64, body []byte) {
	if id == 0 {
		c.run(h, kind, c.ctx, body, discardReply)
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.HandlerTimeout)
	r := &pendingReply{c: c, id: id, kind: kind, cancel: cancel}
	r.stop = context.AfterFunc(ctx, r.expire)
	c.run(h, kind, ctx, body, r.reply)
}

// run calls a handler, turning a panic into an error answer: one bad
// request must not take the node down.
func (c *serverConn) run(h Handler, kind Kind, ctx context.Context, body []byte, reply func([]byte, error)) {
	defer func() {
		if p := recover(); p != nil {
			c.s.metrics.panics.Inc()
			c.log.Error("peer: handler panicked", "kind", kind, "panic", p, "stack", string(debug.Stack()))
			reply(nil, fmt.Errorf("handler of kind %d panicked: %v", kind, p))
		}
	}()
	h(ctx, body, reply)
}

func discardReply([]byte, error) {}

// pendingReply is a request handed to its handler and not answered yet.
type pendingReply struct {
	c      *serverConn
	id     uint64
	kind   Kind
	done   atomic.Bool
	cancel context.CancelFunc
	stop   func() bool // stops expire
}

// reply answers the request once; later calls (and calls after expire)
// are ignored.
func (r *pendingReply) reply(resp []byte, err error) {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	r.stop()
	r.cancel()
	<-r.c.slots
	r.c.answer(r.id, resp, err)
}

// expire answers a request whose handler's ctx ended first.
func (r *pendingReply) expire() {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	<-r.c.slots
	if r.c.ctx.Err() != nil {
		return // the connection is gone: nobody to answer
	}
	r.c.s.metrics.timeouts.Inc()
	r.c.answer(r.id, nil, fmt.Errorf("handler of kind %d timed out after %v", r.kind, r.c.s.cfg.HandlerTimeout))
}

// answer queues an answer for the writer; it never blocks.
func (c *serverConn) answer(id uint64, resp []byte, err error) {
	status, body := statusOK, resp
	switch {
	case err != nil:
		status, body = statusError, errorText(err)
	case len(resp) > c.s.cfg.MaxFrameBytes:
		status, body = statusError, []byte(fmt.Sprintf("answer of %d bytes exceeds MaxFrameBytes %d", len(resp), c.s.cfg.MaxFrameBytes))
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	if c.out == nil {
		c.out = bytebufferpool.Get()
	}
	c.out.B = appendFrame(c.out.B, status, id, body)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// writeLoop writes the answers gathered while it wrote the previous batch.
func (c *serverConn) writeLoop() {
	defer c.s.wg.Done()
	for {
		select {
		case <-c.wake:
		case <-c.ctx.Done():
			return
		}
		for {
			c.mu.Lock()
			buf := c.out
			c.out = nil
			c.mu.Unlock()
			if buf == nil {
				break
			}
			err := c.nc.SetWriteDeadline(time.Now().Add(c.s.cfg.WriteTimeout))
			if err == nil {
				_, err = c.nc.Write(buf.B)
			}
			bytebufferpool.Put(buf)
			if err != nil {
				c.close(closeWriteFailed, err)
				return
			}
		}
	}
}

// close closes the connection once; handlers see their ctx end.
func (c *serverConn) close(reason string, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	buf := c.out
	c.out = nil
	c.mu.Unlock()
	if buf != nil {
		bytebufferpool.Put(buf)
	}
	c.cancel()
	_ = c.nc.Close() // the reason below is what matters
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	c.s.metrics.conns.Dec()
	c.s.metrics.closed(reason)
	if err != nil {
		c.log.Debug("peer conn closed", "reason", reason, "err", err)
	} else {
		c.log.Debug("peer conn closed", "reason", reason)
	}
}
