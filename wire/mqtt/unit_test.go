package mqtt

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/valyala/bytebufferpool"

	"tributary/cluster"
	"tributary/mqttcodec"
	"tributary/wire"
)

// testConn is a connection with no socket, for the encoder's unit tests.
func testConn(v mqttcodec.Version) *conn {
	s := &Server{cfg: Config{}.withDefaults(), metrics: newMetrics(), log: testLogger(), warned: wire.NewWarnLimiter(testLogger())}
	s.now = func() time.Time { return time.UnixMilli(1_000_000) }
	return &conn{srv: s, version: v, phase: phaseConnected}
}

func TestEncodePublishAllocatesNothing(t *testing.T) {
	props := mqttcodec.Properties{}
	props.SetContentType([]byte("text/plain"))
	if err := props.AddUserProperty([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	section, err := mqttcodec.AppendPropertySection(nil, &props, mqttcodec.TypePublish)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{16, 4096} {
		m := &cluster.Message{Topic: "a/b", Payload: make([]byte, size), Properties: section,
			ExpiresAtMillis: 1_000_000 + 30_000}
		o := cluster.Outbound{PacketID: 7, QoS: 1, Message: m}
		for _, v := range []mqttcodec.Version{mqttcodec.V311, mqttcodec.V5} {
			c := testConn(v)
			b := &batch{bb: &bytebufferpool.ByteBuffer{B: make([]byte, 0, 64<<10)}}
			allocs := testing.AllocsPerRun(100, func() {
				b.bb.B, b.segs = b.bb.B[:0], b.segs[:0]
				c.encodePublish(b, &o, 1_000_000)
			})
			if allocs != 0 {
				t.Errorf("%s, %d-byte payload: %v allocations per PUBLISH, want 0", v, size, allocs)
			}
		}
	}
}

// The header-only encoding plus the payload must be the codec's frame, at
// every remaining-length boundary.
func TestAppendPublishHeadMatchesAppend(t *testing.T) {
	for _, n := range []int{0, 1, 100, 127 - 9, 128 - 9, 16383 - 9, 16384 - 9, 2_097_151 - 9, 2_097_152 - 9} {
		for _, v := range []mqttcodec.Version{mqttcodec.V311, mqttcodec.V5} {
			p := mqttcodec.Publish{QoS: mqttcodec.QoS1, PacketID: 3, Topic: []byte("t/x"), Payload: make([]byte, n)}
			for i := range p.Payload {
				p.Payload[i] = byte(i)
			}
			want, err := p.Append(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			head, start, err := appendPublishHead([]byte("prefix"), &p, v)
			if err != nil {
				t.Fatal(err)
			}
			got := append(append([]byte(nil), head[start:]...), p.Payload...)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s, %d-byte payload: head+payload differs from the codec's frame", v, n)
			}
			if string(head[:6]) != "prefix" {
				t.Fatal("appendPublishHead overwrote what dst held")
			}
		}
	}
}

// The will keeps its message properties, not the will-only ones, which
// become fields of cluster.Will.
func TestWillOf(t *testing.T) {
	p := mqttcodec.Connect{HasWill: true, WillQoS: mqttcodec.QoS2, WillRetain: true,
		WillTopic: []byte("w/t"), WillPayload: []byte("bye")}
	p.WillProperties.SetWillDelaySeconds(30)
	p.WillProperties.SetMessageExpirySeconds(600)
	p.WillProperties.SetContentType([]byte("text/plain"))
	w, err := willOf(&p)
	if err != nil {
		t.Fatal(err)
	}
	if w.DelaySeconds != 30 || w.ExpirySeconds != 600 || w.Message.Topic != "w/t" ||
		string(w.Message.Payload) != "bye" || w.Message.QoS != 2 || !w.Message.Retain {
		t.Fatalf("will %+v", w)
	}
	var props mqttcodec.Properties
	if _, err := mqttcodec.DecodePropertySection(w.Message.Properties, mqttcodec.TypePublish, &props); err != nil {
		t.Fatal(err)
	}
	if string(props.ContentType) != "text/plain" || props.Has(mqttcodec.PropMessageExpiry) || props.Has(mqttcodec.PropWillDelay) {
		t.Fatalf("stored properties %+v: want the content type only", props)
	}
	p.WillPayload = []byte("\xff")
	p.WillProperties.SetPayloadFormat(1)
	if _, err := willOf(&p); err == nil {
		t.Fatal("a will whose payload is not the UTF-8 it claims was accepted")
	}
}

// An inbound Message Expiry Interval becomes a deadline; the alias and the
// interval itself are not stored.
func TestInboundMessageProperties(t *testing.T) {
	c := testConn(mqttcodec.V5)
	p := mqttcodec.Publish{QoS: mqttcodec.QoS1, PacketID: 1, Topic: []byte("a"), Payload: []byte("x")}
	p.Properties.SetMessageExpirySeconds(5)
	p.Properties.SetTopicAlias(2)
	p.Properties.SetResponseTopic([]byte("reply/here"))
	m, err := c.message("a", &p)
	if err != nil {
		t.Fatal(err)
	}
	if want := c.srv.now().UnixMilli() + 5000; m.ExpiresAtMillis != want {
		t.Fatalf("ExpiresAtMillis %d, want %d", m.ExpiresAtMillis, want)
	}
	var props mqttcodec.Properties
	if _, err := mqttcodec.DecodePropertySection(m.Properties, mqttcodec.TypePublish, &props); err != nil {
		t.Fatal(err)
	}
	if string(props.ResponseTopic) != "reply/here" || props.Has(mqttcodec.PropTopicAlias) || props.Has(mqttcodec.PropMessageExpiry) {
		t.Fatalf("stored properties %+v: want the response topic only", props)
	}
	if !p.Properties.Has(mqttcodec.PropTopicAlias) {
		t.Fatal("building the message changed the packet's properties")
	}
	if m.Payload[0] = 'y'; p.Payload[0] != 'x' {
		t.Fatal("the message's payload aliases the frame")
	}
}

// A header announcing a large frame does not make the buffer that large:
// it grows with the bytes that arrive.
func TestGrowForFrameFollowsArrivingBytes(t *testing.T) {
	b := make([]byte, 4096)
	b[0], b[1], b[2], b[3] = 0x30, 0x80, 0x80, 0x40 // PUBLISH of 1 MiB remaining length
	grown := growForFrame(b, 2<<20)
	if cap(grown) != 8192 || len(grown) != 4096 || grown[3] != 0x40 {
		t.Fatalf("grown to len %d cap %d, want the same bytes in cap 8192", len(grown), cap(grown))
	}
	if g := growForFrame(b[:100], 2<<20); cap(g) != 4096 {
		t.Fatalf("a buffer with room grew to %d", cap(g))
	}
	small := make([]byte, 4096)
	small[0], small[1], small[2] = 0x30, 0xa0, 0x20 // 4128 bytes remaining: the frame's length caps the growth
	if g := growForFrame(small, 2<<20); cap(g) != 3+4128 {
		t.Fatalf("grown to cap %d, want the frame's %d", cap(g), 3+4128)
	}
}

// What a session sends while Connect runs waits for the CONNACK, which
// must be the first packet [MQTT-3.2.0-1].
func TestSendBeforeConnackWaitsForIt(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	c := testConn(mqttcodec.V5)
	c.nc = server
	if !c.Send(cluster.Outbound{Message: &cluster.Message{Topic: "t", Payload: []byte("early")}}) {
		t.Fatal("Send refused before the CONNACK")
	}
	c.mu.Lock()
	queued := c.queue != nil || c.writing
	c.mu.Unlock()
	if queued {
		t.Fatal("a PUBLISH was queued for writing before the CONNACK")
	}
	connack, err := (&mqttcodec.Connack{}).Append(nil, mqttcodec.V5)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.connackLocked(connack)
	c.mu.Unlock()
	r := &rawClient{t: t, nc: client, v: mqttcodec.V5}
	expect[*mqttcodec.Connack](r)
	if p := expect[*mqttcodec.Publish](r); string(p.Payload) != "early" {
		t.Fatalf("got %q", p.Payload)
	}
	c.abort()
}
