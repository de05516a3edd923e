package mqtt

import (
	"errors"
	"time"

	"github.com/valyala/bytebufferpool"

	"tributary/mqttcodec"
)

// The inbound path. The reader waits for the socket to become readable
// without holding a buffer (waitReadable), then takes a pooled buffer,
// reads what has arrived, and handles every complete frame in it (a burst).
// The buffer goes back to the pool once no partial frame is left in it;
// while one is, the reader keeps reading into the same buffer, which
// grows with the frame's bytes as they arrive (mqttcodec.FrameLen checks
// the announced length against MaxPacketBytes first). Handlers copy what outlives the frame — the message of a
// PUBLISH, a subscription's filter — so the buffer is free when they
// return.

// readChunkBytes is the size of a burst's first read; bytebufferpool
// calibrates pooled buffers to what connections actually need.
const readChunkBytes = 4096

var readPool bytebufferpool.Pool

// readBurst reads what the socket holds and handles the complete frames,
// reading on while a frame is incomplete.
func (c *conn) readBurst() error {
	bb := readPool.Get()
	b := bb.B[:0]
	if cap(b) < readChunkBytes {
		b = make([]byte, 0, readChunkBytes)
	}
	defer func() {
		bb.B = b[:cap(b)] // calibrate the pool on the capacity used
		readPool.Put(bb)
	}()
	if c.hasFirst {
		b, c.hasFirst = append(b, c.first[0]), false
	}
	// Bytes that came with a PROXY header may hold whole frames (the
	// CONNECT): they are dispatched before anything more is read, since
	// the client may be waiting for the answer.
	queued := len(c.pending) > 0
	if queued {
		c.srv.metrics.bytesIn.Add(float64(len(c.pending)))
		b, c.pending = append(b, c.pending...), nil // at most proxyReadBufferBytes: fits readChunkBytes
	}
	for {
		var rerr error
		if !queued {
			var n int
			n, rerr = c.nc.Read(b[len(b):cap(b)])
			b = b[:len(b)+n]
			if n > 0 {
				c.srv.metrics.bytesIn.Add(float64(n))
				if err := c.refreshKeepAlive(); err != nil {
					return err
				}
			}
		}
		queued = false
		off, err := c.dispatch(b)
		if err != nil || c.stopReading {
			return err
		}
		rest := copy(b, b[off:])
		b = b[:rest]
		if rest == 0 || rerr != nil {
			return rerr
		}
		b = growForFrame(b, c.srv.cfg.MaxPacketBytes)
	}
}

// growForFrame makes room in b, which holds the start of an incomplete
// frame, for the next read. dispatch has already checked the frame's
// length against MaxPacketBytes. The buffer grows only when it is full,
// and at most doubles, up to the frame's length: memory follows the bytes
// that arrive, so a header that announces a large frame costs nothing
// until the frame's bytes come.
func growForFrame(b []byte, maxPacketBytes int) []byte {
	if len(b) < cap(b) {
		return b
	}
	need, _ := mqttcodec.FrameLen(b, maxPacketBytes)
	grown := make([]byte, len(b), max(min(need, 2*cap(b)), len(b)+1))
	copy(grown, b)
	return grown
}

// refreshKeepAlive moves the read deadline on once connected: a
// connection is alive while bytes arrive, and is closed once 1.5 times
// its keep alive passes without any [MQTT-3.1.2-22] (3.1.1:
// [MQTT-3.1.2-24]). Before CONNACK the ConnectTimeout deadline stands.
func (c *conn) refreshKeepAlive() error {
	if c.phase != phaseConnected || c.keepAlive == 0 {
		return nil
	}
	return c.nc.SetReadDeadline(time.Now().Add(time.Duration(c.keepAlive) * 1500 * time.Millisecond))
}

// dispatch handles the complete frames at the start of b and returns how
// many bytes they took.
func (c *conn) dispatch(b []byte) (int, error) {
	off := 0
	for !c.stopReading {
		n, err := mqttcodec.FrameLen(b[off:], c.srv.cfg.MaxPacketBytes)
		if err != nil {
			return off, frameError(err)
		}
		if n == 0 || n > len(b)-off {
			break
		}
		frame := b[off : off+n : off+n]
		off += n
		if err := c.handle(frame); err != nil {
			return off, err
		}
	}
	return off, nil
}

// frameError closes after a fixed header FrameLen refused: a packet above
// MaxPacketBytes (0x95 Packet too large [MQTT-3.2.2-15]) or a malformed
// remaining length.
func frameError(err error) error {
	var re *mqttcodec.ReasonError
	if errors.As(err, &re) && re.Code == mqttcodec.PacketTooLarge {
		return &closeError{code: mqttcodec.PacketTooLarge, reason: "packet above the maximum packet size", err: err}
	}
	return &closeError{code: mqttcodec.MalformedPacket, reason: "malformed remaining length", err: err}
}

// handle routes one frame by the connection's phase and the packet type.
func (c *conn) handle(frame []byte) error {
	t := mqttcodec.PacketType(frame[0] >> 4)
	if h := c.srv.hooks.onPacket; h != nil {
		h(c.clientID, t)
	}
	switch c.phase {
	case phaseConnect:
		if t != mqttcodec.TypeConnect {
			// [MQTT-3.1.0-1]: the first packet must be CONNECT; close
			// without a CONNACK.
			return &closeError{reason: "first packet is " + t.String() + ", not CONNECT [MQTT-3.1.0-1]"}
		}
		return c.handleConnect(frame)
	case phaseAuth:
		return c.handleAuthStep(frame, t)
	}
	return c.handlePacket(frame, t)
}

// handlePacket handles a packet of a connected client.
func (c *conn) handlePacket(frame []byte, t mqttcodec.PacketType) error {
	switch t {
	case mqttcodec.TypePublish:
		return c.handlePublish(frame)
	case mqttcodec.TypePuback, mqttcodec.TypePubrec, mqttcodec.TypePubcomp:
		return c.handleOutboundAck(frame, t)
	case mqttcodec.TypePubrel:
		return c.handlePubrel(frame)
	case mqttcodec.TypeSubscribe:
		return c.handleSubscribe(frame)
	case mqttcodec.TypeUnsubscribe:
		return c.handleUnsubscribe(frame)
	case mqttcodec.TypePingreq:
		return c.handlePingreq(frame)
	case mqttcodec.TypeDisconnect:
		return c.handleDisconnect(frame)
	case mqttcodec.TypeAuth:
		if c.version == mqttcodec.V5 {
			return c.handleReauth(frame)
		}
	case mqttcodec.TypeConnect:
		return protocolViolation(mqttcodec.ProtocolError, "MQTT-3.1.0-2", "second CONNECT")
	case mqttcodec.TypeConnack, mqttcodec.TypeSuback, mqttcodec.TypeUnsuback, mqttcodec.TypePingresp:
		return protocolViolation(mqttcodec.ProtocolError, "MQTT-2.1.2", t.String()+" sent by a client")
	}
	// Type 0, or AUTH before MQTT 5: a reserved packet type.
	return protocolViolation(mqttcodec.MalformedPacket, "MQTT-2.1.2", "reserved packet type")
}
