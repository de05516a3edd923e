package mqtt

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons an outbound message is dropped, the label of
// tributary_mqtt_messages_dropped_total.
const (
	dropOutboundFull = "outbound_full" // QoS 0 and MaxOutboundBytes were queued
	dropTooLarge     = "too_large"     // above the client's Maximum Packet Size [MQTT-3.1.2-25]
	dropExpired      = "expired"       // the message expired before it was written [MQTT-3.3.2-5]
)

// Reasons a connection is refused before it has a session, the label of
// tributary_mqtt_connections_rejected_total.
const (
	rejectMaxConnections = "max_connections"
	rejectAuth           = "auth"
	rejectProtocol       = "protocol"
	rejectUnavailable    = "unavailable"
	rejectProxyUntrusted = "proxy_untrusted" // a PROXY header from outside ProxyProtocolFrom
	rejectProxyInvalid   = "proxy_invalid"   // a PROXY header that does not parse
	rejectProxyTimeout   = "proxy_timeout"   // a PROXY header not complete within ProxyHeaderTimeout
)

// metrics are the server's counters. Label children are resolved once, so
// the per-packet path only adds to a counter.
type metrics struct {
	open         atomic.Int64 // connections not yet closed
	accepted     prometheus.Counter
	rejected     *prometheus.CounterVec
	received     [3]prometheus.Counter // by QoS
	sent         [3]prometheus.Counter // by QoS
	dropped      *prometheus.CounterVec
	outFull      prometheus.Counter
	tooLarge     prometheus.Counter
	expired      prometheus.Counter
	bytesIn      prometheus.Counter
	bytesOut     prometheus.Counter
	panics       prometheus.Counter
	proxyHeaders prometheus.Counter
	connections  prometheus.GaugeFunc
	collectors   []prometheus.Collector
}

func newMetrics() *metrics {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_mqtt_connections_total",
			Help: "MQTT connections accepted.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_mqtt_connections_rejected_total",
			Help: "MQTT connections refused before CONNACK success, by reason.",
		}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_mqtt_messages_dropped_total",
			Help: "Outbound PUBLISH packets dropped by the connection, by reason.",
		}, []string{"reason"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_mqtt_received_bytes_total",
			Help: "Bytes read from MQTT connections.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_mqtt_sent_bytes_total",
			Help: "Bytes written to MQTT connections.",
		}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_mqtt_connection_panics_total",
			Help: "Panics recovered in a connection's goroutines; each closed only its connection.",
		}),
		proxyHeaders: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_mqtt_proxy_headers_total",
			Help: "PROXY protocol headers read from ProxyProtocolFrom sources and applied.",
		}),
	}
	m.connections = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_mqtt_connections",
		Help: "MQTT connections open now.",
	}, func() float64 { return float64(m.open.Load()) })
	received := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_mqtt_messages_received_total",
		Help: "PUBLISH packets received from clients, by QoS.",
	}, []string{"qos"})
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_mqtt_messages_sent_total",
		Help: "PUBLISH packets written to clients, by QoS (resends included).",
	}, []string{"qos"})
	for q, label := range []string{"0", "1", "2"} {
		m.received[q] = received.WithLabelValues(label)
		m.sent[q] = sent.WithLabelValues(label)
	}
	m.outFull = m.dropped.WithLabelValues(dropOutboundFull)
	m.tooLarge = m.dropped.WithLabelValues(dropTooLarge)
	m.expired = m.dropped.WithLabelValues(dropExpired)
	for _, r := range []string{rejectMaxConnections, rejectAuth, rejectProtocol, rejectUnavailable,
		rejectProxyUntrusted, rejectProxyInvalid, rejectProxyTimeout} {
		m.rejected.WithLabelValues(r)
	}
	m.collectors = []prometheus.Collector{m.connections, m.accepted, m.rejected, received, sent,
		m.dropped, m.bytesIn, m.bytesOut, m.panics, m.proxyHeaders}
	return m
}

// register adds every collector to reg, or none: a failure unregisters
// what was already added.
func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				reg.Unregister(done)
			}
			return fmt.Errorf("mqtt: register metrics: %w", err)
		}
	}
	return nil
}

func qosIndex(q byte) int { return int(min(q, 2)) }
