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
// Tables are added by later commands (Kafka partitions); never reuse a
// table byte.
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
