package mqtt

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"tributary/cluster"
	"tributary/mqttcodec"
)

// rawPublish builds a PUBLISH for a raw client.
func rawPublish(topic string, qos mqttcodec.QoS, id uint16, payload string) *mqttcodec.Publish {
	return &mqttcodec.Publish{Topic: []byte(topic), QoS: qos, PacketID: id, Payload: []byte(payload)}
}

func TestQoS2InboundHandshake(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	sub, _ := st.dialV5("sub", nil)
	sub.subscribe(paho.SubscribeOptions{Topic: "q2", QoS: 2})
	r, _ := st.rawConnect("pub", mqttcodec.V5, nil)

	r.send(rawPublish("q2", mqttcodec.QoS2, 7, "once"))
	if rec := expect[*mqttcodec.Pubrec](r); rec.PacketID != 7 || rec.ReasonCode != mqttcodec.Success {
		t.Fatalf("PUBREC id %d %s, want 7 success", rec.PacketID, rec.ReasonCode)
	}
	// A resend before PUBREL is not routed again [MQTT-4.3.3-2].
	dup := rawPublish("q2", mqttcodec.QoS2, 7, "once")
	dup.Dup = true
	r.send(dup)
	if rec := expect[*mqttcodec.Pubrec](r); rec.PacketID != 7 || rec.ReasonCode != mqttcodec.Success {
		t.Fatalf("PUBREC of the resend: id %d %s, want 7 success", rec.PacketID, rec.ReasonCode)
	}
	r.send(&mqttcodec.Pubrel{PacketID: 7})
	if comp := expect[*mqttcodec.Pubcomp](r); comp.PacketID != 7 {
		t.Fatalf("PUBCOMP id %d, want 7", comp.PacketID)
	}
	if m := sub.message(); string(m.Payload) != "once" {
		t.Fatalf("got %q", m.Payload)
	}
	sub.noMessage()
}

func TestAcknowledgementsKeepPublishOrder(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("pub", mqttcodec.V5, nil)
	const n = 200
	var burst []byte
	for i := 1; i <= n; i++ {
		b, err := rawPublish("order", mqttcodec.QoS(1+i%2), uint16(i), "x").Append(nil, mqttcodec.V5)
		if err != nil {
			t.Fatal(err)
		}
		burst = append(burst, b...)
	}
	r.write(burst) // one write: the publishes arrive together and commit in batches
	for i := 1; i <= n; i++ {
		p := r.next()
		var id uint16
		switch a := p.(type) {
		case *mqttcodec.Puback:
			id = a.PacketID
		case *mqttcodec.Pubrec:
			id = a.PacketID
		default:
			t.Fatalf("got %s, want PUBACK or PUBREC", p.Type())
		}
		if id != uint16(i) {
			t.Fatalf("acknowledgement %d is for id %d: order lost [MQTT-4.6.0-2] [MQTT-4.6.0-3]", i, id)
		}
	}
}

func TestNoMatchingSubscribers(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("pub", mqttcodec.V5, nil)
	r.send(rawPublish("nobody/listens", mqttcodec.QoS1, 1, "x"))
	if ack := expect[*mqttcodec.Puback](r); ack.ReasonCode != mqttcodec.NoMatchingSubscribers {
		t.Fatalf("PUBACK %s, want no matching subscribers", ack.ReasonCode)
	}
}

func TestOutboundQoS2WithRawSubscriber(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("sub", mqttcodec.V5, nil)
	sub := &mqttcodec.Subscribe{PacketID: 1}
	if err := sub.Add(mqttcodec.Subscription{Filter: []byte("out/2"), QoS: mqttcodec.QoS2}); err != nil {
		t.Fatal(err)
	}
	r.send(sub)
	expect[*mqttcodec.Suback](r)
	pub, _ := st.dialV5("pub", nil)
	pub.publish(&paho.Publish{Topic: "out/2", QoS: 2, Payload: []byte("two")})

	p := expect[*mqttcodec.Publish](r)
	if p.QoS != mqttcodec.QoS2 || string(p.Payload) != "two" || p.PacketID == 0 {
		t.Fatalf("PUBLISH qos %d payload %q id %d", p.QoS, p.Payload, p.PacketID)
	}
	r.send(&mqttcodec.Pubrec{PacketID: p.PacketID})
	if rel := expect[*mqttcodec.Pubrel](r); rel.PacketID != p.PacketID || rel.ReasonCode != mqttcodec.Success {
		t.Fatalf("PUBREL id %d %s, want %d success", rel.PacketID, rel.ReasonCode, p.PacketID)
	}
	r.send(&mqttcodec.Pubcomp{PacketID: p.PacketID})
	// A PUBREC for an id not in flight: PUBREL 0x92 [MQTT-3.6.2.1].
	r.send(&mqttcodec.Pubrec{PacketID: 999})
	if rel := expect[*mqttcodec.Pubrel](r); rel.PacketID != 999 || rel.ReasonCode != mqttcodec.PacketIdentifierNotFound {
		t.Fatalf("PUBREL id %d %s, want 999 packet identifier not found", rel.PacketID, rel.ReasonCode)
	}
}

func TestRetainedMessage(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	pub, _ := st.dialV5("pub", nil)
	pub.publish(&paho.Publish{Topic: "ret/a", QoS: 1, Retain: true, Payload: []byte("kept")})
	sub, _ := st.dialV5("sub", nil)
	sub.subscribe(paho.SubscribeOptions{Topic: "ret/#", QoS: 1})
	m := sub.message()
	if !m.Retain || string(m.Payload) != "kept" || m.Topic != "ret/a" {
		t.Fatalf("got retain=%v %q on %q, want the retained message", m.Retain, m.Payload, m.Topic)
	}
}

// The SUBACK precedes the retained messages of the subscription, as
// Mosquitto does.
func TestSubackBeforeRetained(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	pub, _ := st.dialV5("pub", nil)
	for i := range 5 {
		pub.publish(&paho.Publish{Topic: fmt.Sprintf("ret/%d", i), QoS: 1, Retain: true, Payload: []byte("r")})
	}
	r, _ := st.rawConnect("sub", mqttcodec.V311, nil)
	sub := &mqttcodec.Subscribe{PacketID: 3}
	if err := sub.Add(mqttcodec.Subscription{Filter: []byte("ret/#"), QoS: mqttcodec.QoS0}); err != nil {
		t.Fatal(err)
	}
	r.send(sub)
	expect[*mqttcodec.Suback](r)
	for range 5 {
		if p := expect[*mqttcodec.Publish](r); !p.Retain {
			t.Fatal("retained message delivered without RETAIN")
		}
	}
}

func TestWillOnAbnormalClose(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	sub, _ := st.dialV5("watcher", nil)
	sub.subscribe(paho.SubscribeOptions{Topic: "will/#", QoS: 1})

	for _, tc := range []struct {
		name     string
		end      func(r *rawClient)
		wantWill bool
	}{
		{"network close", func(r *rawClient) { _ = r.nc.Close() }, true},
		{"disconnect 0x04", func(r *rawClient) {
			r.send(&mqttcodec.Disconnect{ReasonCode: mqttcodec.DisconnectWithWillMessage})
		}, true},
		{"disconnect 0x00", func(r *rawClient) { r.send(&mqttcodec.Disconnect{}) }, false},
		{"protocol error", func(r *rawClient) { r.write([]byte{0x00, 0x00}) }, true},
	} {
		r, _ := st.rawConnect("dev-"+tc.name, mqttcodec.V5, func(c *mqttcodec.Connect) {
			c.HasWill, c.WillQoS, c.WillTopic, c.WillPayload = true, mqttcodec.QoS1, []byte("will/"+tc.name), []byte("gone")
			c.WillProperties.SetContentType([]byte("text/plain"))
		})
		tc.end(r)
		if !tc.wantWill {
			sub.noMessage() // [MQTT-3.1.2-10]: DISCONNECT 0x00 discards the will
			continue
		}
		m := sub.message()
		if m.Topic != "will/"+tc.name || string(m.Payload) != "gone" || m.Properties.ContentType != "text/plain" {
			t.Fatalf("%s: got %q %q content type %q, want the will", tc.name, m.Topic, m.Payload, m.Properties.ContentType)
		}
	}
}

func TestTakeoverDisconnectsOldConnection(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	old, _ := st.rawConnect("dev", mqttcodec.V5, nil)
	st.rawConnect("dev", mqttcodec.V5, nil)
	old.closedWith(mqttcodec.SessionTakenOver) // [MQTT-3.1.4-3]

	old3, _ := st.rawConnect("dev3", mqttcodec.V311, nil)
	st.rawConnect("dev3", mqttcodec.V311, nil)
	if ps := old3.closed(); len(ps) != 0 {
		t.Fatalf("3.1.1 connection got %d packets before the takeover closed it", len(ps))
	}
}

func TestInboundTopicAliases(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.TopicAliasMaximum = 4 }})
	sub, _ := st.dialV5("sub", nil)
	sub.subscribe(paho.SubscribeOptions{Topic: "alias/#", QoS: 0})
	r, _ := st.rawConnect("pub", mqttcodec.V5, nil)

	first := rawPublish("alias/long/topic", mqttcodec.QoS0, 0, "1")
	first.Properties.SetTopicAlias(3)
	r.send(first)
	second := rawPublish("", mqttcodec.QoS0, 0, "2")
	second.Properties.SetTopicAlias(3)
	r.send(second)
	for _, want := range []string{"1", "2"} {
		m := sub.message()
		if m.Topic != "alias/long/topic" || string(m.Payload) != want {
			t.Fatalf("got %q %q, want alias/long/topic %q", m.Topic, m.Payload, want)
		}
		if m.Properties != nil && m.Properties.TopicAlias != nil {
			t.Fatal("the publisher's topic alias leaked to a subscriber")
		}
	}

	bad := rawPublish("alias/x", mqttcodec.QoS0, 0, "x")
	bad.Properties.SetTopicAlias(5)
	r.send(bad)
	r.closedWith(mqttcodec.TopicAliasInvalid) // [MQTT-3.3.2-9]

	r, _ = st.rawConnect("pub2", mqttcodec.V5, nil)
	unknown := rawPublish("", mqttcodec.QoS0, 0, "x")
	unknown.Properties.SetTopicAlias(2)
	r.send(unknown)
	r.closedWith(mqttcodec.ProtocolError)
}

// subscribeRaw subscribes a raw client and waits for the SUBACK.
func subscribeRaw(r *rawClient, id uint16, filter string, qos mqttcodec.QoS, edit func(*mqttcodec.Subscribe)) *mqttcodec.Suback {
	r.t.Helper()
	s := &mqttcodec.Subscribe{PacketID: id}
	if err := s.Add(mqttcodec.Subscription{Filter: []byte(filter), QoS: qos}); err != nil {
		r.t.Fatal(err)
	}
	if edit != nil {
		edit(s)
	}
	r.send(s)
	return expect[*mqttcodec.Suback](r)
}

func TestOutboundTopicAliases(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("sub", mqttcodec.V5, func(c *mqttcodec.Connect) { c.Properties.SetTopicAliasMaximum(2) })
	subscribeRaw(r, 1, "ta/#", mqttcodec.QoS0, nil)
	pub, _ := st.dialV5("pub", nil)
	send := func(topic string) { pub.publish(&paho.Publish{Topic: topic, QoS: 0, Payload: []byte(topic)}) }

	type seen struct {
		topic string
		alias uint16
	}
	recv := func() seen {
		p := expect[*mqttcodec.Publish](r)
		return seen{string(p.Topic), p.Properties.TopicAlias}
	}
	for i, step := range []struct {
		publish string
		want    seen
	}{
		{"ta/a", seen{"ta/a", 1}}, // first use: topic and alias [MQTT-3.3.2-11]
		{"ta/a", seen{"", 1}},     // then the alias alone
		{"ta/b", seen{"ta/b", 2}},
		{"ta/a", seen{"", 1}},
		{"ta/c", seen{"ta/c", 2}}, // table full: the least recently used alias (2, ta/b) is rebound
		{"ta/b", seen{"ta/b", 1}},
		{"ta/c", seen{"", 2}},
	} {
		send(step.publish)
		if got := recv(); got != step.want {
			t.Fatalf("step %d (%s): got topic %q alias %d, want %q alias %d", i, step.publish,
				got.topic, got.alias, step.want.topic, step.want.alias)
		}
	}
}

func TestMessageExpiry(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("sub", mqttcodec.V5, nil)
	subscribeRaw(r, 1, "exp", mqttcodec.QoS1, nil)
	pub, _ := st.dialV5("pub", nil)
	pub.publish(&paho.Publish{Topic: "exp", QoS: 1, Payload: []byte("x"),
		Properties: &paho.PublishProperties{MessageExpiry: ptr(uint32(60))}})
	p := expect[*mqttcodec.Publish](r)
	if !p.Properties.Has(mqttcodec.PropMessageExpiry) || p.Properties.MessageExpirySeconds > 60 || p.Properties.MessageExpirySeconds < 59 {
		t.Fatalf("Message Expiry Interval %d (present %v), want 59..60, the time left [MQTT-3.3.2-6]",
			p.Properties.MessageExpirySeconds, p.Properties.Has(mqttcodec.PropMessageExpiry))
	}
	r.send(&mqttcodec.Puback{PacketID: p.PacketID})

	// A message that expires while the subscriber is away is not delivered.
	persistent := func(c *mqttcodec.Connect) {
		c.CleanStart = false
		c.Properties.SetSessionExpirySeconds(3600)
	}
	away, _ := st.rawConnect("away", mqttcodec.V5, func(c *mqttcodec.Connect) { persistent(c); c.CleanStart = true })
	subscribeRaw(away, 1, "exp/away", mqttcodec.QoS1, nil)
	away.send(&mqttcodec.Disconnect{})
	away.closed()
	pub.publish(&paho.Publish{Topic: "exp/away", QoS: 1, Payload: []byte("stale"),
		Properties: &paho.PublishProperties{MessageExpiry: ptr(uint32(5))}})
	pub.publish(&paho.Publish{Topic: "exp/away", QoS: 1, Payload: []byte("fresh")})
	st.clock.advance(time.Minute)
	back, ack := st.rawConnect("away", mqttcodec.V5, persistent)
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	if p := expect[*mqttcodec.Publish](back); string(p.Payload) != "fresh" {
		t.Fatalf("got %q first, want the expired message skipped [MQTT-3.3.2-5]", p.Payload)
	}
}

func TestWriterDropsExpiredMessage(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("sub", mqttcodec.V5, nil)
	c := st.connOf(t, "sub")
	expired := &cluster.Message{Topic: "t", Payload: []byte("late"), ExpiresAtMillis: st.clock.now().UnixMilli() - 1}
	fresh := &cluster.Message{Topic: "t", Payload: []byte("ok")}
	if !c.Send(cluster.Outbound{Message: expired}) || !c.Send(cluster.Outbound{Message: fresh}) {
		t.Fatal("Send refused on an open connection")
	}
	if p := expect[*mqttcodec.Publish](r); string(p.Payload) != "ok" {
		t.Fatalf("got %q, want the expired message dropped", p.Payload)
	}
	if got := st.counter("tributary_mqtt_messages_dropped_total", "reason", dropExpired); got != 1 {
		t.Fatalf("dropped{expired} = %v, want 1", got)
	}
}

func TestInboundReceiveMaximum(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.ReceiveMaximum = 2 }})
	r, ack := st.rawConnect("pub", mqttcodec.V5, nil)
	if ack.Properties.ReceiveMaximum != 2 {
		t.Fatalf("Receive Maximum %d, want 2", ack.Properties.ReceiveMaximum)
	}
	// QoS 2 publishes count until their PUBCOMP.
	for id := uint16(1); id <= 2; id++ {
		r.send(rawPublish("rm", mqttcodec.QoS2, id, "x"))
		expect[*mqttcodec.Pubrec](r)
	}
	r.send(&mqttcodec.Pubrel{PacketID: 1})
	expect[*mqttcodec.Pubcomp](r)
	r.send(rawPublish("rm", mqttcodec.QoS2, 3, "x")) // the slot of 1 is free again
	expect[*mqttcodec.Pubrec](r)
	r.send(rawPublish("rm", mqttcodec.QoS1, 4, "x")) // 2 and 3 still in flight
	r.closedWith(mqttcodec.ReceiveMaximumExceeded)   // [MQTT-3.3.4-9]
}

func TestInboundPacketTooLarge(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.MaxPacketBytes = 1024 }})
	r, _ := st.rawConnect("big", mqttcodec.V5, nil)
	r.send(rawPublish("big", mqttcodec.QoS0, 0, string(bytes.Repeat([]byte("x"), 1000))))
	r.send(rawPublish("big", mqttcodec.QoS0, 0, string(bytes.Repeat([]byte("x"), 2000))))
	r.closedWith(mqttcodec.PacketTooLarge)
}

func TestOutboundMaximumPacketSize(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	// Receive Maximum 1: if the dropped message kept its window slot, the
	// next one would never come.
	r, _ := st.rawConnect("small", mqttcodec.V5, func(c *mqttcodec.Connect) {
		c.Properties.SetMaximumPacketBytes(200)
		c.Properties.SetReceiveMaximum(1)
	})
	subscribeRaw(r, 1, "mps", mqttcodec.QoS1, nil)
	pub, _ := st.dialV5("pub", nil)
	pub.publish(&paho.Publish{Topic: "mps", QoS: 1, Payload: bytes.Repeat([]byte("x"), 500)})
	pub.publish(&paho.Publish{Topic: "mps", QoS: 1, Payload: []byte("fits")})
	p := expect[*mqttcodec.Publish](r)
	if string(p.Payload) != "fits" {
		t.Fatalf("got %d bytes, want the large message dropped [MQTT-3.1.2-25]", len(p.Payload))
	}
	if got := st.counter("tributary_mqtt_messages_dropped_total", "reason", dropTooLarge); got != 1 {
		t.Fatalf("dropped{too_large} = %v, want 1", got)
	}
}

func TestLargePayloadIsWrittenIntact(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	sub, _ := st.dialV5("sub", nil)
	sub.subscribe(paho.SubscribeOptions{Topic: "large", QoS: 1})
	sub3, msgs3 := st.dialV3("sub3", true, nil)
	waitToken(t, sub3.Subscribe("large", 1, nil))
	pub, _ := st.dialV5("pub", nil)
	for _, n := range []int{inlinePayloadBytes - 1, inlinePayloadBytes, 200_000} {
		payload := bytes.Repeat([]byte{byte(n)}, n)
		pub.publish(&paho.Publish{Topic: "large", QoS: 1, Payload: payload})
		if m := sub.message(); !bytes.Equal(m.Payload, payload) {
			t.Fatalf("v5: %d-byte payload arrived as %d bytes", n, len(m.Payload))
		}
		if m := v3Message(t, msgs3); !bytes.Equal(m.Payload(), payload) {
			t.Fatalf("3.1.1: %d-byte payload arrived as %d bytes", n, len(m.Payload()))
		}
	}
}

func TestSubscriptionIdentifiers(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	sub, _ := st.dialV5("sub", nil)
	sub.subscribeWith(&paho.SubscribeProperties{SubscriptionIdentifier: ptr(42)},
		paho.SubscribeOptions{Topic: "sid/+", QoS: 1})
	pub, _ := st.dialV5("pub", nil)
	pub.publish(&paho.Publish{Topic: "sid/a", QoS: 1, Payload: []byte("x")})
	m := sub.message()
	if m.Properties == nil || m.Properties.SubscriptionIdentifier == nil || *m.Properties.SubscriptionIdentifier != 42 {
		t.Fatalf("subscription identifier %v, want 42 [MQTT-3.3.4-3]", m.Properties)
	}
}

func TestSharedSubscription(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	a, _ := st.dialV5("a", nil)
	b, _ := st.dialV5("b", nil)
	for _, c := range []*v5Client{a, b} {
		c.subscribe(paho.SubscribeOptions{Topic: "$share/g/jobs/#", QoS: 1})
	}
	pub, _ := st.dialV5("pub", nil)
	const n = 20
	for i := range n {
		pub.publish(&paho.Publish{Topic: "jobs/x", QoS: 1, Payload: []byte{byte(i)}})
	}
	seen := map[byte]int{}
	for range n {
		select {
		case m := <-a.msgs:
			seen[m.Payload[0]]++
		case m := <-b.msgs:
			seen[m.Payload[0]]++
		case <-time.After(waitFor):
			t.Fatalf("got %d of %d messages", len(seen), n)
		}
	}
	for i := range n {
		if seen[byte(i)] != 1 {
			t.Fatalf("message %d delivered %d times to the group, want once", i, seen[byte(i)])
		}
	}
}

func TestPayloadFormatInvalid(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("pub", mqttcodec.V5, nil)
	p := rawPublish("pf", mqttcodec.QoS1, 1, "\xff\xfe")
	p.Properties.SetPayloadFormat(1)
	r.send(p)
	if ack := expect[*mqttcodec.Puback](r); ack.ReasonCode != mqttcodec.PayloadFormatInvalid {
		t.Fatalf("PUBACK %s, want payload format invalid", ack.ReasonCode)
	}
	p.QoS, p.PacketID = mqttcodec.QoS0, 0
	r.send(p)
	r.closedWith(mqttcodec.PayloadFormatInvalid)
}

// [MQTT-3.3.2-2]: a topic name with a wildcard closes the connection.
func TestPublish_MQTT_3_3_2_2(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("pub", mqttcodec.V5, nil)
	// PUBLISH QoS 0 to "a/+": the encoder would refuse it, so bytes.
	r.write([]byte{0x30, 0x07, 0, 3, 'a', '/', '+', 0, 'x'})
	d := r.closed()
	if len(d) != 1 || d[0].Type() != mqttcodec.TypeDisconnect || !d[0].(*mqttcodec.Disconnect).ReasonCode.IsError() {
		t.Fatalf("got %v, want one DISCONNECT with an error code", d)
	}
	r3, _ := st.rawConnect("pub3", mqttcodec.V311, nil)
	r3.write([]byte{0x30, 0x06, 0, 3, 'a', '/', '#', 'x'})
	if ps := r3.closed(); len(ps) != 0 {
		t.Fatalf("3.1.1: got %d packets before the close, want none", len(ps))
	}
}

// [MQTT-3.3.4-6]: a client PUBLISH must not carry a subscription
// identifier.
func TestPublish_MQTT_3_3_4_6(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("pub", mqttcodec.V5, nil)
	p := rawPublish("x", mqttcodec.QoS0, 0, "x")
	if err := p.Properties.AddSubscriptionID(3); err != nil {
		t.Fatal(err)
	}
	r.send(p)
	r.closedWith(mqttcodec.ProtocolError)
}

// A frame that arrives in pieces, its fixed header split too, is
// assembled across reads.
func TestFrameArrivingInPieces(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	sub, _ := st.dialV5("sub", nil)
	sub.subscribe(paho.SubscribeOptions{Topic: "pieces", QoS: 1})
	r, _ := st.rawConnect("pub", mqttcodec.V5, nil)
	payload := bytes.Repeat([]byte("0123456789"), 3000)
	frame, err := rawPublish("pieces", mqttcodec.QoS1, 1, string(payload)).Append(nil, mqttcodec.V5)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range [][2]int{{0, 1}, {1, 2}, {2, 3}, {3, 700}, {700, 9000}, {9000, len(frame)}} {
		r.write(frame[cut[0]:cut[1]])
	}
	if ack := expect[*mqttcodec.Puback](r); ack.PacketID != 1 {
		t.Fatalf("PUBACK id %d", ack.PacketID)
	}
	if m := sub.message(); !bytes.Equal(m.Payload, payload) {
		t.Fatalf("payload of %d bytes arrived as %d", len(payload), len(m.Payload))
	}
}

// An MQTT 3 client, which was told no Receive Maximum, is not read while
// ReceiveMaximum of its publishes wait for their commits; none is refused
// and the acknowledgements keep their order.
func TestV3BackPressure(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.ReceiveMaximum = 2 }})
	r, _ := st.rawConnect("pub", mqttcodec.V311, nil)
	var burst []byte
	for id := uint16(1); id <= 20; id++ {
		b, err := rawPublish("bp", mqttcodec.QoS(1+id%2), id, "x").Append(nil, mqttcodec.V311)
		if err != nil {
			t.Fatal(err)
		}
		burst = append(burst, b...)
	}
	r.write(burst)
	for id := uint16(1); id <= 20; id++ {
		var got uint16
		switch p := r.next().(type) {
		case *mqttcodec.Puback:
			got = p.PacketID
		case *mqttcodec.Pubrec:
			got = p.PacketID
			r.send(&mqttcodec.Pubrel{PacketID: got})
		default:
			t.Fatalf("got %s", p.Type())
		}
		if got != id {
			t.Fatalf("acknowledgement for %d, want %d", got, id)
		}
	}
	// The PUBRELs were read after the whole burst, so their PUBCOMPs
	// follow every acknowledgement of it.
	for id := uint16(1); id <= 20; id += 2 {
		if comp := expect[*mqttcodec.Pubcomp](r); comp.PacketID != id {
			t.Fatalf("PUBCOMP for %d, want %d", comp.PacketID, id)
		}
	}
}

// Connections that are not plain sockets (TLS, wrappers) wait for
// readability with a one-byte read; the protocol runs the same.
func TestPortableReadPath(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{hooks: testHooks{portable: true}})
	sub, _ := st.dialV5("sub", nil)
	sub.subscribe(paho.SubscribeOptions{Topic: "portable", QoS: 1})
	pub, _ := st.dialV5("pub", nil)
	for i := range 3 {
		pub.publish(&paho.Publish{Topic: "portable", QoS: byte(i % 3), Payload: []byte{byte(i)}})
		if m := sub.message(); len(m.Payload) != 1 || m.Payload[0] != byte(i) {
			t.Fatalf("got %q, want [%d]", m.Payload, i)
		}
	}
}
