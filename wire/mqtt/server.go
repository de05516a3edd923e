package mqtt

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"tributary/cluster"
	"tributary/mqttcodec"
	"tributary/wire"
)

// refusingConns is how many connections past MaxConnections may wait, at
// once, for their CONNECT to be answered 0x97 Quota exceeded (MQTT 3:
// return code 3). Beyond that a connection is closed as soon as it is
// accepted: answering costs a goroutine per connection for up to
// ConnectTimeout, which a flood must not be able to multiply.
const refusingConns = 1024

// Server is the MQTT listener of a node: it accepts connections and runs
// one connection state machine per client. It is safe for concurrent use;
// Shutdown and Close may be called more than once.
type Server struct {
	cfg     Config
	node    *cluster.Node
	ln      net.Listener
	log     *slog.Logger
	metrics *metrics
	hooks   testHooks
	now     func() time.Time

	// ctx bounds every call a connection makes into the cluster (and the
	// Authenticator); cancel ends them when the server is forced to stop.
	ctx    context.Context
	cancel context.CancelFunc
	nextID atomic.Uint64

	warned *wire.WarnLimiter

	mu       sync.Mutex
	conns    map[*conn]struct{}
	stopping bool
	err      error // why accepting stopped, if not because of Shutdown or Close

	running    sync.WaitGroup // connection goroutines
	acceptDone chan struct{}
	done       chan struct{}
	doneOnce   sync.Once
}

// testHooks let this package's tests reach inside a running server. The
// zero value changes nothing.
type testHooks struct {
	// now replaces time.Now for message expiry.
	now func() time.Time
	// onPacket runs before each packet of a connection is handled, on the
	// connection's goroutine.
	onPacket func(clientID string, t mqttcodec.PacketType)
	// portable makes every connection take the path of connections that
	// are not plain sockets (readFirstByte).
	portable bool
}

// Listen validates cfg, binds cfg.Addr, registers the metrics and starts
// accepting connections in a goroutine. A bind error is returned here, so
// when Listen returns nil the server is already accepting at Addr().
func Listen(cfg Config) (*Server, error) {
	return listen(cfg, testHooks{})
}

func listen(cfg Config, hooks testHooks) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("mqtt: listen %s: %w", cfg.Addr, err)
	}
	m := newMetrics()
	if err := m.register(cfg.Registerer); err != nil {
		_ = ln.Close() // the registration error is the one worth reporting
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, node: cfg.Node, ln: ln, log: cfg.Logger, metrics: m,
		hooks: hooks, now: hooks.now, ctx: ctx, cancel: cancel,
		conns:      make(map[*conn]struct{}),
		warned:     wire.NewWarnLimiter(cfg.Logger),
		acceptDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	go s.acceptLoop()
	return s, nil
}

// Addr returns the address the server is bound to.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Done is closed when the server has stopped and every connection has
// ended: after Shutdown or Close, or by itself if accepting failed (see
// Err).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns why the server stopped by itself, or nil if it is still
// serving or was stopped by Shutdown or Close.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Shutdown stops accepting, asks every connection to close — MQTT 5
// clients get DISCONNECT 0x8B Server shutting down, after the
// acknowledgements already queued for them (queued PUBLISHes are left to
// the session, which resends them on the next connection) — and waits
// for them until ctx ends, when the rest are cut. Sessions are closed as connections end, so Shutdown must
// come before the cluster node and its store are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	for _, c := range s.snapshot() {
		c.Kick(byte(mqttcodec.ServerShuttingDown))
	}
	ended := make(chan struct{})
	go func() {
		s.running.Wait()
		close(ended)
	}()
	var err error
	select {
	case <-ended:
	case <-ctx.Done():
		err = fmt.Errorf("mqtt: shutdown: %w", ctx.Err())
		s.abortAll()
		<-ended
	}
	s.finish()
	return err
}

// Close stops the server at once: it stops accepting, closes every
// connection without a DISCONNECT and waits for their goroutines, which
// close their sessions (the wills of their clients fire).
func (s *Server) Close() error {
	s.stopAccepting()
	s.abortAll()
	s.running.Wait()
	s.finish()
	return nil
}

// stopAccepting closes the listener and waits for the accept loop, so no
// connection starts after it returns.
func (s *Server) stopAccepting() {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	_ = s.ln.Close() // a second close reports net.ErrClosed, which is expected
	<-s.acceptDone
}

// abortAll cuts every connection and every call they wait on.
func (s *Server) abortAll() {
	s.cancel()
	for _, c := range s.snapshot() {
		c.abort()
	}
}

func (s *Server) finish() {
	s.doneOnce.Do(func() {
		s.cancel()
		close(s.done)
	})
}

func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

func (s *Server) acceptLoop() {
	defer close(s.acceptDone)
	if err := wire.AcceptLoop(s.ln, s.start, s.warn); err != nil {
		s.failed(fmt.Errorf("mqtt: accept: %w", err))
	}
}

// failed records why accepting stopped and ends the server.
func (s *Server) failed(err error) {
	s.mu.Lock()
	s.err = err
	s.stopping = true
	s.mu.Unlock()
	s.log.Error("mqtt listener stopped", "err", err)
	go func() {
		<-s.acceptDone
		s.abortAll()
		s.running.Wait()
		s.finish()
	}()
}

// start admits an accepted connection: a goroutine runs its state machine.
// Past MaxConnections it is still read, to answer its CONNECT with a
// refusal, unless refusingConns are already being answered.
func (s *Server) start(nc net.Conn) {
	s.metrics.accepted.Inc()
	open := s.metrics.open.Add(1)
	overLimit := open > int64(s.cfg.MaxConnections)
	if open > int64(s.cfg.MaxConnections)+refusingConns {
		s.metrics.open.Add(-1)
		s.metrics.rejected.WithLabelValues(rejectMaxConnections).Inc()
		_ = nc.Close() // nothing was sent; its error tells us nothing
		return
	}
	c := newConn(s, nc, s.nextID.Add(1), overLimit)
	c.proxy = proxyTrustOf(s.cfg.ProxyProtocolFrom, nc.RemoteAddr())
	if s.hooks.portable {
		c.raw = nil
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		s.metrics.open.Add(-1)
		_ = nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.running.Add(1)
	s.mu.Unlock()
	go c.serve()
}

// forget is the last thing a connection's goroutine does.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.metrics.open.Add(-1)
	s.running.Done()
}

// warn logs msg at Warn at most once per ten seconds (wire.WarnLimiter).
func (s *Server) warn(msg string, args ...any) { s.warned.Warn(msg, args...) }
