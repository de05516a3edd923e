package raftstore

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's Prometheus series. They are always collected; a
// nil Config.Registerer only means nobody exposes them.
type metrics struct {
	proposals     *prometheus.CounterVec // by result
	entryCommands prometheus.Histogram
	entryBytes    prometheus.Histogram
	commitSeconds prometheus.Histogram
	applySeconds  prometheus.Histogram
	snapshots     prometheus.Counter
	restores      prometheus.Counter
	queueDropped  prometheus.Counter
	kafkaRecords  *prometheus.CounterVec // by origin
}

func newMetrics() *metrics {
	return &metrics{
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_raft_proposals_total",
			Help: "Commands proposed, by result: committed, rejected (committed, refused by apply), failed.",
		}, []string{"result"}),
		entryCommands: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_raft_entry_commands",
			Help:    "Commands packed into one raft log entry.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		entryBytes: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_raft_entry_bytes",
			Help:    "Size of the raft log entries this node proposed.",
			Buckets: prometheus.ExponentialBuckets(64, 4, 10),
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_raft_commit_seconds",
			Help:    "Time from proposing a command to learning its committed, applied result.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tributary_raft_apply_seconds",
			Help:    "Time the state machine took to apply one batch of committed entries.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 16),
		}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_raft_snapshots_total",
			Help: "State machine snapshots started.",
		}),
		restores: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_raft_snapshot_restores_total",
			Help: "State machine restores from a snapshot (installed by the leader or found at start).",
		}),
		queueDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tributary_mqtt_queue_dropped_total",
			Help: "QoS 1 and 2 messages not queued for a persistent session because its queue held MaxQueuedMessages.",
		}),
		kafkaRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_kafka_records_appended_total",
			Help: "Records appended to Kafka partitions on this node, by origin: mqtt (mapped publishes) or kafka (produced).",
		}, []string{"origin"}),
	}
}

// register registers the store's series, including gauges read from s.
func (m *metrics) register(r prometheus.Registerer, s *Store) error {
	if r == nil {
		return nil
	}
	gauges := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_raft_applied_index",
			Help: "Index of the last raft entry applied to this node's state.",
		}, func() float64 { return float64(s.fsm.applied.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_raft_commit_index",
			Help: "Index of the last raft entry this node knows to be committed.",
		}, func() float64 { return float64(s.raft.CommitIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_raft_last_index",
			Help: "Index of the last entry in this node's raft log.",
		}, func() float64 { return float64(s.raft.LastIndex()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_raft_term",
			Help: "This node's current raft term.",
		}, func() float64 { return float64(s.raft.CurrentTerm()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_raft_leader",
			Help: "1 while this node is the raft leader.",
		}, func() float64 { return boolGauge(s.IsLeader()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_raft_log_bytes",
			Help: "Approximate bytes held by this node's raft log.",
		}, func() float64 { return float64(s.logs.LogBytes()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_raft_pending_proposals",
			Help: "Proposals queued for the next raft entry (bounded by MaxPendingProposals).",
		}, func() float64 { return float64(len(s.proposer.queue)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_mqtt_sessions",
			Help: "MQTT sessions in the replicated state, connected or not.",
		}, func() float64 { return float64(s.fsm.mqtt.count.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_mqtt_retained_messages",
			Help: "Retained messages in the replicated state (expired ones count until a subscribe meets them).",
		}, func() float64 { return float64(s.fsm.mqtt.retained.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_mqtt_queued_messages",
			Help: "Entries in the queues of persistent sessions, in the replicated state.",
		}, func() float64 { return float64(s.fsm.mqtt.queued.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_kafka_partition_bytes",
			Help: "Bytes of record batches stored in all Kafka partitions, in the replicated state.",
		}, func() float64 { return float64(s.fsm.kafka.bytes.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_kafka_cache_bytes",
			Help: "Memory held by the cache of the newest Kafka record batches (bounded by its budget).",
		}, func() float64 { return float64(s.fsm.kafka.cache.usedBytes()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "tributary_kafka_cache_reads_total",
			Help:        "Partition reads of Fetch and ListOffsets answered from the batch cache.",
			ConstLabels: prometheus.Labels{"result": "hit"},
		}, func() float64 { return float64(s.fsm.kafka.cache.hits.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "tributary_kafka_cache_reads_total",
			Help:        "Partition reads of Fetch and ListOffsets answered from the batch cache.",
			ConstLabels: prometheus.Labels{"result": "miss"},
		}, func() float64 { return float64(s.fsm.kafka.cache.misses.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tributary_kafka_topics",
			Help: "Kafka topics in the replicated state.",
		}, func() float64 { return float64(s.fsm.kafka.topicCount.Load()) }),
	}
	all := append([]prometheus.Collector{
		m.proposals, m.entryCommands, m.entryBytes, m.commitSeconds,
		m.applySeconds, m.snapshots, m.restores, m.queueDropped, m.kafkaRecords,
	}, gauges...)
	for _, c := range all {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("raftstore: register metrics: %w", err)
		}
	}
	return nil
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
