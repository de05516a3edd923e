package raftstore

import (
	"encoding/binary"
	"fmt"
)

// The FSM's Pebble keyspace. The first byte of every key names its table;
// each table documents its shard key, the part of the key that a future
// sharded store (DESIGN.md, "Beyond one Raft group") would hash to pick a
// Raft group. Keys inside a table sort the way they are read.
//
//	table  key                         value                       shard key
//	0x00   0x00 | name                 meta values (below)          none: per group
//	0x01   0x01 | user key             user value                   user key
//
// The MQTT tables (mqtt_keys.go encodes them). c is a client id prefixed
// with its length (2 bytes, big-endian); seq, ms and counts are 8 bytes
// big-endian; a message id is raft index (8) | ordinal in the entry (4).
//
//	table  key                         value                       shard key
//	0x10   0x10 | client id            session record              client id
//	0x11   0x11 | client id            will (delay, expiry, msg)   client id
//	0x12   0x12 | c | full filter      subscription options        client id
//	0x13   0x13 | c | seq              queue entry (message id,    client id
//	                                   qos, flags, share, sub ids)
//	0x14   0x14 | c | packet id (2)    empty: inbound QoS 2 id     client id
//	0x15   0x15 | ms | client id       generation: a will or       client id
//	                                   expiry deadline
//	0x16   0x16 | message id           message body                none: per group
//	0x17   0x17 | message id           reference count             none: per group
//	0x18   0x18 | topic                message id (one reference)  topic
//	0x19   0x19 | $share/g/filter      round-robin position        $share/g/filter
//
// A message body belongs to the group that stores it: with several groups,
// each group holding a queue entry or the retained copy keeps its own body.
//
// The Kafka tables (kafka_keys.go encodes them). n is a topic number (4
// bytes, from the counter keyKafkaTopicNum: a re-created topic never
// reuses the keys of a deleted one), p a partition (4), offsets, producer
// ids and ms 8 bytes; all big-endian. g and t are a group id and a topic
// name prefixed with their length (2 bytes).
//
//	table  key                         value                       shard key
//	0x20   0x20 | topic name           topic (number, id,          topic
//	                                   partitions, retention)
//	0x21   0x21 | n | p                partition state (log start, n | p
//	                                   high watermark, epoch,
//	                                   bytes, batches)
//	0x22   0x22 | n | p | base offset  RecordBatch as stored        n | p
//	0x23   0x23 | n | p | base offset  batch index: last offset,    n | p
//	                                   max timestamp, size
//	0x24   0x24 | n | p | epoch (4)    start offset of the epoch    n | p
//	0x25   0x25 | n | p | producer id  producer epoch, last 5       n | p
//	                                   batches' sequences, offsets
//	0x26   0x26 | g | t | p            committed offset             g
//	0x27   0x27 | mapping name         mapping                      none: every group
//
// The node registry (node_commands.go encodes it). Partition leadership
// is not stored: it is a function of the live nodes (node_apply.go), and
// only its effect, the leader epochs, lives in the Kafka tables.
//
//	table  key                         value                       shard key
//	0x30   0x30 | node id              node (broker id, live,      none: every group
//	                                   changed ms, raft addr,
//	                                   kafka addr)
//
// The record log (0x22, 0x23) is keyed by base offset, which only grows,
// so its keys are appended at the end of each partition's range and
// retention is a range delete of a prefix (DESIGN.md, "Performance path").
//
// Tables are added by later commands; never reuse a table byte.
const (
	tableMeta byte = 0x00
	tableKV   byte = 0x01

	tableSession   byte = 0x10
	tableWill      byte = 0x11
	tableSub       byte = 0x12
	tableQueue     byte = 0x13
	tableInbound   byte = 0x14
	tableDeadline  byte = 0x15
	tableMsgBody   byte = 0x16
	tableMsgRefs   byte = 0x17
	tableRetained  byte = 0x18
	tableShareNext byte = 0x19

	tableKafkaTopic     byte = 0x20
	tableKafkaPartition byte = 0x21
	tableKafkaBatch     byte = 0x22
	tableKafkaIndex     byte = 0x23
	tableKafkaEpoch     byte = 0x24
	tableKafkaProducer  byte = 0x25
	tableKafkaOffset    byte = 0x26
	tableKafkaMapping   byte = 0x27

	tableNode byte = 0x30
)

// Meta keys.
var (
	// keyApplied holds the index of the last raft entry applied, as 8
	// big-endian bytes. It is written in the same Pebble batch as the
	// entry's effects, so the two are always consistent.
	keyApplied = []byte{tableMeta, 'a', 'p', 'p', 'l', 'i', 'e', 'd'}
	// keyFormat holds the keyspace format version, as one byte.
	keyFormat = []byte{tableMeta, 'f', 'o', 'r', 'm', 'a', 't'}
	// keyMQTTGeneration holds the last session generation handed out, as 8
	// big-endian bytes: one counter for every client id, so a generation is
	// never reused, even by a client whose session was deleted in between.
	keyMQTTGeneration = []byte{tableMeta, 'm', 'q', 't', 't', '-', 'g', 'e', 'n'}
	// keyKafkaTopicNum holds the next topic number, as 8 big-endian bytes.
	keyKafkaTopicNum = []byte{tableMeta, 'k', 'a', 'f', 'k', 'a', '-', 't', 'o', 'p', 'i', 'c'}
	// keyKafkaProducerID holds the next producer id, as 8 big-endian
	// bytes: every id below it was handed out by InitProducerID.
	keyKafkaProducerID = []byte{tableMeta, 'k', 'a', 'f', 'k', 'a', '-', 'p', 'i', 'd'}
	// keyNodeBrokerIDs counts the Kafka broker ids handed out, as 8
	// big-endian bytes: the next node registered gets the count plus one,
	// so ids start at 1 and a forgotten node's id is never handed out
	// again.
	keyNodeBrokerIDs = []byte{tableMeta, 'n', 'o', 'd', 'e', '-', 'b', 'r', 'o', 'k', 'e', 'r'}
)

// keyspaceFormat is the version of this keyspace layout. A database written
// by a newer layout is refused at open.
const keyspaceFormat byte = 1

// kvKey is the Pebble key of user key k in the key/value table.
func kvKey(k []byte) []byte {
	out := make([]byte, 0, 1+len(k))
	return append(append(out, tableKV), k...)
}

func encodeIndex(i uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, i)
}

func decodeIndex(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("raftstore: applied index is %d bytes, want 8", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}
