package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Keys and records of the Kafka tables (keyspace.go lists them). A topic
// is named inside keys by its topic number, 4 bytes from a replicated
// counter, never reused: a deleted and re-created topic writes keys that
// no stale key of the old one can collide with. Partitions, offsets and
// epochs are big-endian and never negative, so keys sort numerically and
// the keys of the record log only grow.

// errCorruptKafka reports a stored Kafka record this binary cannot read.
// Apply stops the node on it, as for errCorruptState.
var errCorruptKafka = errors.New("raftstore: corrupt kafka state")

// partKey names one partition: a topic number and a partition.
type partKey struct {
	num uint32
	p   int32
}

// partPrefix is the prefix of every key of one partition in table.
func partPrefix(table byte, k partKey, extra int) []byte {
	b := make([]byte, 0, 9+extra)
	b = append(b, table)
	b = binary.BigEndian.AppendUint32(b, k.num)
	return binary.BigEndian.AppendUint32(b, uint32(k.p))
}

// topicNumPrefix is the prefix of every key of one topic in table.
func topicNumPrefix(table byte, num uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{table}, num)
}

func kafkaTopicKey(name string) []byte   { return tableKey(tableKafkaTopic, name) }
func kafkaMappingKey(name string) []byte { return tableKey(tableKafkaMapping, name) }
func partitionKey(k partKey) []byte      { return partPrefix(tableKafkaPartition, k, 0) }

// batchKey is the key of the stored batch with base offset base; the
// batch index uses the same suffix in its own table.
func batchKey(table byte, k partKey, base int64) []byte {
	return binary.BigEndian.AppendUint64(partPrefix(table, k, 8), uint64(base))
}

func epochKey(k partKey, epoch int32) []byte {
	return binary.BigEndian.AppendUint32(partPrefix(tableKafkaEpoch, k, 4), uint32(epoch))
}

func producerKey(k partKey, pid int64) []byte {
	return binary.BigEndian.AppendUint64(partPrefix(tableKafkaProducer, k, 8), uint64(pid))
}

// keySuffixU64 returns the 8-byte suffix (a base offset, a producer id)
// of a partition's key.
func keySuffixU64(k []byte) (uint64, error) {
	if len(k) != 17 {
		return 0, fmt.Errorf("%w: key %x", errCorruptKafka, k)
	}
	return binary.BigEndian.Uint64(k[9:]), nil
}

// groupPrefix is the prefix of every committed offset of a group.
func groupPrefix(group string) []byte {
	return clientPrefix(tableKafkaOffset, group, 0)
}

func offsetKey(group, topic string, partition int32) []byte {
	k := groupPrefix(group)
	k = binary.BigEndian.AppendUint16(k, uint16(len(topic)))
	k = append(k, topic...)
	return binary.BigEndian.AppendUint32(k, uint32(partition))
}

// parseOffsetKey splits a committed offset's key.
func parseOffsetKey(k []byte) (group, topic string, partition int32, err error) {
	d := decoder{b: k}
	d.u8("table")
	group = string(d.take(int(d.u16("group length")), "group"))
	topic = string(d.take(int(d.u16("topic length")), "topic"))
	partition = int32(d.u32("partition"))
	if err := d.done(); err != nil {
		return "", "", 0, fmt.Errorf("%w: offset key: %w", errCorruptKafka, err)
	}
	return group, topic, partition, nil
}

// kafkaTopic is a topic as stored and indexed: its public description,
// its number and (in the index) its partitions' states.
type kafkaTopic struct {
	Topic
	num   uint32
	parts []partState
}

func (t *kafkaTopic) encode() []byte {
	p := make([]byte, 0, 64)
	p = append(p, recordFormatV1)
	p = binary.BigEndian.AppendUint32(p, t.num)
	p = append(p, t.ID[:]...)
	p = binary.BigEndian.AppendUint32(p, uint32(t.Partitions))
	p = binary.BigEndian.AppendUint64(p, uint64(t.RetentionMillis))
	p = binary.BigEndian.AppendUint64(p, uint64(t.RetentionBytes))
	return binary.BigEndian.AppendUint64(p, uint64(t.CreatedMillis))
}

func decodeKafkaTopic(name string, v []byte) (kafkaTopic, error) {
	d := decoder{b: v}
	t := kafkaTopic{Topic: Topic{Name: name}}
	if d.u8("format") != recordFormatV1 {
		d.fail("topic record format")
	}
	t.num = d.u32("topic number")
	copy(t.ID[:], d.take(16, "topic id"))
	t.Partitions = int32(d.u32("partitions"))
	t.RetentionMillis = int64(d.u64("retention ms"))
	t.RetentionBytes = int64(d.u64("retention bytes"))
	t.CreatedMillis = int64(d.u64("created"))
	if err := d.done(); err != nil {
		return t, fmt.Errorf("%w: topic %q: %w", errCorruptKafka, name, err)
	}
	if t.Partitions < 1 || t.Partitions > MaxPartitions {
		return t, fmt.Errorf("%w: topic %q has %d partitions", errCorruptKafka, name, t.Partitions)
	}
	return t, nil
}

// partState is a partition's replicated state (table partitions).
type partState struct {
	logStart int64
	hw       int64
	epoch    int32
	bytes    int64
	batches  int64
}

func (s partState) public() PartitionState {
	return PartitionState{LogStartOffset: s.logStart, HighWatermark: s.hw, LeaderEpoch: s.epoch, Bytes: s.bytes}
}

func (s *partState) encode() []byte {
	p := make([]byte, 0, 37)
	p = append(p, recordFormatV1)
	p = binary.BigEndian.AppendUint64(p, uint64(s.logStart))
	p = binary.BigEndian.AppendUint64(p, uint64(s.hw))
	p = binary.BigEndian.AppendUint32(p, uint32(s.epoch))
	p = binary.BigEndian.AppendUint64(p, uint64(s.bytes))
	return binary.BigEndian.AppendUint64(p, uint64(s.batches))
}

func decodePartState(v []byte) (partState, error) {
	d := decoder{b: v}
	var s partState
	if d.u8("format") != recordFormatV1 {
		d.fail("partition record format")
	}
	s.logStart = int64(d.u64("log start"))
	s.hw = int64(d.u64("high watermark"))
	s.epoch = int32(d.u32("leader epoch"))
	s.bytes = int64(d.u64("bytes"))
	s.batches = int64(d.u64("batches"))
	if err := d.done(); err != nil {
		return s, fmt.Errorf("%w: partition: %w", errCorruptKafka, err)
	}
	if s.logStart < 0 || s.hw < s.logStart || s.bytes < 0 || s.batches < 0 || s.epoch < 0 {
		return s, fmt.Errorf("%w: partition state %+v", errCorruptKafka, s)
	}
	return s, nil
}

// batchMeta is one stored batch's entry in the batch index: what
// retention, ListOffsets by time and size accounting need without reading
// the batch.
type batchMeta struct {
	lastOffset   int64
	maxTimestamp int64
	size         int32
}

func (m batchMeta) encode() []byte {
	p := make([]byte, 0, 20)
	p = binary.BigEndian.AppendUint64(p, uint64(m.lastOffset))
	p = binary.BigEndian.AppendUint64(p, uint64(m.maxTimestamp))
	return binary.BigEndian.AppendUint32(p, uint32(m.size))
}

func decodeBatchMeta(v []byte) (batchMeta, error) {
	if len(v) != 20 {
		return batchMeta{}, fmt.Errorf("%w: batch index entry of %d bytes", errCorruptKafka, len(v))
	}
	return batchMeta{
		lastOffset:   int64(binary.BigEndian.Uint64(v)),
		maxTimestamp: int64(binary.BigEndian.Uint64(v[8:])),
		size:         int32(binary.BigEndian.Uint32(v[16:])),
	}, nil
}

// producerBatches is how many of a producer's latest batches a partition
// remembers for duplicate detection (Kafka's
// max.in.flight.requests.per.connection ≤ 5 for idempotence).
const producerBatches = 5

// seqBatch is one remembered batch of an idempotent producer.
type seqBatch struct {
	firstSeq, lastSeq int32
	baseOffset        int64
}

// producerState is an idempotent producer's state in one partition
// (table producers): its epoch and its last batches, oldest first.
type producerState struct {
	epoch   int16
	batches []seqBatch
}

func (s *producerState) encode() []byte {
	p := make([]byte, 0, 4+len(s.batches)*16)
	p = append(p, recordFormatV1)
	p = binary.BigEndian.AppendUint16(p, uint16(s.epoch))
	p = append(p, byte(len(s.batches)))
	for _, b := range s.batches {
		p = binary.BigEndian.AppendUint32(p, uint32(b.firstSeq))
		p = binary.BigEndian.AppendUint32(p, uint32(b.lastSeq))
		p = binary.BigEndian.AppendUint64(p, uint64(b.baseOffset))
	}
	return p
}

func decodeProducerState(v []byte) (producerState, error) {
	d := decoder{b: v}
	var s producerState
	if d.u8("format") != recordFormatV1 {
		d.fail("producer record format")
	}
	s.epoch = int16(d.u16("epoch"))
	n := int(d.u8("batch count"))
	if n > producerBatches {
		d.fail("too many batches")
		n = 0
	}
	for range n {
		s.batches = append(s.batches, seqBatch{
			firstSeq:   int32(d.u32("first seq")),
			lastSeq:    int32(d.u32("last seq")),
			baseOffset: int64(d.u64("base offset")),
		})
	}
	if err := d.done(); err != nil {
		return s, fmt.Errorf("%w: producer: %w", errCorruptKafka, err)
	}
	return s, nil
}

// encodeOffsetCommit returns a committed offset's value (table offsets).
func encodeOffsetCommit(c *OffsetCommit) []byte {
	p := make([]byte, 0, 32+len(stringOr(c.Metadata)))
	p = append(p, recordFormatV1)
	p = binary.BigEndian.AppendUint64(p, uint64(c.Offset))
	p = binary.BigEndian.AppendUint32(p, uint32(c.LeaderEpoch))
	p = binary.BigEndian.AppendUint64(p, uint64(c.CommitMillis))
	p = append(p, boolBit(c.Metadata != nil, 1))
	return appendString(p, stringOr(c.Metadata))
}

// decodeOffsetCommit fills c's stored fields from a committed offset's value.
func decodeOffsetCommit(v []byte, c *OffsetCommit) error {
	d := decoder{b: v}
	if d.u8("format") != recordFormatV1 {
		d.fail("offset record format")
	}
	c.Offset = int64(d.u64("offset"))
	c.LeaderEpoch = int32(d.u32("leader epoch"))
	c.CommitMillis = int64(d.u64("commit ms"))
	has := d.flag("offset flags", 1) != 0
	md := d.str("metadata", MaxOffsetMetadataBytes)
	if has {
		c.Metadata = &md
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("%w: committed offset: %w", errCorruptKafka, err)
	}
	return nil
}

func stringOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// appendI64 and friends write signed integers as their two's complement,
// big-endian (retention -1, offsets, epochs).
func appendI64(p []byte, v int64) []byte { return binary.BigEndian.AppendUint64(p, uint64(v)) }
func appendI32(p []byte, v int32) []byte { return binary.BigEndian.AppendUint32(p, uint32(v)) }
func (d *decoder) i64(what string) int64 { return int64(d.u64(what)) }
func (d *decoder) i32(what string) int32 { return int32(d.u32(what)) }

// maxInt32 is math.MaxInt32 as the sequence arithmetic needs it.
const maxInt32 = math.MaxInt32
