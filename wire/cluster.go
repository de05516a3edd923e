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
)

// ClusterConfig configures the cluster port, which carries traffic between
// nodes (raft streams today). The zero value of every optional field means
// "use the default"; it never means "unlimited".
type ClusterConfig struct {
	// Addr is the host:port to listen on. Required; port 0 picks a free
	// port, which Addr() then reports.
	Addr string
	// MaxConns caps open inbound connections. A connection accepted past it
	// is closed at once and counted in
	// tributary_cluster_conns_rejected_total. Default 1024.
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
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("wire: ClusterConfig.%s is negative (%v)", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

// ClusterListener is the cluster port. It is a net.Listener whose accepted
// connections have TCP_NODELAY and keepalives set, and its Dial gives
// outbound connections the same options, so the pair can back a
// raft.StreamLayer. It is safe for concurrent use.
type ClusterListener struct {
	ln        net.Listener
	cfg       ClusterConfig
	keepAlive net.KeepAliveConfig
	log       *slog.Logger

	open       atomic.Int64 // inbound connections not yet closed
	accepted   prometheus.Counter
	rejected   prometheus.Counter
	dialErrors prometheus.Counter
}

// ListenCluster validates cfg, binds cfg.Addr and registers the listener's
// metrics. Connections are accepted by calling Accept.
func ListenCluster(cfg ClusterConfig) (*ClusterListener, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	l := &ClusterListener{
		cfg: cfg,
		log: cfg.Logger,
		keepAlive: net.KeepAliveConfig{
			Enable:   true,
			Idle:     cfg.KeepAliveIdle,
			Interval: cfg.KeepAliveInterval,
			Count:    cfg.KeepAliveProbes,
		},
	}
	lc := net.ListenConfig{KeepAliveConfig: l.keepAlive}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("wire: cluster listen %s: %w", cfg.Addr, err)
	}
	l.ln = ln
	if err := l.registerMetrics(cfg.Registerer); err != nil {
		_ = ln.Close() // the registration error is the one worth reporting
		return nil, err
	}
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
	cs := []prometheus.Collector{l.accepted, l.rejected, l.dialErrors, open}
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

// Accept waits for the next inbound connection. Connections past MaxConns
// are closed and skipped here, so the caller only sees admitted ones. After
// Close it returns an error wrapping net.ErrClosed.
func (l *ClusterListener) Accept() (net.Conn, error) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return nil, fmt.Errorf("wire: cluster accept: %w", err)
		}
		if n := l.open.Add(1); n > int64(l.cfg.MaxConns) {
			l.open.Add(-1)
			l.rejected.Inc()
			l.log.Debug("cluster conn rejected: too many open", "remote_addr", c.RemoteAddr().String(), "max_conns", l.cfg.MaxConns)
			_ = c.Close() // nothing was sent on it; its error tells us nothing
			continue
		}
		setNoDelay(c)
		l.accepted.Inc()
		l.log.Debug("cluster conn accepted", "remote_addr", c.RemoteAddr().String())
		return &clusterConn{Conn: c, l: l}, nil
	}
}

// Close stops listening. Connections already accepted stay open: they
// belong to whoever accepted them.
func (l *ClusterListener) Close() error {
	if err := l.ln.Close(); err != nil {
		return fmt.Errorf("wire: cluster close: %w", err)
	}
	return nil
}

// Addr returns the address the listener is bound to.
func (l *ClusterListener) Addr() net.Addr { return l.ln.Addr() }

// Dial opens a connection to another node's cluster port within timeout
// (DialTimeout if timeout is not positive), with TCP_NODELAY and keepalives
// set. Its signature matches what raft.StreamLayer's Dial needs.
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

// setNoDelay turns Nagle off: raft heartbeats and small appends must not
// wait for an ACK of the previous segment. Go sets it by default on TCP;
// setting it here keeps that true whatever the default becomes.
func setNoDelay(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // fails only on a closed socket, which the next read reports
	}
}

// clusterConn releases its MaxConns slot exactly once when closed.
type clusterConn struct {
	net.Conn
	l    *ClusterListener
	once sync.Once
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
// for callers that need socket options or zero-copy paths. Closing it
// directly would leak the MaxConns slot; close the clusterConn instead.
func (c *clusterConn) NetConn() net.Conn { return c.Conn }
