package cluster

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// membershipMetrics tell an operator what the membership loop sees: the
// leader's probes, the nodes it marked down, and how far the followers
// trail. An alert on tributary_cluster_nodes_marked_down_total or on
// tributary_cluster_members_live below the member count finds a lost node.
type membershipMetrics struct {
	probes     *prometheus.CounterVec
	markedDown prometheus.Counter
}

// Results of a probe, the label of tributary_cluster_probes_total.
const (
	probeOK     = "ok"
	probeFailed = "failed"
)

func (m *Membership) registerMetrics(reg prometheus.Registerer) error {
	m.metrics = membershipMetrics{
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_cluster_probes_total",
			Help: "Status probes this node sent to other members while it led, by result.",
		}, []string{"result"}),
		markedDown: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_cluster_nodes_marked_down_total",
			Help: "Nodes this node, as leader, marked down after the grace period (their sessions ended).",
		}),
	}
	for _, r := range []string{probeOK, probeFailed} {
		m.metrics.probes.WithLabelValues(r)
	}
	live := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_cluster_members_live",
		Help: "Nodes the replicated node registry holds as live.",
	}, func() float64 {
		n := 0
		for _, ni := range m.node.store.Nodes() {
			if ni.Live {
				n++
			}
		}
		return float64(n)
	})
	lag := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tributary_cluster_max_follower_lag_entries",
		Help: "On the leader, the most raft entries a member lacked at its last answered probe; 0 elsewhere.",
	}, m.maxFollowerLag)
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{m.metrics.probes, m.metrics.markedDown, live, lag} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("cluster: register membership metrics: %w", err)
		}
	}
	return nil
}

// maxFollowerLag is the largest lag among the members that answered a
// probe of this leader.
func (m *Membership) maxFollowerLag() float64 {
	if !m.node.store.IsLeader() {
		return 0
	}
	last := m.node.store.LastIndex()
	m.mu.Lock()
	defer m.mu.Unlock()
	var most uint64
	for _, p := range m.probes {
		if !p.lastSeen.IsZero() && last > p.status.AppliedIndex {
			most = max(most, last-p.status.AppliedIndex)
		}
	}
	return float64(most)
}
