package raftstore

import (
	"encoding/binary"
	"fmt"
)

// Payloads of the Kafka commands (all version 1) and of their results, in
// the primitives of mqtt_codec.go; signed integers are their two's
// complement, big-endian.
//
//	create-topic:     name | id (16) | partitions (i32) | retention ms (i64) |
//	                  retention bytes (i64) | now ms (i64)
//	delete-topic:     name
//	produce:          topic | partition (i32) | now ms (i64) | batch (bytes)
//	init-producer-id: flags (1: prev) | [id (i64) | epoch (i16)]
//	offset-commit:    count (uvarint) | count × [group | topic | partition (i32) |
//	                  offset (i64) | leader epoch (i32) | commit ms (i64) |
//	                  flags (1: metadata) | metadata]
//	mapping-set:      mapping | topic id (16) | now ms (i64)
//	mapping:          name | direction (1) | kafka topic | partitions (i32) |
//	                  retention ms (i64) | retention bytes (i64) | count |
//	                  count × filter | key template | topic template | qos (1) |
//	                  flags (1: retain)
//	mapping-delete:   name
//	kafka-trim:       now ms (i64)
//
// Decoders check only the framing and the bounds of what they allocate;
// the rules a command must follow (topic names, partition counts) are
// checked by apply, which rejects with the sentinel that says why.
const kafkaCommandVersion = 1

// Limits of the Kafka state. Each is part of apply (a command beyond it is
// rejected on every replica alike), so raising one is a new command
// version, not a configuration change.
const (
	// MaxTopicNameBytes is Kafka's limit on a topic name.
	MaxTopicNameBytes = 249
	// MaxPartitions bounds a topic's partitions (our limit, not Kafka's:
	// the index holds every partition's state in memory).
	MaxPartitions = 10000
	// MaxOffsetMetadataBytes bounds a committed offset's metadata (Kafka's
	// offset.metadata.max.bytes default).
	MaxOffsetMetadataBytes = 4096
	// MaxMappingFilters bounds the MQTT filters of one mapping.
	MaxMappingFilters = 100
	// MaxMappingNameBytes bounds a mapping's name.
	MaxMappingNameBytes = 255
	// MaxTemplateBytes bounds a key or topic template.
	MaxTemplateBytes = 1024
	// MaxDecompressedBatchBytes bounds what apply decompresses of one
	// produced batch to publish its records to MQTT.
	MaxDecompressedBatchBytes = 64 << 20
)

const (
	initHasPrev      = 1 << 0
	offsetHasMeta    = 1 << 0
	mappingRetain    = 1 << 0
	produceDuplicate = 1 << 0
)

func createTopicCommand(r *CreateTopicRequest) Command {
	p := make([]byte, 0, 48+len(r.Name))
	p = appendString(p, r.Name)
	p = append(p, r.ID[:]...)
	p = appendI32(p, r.Partitions)
	p = appendI64(p, r.RetentionMillis)
	p = appendI64(p, r.RetentionBytes)
	p = appendMillis(p, r.NowMillis)
	return Command{Type: CmdCreateTopic, Version: kafkaCommandVersion, Payload: p}
}

func decodeCreateTopic(p []byte) (CreateTopicRequest, error) {
	d := decoder{b: p}
	var r CreateTopicRequest
	r.Name = d.str("topic", maxStringBytes)
	copy(r.ID[:], d.take(16, "topic id"))
	r.Partitions = d.i32("partitions")
	r.RetentionMillis = d.i64("retention ms")
	r.RetentionBytes = d.i64("retention bytes")
	r.NowMillis = d.millis("now")
	return r, d.done()
}

func nameCommand(t CommandType, name string) Command {
	return Command{Type: t, Version: kafkaCommandVersion, Payload: appendString(nil, name)}
}

func decodeName(p []byte) (string, error) {
	d := decoder{b: p}
	name := d.str("name", maxStringBytes)
	return name, d.done()
}

func produceCommand(r *ProduceRequest) Command {
	p := make([]byte, 0, 24+len(r.Topic)+len(r.Batch))
	p = appendString(p, r.Topic)
	p = appendI32(p, r.Partition)
	p = appendMillis(p, r.NowMillis)
	p = appendBytes(p, r.Batch)
	return Command{Type: CmdProduce, Version: kafkaCommandVersion, Payload: p}
}

// decodeProduce returns a request whose Batch aliases p.
func decodeProduce(p []byte) (ProduceRequest, error) {
	d := decoder{b: p}
	var r ProduceRequest
	r.Topic = d.str("topic", maxStringBytes)
	r.Partition = d.i32("partition")
	r.NowMillis = d.millis("now")
	r.Batch = d.bytes("batch", len(p))
	return r, d.done()
}

func encodeProduceResult(r *ProduceResult) []byte {
	p := make([]byte, 0, 17)
	p = appendI64(p, r.BaseOffset)
	p = appendI64(p, r.LogStartOffset)
	return append(p, boolBit(r.Duplicate, produceDuplicate))
}

func decodeProduceResult(p []byte) (ProduceResult, error) {
	d := decoder{b: p}
	var r ProduceResult
	r.BaseOffset = d.i64("base offset")
	r.LogStartOffset = d.i64("log start offset")
	r.Duplicate = d.flag("produce flags", produceDuplicate) != 0
	return r, d.done()
}

func initProducerIDCommand(prev *ProducerID) Command {
	if prev == nil {
		return Command{Type: CmdInitProducerID, Version: kafkaCommandVersion, Payload: []byte{0}}
	}
	p := appendI64([]byte{initHasPrev}, prev.ID)
	p = binary.BigEndian.AppendUint16(p, uint16(prev.Epoch))
	return Command{Type: CmdInitProducerID, Version: kafkaCommandVersion, Payload: p}
}

func decodeInitProducerID(p []byte) (*ProducerID, error) {
	d := decoder{b: p}
	var prev *ProducerID
	if d.flag("init flags", initHasPrev) != 0 {
		prev = &ProducerID{ID: d.i64("producer id"), Epoch: int16(d.u16("epoch"))}
	}
	return prev, d.done()
}

func encodeProducerID(id ProducerID) []byte {
	return binary.BigEndian.AppendUint16(appendI64(nil, id.ID), uint16(id.Epoch))
}

func decodeProducerID(p []byte) (ProducerID, error) {
	d := decoder{b: p}
	id := ProducerID{ID: d.i64("producer id"), Epoch: int16(d.u16("epoch"))}
	return id, d.done()
}

// minOffsetCommitBytes is the smallest encoded commit, for decoder.count.
const minOffsetCommitBytes = 1 + 1 + 4 + 8 + 4 + 8 + 1 + 1

func offsetCommitCommand(commits []OffsetCommit) Command {
	p := make([]byte, 0, 8+len(commits)*48)
	p = binary.AppendUvarint(p, uint64(len(commits)))
	for i := range commits {
		c := &commits[i]
		p = appendString(p, c.Group)
		p = appendString(p, c.Topic)
		p = appendI32(p, c.Partition)
		p = appendI64(p, c.Offset)
		p = appendI32(p, c.LeaderEpoch)
		p = appendMillis(p, c.CommitMillis)
		p = append(p, boolBit(c.Metadata != nil, offsetHasMeta))
		p = appendString(p, stringOr(c.Metadata))
	}
	return Command{Type: CmdOffsetCommit, Version: kafkaCommandVersion, Payload: p}
}

func decodeOffsetCommits(p []byte) ([]OffsetCommit, error) {
	d := decoder{b: p}
	n := d.count("commit count", minOffsetCommitBytes)
	out := make([]OffsetCommit, 0, n)
	for range n {
		var c OffsetCommit
		c.Group = d.str("group", maxStringBytes)
		c.Topic = d.str("topic", maxStringBytes)
		c.Partition = d.i32("partition")
		c.Offset = d.i64("offset")
		c.LeaderEpoch = d.i32("leader epoch")
		c.CommitMillis = d.millis("commit ms")
		has := d.flag("commit flags", offsetHasMeta) != 0
		md := d.str("metadata", maxStringBytes)
		if has {
			c.Metadata = &md
		}
		out = append(out, c)
	}
	return out, d.done()
}

func appendMapping(p []byte, m *Mapping) []byte {
	p = appendString(p, m.Name)
	p = append(p, byte(m.Direction))
	p = appendString(p, m.KafkaTopic)
	p = appendI32(p, m.Partitions)
	p = appendI64(p, m.RetentionMillis)
	p = appendI64(p, m.RetentionBytes)
	p = binary.AppendUvarint(p, uint64(len(m.Filters)))
	for _, f := range m.Filters {
		p = appendString(p, f)
	}
	p = appendString(p, m.KeyTemplate)
	p = appendString(p, m.TopicTemplate)
	return append(p, m.QoS, boolBit(m.Retain, mappingRetain))
}

func (d *decoder) mapping() Mapping {
	var m Mapping
	m.Name = d.str("mapping name", maxStringBytes)
	m.Direction = MappingDirection(d.u8("direction"))
	m.KafkaTopic = d.str("kafka topic", maxStringBytes)
	m.Partitions = d.i32("partitions")
	m.RetentionMillis = d.i64("retention ms")
	m.RetentionBytes = d.i64("retention bytes")
	n := d.count("filter count", minFilterBytes)
	if n > 0 {
		m.Filters = make([]string, 0, n)
	}
	for range n {
		m.Filters = append(m.Filters, d.str("filter", maxStringBytes))
	}
	m.KeyTemplate = d.str("key template", maxStringBytes)
	m.TopicTemplate = d.str("topic template", maxStringBytes)
	m.QoS = d.u8("qos")
	m.Retain = d.flag("mapping flags", mappingRetain) != 0
	return m
}

func mappingSetCommand(m *Mapping, id [16]byte, now int64) Command {
	p := appendMapping(make([]byte, 0, 128), m)
	p = append(p, id[:]...)
	p = appendMillis(p, now)
	return Command{Type: CmdMappingSet, Version: kafkaCommandVersion, Payload: p}
}

func decodeMappingSet(p []byte) (Mapping, [16]byte, int64, error) {
	d := decoder{b: p}
	m := d.mapping()
	var id [16]byte
	copy(id[:], d.take(16, "topic id"))
	now := d.millis("now")
	return m, id, now, d.done()
}

// encodeMappingRecord and decodeMappingRecord store a mapping (table
// mappings) in the mapping-set payload's form.
func encodeMappingRecord(m *Mapping) []byte {
	return appendMapping([]byte{recordFormatV1}, m)
}

func decodeMappingRecord(v []byte) (Mapping, error) {
	d := decoder{b: v}
	if d.u8("format") != recordFormatV1 {
		d.fail("mapping record format")
	}
	m := d.mapping()
	if err := d.done(); err != nil {
		return m, fmt.Errorf("%w: mapping: %w", errCorruptKafka, err)
	}
	return m, nil
}

func trimCommand(now int64) Command {
	return Command{Type: CmdKafkaTrim, Version: kafkaCommandVersion, Payload: appendMillis(nil, now)}
}

func decodeTrim(p []byte) (int64, error) {
	d := decoder{b: p}
	now := d.millis("now")
	return now, d.done()
}
