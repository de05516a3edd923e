package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Payloads of the node registry's commands (all version 1), and the node
// record (table 0x30, also node-register's result), in the primitives of
// mqtt_codec.go.
//
//	node-register: node id | raft addr | kafka addr | now ms (i64)
//	node-down:     node id | now ms (i64)
//	node-forget:   node id | now ms (i64)
//	node record:   format (1) | broker id (i32) | flags (1: live) |
//	               changed ms (i64) | raft addr | kafka addr
//
// A node id is 1..255 bytes, like the node of a session (maxNodeIDBytes);
// addresses are strings of at most 65,535 bytes.
const nodeCommandVersion = 1

// nodeLive is the flag bit of a live node in its record.
const nodeLive = 1 << 0

// errCorruptNode reports a stored node record this binary cannot read.
// Apply stops the node on it, as for errCorruptState.
var errCorruptNode = errors.New("raftstore: corrupt node registry")

func nodeKey(id string) []byte { return tableKey(tableNode, id) }

func nodeRegisterCommand(r *NodeRegistration) Command {
	p := make([]byte, 0, 16+len(r.ID)+len(r.RaftAddr)+len(r.KafkaAddr))
	p = appendString(p, r.ID)
	p = appendString(p, r.RaftAddr)
	p = appendString(p, r.KafkaAddr)
	p = appendMillis(p, r.NowMillis)
	return Command{Type: CmdNodeRegister, Version: nodeCommandVersion, Payload: p}
}

func decodeNodeRegister(p []byte) (NodeRegistration, error) {
	d := decoder{b: p}
	var r NodeRegistration
	r.ID = d.nodeID()
	r.RaftAddr = d.str("raft addr", maxStringBytes)
	r.KafkaAddr = d.str("kafka addr", maxStringBytes)
	r.NowMillis = d.millis("now")
	return r, d.done()
}

// nodeCommand is a node-down or node-forget command.
func nodeCommand(t CommandType, id string, now int64) Command {
	p := make([]byte, 0, 10+len(id))
	p = appendString(p, id)
	return Command{Type: t, Version: nodeCommandVersion, Payload: appendMillis(p, now)}
}

// decodeNodeCommand decodes a node-down or node-forget payload.
func decodeNodeCommand(p []byte) (id string, now int64, err error) {
	d := decoder{b: p}
	id = d.nodeID()
	now = d.millis("now")
	return id, now, d.done()
}

// nodeID reads a node id: not empty, at most maxNodeIDBytes.
func (d *decoder) nodeID() string {
	id := d.str("node id", maxNodeIDBytes)
	if d.err == nil && id == "" {
		d.fail("empty node id")
	}
	return id
}

// encodeNodeRecord encodes a node's record; its id is the key's.
func encodeNodeRecord(n *NodeInfo) []byte {
	p := make([]byte, 0, 24+len(n.RaftAddr)+len(n.KafkaAddr))
	p = append(p, recordFormatV1)
	p = appendI32(p, n.BrokerID)
	p = append(p, boolBit(n.Live, nodeLive))
	p = appendMillis(p, n.ChangedMillis)
	p = appendString(p, n.RaftAddr)
	return appendString(p, n.KafkaAddr)
}

// decodeNodeRecord decodes the record of node id.
func decodeNodeRecord(id string, v []byte) (NodeInfo, error) {
	d := decoder{b: v}
	n := NodeInfo{ID: id}
	if d.u8("format") != recordFormatV1 {
		d.fail("node record format")
	}
	n.BrokerID = d.i32("broker id")
	n.Live = d.flag("node flags", nodeLive) != 0
	n.ChangedMillis = d.millis("changed ms")
	n.RaftAddr = d.str("raft addr", maxStringBytes)
	n.KafkaAddr = d.str("kafka addr", maxStringBytes)
	if err := d.done(); err != nil {
		return n, fmt.Errorf("%w: node %q: %w", errCorruptNode, id, err)
	}
	if n.BrokerID < 1 {
		return n, fmt.Errorf("%w: node %q has broker id %d", errCorruptNode, id, n.BrokerID)
	}
	return n, nil
}

// nodeIDOfKey returns the node id of a key of the node table.
func nodeIDOfKey(k []byte) (string, error) {
	if len(k) < 2 || len(k) > 1+maxNodeIDBytes || k[0] != tableNode {
		return "", fmt.Errorf("%w: key %x", errCorruptNode, k)
	}
	return string(k[1:]), nil
}

// appendBrokerIDs is the value of keyNodeBrokerIDs.
func appendBrokerIDs(p []byte, n uint64) []byte { return binary.BigEndian.AppendUint64(p, n) }
