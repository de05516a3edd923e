package kafka

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Reasons a connection is closed by the server, the label of
// tributary_kafka_connections_closed_total.
const (
	closeTooLarge    = "request_too_large"
	closeUnsupported = "unsupported"
	closeMalformed   = "malformed"
	closeHandler     = "handler_error"
	closeIdle        = "idle"
	closePanic       = "panic"
)

// metrics are the listener's counters.
type metrics struct {
	open     atomic.Int64
	accepted prometheus.Counter
	rejected prometheus.Counter
	closed   *prometheus.CounterVec
	bytesIn  prometheus.Counter
	bytesOut prometheus.Counter
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec

	mu     sync.Mutex
	byKey  map[int16]apiMetrics // resolved label children, by API key
	gauges []prometheus.Collector
}

// apiMetrics are one API key's children of the per-request metrics.
type apiMetrics struct {
	requests prometheus.Counter
	seconds  prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		accepted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_kafka_connections_total", Help: "Kafka connections accepted.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_kafka_connections_rejected_total",
			Help: "Kafka connections closed on accept because MaxConnections were open.",
		}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_kafka_connections_closed_total",
			Help: "Kafka connections the server closed, by reason.",
		}, []string{"reason"}),
		bytesIn: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_kafka_received_bytes_total", Help: "Bytes read from Kafka connections.",
		}),
		bytesOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_kafka_sent_bytes_total", Help: "Bytes written to Kafka connections.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_kafka_requests_total", Help: "Kafka requests handled, by API.",
		}, []string{"api"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tributary_kafka_request_seconds",
			Help:    "Time from a request's arrival to its response, by API (Fetch includes its long poll).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"api"}),
		byKey: make(map[int16]apiMetrics),
	}
	m.gauges = []prometheus.Collector{prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_kafka_connections", Help: "Kafka connections open now.",
	}, func() float64 { return float64(m.open.Load()) })}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	cs := append([]prometheus.Collector{m.accepted, m.rejected, m.closed, m.bytesIn, m.bytesOut,
		m.requests, m.seconds}, m.gauges...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("kafka: register metrics: %w", err)
		}
	}
	return nil
}

// api returns the children of the per-request metrics for key.
func (m *metrics) api(key int16) apiMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.byKey[key]
	if !ok {
		name := kmsg.NameForKey(key)
		a = apiMetrics{requests: m.requests.WithLabelValues(name), seconds: m.seconds.WithLabelValues(name)}
		m.byKey[key] = a
	}
	return a
}
