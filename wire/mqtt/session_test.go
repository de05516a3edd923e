package mqtt

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eclipse/paho.golang/paho"

	"tributary/cluster"
	"tributary/mqttcodec"
)

// [MQTT-3.8.3-4]: No Local on a shared subscription is a protocol error.
func TestSubscribe_MQTT_3_8_3_4(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("sub", mqttcodec.V5, nil)
	// SUBSCRIBE id 1, no properties, "$share/g/t" with No Local (0x04).
	f := []byte("$share/g/t")
	frame := append([]byte{0x82, byte(2 + 1 + 2 + len(f) + 1), 0, 1, 0, 0, byte(len(f))}, f...)
	r.write(append(frame, 0x04|0x01))
	r.closedWith(mqttcodec.ProtocolError)
}

func TestSubscribeRefusesBadShareNamePerFilter(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	// 3.1.1 knows no shared subscriptions, so its decoder lets "$share//t"
	// through; the server refuses that filter alone.
	r, _ := st.rawConnect("sub", mqttcodec.V311, nil)
	s := &mqttcodec.Subscribe{PacketID: 9}
	for _, f := range []string{"ok/#", "$share//t", "$share/g/t"} {
		if err := s.Add(mqttcodec.Subscription{Filter: []byte(f), QoS: mqttcodec.QoS1}); err != nil {
			t.Fatal(err)
		}
	}
	r.send(s)
	ack := expect[*mqttcodec.Suback](r)
	want := []mqttcodec.ReasonCode{mqttcodec.GrantedQoS1, mqttcodec.UnspecifiedError, mqttcodec.GrantedQoS1}
	if ack.PacketID != 9 || len(ack.ReasonCodes) != 3 {
		t.Fatalf("SUBACK id %d codes %v, want id 9 and %v", ack.PacketID, ack.ReasonCodes, want)
	}
	for i := range want {
		if ack.ReasonCodes[i] != want[i] {
			t.Fatalf("SUBACK codes %v, want %v", ack.ReasonCodes, want)
		}
	}
}

func TestSubscribeMalformedFilter(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("sub", mqttcodec.V5, nil)
	// "a/#/b": '#' not last [MQTT-4.7.1-1]; the codec refuses the packet.
	f := []byte("a/#/b")
	frame := append([]byte{0x82, byte(2 + 1 + 2 + len(f) + 1), 0, 1, 0, 0, byte(len(f))}, f...)
	r.write(append(frame, 0x01))
	d := r.closed()
	if len(d) != 1 || d[0].Type() != mqttcodec.TypeDisconnect || !d[0].(*mqttcodec.Disconnect).ReasonCode.IsError() {
		t.Fatalf("got %v, want a DISCONNECT with an error code", d)
	}
}

func TestUnsubscribe(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	sub, _ := st.dialV5("sub", nil)
	sub.subscribe(paho.SubscribeOptions{Topic: "u/a", QoS: 1})
	ctx, cancel := contextWithWait()
	defer cancel()
	ack, err := sub.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"u/a", "u/none"}})
	if err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	if len(ack.Reasons) != 2 || ack.Reasons[0] != 0 || ack.Reasons[1] != byte(mqttcodec.NoSubscriptionExisted) {
		t.Fatalf("UNSUBACK reasons %v, want [0 0x11] [MQTT-3.11.3]", ack.Reasons)
	}
	pub, _ := st.dialV5("pub", nil)
	pub.publish(&paho.Publish{Topic: "u/a", QoS: 1, Payload: []byte("x")})
	sub.noMessage()

	// 3.1.1's UNSUBACK has no codes.
	r, _ := st.rawConnect("sub3", mqttcodec.V311, nil)
	u := &mqttcodec.Unsubscribe{PacketID: 4}
	if err := u.Add([]byte("u/none")); err != nil {
		t.Fatal(err)
	}
	r.send(u)
	if ua := expect[*mqttcodec.Unsuback](r); ua.PacketID != 4 {
		t.Fatalf("UNSUBACK id %d, want 4", ua.PacketID)
	}
}

// [MQTT-3.14.2.2.2]: a DISCONNECT may not set a session expiry when the
// CONNECT's was 0.
func TestDisconnectSessionExpiryFromZero(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("dev", mqttcodec.V5, nil)
	d := &mqttcodec.Disconnect{}
	d.Properties.SetSessionExpirySeconds(60)
	r.send(d)
	r.closedWith(mqttcodec.ProtocolError)
}

func TestDisconnectChangesSessionExpiry(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	persistent := func(c *mqttcodec.Connect) {
		c.CleanStart = false
		c.Properties.SetSessionExpirySeconds(3600)
	}
	r, _ := st.rawConnect("dev", mqttcodec.V5, persistent)
	d := &mqttcodec.Disconnect{}
	d.Properties.SetSessionExpirySeconds(0) // end the session with the connection
	r.send(d)
	r.closed()
	var ack *mqttcodec.Connack
	eventually(t, "session ended", func() bool {
		r, ack = st.rawConnect("dev", mqttcodec.V5, persistent)
		r.send(&mqttcodec.Disconnect{}) // keep the session as the CONNECT says
		r.closed()
		return !ack.SessionPresent
	})
}

func TestMalformedPacketAfterConnect(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	for _, tc := range []struct {
		name  string
		bytes []byte
		code  mqttcodec.ReasonCode
	}{
		{"publish qos 3", []byte{0x36, 0x05, 0, 1, 't', 0, 1}, mqttcodec.MalformedPacket},
		{"pingreq with a body", []byte{0xC0, 0x01, 0x00}, mqttcodec.MalformedPacket},
		{"remaining length of five bytes", []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}, mqttcodec.MalformedPacket},
		{"reserved type 0", []byte{0x00, 0x00}, mqttcodec.MalformedPacket},
		{"connack from a client", []byte{0x20, 0x03, 0, 0, 0}, mqttcodec.ProtocolError},
	} {
		r, _ := st.rawConnect("bad", mqttcodec.V5, nil)
		r.write(tc.bytes)
		r.closedWith(tc.code)

		r3, _ := st.rawConnect("bad3", mqttcodec.V311, nil)
		r3.write(tc.bytes)
		if ps := r3.closed(); len(ps) != 0 {
			t.Fatalf("%s: 3.1.1 got %d packets before the close", tc.name, len(ps))
		}
	}
	// The server still serves.
	st.rawConnect("after", mqttcodec.V5, nil)
}

// A keep alive timeout closes the connection (0x8D) and fires the will
// [MQTT-3.1.2-22].
func TestKeepAliveTimeoutFiresWill(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	watcher, _ := st.dialV5("watcher", nil)
	watcher.subscribe(paho.SubscribeOptions{Topic: "ka/will", QoS: 1})
	r, _ := st.rawConnect("sleepy", mqttcodec.V5, func(c *mqttcodec.Connect) {
		c.KeepAliveSeconds = 1
		c.HasWill, c.WillQoS, c.WillTopic, c.WillPayload = true, mqttcodec.QoS1, []byte("ka/will"), []byte("timeout")
	})
	r.closedWith(mqttcodec.KeepAliveTimeout)
	if m := watcher.message(); string(m.Payload) != "timeout" {
		t.Fatalf("got %q, want the will", m.Payload)
	}
}

func TestPingresp(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	for _, v := range []mqttcodec.Version{mqttcodec.V31, mqttcodec.V311, mqttcodec.V5} {
		r, _ := st.rawConnect("ping", v, nil)
		r.send(&mqttcodec.Pingreq{})
		expect[*mqttcodec.Pingresp](r) // [MQTT-3.12.4-1]
	}
}

// A panic while handling one connection's packet closes that connection
// only.
func TestPanicClosesOnlyItsConnection(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	st := newStack(t, stackOptions{hooks: testHooks{onPacket: func(clientID string, pt mqttcodec.PacketType) {
		if clientID == "victim" && pt == mqttcodec.TypePingreq && armed.Load() {
			panic("injected")
		}
	}}})
	other, _ := st.dialV5("other", nil)
	other.subscribe(paho.SubscribeOptions{Topic: "still/alive", QoS: 1})
	victim, _ := st.rawConnect("victim", mqttcodec.V5, func(c *mqttcodec.Connect) {
		c.HasWill, c.WillTopic, c.WillPayload = true, []byte("still/alive"), []byte("victim's will")
	})
	armed.Store(true)
	victim.send(&mqttcodec.Pingreq{})
	victim.closed()
	if m := other.message(); string(m.Payload) != "victim's will" {
		t.Fatalf("got %q, want the victim's will (its connection closed abnormally)", m.Payload)
	}
	if got := st.counter("tributary_mqtt_connection_panics_total"); got != 1 {
		t.Fatalf("panics = %v, want 1", got)
	}
	pub, _ := st.dialV5("pub", nil)
	pub.publish(&paho.Publish{Topic: "still/alive", QoS: 1, Payload: []byte("yes")})
	if m := other.message(); string(m.Payload) != "yes" {
		t.Fatalf("got %q", m.Payload)
	}
}

func TestOutboundBufferFullDropsQoS0(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{config: func(c *Config) { c.MaxOutboundBytes = 1000 }})
	st.rawConnect("slow", mqttcodec.V5, nil)
	c := st.connOf(t, "slow")
	m := &cluster.Message{Topic: "t", Payload: bytes.Repeat([]byte("x"), 600)}
	// Stand in for a writer stuck on a slow socket: once the CONNACK's
	// writer is gone, mark one as running, so none starts and the queue
	// fills.
	eventually(t, "writer idle", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.writing {
			return false
		}
		c.writing = true
		return true
	})
	if !c.Send(cluster.Outbound{Message: m}) {
		t.Fatal("the first message was refused by an empty queue")
	}
	if c.Send(cluster.Outbound{Message: m}) {
		t.Fatal("a QoS 0 message past MaxOutboundBytes was accepted")
	}
	if !c.Send(cluster.Outbound{QoS: 1, PacketID: 1, Message: m}) {
		t.Fatal("a QoS 1 message was refused: its window bounds it, not MaxOutboundBytes")
	}
	if got := st.counter("tributary_mqtt_messages_dropped_total", "reason", dropOutboundFull); got != 1 {
		t.Fatalf("dropped{outbound_full} = %v, want 1", got)
	}
	c.mu.Lock()
	c.writing = false
	c.startWriterLocked()
	c.mu.Unlock()
}

func TestShutdownSendsServerShuttingDown(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r5, _ := st.rawConnect("v5", mqttcodec.V5, nil)
	r3, _ := st.rawConnect("v3", mqttcodec.V311, nil)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := contextWithWait()
		defer cancel()
		done <- st.srv.Shutdown(ctx)
	}()
	r5.closedWith(mqttcodec.ServerShuttingDown)
	if ps := r3.closed(); len(ps) != 0 {
		t.Fatalf("3.1.1 got %d packets before the close", len(ps))
	}
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	<-st.srv.Done()
	if err := st.srv.Err(); err != nil {
		t.Fatalf("Err after Shutdown: %v", err)
	}
	if _, err := dialRawErr(st.addr()); err == nil {
		t.Fatal("the listener still accepts after Shutdown")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (Config{}).Validate(); err == nil || !strings.Contains(err.Error(), "Node is nil") {
		t.Fatalf("Validate of the zero Config: %v, want Node is nil", err)
	}
	bad := Config{Addr: "nope", MaxPacketBytes: 10, ReceiveMaximum: 70000, MaxKeepAlive: -1, WriteTimeout: -1}
	err := bad.Validate()
	for _, want := range []string{"Addr", "MaxPacketBytes", "ReceiveMaximum", "MaxKeepAlive", "WriteTimeout", "Node"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Validate: %v, want it to name %s", err, want)
		}
	}
}

func TestCloseCutsConnections(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("dev", mqttcodec.V5, nil)
	if err := st.srv.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if ps := r.closed(); len(ps) != 0 {
		t.Fatalf("Close sent %d packets, want none", len(ps))
	}
	<-st.srv.Done()
	if got := st.counter("tributary_mqtt_connections"); got != 0 {
		t.Fatalf("%v connections open after Close", got)
	}
}
