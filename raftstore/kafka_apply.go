package raftstore

import (
	"fmt"

	"tributary/mqttcodec"
)

// Apply of the Kafka commands other than produce: topics, producer ids,
// committed offsets and mappings. Each validates everything before its
// first write and rejects with the sentinel of kafka.go that says why.

// Kafka's defaults for a topic a mapping creates with retention 0 (a
// mapping's zero value means "the default", a topic's does not).
const (
	defaultRetentionMillis = 7 * 24 * 60 * 60 * 1000 // retention.ms
	defaultRetentionBytes  = -1                      // retention.bytes
)

func applyCreateTopic(a *applyContext, payload []byte) ([]byte, error) {
	r, err := decodeCreateTopic(payload)
	if err == nil {
		err = checkNewTopic(&r)
	}
	if err == nil {
		if _, exists := a.kq.topic(r.Name); exists {
			err = fmt.Errorf("%w: %q", ErrTopicExists, r.Name)
		}
	}
	if err != nil {
		return nil, rejectErr(CmdCreateTopic.String(), err)
	}
	return nil, a.createTopic(&r)
}

// checkNewTopic validates a topic's name and configuration.
func checkNewTopic(r *CreateTopicRequest) error {
	if err := validateTopicName(r.Name); err != nil {
		return err
	}
	if r.Partitions < 1 || r.Partitions > MaxPartitions {
		return fmt.Errorf("%w: %d (1..%d)", ErrInvalidPartitions, r.Partitions, MaxPartitions)
	}
	if r.RetentionMillis < -1 || r.RetentionBytes < -1 {
		return fmt.Errorf("%w: retention.ms %d, retention.bytes %d (≥ -1)", ErrInvalidConfig, r.RetentionMillis, r.RetentionBytes)
	}
	return nil
}

// validateTopicName applies Kafka's rules: 1..249 characters of
// [a-zA-Z0-9._-], and not "." or "..".
func validateTopicName(name string) error {
	if name == "" || len(name) > MaxTopicNameBytes || name == "." || name == ".." {
		return fmt.Errorf("%w: %q", ErrInvalidTopic, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q has character %q", ErrInvalidTopic, name, c)
		}
	}
	return nil
}

// createTopic writes a new topic (checked by the caller): its record,
// and per partition an empty state and leader epoch 0 starting at 0.
func (a *applyContext) createTopic(r *CreateTopicRequest) error {
	num, err := a.nextCounter(keyKafkaTopicNum)
	if err != nil {
		return err
	}
	if num > 0xFFFFFFFF {
		return fmt.Errorf("%w: topic numbers exhausted", errCorruptKafka)
	}
	t := &kafkaTopic{num: uint32(num), parts: make([]partState, r.Partitions), Topic: Topic{
		Name: r.Name, ID: r.ID, Partitions: r.Partitions, RetentionMillis: r.RetentionMillis,
		RetentionBytes: r.RetentionBytes, CreatedMillis: r.NowMillis,
	}}
	if err := a.set(kafkaTopicKey(r.Name), t.encode()); err != nil {
		return err
	}
	zero := (&partState{}).encode()
	start := appendI64(nil, 0)
	for p := range r.Partitions {
		k := partKey{t.num, p}
		if err := a.set(partitionKey(k), zero); err != nil {
			return err
		}
		if err := a.set(epochKey(k, 0), start); err != nil {
			return err
		}
	}
	a.kq.addTopic(t)
	return nil
}

func applyDeleteTopic(a *applyContext, payload []byte) ([]byte, error) {
	name, err := decodeName(payload)
	if err != nil {
		return nil, rejectErr(CmdDeleteTopic.String(), err)
	}
	t, ok := a.kq.topic(name)
	if !ok {
		return nil, rejectErr(CmdDeleteTopic.String(), fmt.Errorf("%w: %q", ErrUnknownTopicOrPartition, name))
	}
	for _, table := range []byte{tableKafkaPartition, tableKafkaBatch, tableKafkaIndex, tableKafkaEpoch, tableKafkaProducer} {
		p := topicNumPrefix(table, t.num)
		if err := a.batch.DeleteRange(p, prefixEnd(p), nil); err != nil {
			return nil, fmt.Errorf("raftstore: stage delete of topic %q: %w", name, err)
		}
	}
	if err := a.del(kafkaTopicKey(name)); err != nil {
		return nil, err
	}
	if err := a.deleteOffsetsOf(name); err != nil {
		return nil, err
	}
	a.kq.deleteTopic(t)
	return nil, nil
}

// deleteOffsetsOf deletes every group's committed offsets of a topic. The
// offsets table is keyed by group (how it is read), so this scans it: a
// topic deletion is rare.
func (a *applyContext) deleteOffsetsOf(topic string) error {
	var keys [][]byte
	err := scanPrefix(a.batch, []byte{tableKafkaOffset}, func(k, _ []byte) error {
		_, t, _, err := parseOffsetKey(k)
		if err == nil && t == topic {
			keys = append(keys, append([]byte(nil), k...))
		}
		return err
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := a.del(k); err != nil {
			return err
		}
	}
	return nil
}

func applyInitProducerID(a *applyContext, payload []byte) ([]byte, error) {
	prev, err := decodeInitProducerID(payload)
	if err != nil {
		return nil, rejectErr(CmdInitProducerID.String(), err)
	}
	// A known id bumps its epoch (KIP-360); the partitions learn the new
	// epoch from its first batch (sequence 0). An epoch at its maximum, or
	// an id this store never handed out, gets a new id.
	if prev != nil && prev.ID >= 0 && prev.Epoch >= 0 && prev.Epoch < 0x7FFF {
		known, err := a.producerHandedOut(prev.ID)
		if err != nil {
			return nil, err
		}
		if known {
			return encodeProducerID(ProducerID{ID: prev.ID, Epoch: prev.Epoch + 1}), nil
		}
	}
	id, err := a.nextCounter(keyKafkaProducerID)
	if err != nil {
		return nil, err
	}
	return encodeProducerID(ProducerID{ID: int64(id)}), nil
}

// Per-commit answers of offset-commit, one byte each.
const (
	commitOK byte = iota
	commitUnknownPartition
	commitMetadataTooLarge
	commitInvalidGroup
)

func applyOffsetCommit(a *applyContext, payload []byte) ([]byte, error) {
	commits, err := decodeOffsetCommits(payload)
	if err != nil {
		return nil, rejectErr(CmdOffsetCommit.String(), err)
	}
	codes := make([]byte, len(commits))
	for i := range commits {
		c := &commits[i]
		t, ok := a.kq.topic(c.Topic)
		switch {
		case c.Group == "":
			codes[i] = commitInvalidGroup
		case len(stringOr(c.Metadata)) > MaxOffsetMetadataBytes:
			codes[i] = commitMetadataTooLarge
		case !ok || c.Partition < 0 || c.Partition >= t.Partitions:
			codes[i] = commitUnknownPartition
		default:
			if err := a.set(offsetKey(c.Group, c.Topic, c.Partition), encodeOffsetCommit(c)); err != nil {
				return nil, err
			}
		}
	}
	return codes, nil
}

// commitError maps a per-commit answer to its error.
func commitError(code byte) error {
	switch code {
	case commitOK:
		return nil
	case commitUnknownPartition:
		return ErrUnknownTopicOrPartition
	case commitMetadataTooLarge:
		return ErrOffsetMetadataTooLarge
	case commitInvalidGroup:
		return ErrInvalidGroupID
	}
	return fmt.Errorf("raftstore: unknown offset commit answer %d", code)
}

func applyMappingSet(a *applyContext, payload []byte) ([]byte, error) {
	m, id, now, err := decodeMappingSet(payload)
	if err == nil {
		err = checkMapping(&m)
	}
	var create *CreateTopicRequest
	if err == nil {
		create, err = a.topicForMapping(&m, id, now)
	}
	if err != nil {
		return nil, rejectErr(CmdMappingSet.String(), err)
	}
	if create != nil {
		if err := a.createTopic(create); err != nil {
			return nil, err
		}
	}
	if err := a.set(kafkaMappingKey(m.Name), encodeMappingRecord(&m)); err != nil {
		return nil, err
	}
	return nil, a.kq.setMapping(m.Name, &m)
}

// checkMapping validates a mapping and clears the fields its direction
// does not use (they are not stored).
func checkMapping(m *Mapping) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: mapping %q: %s", ErrInvalidMapping, m.Name, fmt.Sprintf(format, args...))
	}
	if m.Name == "" || len(m.Name) > MaxMappingNameBytes {
		return bad("name of %d bytes (1..%d)", len(m.Name), MaxMappingNameBytes)
	}
	if err := validateTopicName(m.KafkaTopic); err != nil {
		return bad("%v", err)
	}
	switch m.Direction {
	case MQTTToKafka:
		if len(m.Filters) == 0 || len(m.Filters) > MaxMappingFilters {
			return bad("%d filters (1..%d)", len(m.Filters), MaxMappingFilters)
		}
		for _, f := range m.Filters {
			if err := mqttcodec.ValidateTopicFilter(f); err != nil {
				return bad("filter %q: %v", f, err)
			}
			if _, _, shared, _ := mqttcodec.ParseShared(f); shared {
				return bad("filter %q is a shared subscription", f)
			}
		}
		if _, err := parseTemplate(m.KeyTemplate, keyTemplateDefault, keyFields); err != nil {
			return bad("key template: %v", err)
		}
		m.TopicTemplate, m.QoS, m.Retain = "", 0, false
	case KafkaToMQTT:
		if _, err := parseTemplate(m.TopicTemplate, topicTemplateDefault, topicFields); err != nil {
			return bad("topic template: %v", err)
		}
		if m.QoS > 2 {
			return bad("qos %d", m.QoS)
		}
		m.Filters, m.KeyTemplate = nil, ""
	default:
		return bad("direction %d", m.Direction)
	}
	return nil
}

// topicForMapping returns the topic a mapping must create (nil when its
// topic exists). Both directions create a missing topic, so that a
// KafkaToMQTT mapping can be set before anyone produces: Partitions 0
// means 1, and retention 0 Kafka's defaults.
func (a *applyContext) topicForMapping(m *Mapping, id [16]byte, now int64) (*CreateTopicRequest, error) {
	if _, ok := a.kq.topic(m.KafkaTopic); ok {
		return nil, nil
	}
	r := &CreateTopicRequest{Name: m.KafkaTopic, ID: id, Partitions: m.Partitions,
		RetentionMillis: m.RetentionMillis, RetentionBytes: m.RetentionBytes, NowMillis: now}
	if r.Partitions == 0 {
		r.Partitions = 1
	}
	if r.RetentionMillis == 0 {
		r.RetentionMillis = defaultRetentionMillis
	}
	if r.RetentionBytes == 0 {
		r.RetentionBytes = defaultRetentionBytes
	}
	if err := checkNewTopic(r); err != nil {
		return nil, fmt.Errorf("%w: mapping %q: %w", ErrInvalidMapping, m.Name, err)
	}
	return r, nil
}

func applyMappingDelete(a *applyContext, payload []byte) ([]byte, error) {
	name, err := decodeName(payload)
	if err != nil {
		return nil, rejectErr(CmdMappingDelete.String(), err)
	}
	if _, ok := a.kq.mapping(name); !ok {
		return nil, rejectErr(CmdMappingDelete.String(), fmt.Errorf("%w: %q", ErrUnknownMapping, name))
	}
	if err := a.del(kafkaMappingKey(name)); err != nil {
		return nil, err
	}
	return nil, a.kq.setMapping(name, nil)
}
