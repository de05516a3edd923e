package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	"golang.org/x/sync/semaphore"

	"tributary/wire"
)

// Server is the Kafka listener of a node. It is safe for concurrent use;
// Close may be called more than once.
type Server struct {
	cfg      Config
	ln       net.Listener
	log      *slog.Logger
	warned   *wire.WarnLimiter
	metrics  *metrics
	inflight *semaphore.Weighted // request bytes held by all connections

	// ctx bounds every Handle call; cancel ends them when the server stops.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	conns    map[*conn]struct{}
	nextID   uint64
	stopping bool
	err      error // why accepting stopped, if not because of Close

	running    sync.WaitGroup // connection goroutines
	acceptDone chan struct{}
	done       chan struct{}
	doneOnce   sync.Once
}

// Listen validates cfg, binds cfg.Addr, registers the metrics and starts
// accepting connections. When it returns nil the server is accepting at
// Addr().
func Listen(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("kafka: listen %s: %w", cfg.Addr, err)
	}
	m := newMetrics()
	if err := m.register(cfg.Registerer); err != nil {
		_ = ln.Close() // the registration error is the one worth reporting
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, ln: ln, log: cfg.Logger, warned: wire.NewWarnLimiter(cfg.Logger), metrics: m,
		inflight: semaphore.NewWeighted(cfg.MaxInflightRequestBytes),
		ctx:      ctx, cancel: cancel,
		conns:      make(map[*conn]struct{}),
		acceptDone: make(chan struct{}),
		done:       make(chan struct{}),
	}
	go s.acceptLoop()
	return s, nil
}

// Addr returns the address the server is bound to.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Done is closed when the server has stopped and every connection has
// ended: after Close, or by itself if accepting failed (see Err).
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns why the server stopped by itself, or nil.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close stops accepting, cancels the requests being handled, closes every
// connection and waits for their goroutines. Kafka clients reconnect and
// retry; a produce whose proposal was already queued may still commit.
func (s *Server) Close() error {
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	_ = s.ln.Close() // a second close reports net.ErrClosed, which is expected
	<-s.acceptDone
	s.abortAll()
	s.running.Wait()
	s.doneOnce.Do(func() { close(s.done) })
	return nil
}

func (s *Server) abortAll() {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		_ = c.nc.Close() // wakes its reader; the error tells us nothing
	}
}

func (s *Server) acceptLoop() {
	defer close(s.acceptDone)
	err := wire.AcceptLoop(s.ln, s.start, s.warned.Warn)
	if err == nil {
		return
	}
	s.mu.Lock()
	s.err = fmt.Errorf("kafka: accept: %w", err)
	s.stopping = true
	s.mu.Unlock()
	s.log.Error("kafka listener stopped", "err", err)
	go func() {
		<-s.acceptDone
		s.abortAll()
		s.running.Wait()
		s.doneOnce.Do(func() { close(s.done) })
	}()
}

// start admits an accepted connection, or closes it past MaxConnections.
func (s *Server) start(nc net.Conn) {
	s.metrics.accepted.Inc()
	if s.metrics.open.Add(1) > int64(s.cfg.MaxConnections) {
		s.metrics.open.Add(-1)
		s.metrics.rejected.Inc()
		_ = nc.Close() // nothing was sent; its error tells us nothing
		return
	}
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		s.metrics.open.Add(-1)
		_ = nc.Close()
		return
	}
	s.nextID++
	c := &conn{srv: s, nc: nc, id: s.nextID}
	if host, _, err := net.SplitHostPort(nc.RemoteAddr().String()); err == nil {
		c.host = host
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
