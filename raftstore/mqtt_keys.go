package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Keys and records of the MQTT tables (keyspace.go lists the tables). A
// client id inside a composite key is prefixed with its length as two
// big-endian bytes (client ids are arbitrary UTF-8 up to 65,535 bytes), so
// one client's keys form one contiguous prefix that no other client's keys
// share. Every record starts with a format byte.

// errCorruptState reports a stored MQTT record this binary cannot read.
// Apply stops the node on it: the database no longer says what the log
// says, and guessing would let replicas diverge.
var errCorruptState = errors.New("raftstore: corrupt mqtt state")

const recordFormatV1 byte = 1

// msgID names a stored message body: the raft index of the entry that
// stored it and the body's ordinal within that entry. It is derived from
// the log, so every replica picks the same one, and it only grows, so body
// keys are appended at the end of their table.
type msgID [12]byte

func newMsgID(index uint64, n uint32) msgID {
	var id msgID
	binary.BigEndian.PutUint64(id[:8], index)
	binary.BigEndian.PutUint32(id[8:], n)
	return id
}

func tableKey(table byte, rest string) []byte {
	return append(append(make([]byte, 0, 1+len(rest)), table), rest...)
}

func sessionKey(clientID string) []byte { return tableKey(tableSession, clientID) }
func willKey(clientID string) []byte    { return tableKey(tableWill, clientID) }
func retainedKey(topic string) []byte   { return tableKey(tableRetained, topic) }

// shareNextKey holds the round-robin position of a shared subscription,
// named by its full filter ("$share/{ShareName}/{filter}").
func shareNextKey(fullFilter string) []byte { return tableKey(tableShareNext, fullFilter) }

// clientPrefix is the prefix of every key of clientID in a per-client table.
func clientPrefix(table byte, clientID string, extra int) []byte {
	k := make([]byte, 0, 3+len(clientID)+extra)
	k = append(k, table)
	k = binary.BigEndian.AppendUint16(k, uint16(len(clientID)))
	return append(k, clientID...)
}

func subscriptionKey(clientID, filter string) []byte {
	return append(clientPrefix(tableSub, clientID, len(filter)), filter...)
}

func queueKey(clientID string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(clientPrefix(tableQueue, clientID, 8), seq)
}

func inboundKey(clientID string, packetID uint16) []byte {
	return binary.BigEndian.AppendUint16(clientPrefix(tableInbound, clientID, 2), packetID)
}

func deadlineKey(millis int64, clientID string) []byte {
	k := make([]byte, 0, 9+len(clientID))
	k = append(k, tableDeadline)
	k = binary.BigEndian.AppendUint64(k, uint64(millis))
	return append(k, clientID...)
}

func parseDeadlineKey(k []byte) (int64, string, error) {
	if len(k) < 10 || k[0] != tableDeadline {
		return 0, "", fmt.Errorf("%w: deadline key %x", errCorruptState, k)
	}
	return int64(binary.BigEndian.Uint64(k[1:9])), string(k[9:]), nil
}

func bodyKey(id msgID) []byte { return append([]byte{tableMsgBody}, id[:]...) }
func refsKey(id msgID) []byte { return append([]byte{tableMsgRefs}, id[:]...) }

// keySuffix returns what follows prefix in k (a filter, a seq).
func keySuffix(k, prefix []byte) []byte { return k[len(prefix):] }

// prefixEnd is the smallest key greater than every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// sessionRecord is a session's replicated state (table sessions). Its
// will, if any, lives apart (table wills), so that the record rewritten on
// every enqueue stays small.
type sessionRecord struct {
	node       string
	generation uint64
	connected  bool
	hasWill    bool
	protocol   byte
	expiry     uint32 // seconds; NeverExpires never
	maxQueued  uint32
	queueLen   uint32 // entries in the queue table
	// disconnectedAt is when the last connection ended (0 while connected).
	disconnectedAt int64
	// willDue and expireAt are the session's timers (0 for none); each has
	// an entry in the deadline table while it is set.
	willDue  int64
	expireAt int64
	// nextSeq is the seq the next queue entry gets; seqs start at 1.
	nextSeq uint64
	// sentThrough is the highest seq an earlier connection may have sent:
	// a queue entry at or below it is resent with DUP set.
	sentThrough uint64
}

const (
	recConnected = 1 << 0
	recHasWill   = 1 << 1
)

// persistent reports whether the session outlives its connection.
func (s *sessionRecord) persistent() bool { return s.expiry > 0 }

func (s *sessionRecord) encode() []byte {
	p := make([]byte, 0, 64+len(s.node))
	p = append(p, recordFormatV1, boolBit(s.connected, recConnected)|boolBit(s.hasWill, recHasWill), s.protocol)
	p = binary.BigEndian.AppendUint32(p, s.expiry)
	p = binary.BigEndian.AppendUint32(p, s.maxQueued)
	p = binary.BigEndian.AppendUint32(p, s.queueLen)
	p = binary.BigEndian.AppendUint64(p, s.generation)
	p = appendMillis(p, s.disconnectedAt)
	p = appendMillis(p, s.willDue)
	p = appendMillis(p, s.expireAt)
	p = binary.BigEndian.AppendUint64(p, s.nextSeq)
	p = binary.BigEndian.AppendUint64(p, s.sentThrough)
	return appendString(p, s.node)
}

func decodeSessionRecord(v []byte) (sessionRecord, error) {
	d := decoder{b: v}
	var s sessionRecord
	if d.u8("format") != recordFormatV1 {
		d.fail("session record format")
	}
	flags := d.flag("session flags", recConnected|recHasWill)
	s.connected, s.hasWill = flags&recConnected != 0, flags&recHasWill != 0
	s.protocol = d.u8("protocol")
	s.expiry = d.u32("expiry")
	s.maxQueued = d.u32("max queued")
	s.queueLen = d.u32("queue length")
	s.generation = d.u64("generation")
	s.disconnectedAt = d.millis("disconnected at")
	s.willDue = d.millis("will due")
	s.expireAt = d.millis("expire at")
	s.nextSeq = d.u64("next seq")
	s.sentThrough = d.u64("sent through")
	s.node = d.str("node", maxNodeIDBytes)
	if err := d.done(); err != nil {
		return s, fmt.Errorf("%w: session: %w", errCorruptState, err)
	}
	return s, nil
}

func encodeWill(w *Will) []byte {
	p := make([]byte, 0, 9+messageLen(&w.Message))
	p = append(p, recordFormatV1)
	p = binary.BigEndian.AppendUint32(p, w.DelaySeconds)
	p = binary.BigEndian.AppendUint32(p, w.ExpirySeconds)
	return appendMessage(p, &w.Message)
}

// decodeWill returns a will whose message aliases v.
func decodeWill(v []byte) (Will, error) {
	d := decoder{b: v}
	var w Will
	if d.u8("format") != recordFormatV1 {
		d.fail("will record format")
	}
	w.DelaySeconds = d.u32("will delay")
	w.ExpirySeconds = d.u32("will expiry")
	w.Message = d.message()
	if err := d.done(); err != nil {
		return w, fmt.Errorf("%w: will: %w", errCorruptState, err)
	}
	return w, nil
}

// queueEntry is one entry of a session's queue (table queue).
type queueEntry struct {
	msg      msgID
	qos      byte
	retain   bool
	received bool
	// share is the full filter of the shared subscription the entry came
	// from ("" for none): when the session ends, an unacknowledged QoS 1
	// entry moves to another member of it [MQTT-4.8.2-5, MQTT-4.8.2-6].
	share  string
	subIDs []uint32
}

const (
	entryRetain   = 1 << 0
	entryReceived = 1 << 1
)

func (e *queueEntry) encode() []byte {
	p := make([]byte, 0, 20+len(e.share)+len(e.subIDs)*4)
	p = append(p, recordFormatV1)
	p = append(p, e.msg[:]...)
	p = append(p, e.qos, boolBit(e.retain, entryRetain)|boolBit(e.received, entryReceived))
	p = appendString(p, e.share)
	p = binary.AppendUvarint(p, uint64(len(e.subIDs)))
	for _, id := range e.subIDs {
		p = binary.AppendUvarint(p, uint64(id))
	}
	return p
}

func decodeQueueEntry(v []byte) (queueEntry, error) {
	d := decoder{b: v}
	var e queueEntry
	if d.u8("format") != recordFormatV1 {
		d.fail("queue entry format")
	}
	copy(e.msg[:], d.take(len(e.msg), "message id"))
	e.qos = d.u8("qos")
	flags := d.flag("entry flags", entryRetain|entryReceived)
	e.retain, e.received = flags&entryRetain != 0, flags&entryReceived != 0
	e.share = d.str("share", maxStringBytes)
	n := d.count("subscription ids", 1)
	if n > 0 {
		e.subIDs = make([]uint32, 0, n)
	}
	for range n {
		e.subIDs = append(e.subIDs, uint32(d.uvarint("subscription id")))
	}
	if err := d.done(); err != nil {
		return e, fmt.Errorf("%w: queue entry: %w", errCorruptState, err)
	}
	return e, nil
}

// subOpts are a subscription's options as stored (table subscriptions) and
// indexed.
type subOpts struct {
	qos            byte
	noLocal        bool
	retainAsPub    bool
	retainHandling byte
	id             uint32
}

func (o subOpts) encode() []byte {
	p := []byte{recordFormatV1, o.qos, boolBit(o.noLocal, subNoLocal) | boolBit(o.retainAsPub, subRetainAsPublished), o.retainHandling}
	return binary.AppendUvarint(p, uint64(o.id))
}

func decodeSubOpts(v []byte) (subOpts, error) {
	d := decoder{b: v}
	var o subOpts
	if d.u8("format") != recordFormatV1 {
		d.fail("subscription format")
	}
	o.qos = d.u8("qos")
	flags := d.flag("subscription flags", subNoLocal|subRetainAsPublished)
	o.noLocal, o.retainAsPub = flags&subNoLocal != 0, flags&subRetainAsPublished != 0
	o.retainHandling = d.u8("retain handling")
	o.id = uint32(d.uvarint("subscription id"))
	if err := d.done(); err != nil {
		return o, fmt.Errorf("%w: subscription: %w", errCorruptState, err)
	}
	return o, nil
}

func optsOf(s *Subscription) subOpts {
	return subOpts{qos: s.QoS, noLocal: s.NoLocal, retainAsPub: s.RetainAsPublished, retainHandling: s.RetainHandling, id: s.SubscriptionID}
}

func encodeBody(m *Message) []byte {
	return appendMessage(append(make([]byte, 0, 1+messageLen(m)), recordFormatV1), m)
}

// decodeBody returns a message aliasing v.
func decodeBody(v []byte) (Message, error) {
	d := decoder{b: v}
	if d.u8("format") != recordFormatV1 {
		d.fail("message body format")
	}
	m := d.message()
	if err := d.done(); err != nil {
		return m, fmt.Errorf("%w: message body: %w", errCorruptState, err)
	}
	return m, nil
}

func decodeU64(v []byte, what string) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: %s is %d bytes", errCorruptState, what, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
