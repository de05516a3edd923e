package mqttcodec

import (
	"testing"
)

// The zero-allocation claims of the hot path, proven with
// testing.AllocsPerRun. These tests do not call t.Parallel: AllocsPerRun
// counts every allocation of the process.

func wantNoAllocs(t *testing.T, what string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, fn); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", what, n)
	}
}

func TestAllocsFrameLen(t *testing.T) {
	b := frame(0x30, str("a/b"), make([]byte, 300))
	wantNoAllocs(t, "FrameLen", func() { _, _ = FrameLen(b, 1<<20) })
	wantNoAllocs(t, "FrameLen too large", func() { _, _ = FrameLen(b, 10) })
	bad := raw(0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01)
	wantNoAllocs(t, "FrameLen malformed", func() { _, _ = FrameLen(bad, 0) })
}

func TestAllocsDecodePublish(t *testing.T) {
	v3 := frame(0x32, str("sensors/room1/temp"), u16(7), []byte("21.5"))
	v5 := frame(0x32, str("t"), u16(9), props(prop(PropContentType, str("c")), user("a", "1"), user("b", "2"),
		prop(PropSubscriptionID, vbi(5)), prop(PropSubscriptionID, vbi(900))), raw('p'))
	var p Publish
	wantNoAllocs(t, "DecodePublish 3.1.1", func() {
		if err := DecodePublish(v3, V311, &p); err != nil {
			t.Fatal(err)
		}
	})
	sum := 0
	wantNoAllocs(t, "DecodePublish 5.0 with properties and iteration", func() {
		if err := DecodePublish(v5, V5, &p); err != nil {
			t.Fatal(err)
		}
		for k, v := range p.Properties.UserProperties() {
			sum += len(k) + len(v)
		}
		for id := range p.Properties.SubscriptionIDs() {
			sum += int(id)
		}
	})
	if sum == 0 {
		t.Fatal("iteration saw nothing")
	}
	bad := frame(0x36, str("a"), u16(1))
	wantNoAllocs(t, "DecodePublish error", func() { _ = DecodePublish(bad, V5, &p) })
}

func TestAllocsDecodeOthers(t *testing.T) {
	var (
		c  Connect
		s  Subscribe
		a  Puback
		u  Unsubscribe
		sa = Suback{ReasonCodes: make([]ReasonCode, 0, 8)}
	)
	conn := connectVectors[4].Raw
	sub := subscribeVectors[1].Raw
	unsub := unsubscribeVectors[1].Raw
	ack := frame(0x40, u16(8), raw(0x10))
	suback := subackVectors[1].Raw
	n := 0
	wantNoAllocs(t, "DecodeConnect", func() { _ = DecodeConnect(conn, &c) })
	wantNoAllocs(t, "DecodeSubscribe and iterate", func() {
		_ = DecodeSubscribe(sub, V5, &s)
		for range s.Subscriptions() {
			n++
		}
	})
	wantNoAllocs(t, "DecodeUnsubscribe and iterate", func() {
		_ = DecodeUnsubscribe(unsub, V5, &u)
		for range u.Filters() {
			n++
		}
	})
	wantNoAllocs(t, "DecodePuback", func() { _ = DecodePuback(ack, V5, &a) })
	wantNoAllocs(t, "DecodeSuback reusing codes", func() { _ = DecodeSuback(suback, V5, &sa) })
	if n == 0 || c.Version != V5 || a.ReasonCode != NoMatchingSubscribers || len(sa.ReasonCodes) != 4 {
		t.Fatal("decoders did not run")
	}
}

func TestAllocsEncode(t *testing.T) {
	p3 := &Publish{QoS: QoS1, PacketID: 1, Topic: []byte("a/b"), Payload: make([]byte, 1024)}
	p5 := &Publish{QoS: QoS2, PacketID: 2, Topic: []byte("a/b"), Payload: []byte("x"), Properties: publishProps}
	must(p5.Properties.AddSubscriptionID(42))
	buf := make([]byte, 0, 4096)
	wantNoAllocs(t, "Publish.Append 3.1.1", func() { _, _ = p3.Append(buf[:0], V311) })
	wantNoAllocs(t, "Publish.Append 5.0 with properties", func() { _, _ = p5.Append(buf[:0], V5) })
	ack := &Puback{PacketID: 3, ReasonCode: NotAuthorized, Properties: mkProps(func(p *Properties) {
		p.SetReasonString([]byte("no"))
	})}
	wantNoAllocs(t, "Puback.Append", func() { _, _ = ack.Append(buf[:0], V5) })
	wantNoAllocs(t, "AppendPacket", func() { _, _ = AppendPacket(buf[:0], p5, V5, 1<<20) })
	if b, _ := p5.Append(buf[:0], V5); len(b) != p5.Size(V5) {
		t.Fatal("encoder did not run")
	}
}

func TestAllocsFanout(t *testing.T) {
	p := &Publish{QoS: QoS1, Topic: []byte("fan/out"), Payload: make([]byte, 1024), Properties: publishProps}
	tmpl, err := p.AppendTemplate(nil, V5)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 0, 64<<10)
	id := uint16(0)
	wantNoAllocs(t, "PublishTemplate.AppendTo", func() {
		id++
		out = tmpl.AppendTo(out[:0], id, id%2 == 0)
	})
	wantNoAllocs(t, "PublishTemplate.SetPacketID and SetDup", func() {
		id++
		tmpl.SetPacketID(id)
		tmpl.SetDup(true)
		tmpl.SetRetain(false)
	})
	wantNoAllocs(t, "PublishPacketIDOffset", func() { _, _ = PublishPacketIDOffset(tmpl.Frame()) })
}

func TestAllocsTopic(t *testing.T) {
	filter, name := "sport/+/player1/#", []byte("sport/tennis/player1/score/wimbledon")
	filterBytes, nameString := []byte(filter), string(name)
	ok := false
	wantNoAllocs(t, "MatchTopic", func() { ok = MatchTopic(filter, name) })
	wantNoAllocs(t, "MatchTopic bytes", func() { ok = ok && MatchTopic(filterBytes, nameString) })
	if !ok {
		t.Fatal("no match")
	}
	wantNoAllocs(t, "ValidateTopicName", func() { _ = ValidateTopicName(name) })
	wantNoAllocs(t, "ValidateTopicFilter", func() { _ = ValidateTopicFilter(filter) })
	wantNoAllocs(t, "ParseShared", func() { _, _, _, _ = ParseShared("$share/g/a/+") })
}
