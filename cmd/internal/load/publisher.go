package load

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"tributary/mqttcodec"
)

// batchBytes bounds one write of a publisher: enough messages to make the
// system call cheap per message, few enough to keep pacing smooth.
const batchBytes = 64 << 10

// refillDivisor sets an unpaced QoS 1/2 publisher's refill threshold to a
// quarter of its window: the window stays at least three quarters full,
// and each write carries a quarter of it.
const refillDivisor = 4

// Packet identifier states in a window.
const (
	idFree        = iota
	idPublished   // PUBLISH sent, awaiting PUBACK (QoS 1) or PUBREC (QoS 2)
	idRecReleased // PUBREL sent, awaiting PUBCOMP (QoS 2)
)

// window hands out the packet identifiers 1..size of a QoS 1/2 publisher:
// at most size publishes are outstanding, and an identifier is reused only
// once its exchange is complete, in whatever order the broker acknowledges.
type window struct {
	mu    sync.Mutex
	free  []uint16 // identifiers ready for use
	state []uint8  // by identifier
	wake  chan struct{}
}

func newWindow(size int) *window {
	w := &window{free: make([]uint16, 0, size), state: make([]uint8, size+1), wake: make(chan struct{}, 1)}
	for id := size; id >= 1; id-- {
		w.free = append(w.free, uint16(id))
	}
	return w
}

// take moves up to n free identifiers to dst, or none while fewer than
// atLeast are free.
func (w *window) take(dst []uint16, n, atLeast int) []uint16 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.free) < atLeast {
		return dst
	}
	k := min(n, len(w.free))
	for _, id := range w.free[len(w.free)-k:] {
		w.state[id] = idPublished
		dst = append(dst, id)
	}
	w.free = w.free[:len(w.free)-k]
	return dst
}

// advance moves id from state from to state to, freeing it when to is
// idFree, and reports whether id was in state from.
func (w *window) advance(id uint16, from, to uint8) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if int(id) >= len(w.state) || w.state[id] != from {
		return false
	}
	w.state[id] = to
	if to == idFree {
		w.free = append(w.free, id)
	}
	return true
}

// signal wakes the writer if it waits for identifiers.
func (w *window) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// outstanding returns the number of identifiers in use.
func (w *window) outstanding() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.state) - 1 - len(w.free)
}

// publisher sends one connection's messages and, at QoS 1/2, completes their
// acknowledgements. Its writer (publish) and its reader (serve) are two
// goroutines; they share the window and the counters.
type publisher struct {
	c     *client
	index uint32
	qos   mqttcodec.QoS
	run   uint32
	epoch time.Time
	// phase offsets this publisher's schedule by a fraction of the interval,
	// so paced publishers do not all write in the same instant.
	phase    time.Duration
	interval time.Duration // between paced messages; 0 when unpaced
	win      *window       // nil at QoS 0

	template  mqttcodec.PublishTemplate
	payloadAt int // offset of the payload in the template's frame
	perBatch  int
	// refill is how many identifiers an unpaced publisher waits for before
	// it writes again: a write per acknowledgement would cost the tool more
	// processor than the broker spends on the message.
	refill int
	seq    uint64
	buf    []byte
	ids    []uint16

	sent    atomic.Uint64 // messages written
	acked   atomic.Uint64 // QoS 1/2 exchanges completed with success
	refused atomic.Uint64 // QoS 1/2 publishes answered with an error code
}

// newPublisher prepares the message template of publisher index on c.
func newPublisher(c *client, cfg *Config, index int, topic string, epoch time.Time) (*publisher, error) {
	pub := mqttcodec.Publish{QoS: cfg.QoS, Topic: []byte(topic), Payload: newPayload(cfg.PayloadBytes)}
	if cfg.QoS > 0 {
		pub.PacketID = 1
	}
	t, err := pub.AppendTemplate(nil, cfg.Version)
	if err != nil {
		return nil, fmt.Errorf("load: publisher %d: encode PUBLISH: %w", index, err)
	}
	if cfg.QoS > c.maxQoS {
		// The broker would disconnect at the first message (5.0 §3.2.2.3.4).
		return nil, fmt.Errorf("load: publisher %d: the broker accepts QoS %d at most, not %d", index, c.maxQoS, cfg.QoS)
	}
	frameLen := len(t.Frame())
	if c.maxPacketBytes > 0 && frameLen > c.maxPacketBytes {
		return nil, fmt.Errorf("load: publisher %d: a %d-byte PUBLISH exceeds the broker's maximum packet size %d",
			index, frameLen, c.maxPacketBytes)
	}
	p := &publisher{
		c: c, index: uint32(index), qos: cfg.QoS, run: runTag(cfg.RunID), epoch: epoch,
		template: t, payloadAt: frameLen - cfg.PayloadBytes,
		perBatch: max(1, batchBytes/frameLen),
	}
	if cfg.Rate > 0 {
		p.interval = time.Duration(float64(time.Second) / cfg.Rate)
		p.phase = p.interval * time.Duration(index) / time.Duration(cfg.Publishers)
	}
	if cfg.QoS > 0 {
		size := min(cfg.MaxInflightMsgs, c.receiveMax)
		p.win = newWindow(size)
		p.refill = max(1, min(size/refillDivisor, p.perBatch))
	}
	p.buf = make([]byte, 0, p.perBatch*frameLen)
	p.ids = make([]uint16, 0, p.perBatch)
	return p, nil
}

// publish writes messages until ctx ends, paced or as fast as the window
// and the socket allow. It returns nil when ctx ends.
func (p *publisher) publish(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for ctx.Err() == nil {
		n, atLeast := p.perBatch, p.refill
		if p.interval > 0 {
			due := p.due()
			if due == 0 {
				if !sleepUntil(ctx, timer, p.epoch.Add(p.phase+time.Duration(p.seq)*p.interval)) {
					return nil
				}
				continue
			}
			// Paced messages leave when due, whatever the batch.
			n, atLeast = min(n, due), 1
		}
		if p.win != nil {
			p.ids = p.win.take(p.ids[:0], n, atLeast)
			if n = len(p.ids); n == 0 {
				select {
				case <-p.win.wake:
				case <-ctx.Done():
				}
				continue
			}
		}
		if err := p.writeBatch(n); err != nil {
			return err
		}
	}
	return nil
}

// due returns how many paced messages are due by now.
func (p *publisher) due() int {
	elapsed := time.Since(p.epoch) - p.phase
	if elapsed < 0 {
		return 0
	}
	scheduled := uint64(elapsed/p.interval) + 1 // message 0 is due at the start
	if scheduled <= p.seq {
		return 0
	}
	return int(min(scheduled-p.seq, uint64(p.perBatch)))
}

// writeBatch encodes n messages, stamped with one send time, and writes
// them at once. At QoS 1/2 p.ids holds their n packet identifiers.
func (p *publisher) writeBatch(n int) error {
	p.buf = p.buf[:0]
	h := header{sent: time.Since(p.epoch), publisher: p.index, run: p.run}
	for i := range n {
		var id uint16
		if p.win != nil {
			id = p.ids[i]
		}
		at := len(p.buf)
		p.buf = p.template.AppendTo(p.buf, id, false)
		h.seq = p.seq + uint64(i)
		putHeader(p.buf[at+p.payloadAt:], h)
	}
	written, err := p.c.nc.Write(p.buf)
	// Only whole frames count as sent: the bytes of a cut one are garbage
	// the broker will close the connection over.
	whole := written / len(p.template.Frame())
	p.seq += uint64(whole)
	p.sent.Add(uint64(whole))
	if err != nil {
		return fmt.Errorf("load: %s: write: %w", p.c.id, err)
	}
	return nil
}

// serve reads the broker's acknowledgements until the connection ends.
func (p *publisher) serve() error {
	var acks []byte
	return p.c.serve(func(b []byte) error {
		acks = acks[:0]
		var err error
		for frame := range frames(b) {
			if acks, err = p.handle(frame, acks); err != nil {
				return err
			}
		}
		if p.win != nil {
			p.win.signal()
		}
		if len(acks) == 0 {
			return nil
		}
		return p.c.write(acks)
	})
}

// handle processes one frame from the broker, appending any PUBREL it calls
// for to out.
func (p *publisher) handle(frame []byte, out []byte) ([]byte, error) {
	v := p.c.version
	switch t := mqttcodec.PacketType(frame[0] >> 4); {
	case t == mqttcodec.TypePuback && p.qos == mqttcodec.QoS1:
		var a mqttcodec.Puback
		if err := mqttcodec.DecodePuback(frame, v, &a); err != nil {
			return out, fmt.Errorf("load: %s: PUBACK: %w", p.c.id, err)
		}
		return out, p.complete(a.PacketID, idPublished, a.ReasonCode, t)
	case t == mqttcodec.TypePubrec && p.qos == mqttcodec.QoS2:
		var a mqttcodec.Pubrec
		if err := mqttcodec.DecodePubrec(frame, v, &a); err != nil {
			return out, fmt.Errorf("load: %s: PUBREC: %w", p.c.id, err)
		}
		if a.ReasonCode.IsError() {
			// A refused QoS 2 publish ends at its PUBREC (5.0 §4.3.3).
			return out, p.complete(a.PacketID, idPublished, a.ReasonCode, t)
		}
		if !p.win.advance(a.PacketID, idPublished, idRecReleased) {
			return out, p.unknownID(t, a.PacketID)
		}
		rel := mqttcodec.Pubrel{PacketID: a.PacketID}
		return rel.Append(out, v)
	case t == mqttcodec.TypePubcomp && p.qos == mqttcodec.QoS2:
		var a mqttcodec.Pubcomp
		if err := mqttcodec.DecodePubcomp(frame, v, &a); err != nil {
			return out, fmt.Errorf("load: %s: PUBCOMP: %w", p.c.id, err)
		}
		return out, p.complete(a.PacketID, idRecReleased, a.ReasonCode, t)
	case t == mqttcodec.TypePingresp:
		return out, nil
	case t == mqttcodec.TypeDisconnect:
		return out, disconnectError(p.c, frame)
	default:
		return out, fmt.Errorf("load: %s: %w: %v from the broker to a QoS %d publisher",
			p.c.id, errUnexpectedPacket, t, p.qos)
	}
}

// complete ends the exchange of packet id, which must be in state from,
// and counts it as acknowledged or refused.
func (p *publisher) complete(id uint16, from uint8, code mqttcodec.ReasonCode, t mqttcodec.PacketType) error {
	if !p.win.advance(id, from, idFree) {
		return p.unknownID(t, id)
	}
	if code.IsError() {
		p.refused.Add(1)
	} else {
		p.acked.Add(1)
	}
	return nil
}

func (p *publisher) unknownID(t mqttcodec.PacketType, id uint16) error {
	return fmt.Errorf("load: %s: %w: %v for packet id %d, which is not awaiting one", p.c.id, errUnexpectedPacket, t, id)
}

// settled reports whether every message written has been acknowledged or
// refused (always true at QoS 0).
func (p *publisher) settled() bool {
	return p.win == nil || p.win.outstanding() == 0
}

// sleepUntil waits for the wall-clock instant at, or ctx; it reports
// false when ctx ended first.
func sleepUntil(ctx context.Context, timer *time.Timer, at time.Time) bool {
	d := time.Until(at)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		timer.Stop() // since Go 1.23 no stale tick survives Stop
		return false
	}
}
