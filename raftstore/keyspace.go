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
// Tables are added by later commands (sessions, queues, retained messages,
// Kafka partitions); never reuse a table byte.
const (
	tableMeta byte = 0x00
	tableKV   byte = 0x01
)

// Meta keys.
var (
	// keyApplied holds the index of the last raft entry applied, as 8
	// big-endian bytes. It is written in the same Pebble batch as the
	// entry's effects, so the two are always consistent.
	keyApplied = []byte{tableMeta, 'a', 'p', 'p', 'l', 'i', 'e', 'd'}
	// keyFormat holds the keyspace format version, as one byte.
	keyFormat = []byte{tableMeta, 'f', 'o', 'r', 'm', 'a', 't'}
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
