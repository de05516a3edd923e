package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net"
	"time"

	"tributary/mqttcodec"
)

const (
	// readBufBytes is the read buffer of a busy connection: one read takes
	// hundreds of small messages, so the tool spends its CPU on little but
	// the system calls the broker's work makes necessary.
	readBufBytes = 64 << 10
	// handshakeBufBytes is the read buffer of a connection that only
	// connects: an idle connection holds no more than this.
	handshakeBufBytes = 256
	// persistentExpirySeconds is the MQTT 5 Session Expiry of persistent
	// subscribers: long enough to outlive any run, short enough that a
	// session the clean-up could not discard goes away by itself.
	persistentExpirySeconds = 2 * 60 * 60
	// maxInboundBytes bounds a frame from the broker: the largest payload
	// the tool sends, plus room for the topic and properties.
	maxInboundBytes = MaxPayloadBytes + 64<<10
)

var errUnexpectedPacket = errors.New("load: unexpected packet")

// dialOptions says how to open one connection.
type dialOptions struct {
	addr      string
	local     net.Addr // nil lets the kernel choose
	clientID  string
	version   mqttcodec.Version
	clean     bool
	keepAlive time.Duration
	timeout   time.Duration
	bufBytes  int
}

// client is one MQTT connection of the tool. Its reads belong to one
// goroutine at a time: the one that dialled it until the handshakes are
// done, then its serve loop. Writes may come from any goroutine: net.Conn
// writes one buffer per Write call whole, never interleaved with another.
type client struct {
	nc      net.Conn
	id      string
	version mqttcodec.Version

	buf  []byte // read buffer; the unread bytes are buf[r:w]
	r, w int

	// What the broker's CONNACK said (5.0 only; the 3.1.1 values otherwise).
	receiveMax     int // Receive Maximum: QoS>0 publishes it accepts at once
	maxPacketBytes int // Maximum Packet Size, 0 when unlimited
	maxQoS         mqttcodec.QoS
	keepAlive      time.Duration
}

// dial connects to the broker and completes the CONNECT exchange.
func dial(ctx context.Context, o dialOptions) (*client, error) {
	d := net.Dialer{Timeout: o.timeout, LocalAddr: o.local}
	nc, err := d.DialContext(ctx, "tcp", o.addr)
	if err != nil {
		return nil, fmt.Errorf("load: %s: %w", o.clientID, err)
	}
	c := &client{nc: nc, id: o.clientID, version: o.version, buf: make([]byte, o.bufBytes),
		receiveMax: math.MaxUint16, maxQoS: mqttcodec.QoS2, keepAlive: o.keepAlive}
	if err := c.connect(o); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// connect sends CONNECT and reads the CONNACK, within o.timeout.
func (c *client) connect(o dialOptions) error {
	c.nc.SetDeadline(time.Now().Add(o.timeout))
	defer c.nc.SetDeadline(time.Time{})
	p := mqttcodec.Connect{
		CleanStart:       o.clean,
		KeepAliveSeconds: uint16(o.keepAlive / time.Second),
		ClientID:         []byte(o.clientID),
	}
	if o.version == mqttcodec.V5 {
		// Let the broker send as many QoS>0 messages as it will: this client
		// acknowledges each read's messages at once, so it is never the limit.
		p.Properties.SetReceiveMaximum(math.MaxUint16)
		if !o.clean {
			p.Properties.SetSessionExpirySeconds(persistentExpirySeconds)
		}
	}
	if err := c.send(&p); err != nil {
		return err
	}
	frame, err := c.readFrame()
	if err != nil {
		return fmt.Errorf("load: %s: waiting for CONNACK: %w", c.id, err)
	}
	var ack mqttcodec.Connack
	if err := expect(frame, mqttcodec.TypeConnack); err != nil {
		return fmt.Errorf("load: %s: %w", c.id, err)
	}
	if err := mqttcodec.DecodeConnack(frame, c.version, &ack); err != nil {
		return fmt.Errorf("load: %s: CONNACK: %w", c.id, err)
	}
	if ack.ReasonCode != mqttcodec.Success {
		return fmt.Errorf("load: %s: broker refused the connection: %v", c.id, ack.ReasonCode)
	}
	props := &ack.Properties
	if props.Has(mqttcodec.PropReceiveMaximum) {
		c.receiveMax = int(props.ReceiveMaximum)
	}
	if props.Has(mqttcodec.PropMaximumPacketSize) {
		c.maxPacketBytes = int(props.MaximumPacketBytes)
	}
	if props.Has(mqttcodec.PropMaximumQoS) {
		c.maxQoS = props.MaximumQoS
	}
	if props.Has(mqttcodec.PropServerKeepAlive) {
		// The broker's keep alive replaces ours [MQTT-3.2.2-21].
		c.keepAlive = time.Duration(props.ServerKeepAliveSeconds) * time.Second
	}
	return nil
}

// subscribe subscribes to one filter and checks that the broker granted
// the QoS asked for: a downgrade would measure another scenario.
func (c *client) subscribe(filter string, qos mqttcodec.QoS, timeout time.Duration) error {
	c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	p := mqttcodec.Subscribe{PacketID: 1}
	if err := p.Add(mqttcodec.Subscription{Filter: []byte(filter), QoS: qos}); err != nil {
		return fmt.Errorf("load: %s: SUBSCRIBE: %w", c.id, err)
	}
	if err := c.send(&p); err != nil {
		return err
	}
	frame, err := c.readFrame()
	if err != nil {
		return fmt.Errorf("load: %s: waiting for SUBACK: %w", c.id, err)
	}
	if err := expect(frame, mqttcodec.TypeSuback); err != nil {
		return fmt.Errorf("load: %s: %w", c.id, err)
	}
	var ack mqttcodec.Suback
	if err := mqttcodec.DecodeSuback(frame, c.version, &ack); err != nil {
		return fmt.Errorf("load: %s: SUBACK: %w", c.id, err)
	}
	if ack.PacketID != p.PacketID || len(ack.ReasonCodes) != 1 {
		return fmt.Errorf("load: %s: SUBACK does not answer the SUBSCRIBE: %w", c.id, errUnexpectedPacket)
	}
	if got := ack.ReasonCodes[0]; got.IsError() || mqttcodec.QoS(got) != qos {
		return fmt.Errorf("load: %s: subscription to %q at QoS %d answered %v", c.id, filter, qos, got)
	}
	return nil
}

// send encodes p and writes it.
func (c *client) send(p mqttcodec.Packet) error {
	b, err := p.Append(nil, c.version)
	if err != nil {
		return fmt.Errorf("load: %s: encode %v: %w", c.id, p.Type(), err)
	}
	return c.write(b)
}

// write writes b whole.
func (c *client) write(b []byte) error {
	if _, err := c.nc.Write(b); err != nil {
		return fmt.Errorf("load: %s: write: %w", c.id, err)
	}
	return nil
}

// disconnect sends DISCONNECT, best effort, and closes the connection.
func (c *client) disconnect() {
	c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_ = c.send(&mqttcodec.Disconnect{}) // the connection closes either way
	c.nc.Close()
}

// readFrame returns the next frame, reading until one is complete. The
// frame aliases the read buffer until the next read.
func (c *client) readFrame() ([]byte, error) {
	for {
		n, err := mqttcodec.FrameLen(c.buf[c.r:c.w], maxInboundBytes)
		if err != nil {
			return nil, fmt.Errorf("load: %s: %w", c.id, err)
		}
		if n > 0 && n <= c.w-c.r {
			frame := c.buf[c.r : c.r+n]
			c.r += n
			return frame, nil
		}
		if err := c.fill(n); err != nil {
			return nil, err
		}
	}
}

// serve reads until the connection fails, handing each read's complete
// frames to batch at once, so that the handler can answer them with one
// write. It returns the error that ended it: io.EOF when the broker closed
// the connection, net.ErrClosed (wrapped) when this side did.
func (c *client) serve(batch func(frames []byte) error) error {
	for {
		end, need, err := c.complete()
		if err != nil {
			return err
		}
		if end > c.r {
			if err := batch(c.buf[c.r:end]); err != nil {
				return err
			}
			c.r = end
		}
		if err := c.fill(need); err != nil {
			return err
		}
	}
}

// complete returns the end of the last complete frame in the unread bytes,
// and the length of the incomplete frame after it (0 while its header is
// incomplete too).
func (c *client) complete() (end, need int, err error) {
	end = c.r
	for {
		n, err := mqttcodec.FrameLen(c.buf[end:c.w], maxInboundBytes)
		if err != nil {
			return 0, 0, fmt.Errorf("load: %s: %w", c.id, err)
		}
		if n == 0 || n > c.w-end {
			return end, n, nil
		}
		end += n
	}
}

// fill reads at least one more byte, first making room for a frame of
// length need (0 when unknown) at the start of the buffer.
func (c *client) fill(need int) error {
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	if need > len(c.buf) {
		grown := make([]byte, need)
		c.w = copy(grown, c.buf[c.r:c.w])
		c.r, c.buf = 0, grown
	} else if c.w == len(c.buf) || need > len(c.buf)-c.r {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	n, err := c.nc.Read(c.buf[c.w:])
	c.w += n
	if n > 0 || err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("load: %s: broker closed the connection: %w", c.id, err)
	}
	return fmt.Errorf("load: %s: read: %w", c.id, err)
}

// frames yields the frames of a run of complete frames, as serve hands
// them over.
func frames(b []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			n, err := mqttcodec.FrameLen(b, 0)
			if err != nil || n == 0 || n > len(b) {
				panic("load: frames: not a run of complete frames")
			}
			if !yield(b[:n:n]) {
				return
			}
			b = b[n:]
		}
	}
}

// expect checks that frame is of type want. A DISCONNECT is turned into
// an error that says the broker's reason.
func expect(frame []byte, want mqttcodec.PacketType) error {
	got := mqttcodec.PacketType(frame[0] >> 4)
	if got == want {
		return nil
	}
	return fmt.Errorf("%w: %v, expected %v", errUnexpectedPacket, got, want)
}

// disconnectError describes a DISCONNECT the broker sent.
func disconnectError(c *client, frame []byte) error {
	var d mqttcodec.Disconnect
	if err := mqttcodec.DecodeDisconnect(frame, c.version, &d); err != nil {
		return fmt.Errorf("load: %s: DISCONNECT: %w", c.id, err)
	}
	return fmt.Errorf("load: %s: broker disconnected: %v", c.id, d.ReasonCode)
}
