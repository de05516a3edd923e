package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for ClusterConfig.
const (
	// DefaultClusterMaxConns leaves room for raft's connection pool (a few
	// streams per peer) plus snapshot streams on clusters of dozens of nodes.
	DefaultClusterMaxConns = 1024
	// DefaultClusterDialTimeout applies when Dial is given no timeout.
	DefaultClusterDialTimeout = 10 * time.Second
	// DefaultClusterKeepAliveIdle, ...Interval and ...Probes detect a dead
	// peer on an idle stream in about 30s (15s + 3×5s).
	DefaultClusterKeepAliveIdle     = 15 * time.Second
	DefaultClusterKeepAliveInterval = 5 * time.Second
	DefaultClusterKeepAliveProbes   = 3
	// DefaultClusterFirstByteTimeout closes an inbound connection that has
	// not said which protocol it speaks within 10s. Both of our dialers
	// speak at once (see ClusterRPCByte), so only a stray or hostile peer
	// ever waits this long.
	DefaultClusterFirstByteTimeout = 10 * time.Second
	// DefaultClusterHandoffTimeout closes a routed connection that no
	// Accept of its side took within 10s.
	DefaultClusterHandoffTimeout = 10 * time.Second
)

// ClusterConfig configures the cluster port, which carries traffic between
// nodes: raft streams and forwarding RPC, told apart by the first byte of
// each connection (see ClusterRPCByte). The zero value of every optional
// field means "use the default"; it never means "unlimited".
type ClusterConfig struct {
	// Addr is the host:port to listen on. Required; port 0 picks a free
	// port, which Addr() then reports.
	Addr string
	// MaxConns caps open inbound connections, raft and RPC together,
	// counted from the TCP accept until the connection is closed (so also
	// while its first byte is awaited). A connection accepted past it is
	// closed at once and counted in tributary_cluster_conns_rejected_total.
	// Default 1024.
	MaxConns int
	// DialTimeout bounds Dial when its caller passes no timeout. Default 10s.
	DialTimeout time.Duration
	// KeepAliveIdle is the idle time before the first TCP keepalive probe,
	// on accepted and dialed connections alike. Default 15s.
	KeepAliveIdle time.Duration
	// KeepAliveInterval is the time between unanswered probes. Default 5s.
	KeepAliveInterval time.Duration
	// KeepAliveProbes is how many unanswered probes close a connection.
	// Default 3.
	KeepAliveProbes int
	// FirstByteTimeout bounds the wait for an inbound connection's first
	// byte, which routes it to raft or to RPC. A connection that sends
	// nothing in time is closed and counted in
	// tributary_cluster_conns_timed_out_total. Each connection waits in a
	// goroutine of its own, so a silent peer delays no other. Default 10s.
	FirstByteTimeout time.Duration
	// HandoffTimeout bounds how long a routed connection waits for an
	// Accept of its side (Accept for raft, RPC().Accept for forwarding
	// RPC). Past it the connection is closed and counted in
	// tributary_cluster_conns_dropped_total{proto}: a side nobody serves
	// (RPC never used, raft not started yet or stopped) cannot pile
	// connections up, and its peers see the close and retry. Default 10s.
	HandoffTimeout time.Duration
	// Registerer receives the listener's metrics. Nil registers none.
	Registerer prometheus.Registerer
	// Logger receives connection lifecycle events at Debug. Nil discards.
	Logger *slog.Logger
}

func (c ClusterConfig) withDefaults() ClusterConfig {
	if c.MaxConns == 0 {
		c.MaxConns = DefaultClusterMaxConns
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = DefaultClusterDialTimeout
	}
	if c.KeepAliveIdle == 0 {
		c.KeepAliveIdle = DefaultClusterKeepAliveIdle
	}
	if c.KeepAliveInterval == 0 {
		c.KeepAliveInterval = DefaultClusterKeepAliveInterval
	}
	if c.KeepAliveProbes == 0 {
		c.KeepAliveProbes = DefaultClusterKeepAliveProbes
	}
	if c.FirstByteTimeout == 0 {
		c.FirstByteTimeout = DefaultClusterFirstByteTimeout
	}
	if c.HandoffTimeout == 0 {
		c.HandoffTimeout = DefaultClusterHandoffTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem in c at once, joined with errors.Join.
func (c ClusterConfig) Validate() error {
	var errs []error
	if err := validateAddr(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("wire: ClusterConfig.Addr: %w", err))
	}
	if c.MaxConns < 0 {
		errs = append(errs, fmt.Errorf("wire: ClusterConfig.MaxConns is negative (%d)", c.MaxConns))
	}
	if c.KeepAliveProbes < 0 {
		errs = append(errs, fmt.Errorf("wire: ClusterConfig.KeepAliveProbes is negative (%d)", c.KeepAliveProbes))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"DialTimeout", c.DialTimeout},
		{"KeepAliveIdle", c.KeepAliveIdle},
		{"KeepAliveInterval", c.KeepAliveInterval},
		{"FirstByteTimeout", c.FirstByteTimeout},
		{"HandoffTimeout", c.HandoffTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("wire: ClusterConfig.%s is negative (%v)", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// ClusterListener is the cluster port. One TCP listener carries two
// protocols, told apart by the first byte of each inbound connection:
//
//   - raft streams, which Accept returns (so the ClusterListener itself is
//     the net.Listener of a raft.StreamLayer, with Dial as its dialer);
//   - forwarding RPC, which RPC().Accept returns, dialed with DialRPC.
//
// Accepted and dialed connections have TCP_NODELAY and keepalives set. It
// is safe for concurrent use.
type ClusterListener struct {
	ln        net.Listener
	cfg       ClusterConfig
	keepAlive net.KeepAliveConfig
	log       *slog.Logger
	warned    *WarnLimiter

	// ctx ends when Close is called: it stops the hand-offs and cuts the
	// first-byte reads of connections not yet routed.
	ctx    context.Context
	cancel context.CancelFunc
	// raftConns hands routed raft connections to Accept. It is
	// unbuffered: a connection waits in its own goroutine, bounded by
	// HandoffTimeout, never in a queue nobody drains.
	raftConns chan net.Conn
	rpc       *rpcListener
	// acceptDone is closed when the accept goroutine has returned;
	// acceptErr, set before, is why if it was not Close.
	acceptDone chan struct{}
	acceptErr  error
	running    sync.WaitGroup // the accept goroutine and every router

	open       atomic.Int64 // inbound connections not yet closed
	accepted   prometheus.Counter
	rejected   prometheus.Counter
	timedOut   prometheus.Counter
	routed     [numProtos]prometheus.Counter
	dropped    [numProtos]prometheus.Counter
	dialErrors prometheus.Counter
}

// ListenCluster validates cfg, binds cfg.Addr, registers the listener's
// metrics and starts routing inbound connections: raft ones to Accept,
// RPC ones to RPC().Accept.
func ListenCluster(cfg ClusterConfig) (*ClusterListener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	l := &ClusterListener{
		cfg:    cfg,
		log:    cfg.Logger,
		warned: NewWarnLimiter(cfg.Logger),
		keepAlive: net.KeepAliveConfig{
			Enable:   true,
			Idle:     cfg.KeepAliveIdle,
			Interval: cfg.KeepAliveInterval,
			Count:    cfg.KeepAliveProbes,
		},
		ctx:        ctx,
		cancel:     cancel,
		raftConns:  make(chan net.Conn),
		acceptDone: make(chan struct{}),
	}
	l.rpc = &rpcListener{l: l, conns: make(chan net.Conn), closed: make(chan struct{})}
	lc := net.ListenConfig{KeepAliveConfig: l.keepAlive}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Addr)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("wire: cluster listen %s: %w", cfg.Addr, err)
	}
	l.ln = ln
	if err := l.registerMetrics(cfg.Registerer); err != nil {
		cancel()
		_ = ln.Close() // the registration error is the one worth reporting
		return nil, err
	}
	l.running.Add(1)
	go l.acceptLoop()
	return l, nil
}

func (l *ClusterListener) registerMetrics(reg prometheus.Registerer) error {
	l.accepted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tributary_cluster_conns_accepted_total",
		Help: "Inbound connections accepted on the cluster port.",
	})
	l.rejected = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tributary_cluster_conns_rejected_total",
		Help: "Inbound connections closed at once because MaxConns were open.",
	})
	l.timedOut = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tributary_cluster_conns_timed_out_total",
		Help: "Inbound connections closed because they sent no first byte within FirstByteTimeout.",
	})
	routed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_cluster_conns_routed_total",
		Help: "Inbound connections routed by their first byte, by protocol (raft, rpc).",
	}, []string{"proto"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_cluster_conns_dropped_total",
		Help: "Routed connections closed because no Accept of their side took them within HandoffTimeout, or the side was closed, by protocol.",
	}, []string{"proto"})
	for p := range numProtos {
		l.routed[p] = routed.WithLabelValues(p.String())
		l.dropped[p] = dropped.WithLabelValues(p.String())
	}
	l.dialErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tributary_cluster_dial_errors_total",
		Help: "Outbound connections to other nodes that failed to open.",
	})
	open := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_cluster_conns_open",
		Help: "Inbound connections on the cluster port not yet closed.",
	}, func() float64 { return float64(l.open.Load()) })
	if reg == nil {
		return nil
	}
	cs := []prometheus.Collector{l.accepted, l.rejected, l.timedOut, routed, dropped, l.dialErrors, open}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("wire: cluster metrics: %w", err)
		}
	}
	return nil
}

// Accept waits for the next inbound raft connection: one whose first byte
// is not ClusterRPCByte. That byte is not lost: the connection's first
// Read returns it. Connections past MaxConns never reach it. After Close
// it returns an error wrapping net.ErrClosed.
func (l *ClusterListener) Accept() (net.Conn, error) {
	return l.acceptFrom(l.raftConns, nil, protoRaft)
}

// Close stops listening and routing: both Accept and RPC().Accept return
// an error wrapping net.ErrClosed, and the connections not yet handed to
// either (waiting for their first byte or for an Accept) are closed. It
// returns once the listener's goroutines have ended. Connections already
// handed over stay open: they belong to whoever accepted them.
func (l *ClusterListener) Close() error {
	l.cancel()
	err := l.ln.Close()
	l.running.Wait()
	if err != nil {
		return fmt.Errorf("wire: cluster close: %w", err)
	}
	return nil
}

// Addr returns the address the listener is bound to.
func (l *ClusterListener) Addr() net.Addr { return l.ln.Addr() }

// RPC returns the listener of forwarding-RPC connections on this port:
// its Accept yields the inbound connections that began with
// ClusterRPCByte, with that byte consumed. It reports the same Addr as l.
// Closing it stops only the RPC side (RPC connections that arrive later
// are closed and counted as dropped); closing l closes both. Every call
// returns the same listener.
func (l *ClusterListener) RPC() net.Listener { return l.rpc }

// Dial opens a connection to another node's cluster port within timeout
// (DialTimeout if timeout is not positive), with TCP_NODELAY and keepalives
// set. Its signature matches what raft.StreamLayer's Dial needs. The
// caller's first byte decides where the connection lands: raft always
// writes its RPC type first (see ClusterRPCByte); anything else must use
// DialRPC.
func (l *ClusterListener) Dial(address string, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = l.cfg.DialTimeout
	}
	d := net.Dialer{Timeout: timeout, KeepAliveConfig: l.keepAlive}
	c, err := d.Dial("tcp", address)
	if err != nil {
		l.dialErrors.Inc()
		return nil, fmt.Errorf("wire: cluster dial %s: %w", address, err)
	}
	setNoDelay(c)
	l.log.Debug("cluster conn dialed", "remote_addr", address)
	return c, nil
}

// rpcPreamble is what DialRPC writes first. Write does not keep it.
var rpcPreamble = [1]byte{ClusterRPCByte}

// DialRPC opens a forwarding-RPC connection to another node's cluster
// port: it dials as Dial does and writes ClusterRPCByte, all within
// timeout (DialTimeout if timeout is not positive), so the peer routes it
// to its RPC().Accept. The caller writes its protocol from the first byte
// after that one.
func (l *ClusterListener) DialRPC(address string, timeout time.Duration) (net.Conn, error) {
	if timeout <= 0 {
		timeout = l.cfg.DialTimeout
	}
	deadline := time.Now().Add(timeout)
	c, err := l.Dial(address, timeout)
	if err != nil {
		return nil, err
	}
	err = c.SetWriteDeadline(deadline)
	if err == nil {
		_, err = c.Write(rpcPreamble[:])
	}
	if err == nil {
		err = c.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		_ = c.Close() // the write error is the one worth reporting
		l.dialErrors.Inc()
		return nil, fmt.Errorf("wire: cluster dial rpc %s: %w", address, err)
	}
	return c, nil
}

// setNoDelay turns Nagle off: raft heartbeats and small appends must not
// wait for an ACK of the previous segment. Go sets it by default on TCP;
// setting it here keeps that true whatever the default becomes.
func setNoDelay(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // fails only on a closed socket, which the next read reports
	}
}
