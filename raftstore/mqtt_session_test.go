package raftstore

import (
	"errors"
	"slices"
	"testing"
)

func TestSessionPresent_MQTT_3_2_2_3(t *testing.T) {
	h := newMQTTFSM(t)
	first := h.open(SessionOpen{ClientID: "c", CleanStart: false, ExpirySeconds: 60, NowMillis: 1000})
	if first.Present || first.TakenOver || first.Generation == 0 {
		t.Fatalf("first open = %+v, want a new session", first)
	}
	h.subscribe("c", first.Generation, 1000, Subscription{Filter: "a/+", QoS: 1})
	h.close(SessionClose{ClientID: "c", Generation: first.Generation, Reason: CloseNormal, NowMillis: 2000})
	again := h.open(SessionOpen{ClientID: "c", ExpirySeconds: 60, NowMillis: 3000})
	if !again.Present || again.TakenOver {
		t.Fatalf("reconnect within expiry = %+v, want Present", again)
	}
	if again.Generation <= first.Generation {
		t.Fatalf("generation %d after %d: must grow", again.Generation, first.Generation)
	}
	if got := h.pub("p", "a/b", 1, false, "m", 3000).Matched; got != 1 {
		t.Fatalf("resumed subscription matched %d, want 1", got)
	}
	checkMQTT(t, h.f)
}

// TestCleanStart_MQTT_3_1_2_4: Clean Start discards the session: its
// subscriptions, its queue (and the messages only it referenced) and its
// inbound QoS 2 ids.
func TestCleanStart_MQTT_3_1_2_4(t *testing.T) {
	h := newMQTTFSM(t)
	gen := h.persistent("c", 0)
	h.subscribe("c", gen, 0, Subscription{Filter: "t", QoS: 2})
	h.pub("p", "t", 2, false, "queued", 0)
	h.publish(PublishRequest{ClientID: "c", PacketID: 7, NowMillis: 0,
		Message: Message{Topic: "other", QoS: 2, Payload: []byte("x")}})
	h.close(SessionClose{ClientID: "c", Generation: gen, Reason: CloseNormal, NowMillis: 10})
	res := h.open(SessionOpen{ClientID: "c", CleanStart: true, ExpirySeconds: NeverExpires, NowMillis: 20})
	if res.Present {
		t.Fatal("clean start reported a present session")
	}
	if q := h.queue("c"); len(q) != 0 {
		t.Fatalf("queue survived clean start: %v", payloads(q))
	}
	if got := h.pub("p", "t", 1, false, "m", 30).Matched; got != 0 {
		t.Fatalf("subscription survived clean start: matched %d", got)
	}
	if n := countKeys(t, h.f.db, tableMsgBody); n != 0 {
		t.Fatalf("%d message bodies left behind", n)
	}
	if n := countKeys(t, h.f.db, tableInbound); n != 0 {
		t.Fatalf("%d inbound QoS 2 ids left behind", n)
	}
	if ended := eventsOf(h.takeEvents(), EventSessionEnded); len(ended) != 1 || ended[0].Generation != gen {
		t.Fatalf("session ended events = %+v", ended)
	}
	checkMQTT(t, h.f)
}

// TestGenerationNeverReused: a session deleted at close (expiry 0) and
// opened again gets a new generation, so commands of the old connection
// cannot touch the new session.
func TestGenerationNeverReused(t *testing.T) {
	h := newMQTTFSM(t)
	g1 := h.open(SessionOpen{ClientID: "c", CleanStart: true, NowMillis: 1}).Generation
	h.close(SessionClose{ClientID: "c", Generation: g1, Reason: CloseNormal, NowMillis: 2})
	if _, ok := h.session("c"); ok {
		t.Fatal("a session with expiry 0 outlived its connection [MQTT-3.1.2-23]")
	}
	g2 := h.open(SessionOpen{ClientID: "c", CleanStart: true, NowMillis: 3}).Generation
	if g2 <= g1 {
		t.Fatalf("generation %d reused or lower than %d", g2, g1)
	}
	_, err := h.one(subscribeCommand(&SubscribeRequest{ClientID: "c", Generation: g1,
		Subscriptions: []Subscription{{Filter: "x"}}}))
	if !errors.Is(err, ErrSessionGone) {
		t.Fatalf("subscribe of an old generation: %v, want ErrSessionGone", err)
	}
	h.close(SessionClose{ClientID: "c", Generation: g1, Reason: CloseAbnormal, NowMillis: 4})
	if info, ok := h.session("c"); !ok || !info.Connected || info.Generation != g2 {
		t.Fatalf("stale close changed the session: %+v %v", info, ok)
	}
	checkMQTT(t, h.f)
}

// TestTakeover_MQTT_3_1_4_3: a CONNECT for a connected client id takes the
// session over; the old node is told to close the old connection.
func TestTakeover_MQTT_3_1_4_3(t *testing.T) {
	h := newMQTTFSM(t)
	old := h.open(SessionOpen{ClientID: "c", Node: "n1", ExpirySeconds: 60, NowMillis: 1})
	h.takeEvents()
	res := h.open(SessionOpen{ClientID: "c", Node: "n2", ExpirySeconds: 60, NowMillis: 2})
	if !res.Present || !res.TakenOver || res.PreviousNode != "n1" || res.PreviousGeneration != old.Generation {
		t.Fatalf("takeover answered %+v", res)
	}
	ev := h.takeEvents()
	want := []Event{{Kind: EventTakenOver, ClientID: "c", Node: "n1", Generation: old.Generation}}
	if d := sameEvents(want, ev); d != "" {
		t.Fatalf("events (-want +got):\n%s", d)
	}
	h.close(SessionClose{ClientID: "c", Generation: old.Generation, Reason: CloseAbnormal, NowMillis: 3})
	info, _ := h.session("c")
	if !info.Connected || info.Node != "n2" || info.Generation != res.Generation {
		t.Fatalf("the old connection's close reached the new session: %+v", info)
	}
	sessions, err := h.store().ConnectedSessions("n2")
	if err != nil || len(sessions) != 1 || sessions[0].ClientID != "c" {
		t.Fatalf("ConnectedSessions(n2) = %+v, %v", sessions, err)
	}
	checkMQTT(t, h.f)
}

// TestTakeoverOfSessionWithoutPersistence: a session with expiry 0 ends
// with its connection, so taking it over starts a new session and fires the
// old connection's will.
func TestTakeoverOfSessionWithoutPersistence(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.open(SessionOpen{ClientID: "s", NowMillis: 0}).Generation
	h.subscribe("s", g, 0, Subscription{Filter: "will/#", QoS: 1})
	old := h.open(SessionOpen{ClientID: "c", Node: "n1", NowMillis: 0,
		Will: &Will{DelaySeconds: 30, Message: Message{Topic: "will/c", Payload: []byte("x")}}})
	h.subscribe("c", old.Generation, 0, Subscription{Filter: "x"})
	h.takeEvents()
	res := h.open(SessionOpen{ClientID: "c", Node: "n2", ExpirySeconds: 60, NowMillis: 1})
	if res.Present || !res.TakenOver || res.PreviousGeneration != old.Generation {
		t.Fatalf("takeover of a session without persistence = %+v", res)
	}
	if got := willsDelivered(h); got != 1 {
		t.Fatalf("%d wills, want 1: the old session ended", got)
	}
	if got := h.pub("p", "x", 0, false, "m", 2).Matched; got != 0 {
		t.Fatal("the ended session's subscription survived")
	}
	checkMQTT(t, h.f)
}

// willSetup opens a subscriber "s" to "will/#" and a client "c" with a
// will, and returns c's generation.
func willSetup(h *mqttFSM, delay, expiry uint32) uint64 {
	g := h.open(SessionOpen{ClientID: "s", NowMillis: 0}).Generation
	h.subscribe("s", g, 0, Subscription{Filter: "will/#", QoS: 1})
	w := &Will{DelaySeconds: delay, Message: Message{Topic: "will/c", QoS: 1, Payload: []byte("gone")}}
	gc := h.open(SessionOpen{ClientID: "c", ExpirySeconds: expiry, Will: w, NowMillis: 0}).Generation
	h.takeEvents()
	return gc
}

func willsDelivered(h *mqttFSM) int {
	n := 0
	for _, e := range eventsOf(h.takeEvents(), EventDeliver) {
		if e.ClientID == "s" && e.Delivery.Message.Topic == "will/c" {
			n++
		}
	}
	return n
}

// TestWillOnAbnormalClose_MQTT_3_1_2_8: the will is published when the
// connection ends without DISCONNECT 0x00, and deleted by a normal one
// [MQTT-3.1.2-10].
func TestWillOnAbnormalClose_MQTT_3_1_2_8(t *testing.T) {
	for _, tc := range []struct {
		reason CloseReason
		want   int
	}{{CloseAbnormal, 1}, {CloseWithWill, 1}, {CloseNormal, 0}} {
		h := newMQTTFSM(t)
		gc := willSetup(h, 0, 60)
		h.close(SessionClose{ClientID: "c", Generation: gc, Reason: tc.reason, NowMillis: 5})
		if got := willsDelivered(h); got != tc.want {
			t.Errorf("reason %d: %d wills delivered, want %d", tc.reason, got, tc.want)
		}
		h.tick(1 << 40)
		if got := willsDelivered(h); got != 0 {
			t.Errorf("reason %d: the will fired again at tick", tc.reason)
		}
		checkMQTT(t, h.f)
	}
}

// TestWillDelay_MQTT_3_1_3_9: a delayed will waits; a reconnect within
// the delay cancels it; without one it fires when its delay has passed.
func TestWillDelay_MQTT_3_1_3_9(t *testing.T) {
	h := newMQTTFSM(t)
	gc := willSetup(h, 10, 60)
	h.close(SessionClose{ClientID: "c", Generation: gc, Reason: CloseAbnormal, NowMillis: 1000})
	if at, ok := h.store().NextDeadline(); !ok || at != 11000 {
		t.Fatalf("NextDeadline = %d %v, want 11000", at, ok)
	}
	h.tick(10999)
	if got := willsDelivered(h); got != 0 {
		t.Fatal("will fired before its delay")
	}
	h.tick(11000)
	if got := willsDelivered(h); got != 1 {
		t.Fatalf("%d wills at the delay, want 1", got)
	}
	if at, ok := h.store().NextDeadline(); !ok || at != 61000 {
		t.Fatalf("after the will NextDeadline = %d %v, want the expiry 61000", at, ok)
	}
	checkMQTT(t, h.f)

	h = newMQTTFSM(t)
	gc = willSetup(h, 10, 60)
	h.close(SessionClose{ClientID: "c", Generation: gc, Reason: CloseAbnormal, NowMillis: 1000})
	h.open(SessionOpen{ClientID: "c", ExpirySeconds: 60, NowMillis: 5000})
	h.tick(1 << 40)
	if got := willsDelivered(h); got != 0 {
		t.Fatal("a reconnect within the will delay did not cancel the will")
	}
	checkMQTT(t, h.f)
}

// TestWillDelayEndsWithSession: a will delay longer than the session
// expiry fires the will when the session ends, before the session is
// deleted [MQTT-3.1.2-8].
func TestWillDelayEndsWithSession(t *testing.T) {
	h := newMQTTFSM(t)
	gc := willSetup(h, 100, 10)
	h.close(SessionClose{ClientID: "c", Generation: gc, Reason: CloseAbnormal, NowMillis: 0})
	h.tick(9999)
	if _, ok := h.session("c"); !ok || willsDelivered(h) != 0 {
		t.Fatal("session ended or will fired before the expiry")
	}
	h.tick(10000)
	ev := h.takeEvents()
	if len(ev) != 2 || ev[0].Kind != EventDeliver || ev[1].Kind != EventSessionEnded {
		t.Fatalf("events at expiry = %+v, want the will then the end", ev)
	}
	if _, ok := h.session("c"); ok {
		t.Fatal("session outlived its expiry")
	}
	if _, ok := h.store().NextDeadline(); ok {
		t.Fatal("a deadline outlived its session")
	}
	checkMQTT(t, h.f)
}

// TestWillOnTakeover: the will of a taken-over connection fires if its
// delay is 0 or the new connection starts clean; otherwise the new
// connection cancels it.
func TestWillOnTakeover(t *testing.T) {
	for _, tc := range []struct {
		delay uint32
		clean bool
		want  int
	}{{0, false, 1}, {30, false, 0}, {30, true, 1}} {
		h := newMQTTFSM(t)
		willSetup(h, tc.delay, 60)
		h.open(SessionOpen{ClientID: "c", Node: "n2", CleanStart: tc.clean, ExpirySeconds: 60, NowMillis: 5})
		if got := willsDelivered(h); got != tc.want {
			t.Errorf("delay %d clean %v: %d wills, want %d", tc.delay, tc.clean, got, tc.want)
		}
		checkMQTT(t, h.f)
	}
}

// TestSessionExpiry: a disconnected session ends when its expiry passes,
// releasing its queued messages; an open after the expiry finds no
// session even before a Tick ran.
func TestSessionExpiry(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.open(SessionOpen{ClientID: "c", CleanStart: true, ExpirySeconds: 30, NowMillis: 0}).Generation
	h.subscribe("c", g, 0, Subscription{Filter: "t", QoS: 1})
	h.close(SessionClose{ClientID: "c", Generation: g, Reason: CloseNormal, NowMillis: 1000})
	h.pub("p", "t", 1, false, "kept", 2000)
	if n := countKeys(t, h.f.db, tableMsgBody); n != 1 {
		t.Fatalf("%d bodies for one queued message", n)
	}
	h.tick(30999)
	if _, ok := h.session("c"); !ok {
		t.Fatal("session ended before its expiry")
	}
	h.tick(31000)
	if _, ok := h.session("c"); ok {
		t.Fatal("session outlived its expiry")
	}
	if n := countKeys(t, h.f.db, tableMsgBody); n != 0 {
		t.Fatalf("%d bodies left after the only session referencing them ended", n)
	}
	checkMQTT(t, h.f)

	h = newMQTTFSM(t)
	g = h.open(SessionOpen{ClientID: "c", ExpirySeconds: 30, NowMillis: 0}).Generation
	h.close(SessionClose{ClientID: "c", Generation: g, Reason: CloseNormal, NowMillis: 0})
	if res := h.open(SessionOpen{ClientID: "c", ExpirySeconds: 30, NowMillis: 30000}); res.Present {
		t.Fatal("an expired session was resumed")
	}
	checkMQTT(t, h.f)
}

// TestDisconnectSetsNewExpiry: MQTT 5 DISCONNECT may change the session
// expiry interval; 0 ends the session with the connection.
func TestDisconnectSetsNewExpiry(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.open(SessionOpen{ClientID: "a", ExpirySeconds: 60, NowMillis: 0}).Generation
	h.close(SessionClose{ClientID: "a", Generation: g, HasNewExpiry: true, NewExpiry: 5, NowMillis: 100})
	if at, ok := h.store().NextDeadline(); !ok || at != 5100 {
		t.Fatalf("NextDeadline = %d, want 5100", at)
	}
	g = h.open(SessionOpen{ClientID: "b", ExpirySeconds: 60, NowMillis: 0}).Generation
	h.close(SessionClose{ClientID: "b", Generation: g, HasNewExpiry: true, NewExpiry: 0, NowMillis: 100})
	if _, ok := h.session("b"); ok {
		t.Fatal("DISCONNECT with expiry 0 kept the session")
	}
	checkMQTT(t, h.f)
}

// TestTickOrderAndBound: Tick settles due sessions by deadline, then
// client id, at most maxSessions at a time.
func TestTickOrderAndBound(t *testing.T) {
	h := newMQTTFSM(t)
	for i, id := range []string{"d", "b", "a", "c"} {
		g := h.open(SessionOpen{ClientID: id, ExpirySeconds: 1, NowMillis: 0}).Generation
		now := int64(1000)
		if i == 0 {
			now = 0 // "d" expires first
		}
		h.close(SessionClose{ClientID: id, Generation: g, Reason: CloseNormal, NowMillis: now})
	}
	h.takeEvents()
	var order []string
	for range 3 {
		h.ok(tickCommand(5000, 2))
		for _, e := range eventsOf(h.takeEvents(), EventSessionEnded) {
			order = append(order, e.ClientID)
		}
	}
	if want := []string{"d", "a", "b", "c"}; !slices.Equal(order, want) {
		t.Fatalf("expiry order %v, want %v", order, want)
	}
	checkMQTT(t, h.f)
}

// TestDupAfterReconnect: entries an earlier connection may have sent are
// resent with DUP [MQTT-3.3.1-1]: up to the SentThroughSeq of a clean
// close, everything after a takeover.
func TestDupAfterReconnect(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.persistent("c", 0)
	h.subscribe("c", g, 0, Subscription{Filter: "t", QoS: 1})
	for _, p := range []string{"1", "2", "3"} {
		h.pub("p", "t", 1, false, p, 0)
	}
	h.close(SessionClose{ClientID: "c", Generation: g, Reason: CloseAbnormal, SentThroughSeq: 2, NowMillis: 1})
	g = h.open(SessionOpen{ClientID: "c", ExpirySeconds: NeverExpires, NowMillis: 2}).Generation
	var dups []bool
	for _, m := range h.queue("c") {
		dups = append(dups, m.Dup)
	}
	if !slices.Equal(dups, []bool{true, true, false}) {
		t.Fatalf("dup flags after a close at seq 2: %v", dups)
	}
	h.pub("p", "t", 1, false, "4", 3)
	h.open(SessionOpen{ClientID: "c", Node: "n2", ExpirySeconds: NeverExpires, NowMillis: 4}) // takeover
	for _, m := range h.queue("c") {
		if !m.Dup {
			t.Fatalf("seq %d not DUP after a takeover", m.Seq)
		}
	}
	checkMQTT(t, h.f)
}
