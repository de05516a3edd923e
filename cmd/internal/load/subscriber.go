package load

import (
	"fmt"
	"sync/atomic"
	"time"

	"tributary/mqttcodec"
)

// subscriber receives one connection's messages, acknowledges them and
// accounts for them: latency, and per publisher, loss and duplicates. Its
// reader goroutine owns everything but received, which Run samples while
// the run goes on.
type subscriber struct {
	c   *client
	run uint32
	// only, when ≥ 0, is the one publisher this subscriber hears (pairs).
	only  int
	epoch time.Time
	// Latency is recorded for messages sent in [from, to), since epoch.
	from, to time.Duration

	hist     histogram
	trackers []seqTracker // by publisher index
	foreign  uint64       // messages of no publisher of this run
	pub      mqttcodec.Publish
	acks     []byte

	received atomic.Uint64 // this run's messages, duplicates included
}

func newSubscriber(c *client, cfg *Config, only int, epoch time.Time) *subscriber {
	return &subscriber{
		c: c, run: runTag(cfg.RunID), only: only, epoch: epoch,
		from: cfg.Warmup, to: cfg.Warmup + cfg.Duration,
		trackers: make([]seqTracker, cfg.Publishers),
	}
}

// serve reads messages until the connection ends.
func (s *subscriber) serve() error {
	return s.c.serve(func(b []byte) error {
		// One clock reading per read: every message in it arrived together.
		now := time.Since(s.epoch)
		s.acks = s.acks[:0]
		var n uint64
		for frame := range frames(b) {
			counted, err := s.handle(frame, now)
			if err != nil {
				return err
			}
			if counted {
				n++
			}
		}
		s.received.Add(n)
		if len(s.acks) == 0 {
			return nil
		}
		return s.c.write(s.acks)
	})
}

// handle processes one frame, queueing the acknowledgement it calls for,
// and reports whether it was a message of this run.
func (s *subscriber) handle(frame []byte, now time.Duration) (bool, error) {
	v := s.c.version
	var err error
	switch t := mqttcodec.PacketType(frame[0] >> 4); t {
	case mqttcodec.TypePublish:
		if err := mqttcodec.DecodePublish(frame, v, &s.pub); err != nil {
			return false, fmt.Errorf("load: %s: PUBLISH: %w", s.c.id, err)
		}
		switch s.pub.QoS {
		case mqttcodec.QoS1:
			ack := mqttcodec.Puback{PacketID: s.pub.PacketID}
			s.acks, err = ack.Append(s.acks, v)
		case mqttcodec.QoS2:
			rec := mqttcodec.Pubrec{PacketID: s.pub.PacketID}
			s.acks, err = rec.Append(s.acks, v)
		}
		if err != nil {
			return false, fmt.Errorf("load: %s: acknowledge: %w", s.c.id, err)
		}
		return s.account(s.pub.Payload, now), nil
	case mqttcodec.TypePubrel:
		var rel mqttcodec.Pubrel
		if err := mqttcodec.DecodePubrel(frame, v, &rel); err != nil {
			return false, fmt.Errorf("load: %s: PUBREL: %w", s.c.id, err)
		}
		comp := mqttcodec.Pubcomp{PacketID: rel.PacketID}
		if s.acks, err = comp.Append(s.acks, v); err != nil {
			return false, fmt.Errorf("load: %s: PUBCOMP: %w", s.c.id, err)
		}
		return false, nil
	case mqttcodec.TypePingresp:
		return false, nil
	case mqttcodec.TypeDisconnect:
		return false, disconnectError(s.c, frame)
	default:
		return false, fmt.Errorf("load: %s: %w: %v from the broker to a subscriber", s.c.id, errUnexpectedPacket, t)
	}
}

// account checks a payload's header and records the message, reporting
// whether it belongs to this run.
func (s *subscriber) account(payload []byte, now time.Duration) bool {
	h, ok := parseHeader(payload)
	if !ok || h.run != s.run || int(h.publisher) >= len(s.trackers) || (s.only >= 0 && int(h.publisher) != s.only) {
		s.foreign++
		return false
	}
	s.trackers[h.publisher].observe(h.seq)
	if h.sent >= s.from && h.sent < s.to {
		s.hist.record(now - h.sent)
	}
	return true
}
