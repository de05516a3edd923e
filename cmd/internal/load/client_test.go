package load

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"tributary/mqttcodec"
)

func TestWindow(t *testing.T) {
	t.Parallel()
	w := newWindow(4)
	if got := w.take(nil, 8, 5); len(got) != 0 {
		t.Fatalf("take with atLeast 5 of 4 free = %v, want none", got)
	}
	ids := w.take(nil, 3, 1)
	if len(ids) != 3 || w.outstanding() != 3 {
		t.Fatalf("take(3) = %v with %d outstanding, want 3 ids", ids, w.outstanding())
	}
	ids = w.take(ids, 8, 1)
	slices.Sort(ids)
	if !slices.Equal(ids, []uint16{1, 2, 3, 4}) {
		t.Fatalf("the window handed out %v, want 1..4 once each", ids)
	}
	if got := w.take(nil, 1, 1); len(got) != 0 {
		t.Fatalf("take from a full window = %v", got)
	}
	// QoS 1: PUBACK frees. An id not awaiting that acknowledgement is refused.
	if !w.advance(3, idPublished, idFree) || w.advance(3, idPublished, idFree) || w.advance(9, idPublished, idFree) {
		t.Fatal("advance accepted an acknowledgement for an id not in flight")
	}
	// QoS 2: PUBREC, then PUBCOMP.
	if w.advance(2, idRecReleased, idFree) || !w.advance(2, idPublished, idRecReleased) || !w.advance(2, idRecReleased, idFree) {
		t.Fatal("the QoS 2 states are not followed in order")
	}
	if got := w.take(nil, 8, 1); !slices.Equal(sorted(got), []uint16{2, 3}) || w.outstanding() != 4 {
		t.Fatalf("after freeing 2 and 3, take = %v with %d outstanding", got, w.outstanding())
	}
}

func sorted(s []uint16) []uint16 { slices.Sort(s); return s }

// pipeClient returns a client over one end of a net.Pipe, and the other end.
func pipeClient(t *testing.T, v mqttcodec.Version, bufBytes int) (*client, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	return &client{nc: a, id: "test", version: v, buf: make([]byte, bufBytes), receiveMax: 65535, maxQoS: mqttcodec.QoS2}, b
}

func encode(t *testing.T, v mqttcodec.Version, ps ...mqttcodec.Packet) []byte {
	t.Helper()
	var b []byte
	for _, p := range ps {
		var err error
		if b, err = p.Append(b, v); err != nil {
			t.Fatalf("encode %v: %v", p.Type(), err)
		}
	}
	return b
}

// TestClientServeReassemblesFrames feeds frames in 7-byte pieces, with one
// frame larger than the read buffer, and checks that serve hands over
// exactly the frames sent, whole and in order.
func TestClientServeReassemblesFrames(t *testing.T) {
	t.Parallel()
	c, peer := pipeClient(t, mqttcodec.V311, handshakeBufBytes)
	big := bytes.Repeat([]byte{'b'}, 3*handshakeBufBytes)
	stream := encode(t, mqttcodec.V311,
		&mqttcodec.Puback{PacketID: 1},
		&mqttcodec.Publish{Topic: []byte("t"), Payload: big},
		&mqttcodec.Pingresp{},
		&mqttcodec.Publish{QoS: 1, PacketID: 9, Topic: []byte("t/2"), Payload: []byte("small")},
	)
	go func() {
		for b := stream; len(b) > 0; b = b[min(7, len(b)):] {
			if _, err := peer.Write(b[:min(7, len(b))]); err != nil {
				return
			}
		}
		peer.Close()
	}()
	var got []byte
	var n int
	err := c.serve(func(fs []byte) error {
		for f := range frames(fs) {
			got = append(got, f...)
			n++
		}
		return nil
	})
	if !errors.Is(err, io.EOF) {
		t.Errorf("serve ended with %v, want the broker's close (io.EOF)", err)
	}
	if n != 4 || !bytes.Equal(got, stream) {
		t.Errorf("serve handed over %d frames, %d bytes; want the 4 frames, %d bytes, as sent", n, len(got), len(stream))
	}
}

func TestClientServeRejectsMalformedLength(t *testing.T) {
	t.Parallel()
	c, peer := pipeClient(t, mqttcodec.V311, handshakeBufBytes)
	go peer.Write([]byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}) // a 5-byte remaining length
	err := c.serve(func([]byte) error { return nil })
	if !errors.Is(err, mqttcodec.ErrMalformed) {
		t.Errorf("serve = %v, want ErrMalformed", err)
	}
}

// TestPublisherBatchEncoding decodes what one batch writes: consecutive
// sequence numbers, the window's packet ids, one send time, the run's tag.
func TestPublisherBatchEncoding(t *testing.T) {
	t.Parallel()
	for _, v := range []mqttcodec.Version{mqttcodec.V311, mqttcodec.V5} {
		c, peer := pipeClient(t, v, handshakeBufBytes)
		cfg := Config{QoS: 1, PayloadBytes: 40, Version: v, RunID: "abc"}.withDefaults()
		p, err := newPublisher(c, &cfg, 3, "bench/t", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		p.ids = p.win.take(p.ids[:0], 5, 1)
		ids := slices.Clone(p.ids)
		errc := make(chan error, 1)
		go func() { errc <- p.writeBatch(5) }()
		frame := p.template.Frame()
		wire := make([]byte, 5*len(frame))
		if _, err := io.ReadFull(peer, wire); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		var first time.Duration
		var i int
		for f := range frames(wire) {
			var pub mqttcodec.Publish
			if err := mqttcodec.DecodePublish(f, v, &pub); err != nil {
				t.Fatalf("v%d message %d: %v", v, i, err)
			}
			h, ok := parseHeader(pub.Payload)
			if !ok || h.seq != uint64(i) || h.publisher != 3 || h.run != runTag("abc") || pub.PacketID != ids[i] ||
				string(pub.Topic) != "bench/t" || len(pub.Payload) != 40 || pub.QoS != 1 {
				t.Errorf("v%d message %d: %+v, header %+v; want seq %d, id %d", v, i, pub, h, i, ids[i])
			}
			if i == 0 {
				first = h.sent
			} else if h.sent != first {
				t.Errorf("v%d message %d sent at %v, want the batch's one time %v", v, i, h.sent, first)
			}
			i++
		}
		if i != 5 || p.sent.Load() != 5 || p.seq != 5 {
			t.Errorf("v%d: %d messages decoded, sent counter %d, next seq %d; want 5 each", v, i, p.sent.Load(), p.seq)
		}
	}
}

// TestSubscriberAccounting hands a subscriber frames directly: it must
// acknowledge per QoS, count duplicates and foreign messages, and record
// latency only for messages sent during the window.
func TestSubscriberAccounting(t *testing.T) {
	t.Parallel()
	c, _ := pipeClient(t, mqttcodec.V5, handshakeBufBytes)
	cfg := Config{Publishers: 2, Warmup: time.Second, Duration: time.Second, RunID: "run"}.withDefaults()
	s := newSubscriber(c, &cfg, -1, time.Now())
	msg := func(qos mqttcodec.QoS, id uint16, pub uint32, seq uint64, sent time.Duration, run string) []byte {
		payload := newPayload(HeaderBytes)
		putHeader(payload, header{sent: sent, seq: seq, publisher: pub, run: runTag(run)})
		return encode(t, mqttcodec.V5, &mqttcodec.Publish{QoS: qos, PacketID: id, Topic: []byte("t"), Payload: payload})
	}
	now := 1800 * time.Millisecond
	for _, tc := range []struct {
		frame   []byte
		counted bool
	}{
		{msg(1, 10, 0, 0, 500*time.Millisecond, "run"), true},  // warm-up: no latency sample
		{msg(1, 11, 0, 1, 1500*time.Millisecond, "run"), true}, // in the window: 300ms
		{msg(1, 12, 0, 1, 1500*time.Millisecond, "run"), true}, // duplicate
		{msg(2, 13, 1, 0, 1700*time.Millisecond, "run"), true}, // QoS 2, in the window: 100ms
		{msg(0, 0, 0, 2, 1200*time.Millisecond, "old"), false}, // another run's
		{msg(0, 0, 7, 0, 1200*time.Millisecond, "run"), false}, // no such publisher
		{encode(t, mqttcodec.V5, &mqttcodec.Pubrel{PacketID: 13}), false},
	} {
		counted, err := s.handle(tc.frame, now)
		if err != nil || counted != tc.counted {
			t.Fatalf("handle(% x) = %v, %v; want %v", tc.frame[:2], counted, err, tc.counted)
		}
	}
	want := encode(t, mqttcodec.V5, &mqttcodec.Puback{PacketID: 10}, &mqttcodec.Puback{PacketID: 11},
		&mqttcodec.Puback{PacketID: 12}, &mqttcodec.Pubrec{PacketID: 13}, &mqttcodec.Pubcomp{PacketID: 13})
	if !bytes.Equal(s.acks, want) {
		t.Errorf("acknowledgements = % x, want % x", s.acks, want)
	}
	if tr := s.trackers[0]; tr.distinct != 2 || tr.dups != 1 {
		t.Errorf("publisher 0: %d distinct, %d duplicates; want 2, 1", tr.distinct, tr.dups)
	}
	if tr := s.trackers[1]; tr.distinct != 1 || tr.dups != 0 {
		t.Errorf("publisher 1: %d distinct, %d duplicates; want 1, 0", tr.distinct, tr.dups)
	}
	if s.foreign != 2 {
		t.Errorf("foreign = %d, want 2", s.foreign)
	}
	// The duplicate was sent in the window too, so three samples.
	if l := s.hist.summary(); l.Samples != 3 || l.Min != 100*time.Millisecond || l.Max != 300*time.Millisecond {
		t.Errorf("latency = %+v, want 3 samples from 100ms to 300ms", l)
	}
	if _, err := s.handle(encode(t, mqttcodec.V5, &mqttcodec.Disconnect{ReasonCode: mqttcodec.ServerBusy}), now); err == nil ||
		!bytes.Contains([]byte(err.Error()), []byte("server busy")) {
		t.Errorf("a DISCONNECT gave %v, want an error naming the reason", err)
	}
}

// TestPublisherAcknowledgements walks QoS 1 and QoS 2 exchanges through
// the publisher's reader side.
func TestPublisherAcknowledgements(t *testing.T) {
	t.Parallel()
	newPub := func(qos mqttcodec.QoS) *publisher {
		c, _ := pipeClient(t, mqttcodec.V5, handshakeBufBytes)
		cfg := Config{QoS: qos, Version: mqttcodec.V5, MaxInflightMsgs: 4}.withDefaults()
		p, err := newPublisher(c, &cfg, 0, "t", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		p.win.take(nil, 4, 1) // ids 1..4 in flight
		return p
	}
	handle := func(p *publisher, pk mqttcodec.Packet) ([]byte, error) {
		return p.handle(encode(t, mqttcodec.V5, pk), nil)
	}

	q1 := newPub(1)
	if _, err := handle(q1, &mqttcodec.Puback{PacketID: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := handle(q1, &mqttcodec.Puback{PacketID: 2, ReasonCode: mqttcodec.QuotaExceeded}); err != nil {
		t.Fatal(err)
	}
	if _, err := handle(q1, &mqttcodec.Puback{PacketID: 1}); !errors.Is(err, errUnexpectedPacket) {
		t.Errorf("a second PUBACK for id 1 gave %v, want errUnexpectedPacket", err)
	}
	if _, err := handle(q1, &mqttcodec.Pubrec{PacketID: 3}); !errors.Is(err, errUnexpectedPacket) {
		t.Errorf("a PUBREC to a QoS 1 publisher gave %v, want errUnexpectedPacket", err)
	}
	if q1.acked.Load() != 1 || q1.refused.Load() != 1 || q1.win.outstanding() != 2 {
		t.Errorf("QoS 1: acked %d, refused %d, outstanding %d; want 1, 1, 2", q1.acked.Load(), q1.refused.Load(), q1.win.outstanding())
	}

	q2 := newPub(2)
	out, err := handle(q2, &mqttcodec.Pubrec{PacketID: 4})
	if err != nil || !bytes.Equal(out, encode(t, mqttcodec.V5, &mqttcodec.Pubrel{PacketID: 4})) {
		t.Fatalf("PUBREC 4 gave % x, %v; want PUBREL 4", out, err)
	}
	if _, err := handle(q2, &mqttcodec.Pubcomp{PacketID: 3}); !errors.Is(err, errUnexpectedPacket) {
		t.Errorf("PUBCOMP before PUBREC gave %v, want errUnexpectedPacket", err)
	}
	if _, err := handle(q2, &mqttcodec.Pubcomp{PacketID: 4}); err != nil {
		t.Fatal(err)
	}
	// A refused QoS 2 publish ends at its PUBREC, with no PUBREL.
	if out, err := handle(q2, &mqttcodec.Pubrec{PacketID: 1, ReasonCode: mqttcodec.NotAuthorized}); err != nil || len(out) != 0 {
		t.Errorf("refused PUBREC gave % x, %v; want nothing sent", out, err)
	}
	if q2.acked.Load() != 1 || q2.refused.Load() != 1 || q2.win.outstanding() != 2 || q2.settled() {
		t.Errorf("QoS 2: acked %d, refused %d, outstanding %d; want 1, 1, 2", q2.acked.Load(), q2.refused.Load(), q2.win.outstanding())
	}
}
