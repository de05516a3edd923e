package raftstore

import (
	"fmt"
	"slices"

	"tributary/kafkacodec"
	"tributary/mqttcodec"
)

// The bridges between MQTT and Kafka at apply (DESIGN.md, "The Kafka
// view"). MQTT→Kafka: every publish that goes through applyContext.publish
// (QoS 1/2, retained, wills, and QoS 0 publishes the proposer sends because
// they are mapped) and matches an MQTTToKafka mapping becomes a record;
// the records of one partition in one raft entry become one RecordBatch
// when the entry ends. Kafka→MQTT: the records of a batch produced to a
// KafkaToMQTT-mapped topic are published to MQTT through the same path.

// Record header names of MQTT-originated records.
const (
	headerQoS         = "mqtt.qos"
	headerRetain      = "mqtt.retain"
	headerClientID    = "mqtt.client_id"
	headerContentType = "content-type"
)

// Header values shared by every record (AppendBatch only reads them).
var (
	qosValues    = [3][]byte{[]byte("0"), []byte("1"), []byte("2")}
	retainValues = [2][]byte{[]byte("false"), []byte("true")}
	emptyValue   = []byte{}
)

// mirrorToKafka collects the records an MQTT publish of m appends: at most
// one per Kafka topic (the first matching mapping by name gives the key),
// never to the Kafka topic the message itself came from (a.kafkaFrom).
// The record aliases m, which outlives the entry's flush.
func (a *applyContext) mirrorToKafka(m *Message, now int64) {
	v := a.kq.mappingView()
	var done []string
	var headers []kafkacodec.RecordHeader
	for i := range v.toKafka {
		c := &v.toKafka[i]
		if c.topic == a.kafkaFrom || slices.Contains(done, c.topic) || !c.matches(m.Topic) {
			continue
		}
		t, ok := a.kq.topic(c.topic)
		if !ok {
			continue // the mapping's topic was deleted: nothing to append to
		}
		done = append(done, c.topic)
		if headers == nil {
			headers = mqttHeaders(m)
		}
		key := c.key.renderKey(m.Topic, m.PublisherID)
		value := m.Payload
		if value == nil {
			value = emptyValue // an MQTT payload is never null
		}
		k := partKey{t.num, kafkacodec.PartitionForKey(key, t.Partitions)}
		a.kq.addPending(k, t.Name, kafkacodec.BuildRecord{TimestampMillis: now, Key: key, Value: value, Headers: headers})
	}
}

// mqttHeaders returns the record headers of an MQTT message: QoS, retain,
// the publisher's client id (when known), the content type and every user
// property, in that order. Properties that do not decode (they were
// validated by the proposer, so this does not happen) add no headers.
func mqttHeaders(m *Message) []kafkacodec.RecordHeader {
	hs := make([]kafkacodec.RecordHeader, 0, 4)
	hs = append(hs, kafkacodec.RecordHeader{Key: headerQoS, Value: qosValues[min(m.QoS, 2)]})
	hs = append(hs, kafkacodec.RecordHeader{Key: headerRetain, Value: retainValues[boolInt(m.Retain)]})
	if m.PublisherID != "" {
		hs = append(hs, kafkacodec.RecordHeader{Key: headerClientID, Value: []byte(m.PublisherID)})
	}
	if len(m.Properties) == 0 {
		return hs
	}
	var props mqttcodec.Properties
	if _, err := mqttcodec.DecodePropertySection(m.Properties, mqttcodec.TypePublish, &props); err != nil {
		return hs
	}
	if props.Has(mqttcodec.PropContentType) {
		hs = append(hs, kafkacodec.RecordHeader{Key: headerContentType, Value: props.ContentType})
	}
	for k, v := range props.UserProperties() {
		hs = append(hs, kafkacodec.RecordHeader{Key: string(k), Value: v})
	}
	return hs
}

// addPending adds one record to the entry's pending records of k.
func (b *kafkaBatch) addPending(k partKey, topic string, r kafkacodec.BuildRecord) {
	i, ok := b.pendingAt[k]
	if !ok {
		i = len(b.pending)
		b.pendingAt[k] = i
		b.pending = append(b.pending, &pendingPart{k: k, topic: topic})
	}
	b.pending[i].recs = append(b.pending[i].recs, r)
}

// flushKafka writes the entry's pending MQTT records: one RecordBatch per
// partition, in the order the partitions were first appended to, at the
// partition's high watermark and leader epoch. Records for a topic deleted
// later in the entry are dropped.
func (a *applyContext) flushKafka() error {
	defer a.kq.nextEntry()
	for _, pp := range a.kq.pending {
		t, ok := a.kq.topic(pp.topic)
		if !ok || t.num != pp.k.num {
			continue
		}
		s := a.kq.part(pp.k)
		a.kq.scratch = kafkacodec.AppendBatch(a.kq.scratch[:0], s.hw, s.epoch, pp.recs)
		maxTs := pp.recs[0].TimestampMillis
		for _, r := range pp.recs[1:] {
			maxTs = max(maxTs, r.TimestampMillis)
		}
		if err := a.appendBatch(pp.k, &s, a.kq.scratch, int64(len(pp.recs)), maxTs); err != nil {
			return err
		}
		a.kq.appendedMQTT += int64(len(pp.recs))
	}
	return nil
}

// appendBatch stores a stamped batch of n records at s.hw, with its index
// entry, and advances the partition.
func (a *applyContext) appendBatch(k partKey, s *partState, batch []byte, n, maxTs int64) error {
	base := s.hw
	if err := a.set(batchKey(tableKafkaBatch, k, base), batch); err != nil {
		return err
	}
	meta := batchMeta{lastOffset: base + n - 1, maxTimestamp: maxTs, size: int32(len(batch))}
	if err := a.set(batchKey(tableKafkaIndex, k, base), meta.encode()); err != nil {
		return err
	}
	// Readers never ask past the indexed high watermark, which moves after
	// this entry's commit, so caching it now shows it to no one early.
	a.kq.idx.cache.add(k, base, base+n, batch)
	s.hw += n
	s.bytes += int64(len(batch))
	s.batches++
	return a.savePart(k, *s)
}

// savePart writes a partition's state and records it in the batch view.
func (a *applyContext) savePart(k partKey, s partState) error {
	a.kq.setPart(k, s)
	return a.set(partitionKey(k), s.encode())
}

// recordsToMQTT returns the MQTT messages the records of a batch produced
// to a KafkaToMQTT-mapped topic publish: one per record and mapping, in
// record order. Every message is built (and so validated) before anything
// is written, so one bad record rejects the batch whole. The messages own
// their bytes: the records alias a buffer that ReadRecords may reuse.
func recordsToMQTT(batch []byte, maps []compiledToMQTT) ([]Message, error) {
	var msgs []Message
	err := kafkacodec.ReadRecords(batch, MaxDecompressedBatchBytes, func(r *kafkacodec.Record) error {
		for i := range maps {
			m, err := maps[i].message(r)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	}
	return msgs, nil
}

// message builds the MQTT message one mapping makes of a record.
func (c *compiledToMQTT) message(r *kafkacodec.Record) (Message, error) {
	topic, err := c.topic.renderTopic(r)
	if err != nil {
		return Message{}, err
	}
	if err := mqttcodec.ValidateTopicName(topic); err != nil {
		return Message{}, fmt.Errorf("%w: MQTT topic %q: %w", ErrInvalidRecord, topic, err)
	}
	m := Message{Topic: topic, QoS: c.qos, Retain: c.retain, Payload: cloneBytes(r.Value)}
	if m.Payload == nil {
		m.Payload = []byte{}
	}
	m.Properties = headerProperties(r.Headers)
	return m, nil
}

// headerProperties turns record headers into an MQTT 5 property section:
// "content-type" becomes the Content Type, every other header a User
// Property. A header MQTT cannot carry (not UTF-8, too long) is left out
// rather than failing the record: headers are metadata, often binary
// (tracing), and the message itself is still deliverable.
func headerProperties(hs []kafkacodec.RecordHeader) []byte {
	if len(hs) == 0 {
		return nil
	}
	var p mqttcodec.Properties
	for _, h := range hs {
		if h.Key == headerContentType && !p.Has(mqttcodec.PropContentType) {
			if len(h.Value) <= mqttcodec.MaxStringBytes && mqttcodec.ValidateUTF8(h.Value) == nil {
				p.SetContentType(cloneBytes(h.Value))
			}
			continue
		}
		_ = p.AddUserProperty([]byte(h.Key), h.Value) // refused: left out (see above)
	}
	if p.Empty() {
		return nil
	}
	out, err := mqttcodec.AppendPropertySection(nil, &p, mqttcodec.TypePublish)
	if err != nil {
		return nil
	}
	return out
}
