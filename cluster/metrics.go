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

// metrics are what only this package knows: local sessions and the drops
// it decides. Messages in and out are counted once, by the connections
// (wire/mqtt's tributary_mqtt_messages_{received,sent}_total).
type metrics struct {
	sessions prometheus.Gauge
	dropped  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tributary_mqtt_sessions_local",
			Help: "MQTT sessions whose connection this node holds.",
		}),
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
	for _, c := range []prometheus.Collector{m.sessions, m.dropped} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cluster: register metrics: %w", err)
		}
	}
	return m, nil
}
