package mqtt

import (
	"errors"
	"net"
	"sync"
	"time"

	"github.com/valyala/bytebufferpool"

	"tributary/cluster"
	"tributary/mqttcodec"
)

// The outbound path. Everything a connection sends goes through one
// queue, guarded by conn.mu: PUBLISH and PUBREL from the session (Send),
// acknowledgements from the commit callbacks, and control packets from
// the reader. A writer goroutine starts when the queue gets its first item
// and exits when it finds the queue empty, so an idle connection has
// neither a writer nor a buffer. The writer takes the whole queue at once,
// encodes it into one pooled buffer — a large payload is not copied but
// referenced — and writes it with one writev (net.Buffers).

// itemKind says what an outItem holds.
type itemKind uint8

const (
	itemOutbound itemKind = iota // a PUBLISH or PUBREL from the session
	itemAck                      // PUBACK, PUBREC, PUBREL or PUBCOMP built here
	itemPingresp
	itemFrame // a control packet the reader encoded
)

// outItem is one queued packet, encoded only when the writer takes it.
type outItem struct {
	kind  itemKind
	pkt   mqttcodec.PacketType // itemAck
	code  mqttcodec.ReasonCode // itemAck, MQTT 5
	id    uint16               // itemAck
	frame []byte               // itemFrame
	ob    cluster.Outbound     // itemOutbound
}

// size is what the item counts against MaxOutboundBytes.
func (it *outItem) size() int {
	switch it.kind {
	case itemFrame:
		return len(it.frame)
	case itemOutbound:
		return outboundSize(&it.ob)
	}
	return 4
}

// outboundSize estimates the encoded size of o for MaxOutboundBytes: the
// exact size depends on the version and the aliases, which only the
// writer knows.
func outboundSize(o *cluster.Outbound) int {
	if o.PubRel || o.Message == nil {
		return 4
	}
	m := o.Message
	return 16 + len(m.Topic) + len(m.Properties) + 5*len(o.SubscriptionIDs) + len(m.Payload)
}

// inlinePayloadBytes is the payload size from which the writer references
// a PUBLISH payload in the writev instead of copying it into the buffer:
// below it an extra iovec costs more than the copy.
const inlinePayloadBytes = 512

// maxPooledBatchItems bounds the item slice a batch keeps in the pool.
const maxPooledBatchItems = 1024

// writePool holds the buffers batches are encoded into; bytebufferpool
// calibrates their size to what connections write.
var writePool bytebufferpool.Pool

// batch is the queue while it fills, and the writer's work once taken.
type batch struct {
	items []outItem
	bytes int // outboundSize sum of items
	bb    *bytebufferpool.ByteBuffer
	segs  []segment
	iov   net.Buffers
}

// segment is a part of the write: bytes [off, end) of the batch buffer,
// or ext, a payload written where it lies.
type segment struct {
	off, end int
	ext      []byte
}

var batchPool = sync.Pool{New: func() any { return new(batch) }}

func putBatch(b *batch) {
	clear(b.items) // drop the Message references
	b.items, b.bytes = b.items[:0], 0
	if cap(b.items) > maxPooledBatchItems {
		b.items = nil
	}
	clear(b.iov)
	b.segs, b.iov = b.segs[:0], b.iov[:0]
	batchPool.Put(b)
}

// mark records that b.bb.B[start:] is to be written.
func (b *batch) mark(start int) {
	end := len(b.bb.B)
	if n := len(b.segs); n > 0 && b.segs[n-1].ext == nil && b.segs[n-1].end == start {
		b.segs[n-1].end = end
		return
	}
	b.segs = append(b.segs, segment{off: start, end: end})
}

// appendFrame copies an encoded frame into the buffer.
func (b *batch) appendFrame(f []byte) {
	start := len(b.bb.B)
	b.bb.B = append(b.bb.B, f...)
	b.mark(start)
}

// vectors returns the segments as the writev's vectors.
func (b *batch) vectors() net.Buffers {
	b.iov = b.iov[:0]
	for _, s := range b.segs {
		if s.ext != nil {
			b.iov = append(b.iov, s.ext)
		} else {
			b.iov = append(b.iov, b.bb.B[s.off:s.end])
		}
	}
	return b.iov
}

// queueLocked queues an item: before the CONNACK it waits in held, since
// the CONNACK must be the first packet the server sends [MQTT-3.2.0-1].
func (c *conn) queueLocked(it outItem, size int) {
	if !c.connacked {
		if c.held == nil {
			c.held = batchPool.Get().(*batch)
		}
		c.held.items = append(c.held.items, it)
		c.held.bytes += size
		c.outBytes += size
		return
	}
	c.appendLocked(it, size)
	c.startWriterLocked()
}

// appendLocked adds an item to the queue without starting the writer.
func (c *conn) appendLocked(it outItem, size int) {
	if c.queue == nil {
		c.queue = batchPool.Get().(*batch)
	}
	c.queue.items = append(c.queue.items, it)
	c.queue.bytes += size
	c.outBytes += size
}

// queueFrame queues a control packet the reader encoded. Nothing is
// queued once the connection is closing.
func (c *conn) queueFrame(f []byte) {
	if f == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateOpen {
		return
	}
	c.appendLocked(outItem{kind: itemFrame, frame: f}, len(f))
	c.startWriterLocked()
}

// connackLocked queues a successful CONNACK and, behind it, what the
// session sent meanwhile.
func (c *conn) connackLocked(f []byte) {
	c.appendLocked(outItem{kind: itemFrame, frame: f}, len(f))
	if c.held != nil {
		c.queue.items = append(c.queue.items, c.held.items...)
		c.queue.bytes += c.held.bytes
		putBatch(c.held)
		c.held = nil
	}
	c.connacked = true
	c.startWriterLocked()
}

func (c *conn) startWriterLocked() {
	if c.writing || c.queue == nil || c.state == stateClosed {
		return
	}
	c.writing = true
	go c.writeLoop()
}

// dropPublishesLocked removes the queued PUBLISHes (Kick): the session
// resends what matters, to the connection that replaces this one.
func (c *conn) dropPublishesLocked() {
	if c.held != nil {
		putBatch(c.held)
		c.held = nil
	}
	if c.queue == nil {
		return
	}
	kept := c.queue.items[:0]
	bytes := 0
	for _, it := range c.queue.items {
		if it.kind == itemOutbound && !it.ob.PubRel {
			continue
		}
		kept = append(kept, it)
		bytes += it.size()
	}
	clear(c.queue.items[len(kept):])
	c.queue.items, c.queue.bytes, c.outBytes = kept, bytes, bytes
}

// writeLoop drains the queue and exits when it is empty.
func (c *conn) writeLoop() {
	defer func() {
		if r := recover(); r != nil {
			_ = c.panicked("writer", r)
			c.writerStopped()
		}
	}()
	for {
		b := c.take()
		if b == nil {
			return
		}
		err := c.write(b)
		putBatch(b)
		if err != nil {
			c.debug("mqtt write failed", "err", err)
			c.abort()
			c.writerStopped()
			return
		}
	}
}

// take returns the queue, or nil and marks the writer stopped.
func (c *conn) take() *batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := c.queue
	c.queue = nil
	if b != nil && c.state != stateClosed {
		c.outBytes -= b.bytes
		return b
	}
	if b != nil {
		putBatch(b)
	}
	c.stopWriterLocked()
	return nil
}

func (c *conn) writerStopped() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopWriterLocked()
}

// stopWriterLocked ends the writer's turn: a closing connection's socket
// closes now that its queue is written.
func (c *conn) stopWriterLocked() {
	c.writing = false
	if c.state == stateClosing {
		c.closeSocketLocked()
	}
	if c.writerExit != nil {
		close(c.writerExit)
		c.writerExit = nil
	}
}

// write encodes a batch and writes it with one writev.
func (c *conn) write(b *batch) error {
	b.bb = writePool.Get()
	defer func() {
		writePool.Put(b.bb)
		b.bb = nil
	}()
	nowMillis := c.srv.now().UnixMilli()
	for i := range b.items {
		c.encode(b, &b.items[i], nowMillis)
	}
	iov := b.vectors()
	if len(iov) == 0 {
		return nil
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
		return err
	}
	n, err := iov.WriteTo(c.nc)
	c.srv.metrics.bytesOut.Add(float64(n))
	return err
}

// encode appends one item to the batch.
func (c *conn) encode(b *batch, it *outItem, nowMillis int64) {
	switch it.kind {
	case itemFrame:
		b.appendFrame(it.frame)
	case itemPingresp:
		b.appendFrame(pingresp[:])
	case itemAck:
		c.encodeAck(b, it.pkt, it.id, it.code)
	case itemOutbound:
		if it.ob.PubRel {
			c.encodeAck(b, mqttcodec.TypePubrel, it.ob.PacketID, mqttcodec.Success)
		} else {
			c.encodePublish(b, &it.ob, nowMillis)
		}
	}
}

var pingresp = [2]byte{byte(mqttcodec.TypePingresp) << 4, 0}

// encodeAck appends a PUBACK, PUBREC, PUBREL or PUBCOMP. Each case calls
// Append on a concrete type, so nothing escapes to the heap.
func (c *conn) encodeAck(b *batch, t mqttcodec.PacketType, id uint16, code mqttcodec.ReasonCode) {
	start, v := len(b.bb.B), c.version
	var out []byte
	var err error
	switch t {
	case mqttcodec.TypePuback:
		out, err = (&mqttcodec.Puback{PacketID: id, ReasonCode: code}).Append(b.bb.B, v)
	case mqttcodec.TypePubrec:
		out, err = (&mqttcodec.Pubrec{PacketID: id, ReasonCode: code}).Append(b.bb.B, v)
	case mqttcodec.TypePubrel:
		out, err = (&mqttcodec.Pubrel{PacketID: id, ReasonCode: code}).Append(b.bb.B, v)
	default:
		out, err = (&mqttcodec.Pubcomp{PacketID: id, ReasonCode: code}).Append(b.bb.B, v)
	}
	if err == nil && c.maxOutBytes > 0 && len(out)-start > c.maxOutBytes {
		err = errAckTooLarge
	}
	if err != nil {
		c.srv.warn("mqtt: acknowledgement not sent", "conn_id", c.id, "client_id", c.clientID,
			"packet", t.String(), "err", err)
		return
	}
	b.bb.B = out
	b.mark(start)
}

// errAckTooLarge reports a client whose Maximum Packet Size is below the
// four bytes of an acknowledgement.
var errAckTooLarge = errors.New("mqtt: acknowledgement exceeds the client's maximum packet size")
