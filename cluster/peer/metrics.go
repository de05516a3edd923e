package peer

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics count what a Server sees. They are created with the
// server and registered by whoever wants them (Server.Collectors), so
// NewServer needs no registry and cannot fail.
type serverMetrics struct {
	conns     prometheus.Gauge
	requests  *prometheus.CounterVec
	byKind    [256]atomic.Pointer[prometheus.Counter]
	badFrames prometheus.Counter
	panics    prometheus.Counter
	timeouts  prometheus.Counter
	closes    *prometheus.CounterVec
	closesBy  map[string]prometheus.Counter // filled at creation, read-only after
}

func newServerMetrics() *serverMetrics {
	m := &serverMetrics{
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_peer_server_conns_open",
			Help: "Inbound node-to-node RPC connections open.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_peer_server_requests_total",
			Help: "Node-to-node RPC requests handed to a handler, by kind.",
		}, []string{"kind"}),
		badFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_peer_server_bad_frames_total",
			Help: "Malformed or unknown-kind frames; each closed its connection.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_peer_server_handler_panics_total",
			Help: "Handlers that panicked; each request was answered with an error.",
		}),
		timeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_peer_server_handler_timeouts_total",
			Help: "Requests answered with an error because their handler did not reply within HandlerTimeout.",
		}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_peer_server_conns_closed_total",
			Help: "Inbound node-to-node RPC connections closed, by reason.",
		}, []string{"reason"}),
		closesBy: make(map[string]prometheus.Counter, len(closeReasons)),
	}
	for _, r := range closeReasons {
		m.closesBy[r] = m.closes.WithLabelValues(r)
	}
	return m
}

func (m *serverMetrics) closed(reason string) {
	if c := m.closesBy[reason]; c != nil {
		c.Inc()
	}
}

// addKind resolves the counter of kind once, so counting a request is an
// atomic load and an add.
func (m *serverMetrics) addKind(kind Kind) {
	c := m.requests.WithLabelValues(strconv.Itoa(int(kind)))
	m.byKind[kind].Store(&c)
}

func (m *serverMetrics) request(kind Kind) {
	if c := m.byKind[kind].Load(); c != nil {
		(*c).Inc()
	}
}

// Collectors returns the server's metrics, for cmd to register.
func (s *Server) Collectors() []prometheus.Collector {
	m := s.metrics
	return []prometheus.Collector{m.conns, m.requests, m.badFrames, m.panics, m.timeouts, m.closes}
}

// Results of a Call, the label of tributary_peer_client_calls_total.
const (
	resultOK       = "ok"
	resultRemote   = "remote_error"
	resultNotSent  = "not_sent"
	resultNoAnswer = "no_answer"
	resultClosed   = "closed"
)

// clientMetrics count what a Client sees.
type clientMetrics struct {
	calls        *prometheus.CounterVec
	callsBy      map[string]prometheus.Counter
	sendsDropped prometheus.Counter
	dials        prometheus.Counter
	dialErrors   prometheus.Counter
	pingFailures prometheus.Counter
}

func newClientMetrics() *clientMetrics {
	m := &clientMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_peer_client_calls_total",
			Help: "Node-to-node RPC calls ended, by result.",
		}, []string{"result"}),
		callsBy: make(map[string]prometheus.Counter),
		sendsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_peer_client_sends_dropped_total",
			Help: "One-way requests dropped: refused (queue full, peer unreachable) or lost unwritten with their connection.",
		}),
		dials: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_peer_client_dials_total",
			Help: "Connections to peers opened.",
		}),
		dialErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_peer_client_dial_errors_total",
			Help: "Connections to peers that failed to open.",
		}),
		pingFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_peer_client_ping_failures_total",
			Help: "Connections closed because a ping went unanswered for PingInterval.",
		}),
	}
	// The map is filled here and only read afterwards: no lock needed.
	for _, r := range []string{resultOK, resultRemote, resultNotSent, resultNoAnswer, resultClosed} {
		m.callsBy[r] = m.calls.WithLabelValues(r)
	}
	return m
}

// Collectors returns the client's metrics, for cmd to register.
func (c *Client) Collectors() []prometheus.Collector {
	m := c.metrics
	return []prometheus.Collector{m.calls, m.sendsDropped, m.dials, m.dialErrors, m.pingFailures}
}
