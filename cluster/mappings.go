package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tributary/raftstore"
)

// MappingSpec is a mapping as users write it: in the config file (YAML),
// through the admin endpoint (JSON) and the CLI. Exactly one direction is
// set.
type MappingSpec struct {
	// Name identifies the mapping; setting a mapping of the same name
	// replaces it.
	Name        string           `yaml:"name" json:"name"`
	MQTTToKafka *MQTTToKafkaSpec `yaml:"mqtt_to_kafka,omitempty" json:"mqtt_to_kafka,omitempty"`
	KafkaToMQTT *KafkaToMQTTSpec `yaml:"kafka_to_mqtt,omitempty" json:"kafka_to_mqtt,omitempty"`
}

// MQTTToKafkaSpec appends every MQTT publish matching one of Filters to a
// Kafka topic, which is created if missing.
type MQTTToKafkaSpec struct {
	// Filters are MQTT topic filters; wildcards allowed.
	Filters []string `yaml:"filters" json:"filters"`
	// KafkaTopic is the Kafka topic the records go to.
	KafkaTopic string `yaml:"kafka_topic" json:"kafka_topic"`
	// Partitions is the partition count of the topic when the mapping
	// creates it. Default 1.
	Partitions int32 `yaml:"partitions,omitempty" json:"partitions,omitempty"`
	// Key is the record key template: "{topic}" (the default) is the MQTT
	// topic, "{client_id}" the publisher, "{level:N}" the Nth topic level.
	Key string `yaml:"key,omitempty" json:"key,omitempty"`
	// Retention is the created topic's retention.ms as a duration ("168h",
	// the default) or "forever"; RetentionBytes its retention.bytes per
	// partition (0: unlimited).
	Retention      string `yaml:"retention,omitempty" json:"retention,omitempty"`
	RetentionBytes int64  `yaml:"retention_bytes,omitempty" json:"retention_bytes,omitempty"`
}

// KafkaToMQTTSpec publishes every record produced to a Kafka topic to
// MQTT.
type KafkaToMQTTSpec struct {
	// KafkaTopic is the Kafka topic read; created (Partitions, default 1)
	// if missing.
	KafkaTopic string `yaml:"kafka_topic" json:"kafka_topic"`
	Partitions int32  `yaml:"partitions,omitempty" json:"partitions,omitempty"`
	// MQTTTopic is the MQTT topic template: "{key}" (the default) is the
	// record key, "{header:NAME}" a header's value.
	MQTTTopic string `yaml:"mqtt_topic,omitempty" json:"mqtt_topic,omitempty"`
	// QoS and Retain are those of the MQTT publishes.
	QoS    byte `yaml:"qos,omitempty" json:"qos,omitempty"`
	Retain bool `yaml:"retain,omitempty" json:"retain,omitempty"`
}

// DefaultTopicRetention is a topic's retention.ms unless told otherwise:
// seven days, Kafka's default.
const DefaultTopicRetention = 7 * 24 * time.Hour

// ErrInvalidMapping reports a MappingSpec that cannot be applied.
var ErrInvalidMapping = raftstore.ErrInvalidMapping

// ErrUnknownMapping answers DeleteMapping for a name with no mapping.
var ErrUnknownMapping = raftstore.ErrUnknownMapping

// toMapping converts a spec into the replicated form.
func (s MappingSpec) toMapping() (raftstore.Mapping, error) {
	m := raftstore.Mapping{Name: s.Name}
	switch {
	case s.Name == "":
		return m, fmt.Errorf("%w: name is empty", ErrInvalidMapping)
	case (s.MQTTToKafka == nil) == (s.KafkaToMQTT == nil):
		return m, fmt.Errorf("%w %q: set exactly one of mqtt_to_kafka and kafka_to_mqtt", ErrInvalidMapping, s.Name)
	case s.MQTTToKafka != nil:
		k := s.MQTTToKafka
		retention, err := parseRetention(k.Retention)
		if err != nil {
			return m, fmt.Errorf("%w %q: %w", ErrInvalidMapping, s.Name, err)
		}
		m.Direction, m.Filters, m.KafkaTopic, m.KeyTemplate = raftstore.MQTTToKafka, k.Filters, k.KafkaTopic, k.Key
		m.Partitions, m.RetentionMillis, m.RetentionBytes = max(k.Partitions, 1), retention, -1
		if k.RetentionBytes > 0 {
			m.RetentionBytes = k.RetentionBytes
		}
	default:
		k := s.KafkaToMQTT
		m.Direction, m.KafkaTopic, m.TopicTemplate = raftstore.KafkaToMQTT, k.KafkaTopic, k.MQTTTopic
		m.Partitions, m.QoS, m.Retain = max(k.Partitions, 1), k.QoS, k.Retain
		m.RetentionMillis, m.RetentionBytes = DefaultTopicRetention.Milliseconds(), -1
	}
	return m, nil
}

// parseRetention reads a retention duration: "" is the default, "forever"
// is -1 (kept forever), anything else a positive Go duration.
func parseRetention(s string) (int64, error) {
	switch s {
	case "":
		return DefaultTopicRetention.Milliseconds(), nil
	case "forever":
		return -1, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Millisecond {
		return 0, fmt.Errorf("retention %q is not a duration of at least 1ms or \"forever\"", s)
	}
	return d.Milliseconds(), nil
}

// specOf converts a replicated mapping back into the user's form.
func specOf(m raftstore.Mapping) MappingSpec {
	s := MappingSpec{Name: m.Name}
	if m.Direction == raftstore.KafkaToMQTT {
		s.KafkaToMQTT = &KafkaToMQTTSpec{KafkaTopic: m.KafkaTopic, Partitions: m.Partitions,
			MQTTTopic: m.TopicTemplate, QoS: m.QoS, Retain: m.Retain}
		return s
	}
	k := &MQTTToKafkaSpec{Filters: m.Filters, KafkaTopic: m.KafkaTopic, Partitions: m.Partitions,
		Key: m.KeyTemplate, Retention: "forever"}
	if m.RetentionMillis >= 0 {
		k.Retention = (time.Duration(m.RetentionMillis) * time.Millisecond).String()
	}
	if m.RetentionBytes > 0 {
		k.RetentionBytes = m.RetentionBytes
	}
	s.MQTTToKafka = k
	return s
}

// SetMapping adds or replaces a mapping through the log; it survives
// restarts. Errors that errors.Is ErrInvalidMapping are the user's to fix.
func (n *Node) SetMapping(ctx context.Context, spec MappingSpec) error {
	m, err := spec.toMapping()
	if err != nil {
		return err
	}
	id, err := newTopicID()
	if err != nil {
		return err
	}
	if err := n.store.SetMapping(ctx, m, id, n.nowMillis()); err != nil {
		return fmt.Errorf("cluster: set mapping %q: %w", spec.Name, err)
	}
	return nil
}

// DeleteMapping removes a mapping (its Kafka topic stays).
func (n *Node) DeleteMapping(ctx context.Context, name string) error {
	if err := n.store.DeleteMapping(ctx, name); err != nil {
		return fmt.Errorf("cluster: delete mapping %q: %w", name, err)
	}
	return nil
}

// Mappings returns every mapping in the user's form, sorted by name.
func (n *Node) Mappings() []MappingSpec {
	ms := n.store.Mappings()
	out := make([]MappingSpec, 0, len(ms))
	for _, m := range ms {
		out = append(out, specOf(m))
	}
	return out
}

// IsUserError reports whether err is about the request (a bad or unknown
// mapping) rather than the node.
func IsUserError(err error) bool {
	return errors.Is(err, ErrInvalidMapping) || errors.Is(err, ErrUnknownMapping)
}

// WaitReady waits until the store can serve (raft has a leader and this
// node's state has caught up with what it knows is committed), or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	for {
		err := n.store.Ready()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: store not ready: %w (%w)", err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
