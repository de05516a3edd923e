package cluster

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a delivery is dropped, the label of tributary_mqtt_deliveries_dropped_total.
const (
	dropQueueFull = "queue_full" // a memory queue at MaxQueuedMessages
	dropExpired   = "expired"    // the message expired before it could be sent
)

type metrics struct {
	sessions  prometheus.Gauge
	published *prometheus.CounterVec
	delivered *prometheus.CounterVec
	dropped   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_mqtt_sessions_local",
			Help: "MQTT sessions whose connection this node holds.",
		}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_mqtt_publishes_total",
			Help: "Messages published by this node's clients, by QoS.",
		}, []string{"qos"}),
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_mqtt_deliveries_total",
			Help: "Messages handed to this node's connections, by delivery QoS (resends included).",
		}, []string{"qos"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_mqtt_deliveries_dropped_total",
			Help: "Deliveries to this node's sessions that were dropped, by reason.",
		}, []string{"reason"}),
	}
	// A QoS 0 message the connection refuses (its outbound buffer full) is
	// counted by the connection, as tributary_mqtt_messages_dropped_total.
	for _, r := range []string{dropQueueFull, dropExpired} {
		m.dropped.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sessions, m.published, m.delivered, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cluster: register metrics: %w", err)
		}
	}
	return m, nil
}

func qosLabel(q byte) string {
	switch q {
	case 0:
		return "0"
	case 1:
		return "1"
	}
	return "2"
}
