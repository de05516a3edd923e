package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// CommandType names one kind of state change in the replicated log. Values
// are part of the log format: never renumber or reuse one.
type CommandType uint16

// The command types this binary knows. A type missing here, or a version
// missing from the registry, stops the node at apply (see fsm.go).
const (
	// CmdKVPut sets a key of the generic key/value table.
	CmdKVPut CommandType = 1
	// CmdKVDelete removes a key of the generic key/value table.
	CmdKVDelete CommandType = 2
	// CmdKVAdd adds a signed delta to a uint64 counter of the key/value
	// table and returns the new value; it is the test suite's witness that
	// no command is applied twice.
	CmdKVAdd CommandType = 3

	// The MQTT state (mqtt.go). They start at 16 so that related commands
	// stay together in the numbering.

	// CmdSessionOpen claims a client identifier for a connection.
	CmdSessionOpen CommandType = 16
	// CmdSessionClose ends a connection's hold on its session.
	CmdSessionClose CommandType = 17
	// CmdSubscribe adds or replaces subscriptions of a session.
	CmdSubscribe CommandType = 18
	// CmdUnsubscribe removes subscriptions of a session.
	CmdUnsubscribe CommandType = 19
	// CmdPublish stores, retains and routes an application message.
	CmdPublish CommandType = 20
	// CmdReleaseInbound forgets an inbound QoS 2 packet id (PUBREL).
	CmdReleaseInbound CommandType = 21
	// CmdQueueAck removes or marks entries of a session's queue.
	CmdQueueAck CommandType = 22
	// CmdTick fires the wills and expires the sessions that are due.
	CmdTick CommandType = 23
	// CmdPublishBatch carries several publishes already delivered to the
	// MQTT subscribers online (QoS 0 messages whose Kafka records or
	// retained copies must still be stored), applied in order.
	CmdPublishBatch CommandType = 24

	// The Kafka state (kafka.go), from 32.

	// CmdCreateTopic creates a Kafka topic.
	CmdCreateTopic CommandType = 32
	// CmdDeleteTopic deletes a topic with its records, producer state and
	// committed offsets.
	CmdDeleteTopic CommandType = 33
	// CmdProduce appends one produced RecordBatch to a partition.
	CmdProduce CommandType = 34
	// CmdInitProducerID hands out an idempotent producer id or bumps an
	// epoch.
	CmdInitProducerID CommandType = 35
	// CmdOffsetCommit stores committed consumer-group offsets.
	CmdOffsetCommit CommandType = 36
	// CmdMappingSet adds or replaces an MQTT<->Kafka mapping.
	CmdMappingSet CommandType = 37
	// CmdMappingDelete removes a mapping.
	CmdMappingDelete CommandType = 38
	// CmdKafkaTrim applies retention to every partition.
	CmdKafkaTrim CommandType = 39

	// The node registry (nodes.go), from 48.

	// CmdNodeRegister records a node as live with its addresses, handing
	// out its Kafka broker id on its first registration.
	CmdNodeRegister CommandType = 48
	// CmdNodeDown records a node as lost and ends the sessions connected
	// to it.
	CmdNodeDown CommandType = 49
	// CmdNodeForget removes a node from the registry.
	CmdNodeForget CommandType = 50
)

// String returns the command type's name for logs and errors.
func (t CommandType) String() string {
	switch t {
	case CmdKVPut:
		return "kv-put"
	case CmdKVDelete:
		return "kv-delete"
	case CmdKVAdd:
		return "kv-add"
	case CmdSessionOpen:
		return "session-open"
	case CmdSessionClose:
		return "session-close"
	case CmdSubscribe:
		return "subscribe"
	case CmdUnsubscribe:
		return "unsubscribe"
	case CmdPublish:
		return "publish"
	case CmdReleaseInbound:
		return "release-inbound"
	case CmdQueueAck:
		return "queue-ack"
	case CmdPublishBatch:
		return "publish-batch"
	case CmdTick:
		return "tick"
	}
	return kafkaCommandName(t)
}

func kafkaCommandName(t CommandType) string {
	switch t {
	case CmdCreateTopic:
		return "create-topic"
	case CmdDeleteTopic:
		return "delete-topic"
	case CmdProduce:
		return "produce"
	case CmdInitProducerID:
		return "init-producer-id"
	case CmdOffsetCommit:
		return "offset-commit"
	case CmdMappingSet:
		return "mapping-set"
	case CmdMappingDelete:
		return "mapping-delete"
	case CmdKafkaTrim:
		return "kafka-trim"
	}
	return nodeCommandName(t)
}

func nodeCommandName(t CommandType) string {
	switch t {
	case CmdNodeRegister:
		return "node-register"
	case CmdNodeDown:
		return "node-down"
	case CmdNodeForget:
		return "node-forget"
	}
	return fmt.Sprintf("command-type-%d", uint16(t))
}

// Command is one state change, as proposed and as stored in the log. The
// proposer puts everything apply needs into Payload (including any time),
// because apply may not read the clock (DESIGN.md, "Apply is deterministic").
type Command struct {
	Type    CommandType
	Version uint8
	Payload []byte
}

// encodedLen is the number of bytes c takes inside an entry.
func (c Command) encodedLen() int {
	return uvarintLen(uint64(c.Type)) + 1 + uvarintLen(uint64(len(c.Payload))) + len(c.Payload)
}

// entryFormatV1 is the first byte of every raft log entry this package writes.
//
//	+--------+-----------------+-------------------------------------------------------+
//	| format | count (uvarint) | count × [type (uvarint) | version (1B) | len (uvarint) | payload] |
//	+--------+-----------------+-------------------------------------------------------+
//
// One entry carries the commands of many proposers (proposer.go), so one
// raft append and one synced write cover all of them.
const entryFormatV1 byte = 1

// errEntryFormat reports an entry this binary cannot read. It is fatal at
// apply: a replica that skipped it would diverge from one that did not.
var errEntryFormat = errors.New("raftstore: unknown entry format")

// appendEntry encodes cmds as one log entry.
func appendEntry(dst []byte, cmds []Command) []byte {
	dst = append(dst, entryFormatV1)
	dst = binary.AppendUvarint(dst, uint64(len(cmds)))
	for _, c := range cmds {
		dst = binary.AppendUvarint(dst, uint64(c.Type))
		dst = append(dst, c.Version)
		dst = binary.AppendUvarint(dst, uint64(len(c.Payload)))
		dst = append(dst, c.Payload...)
	}
	return dst
}

// entryLen is the encoded size of an entry holding commands of total
// encoded length cmdBytes.
func entryLen(count, cmdBytes int) int {
	return 1 + uvarintLen(uint64(count)) + cmdBytes
}

// decodeEntry calls fn for every command in an entry. Payloads alias data.
// Every count and length is checked against the bytes left, so a corrupt
// entry costs time linear in its size.
func decodeEntry(data []byte, fn func(i int, c Command) error) (int, error) {
	if len(data) == 0 || data[0] != entryFormatV1 {
		if len(data) == 0 {
			return 0, fmt.Errorf("%w: empty entry", errEntryFormat)
		}
		return 0, fmt.Errorf("%w %d", errEntryFormat, data[0])
	}
	rest := data[1:]
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > uint64(len(rest)) { // every command takes at least 3 bytes
		return 0, fmt.Errorf("%w: bad command count", errEntryCorrupt)
	}
	rest = rest[n:]
	for i := 0; i < int(count); i++ {
		var c Command
		var err error
		c, rest, err = decodeCommand(rest)
		if err != nil {
			return i, fmt.Errorf("command %d: %w", i, err)
		}
		if err := fn(i, c); err != nil {
			return i, err
		}
	}
	if len(rest) != 0 {
		return int(count), fmt.Errorf("%w: %d trailing bytes", errEntryCorrupt, len(rest))
	}
	return int(count), nil
}

// errEntryCorrupt reports an entry whose framing does not parse. The log
// store checksums every entry, so this means a bug in the writer: fatal.
var errEntryCorrupt = errors.New("raftstore: corrupt entry")

func decodeCommand(b []byte) (Command, []byte, error) {
	typ, n := binary.Uvarint(b)
	if n <= 0 || typ > 0xFFFF {
		return Command{}, nil, fmt.Errorf("%w: bad command type", errEntryCorrupt)
	}
	b = b[n:]
	if len(b) < 1 {
		return Command{}, nil, fmt.Errorf("%w: missing version", errEntryCorrupt)
	}
	ver := b[0]
	b = b[1:]
	size, n := binary.Uvarint(b)
	if n <= 0 || size > uint64(len(b)-n) {
		return Command{}, nil, fmt.Errorf("%w: payload length past the end", errEntryCorrupt)
	}
	b = b[n:]
	p := b[:size:size]
	return Command{Type: CommandType(typ), Version: ver, Payload: p}, b[size:], nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
