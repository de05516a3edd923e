package raftstore

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPacketIDOf(t *testing.T) {
	for _, tc := range []struct {
		seq  uint64
		want uint16
	}{{0, 1}, {1, 2}, {65533, 65534}, {65534, 65535}, {65535, 1}, {65536, 2}, {1<<64 - 1, uint16((1<<64-1)%65535) + 1}} {
		if got := PacketIDOf(tc.seq); got != tc.want {
			t.Errorf("PacketIDOf(%d) = %d, want %d", tc.seq, got, tc.want)
		}
	}
	// Never 0 [MQTT-2.2.1-3], and 65,535 consecutive seqs never repeat an id.
	seen := map[uint16]bool{}
	for seq := uint64(1000); seq < 1000+65535; seq++ {
		id := PacketIDOf(seq)
		if id == 0 || seen[id] {
			t.Fatalf("seq %d: id %d is 0 or repeated within 65535 seqs", seq, id)
		}
		seen[id] = true
	}
}

// TestFanOutStoresBodyOnce: a publish to many persistent sessions stores
// its body once, with one reference per queue entry, and the body goes
// when the last entry is acknowledged.
func TestFanOutStoresBodyOnce(t *testing.T) {
	h := newMQTTFSM(t)
	const n = 200
	gens := map[string]uint64{}
	for i := range n {
		id := fmt.Sprintf("c%03d", i)
		gens[id] = h.persistent(id, 0)
		h.subscribe(id, gens[id], 0, Subscription{Filter: "fleet/+/status", QoS: 1})
		if i%2 == 0 {
			h.close(SessionClose{ClientID: id, Generation: gens[id], Reason: CloseNormal, NowMillis: 1})
		}
	}
	if got := h.pub("p", "fleet/7/status", 1, false, "payload", 2).Matched; got != n {
		t.Fatalf("matched %d, want %d", got, n)
	}
	if b := countKeys(t, h.f.db, tableMsgBody); b != 1 {
		t.Fatalf("%d message bodies for one publish to %d sessions, want 1", b, n)
	}
	checkMQTT(t, h.f)
	for id, g := range gens {
		q := h.queue(id)
		if len(q) != 1 || string(q[0].Message.Payload) != "payload" {
			t.Fatalf("%s queue = %v", id, payloads(q))
		}
		h.ack(QueueAck{ClientID: id, Generation: g, Done: []uint64{q[0].Seq}})
	}
	// A closed session keeps its generation until the next open, so the
	// acks of the closed half apply too (a late ack of the last connection).
	if b := countKeys(t, h.f.db, tableMsgBody); b != 0 {
		t.Fatalf("%d bodies after every entry was acknowledged", b)
	}
	checkMQTT(t, h.f)
}

// TestQoS2Duplicate_MQTT_4_3_3_9: a QoS 2 publish whose packet id is still
// recorded is a duplicate and is not routed again, until PUBREL releases
// the id.
func TestQoS2Duplicate_MQTT_4_3_3_9(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.persistent("sub", 0)
	h.subscribe("sub", g, 0, Subscription{Filter: "t", QoS: 2})
	h.open(SessionOpen{ClientID: "pub", NowMillis: 0})
	r := PublishRequest{ClientID: "pub", PacketID: 9, NowMillis: 1, Message: Message{Topic: "t", QoS: 2, Payload: []byte("x")}}
	if res := h.publish(r); res.Duplicate || res.Matched != 1 {
		t.Fatalf("first publish = %+v", res)
	}
	if res := h.publish(r); !res.Duplicate || res.Matched != 0 {
		t.Fatalf("resent publish = %+v, want Duplicate", res)
	}
	if q := h.queue("sub"); len(q) != 1 {
		t.Fatalf("duplicate queued again: %d entries", len(q))
	}
	h.ok(releaseInboundCommand("pub", 9))
	h.ok(releaseInboundCommand("pub", 9)) // idempotent
	if res := h.publish(r); res.Duplicate {
		t.Fatal("a released packet id is still a duplicate")
	}
	checkMQTT(t, h.f)
}

// TestNoLocal_MQTT_3_8_3_3: a No Local subscription does not receive the
// client's own messages; another session's subscription does.
func TestNoLocal_MQTT_3_8_3_3(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.open(SessionOpen{ClientID: "me", NowMillis: 0}).Generation
	h.subscribe("me", g, 0, Subscription{Filter: "chat/#", QoS: 1, NoLocal: true})
	g2 := h.open(SessionOpen{ClientID: "you", NowMillis: 0}).Generation
	h.subscribe("you", g2, 0, Subscription{Filter: "chat/#", QoS: 1, NoLocal: true})
	h.takeEvents()
	if got := h.pub("me", "chat/room", 1, false, "hi", 1).Matched; got != 1 {
		t.Fatalf("matched %d, want 1 (only the other client)", got)
	}
	ev := eventsOf(h.takeEvents(), EventDeliver)
	if len(ev) != 1 || ev[0].ClientID != "you" {
		t.Fatalf("deliveries %+v", ev)
	}
	var routes []string
	h.store().Match("chat/room", "me", func(r Route) { routes = append(routes, r.ClientID) })
	if !slices.Equal(routes, []string{"you"}) {
		t.Fatalf("Match routes %v, want [you]", routes)
	}
}

// TestRetainAsPublished_MQTT_3_3_1_12: RETAIN is cleared on delivery
// unless the subscription asks for Retain As Published [MQTT-3.3.1-13].
func TestRetainAsPublished_MQTT_3_3_1_12(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.open(SessionOpen{ClientID: "plain", NowMillis: 0}).Generation
	h.subscribe("plain", g, 0, Subscription{Filter: "t", QoS: 1})
	g = h.open(SessionOpen{ClientID: "rap", NowMillis: 0}).Generation
	h.subscribe("rap", g, 0, Subscription{Filter: "t", QoS: 1, RetainAsPublished: true})
	h.takeEvents()
	h.pub("p", "t", 1, true, "r", 1)
	got := map[string]bool{}
	for _, e := range eventsOf(h.takeEvents(), EventDeliver) {
		got[e.ClientID] = e.Delivery.Retain
	}
	if got["plain"] || !got["rap"] {
		t.Fatalf("retain flags delivered: %v", got)
	}
}

// TestOverlappingSubscriptions_MQTT_3_3_4_2: overlapping subscriptions of
// one session give one delivery at the highest QoS, with every
// subscription identifier [MQTT-3.3.4-3].
func TestOverlappingSubscriptions_MQTT_3_3_4_2(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.persistent("c", 0)
	h.subscribe("c", g, 0,
		Subscription{Filter: "a/+", QoS: 1, SubscriptionID: 7},
		Subscription{Filter: "a/#", QoS: 2, SubscriptionID: 3},
		Subscription{Filter: "a/b", QoS: 0})
	if got := h.pub("p", "a/b", 2, false, "m", 1).Matched; got != 1 {
		t.Fatalf("matched %d sessions, want 1", got)
	}
	q := h.queue("c")
	if len(q) != 1 || q[0].QoS != 2 || !slices.Equal(q[0].SubscriptionIDs, []uint32{3, 7}) {
		t.Fatalf("queue %+v", q)
	}
	h.pub("p", "a/b", 1, false, "m", 1)
	if q = h.queue("c"); q[1].QoS != 1 {
		t.Fatalf("delivery QoS %d, want min(publish 1, subscription 2)", q[1].QoS)
	}
	var routes []Route
	h.store().Match("a/b", "p", func(r Route) { routes = append(routes, r) })
	if len(routes) != 1 || routes[0].QoS != 2 || !slices.Equal(routes[0].SubscriptionIDs, []uint32{3, 7}) || !routes[0].Persistent {
		t.Fatalf("Match routes %+v", routes)
	}
}

// TestQoS0Routing: QoS 0 is never queued: delivered to a connected
// session, dropped for one that is not.
func TestQoS0Routing(t *testing.T) {
	h := newMQTTFSM(t)
	on := h.persistent("on", 0)
	h.subscribe("on", on, 0, Subscription{Filter: "t", QoS: 1})
	off := h.persistent("off", 0)
	h.subscribe("off", off, 0, Subscription{Filter: "t", QoS: 1})
	h.close(SessionClose{ClientID: "off", Generation: off, Reason: CloseNormal, NowMillis: 0})
	h.takeEvents()
	if got := h.pub("p", "t", 0, false, "m", 1).Matched; got != 1 {
		t.Fatalf("matched %d, want 1", got)
	}
	ev := h.takeEvents()
	if len(ev) != 1 || ev[0].Kind != EventDeliver || ev[0].ClientID != "on" || ev[0].Delivery.QoS != 0 {
		t.Fatalf("events %+v", ev)
	}
	if len(h.queue("on"))+len(h.queue("off")) != 0 || countKeys(t, h.f.db, tableMsgBody) != 0 {
		t.Fatal("a QoS 0 message was stored")
	}
}

// TestQueueBoundDrops: a full queue drops further messages, counted.
func TestQueueBoundDrops(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.open(SessionOpen{ClientID: "c", CleanStart: true, ExpirySeconds: 60, MaxQueuedMessages: 3, NowMillis: 0}).Generation
	h.subscribe("c", g, 0, Subscription{Filter: "t", QoS: 1})
	matched := 0
	for i := range 5 {
		matched += h.pub("p", "t", 1, false, fmt.Sprint(i), 1).Matched
	}
	if q := h.queue("c"); !slices.Equal(payloads(q), []string{"0", "1", "2"}) || matched != 3 {
		t.Fatalf("queue %v, matched %d", payloads(q), matched)
	}
	if got := testutil.ToFloat64(h.f.metrics.queueDropped); got != 2 {
		t.Fatalf("drops counted %v, want 2", got)
	}
	h.ack(QueueAck{ClientID: "c", Generation: g, Done: []uint64{1}})
	h.pub("p", "t", 1, false, "5", 1)
	if q := h.queue("c"); !slices.Equal(payloads(q), []string{"1", "2", "5"}) {
		t.Fatalf("after an ack the queue is %v", payloads(q))
	}
	checkMQTT(t, h.f)
}

// TestExpiredMessageNotRouted: a message past its expiry is not routed
// [MQTT-3.3.2-5], nor retained.
func TestExpiredMessageNotRouted(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.persistent("c", 0)
	h.subscribe("c", g, 0, Subscription{Filter: "t", QoS: 1})
	res := h.publish(PublishRequest{ClientID: "p", NowMillis: 100,
		Message: Message{Topic: "t", QoS: 1, Retain: true, Payload: []byte("x"), ExpiresAtMillis: 100}})
	if res.Matched != 0 || len(h.queue("c")) != 0 || countKeys(t, h.f.db, tableRetained) != 0 {
		t.Fatalf("expired message routed or retained: %+v", res)
	}
}

// TestAckQueue: Done removes entries, Received marks QoS 2 ones; a stale
// generation's acks and unknown seqs are ignored.
func TestAckQueue(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.persistent("c", 0)
	h.subscribe("c", g, 0, Subscription{Filter: "t", QoS: 2})
	for i := range 4 {
		h.pub("p", "t", 2, false, fmt.Sprint(i), 0)
	}
	h.ack(QueueAck{ClientID: "c", Generation: g, Done: []uint64{1, 1, 99}, Received: []uint64{2, 77}})
	q := h.queue("c")
	if len(q) != 3 || q[0].Seq != 2 || !q[0].Received || q[1].Received {
		t.Fatalf("queue after acks %+v", q)
	}
	if PacketIDOf(q[0].Seq) != 3 {
		t.Fatalf("packet id of seq 2 = %d", PacketIDOf(q[0].Seq))
	}
	h.ack(QueueAck{ClientID: "c", Generation: g + 100, Done: []uint64{2, 3}})
	if len(h.queue("c")) != 3 {
		t.Fatal("acks of another generation were applied")
	}
	q, err := h.store().ReadQueue("c", 2, 1)
	if err != nil || len(q) != 1 || q[0].Seq != 3 {
		t.Fatalf("ReadQueue after 2, max 1 = %+v, %v", q, err)
	}
	checkMQTT(t, h.f)
}

// TestRetained_MQTT_3_3_1_5: a retained publish replaces the topic's
// retained message, an empty one removes it [MQTT-3.3.1-6] and is not
// stored [MQTT-3.3.1-7], and a new subscription receives it with RETAIN
// set, as its Retain Handling says [MQTT-3.3.1-9..11].
func TestRetained_MQTT_3_3_1_5(t *testing.T) {
	h := newMQTTFSM(t)
	h.pub("p", "home/kitchen", 1, true, "old", 0)
	h.pub("p", "home/kitchen", 2, true, "new", 0)
	h.pub("p", "home/hall", 0, true, "hall", 0)
	h.pub("p", "home/attic", 1, true, "gone", 0)
	h.pub("p", "home/attic", 1, true, "", 0)
	if n := countKeys(t, h.f.db, tableRetained); n != 2 {
		t.Fatalf("%d retained messages, want 2", n)
	}
	g := h.open(SessionOpen{ClientID: "c", NowMillis: 0}).Generation
	res := h.subscribe("c", g, 0, Subscription{Filter: "home/+", QoS: 1, SubscriptionID: 4})
	var got []string
	for _, d := range res.Retained {
		got = append(got, fmt.Sprintf("%s=%s q%d r%v %v", d.Message.Topic, d.Message.Payload, d.QoS, d.Retain, d.SubscriptionIDs))
	}
	want := []string{"home/hall=hall q0 rtrue [4]", "home/kitchen=new q1 rtrue [4]"}
	if !slices.Equal(got, want) {
		t.Fatalf("retained on subscribe %v, want %v", got, want)
	}
	if res = h.subscribe("c", g, 0, Subscription{Filter: "home/+", RetainHandling: 1}); len(res.Retained) != 0 {
		t.Fatal("Retain Handling 1 sent retained messages for an existing subscription")
	}
	if res = h.subscribe("c", g, 0, Subscription{Filter: "home/#", RetainHandling: 1}); len(res.Retained) != 2 {
		t.Fatalf("Retain Handling 1, new subscription: %d retained, want 2", len(res.Retained))
	}
	if res = h.subscribe("c", g, 0, Subscription{Filter: "#", RetainHandling: 2}); len(res.Retained) != 0 {
		t.Fatal("Retain Handling 2 sent retained messages")
	}
	if res = h.subscribe("c", g, 0, Subscription{Filter: "$share/g/home/#"}); len(res.Retained) != 0 {
		t.Fatal("a shared subscription received retained messages (section 4.8.2)")
	}
	checkMQTT(t, h.f)
}

// TestRetainedQueuedForPersistentSession: a persistent session gets the
// retained messages in its queue, and an expired retained message is
// deleted instead of sent.
func TestRetainedQueuedForPersistentSession(t *testing.T) {
	h := newMQTTFSM(t)
	h.pub("p", "a", 1, true, "a", 0)
	h.publish(PublishRequest{ClientID: "p", NowMillis: 0, Message: Message{Topic: "b", QoS: 1, Retain: true,
		Payload: []byte("b"), ExpiresAtMillis: 500}})
	g := h.persistent("c", 0)
	h.takeEvents()
	res := h.subscribe("c", g, 1000, Subscription{Filter: "+", QoS: 1})
	if len(res.Retained) != 0 {
		t.Fatalf("persistent session got %d retained in the result", len(res.Retained))
	}
	q := h.queue("c")
	if len(q) != 1 || string(q[0].Message.Payload) != "a" || !q[0].Retain {
		t.Fatalf("queue %+v", q)
	}
	if ev := eventsOf(h.takeEvents(), EventQueued); len(ev) != 1 || ev[0].Seq != 1 {
		t.Fatalf("queued events %+v", ev)
	}
	if n := countKeys(t, h.f.db, tableRetained); n != 1 {
		t.Fatalf("expired retained message kept: %d retained", n)
	}
	checkMQTT(t, h.f)
}

// TestSharedSubscriptionRoundRobin: each message of a shared subscription
// goes to one member [MQTT-4.8.2], round-robin over the connected members;
// a non-shared subscription of a member delivers separately.
func TestSharedSubscriptionRoundRobin(t *testing.T) {
	h := newMQTTFSM(t)
	gens := map[string]uint64{}
	for _, id := range []string{"m1", "m2", "m3", "off"} {
		gens[id] = h.persistent(id, 0)
		h.subscribe(id, gens[id], 0, Subscription{Filter: "$share/workers/jobs/+", QoS: 1})
	}
	h.close(SessionClose{ClientID: "off", Generation: gens["off"], Reason: CloseNormal, NowMillis: 0})
	h.subscribe("m1", gens["m1"], 0, Subscription{Filter: "jobs/#", QoS: 1})
	matched := 0
	for i := range 9 {
		matched += h.pub("p", "jobs/x", 1, false, fmt.Sprint(i), 1).Matched
	}
	counts := map[string]int{}
	for id := range gens {
		counts[id] = len(h.queue(id))
	}
	// m1 gets 3 shared + 9 through its own subscription.
	if counts["m1"] != 12 || counts["m2"] != 3 || counts["m3"] != 3 || counts["off"] != 0 || matched != 18 {
		t.Fatalf("deliveries %v, matched %d", counts, matched)
	}
	checkMQTT(t, h.f)
}

// TestSharedQoS1MovesWhenSessionEnds_MQTT_4_8_2_6: when a member's session
// ends, its unacknowledged QoS 1 messages of the shared subscription go to
// another member; a QoS 2 message it may have received does not
// [MQTT-4.8.2-5], one never sent does.
func TestSharedQoS1MovesWhenSessionEnds_MQTT_4_8_2_6(t *testing.T) {
	h := newMQTTFSM(t)
	ga := h.open(SessionOpen{ClientID: "a", CleanStart: true, ExpirySeconds: 10, NowMillis: 0}).Generation
	h.subscribe("a", ga, 0, Subscription{Filter: "$share/g/t", QoS: 2})
	h.pub("p", "t", 1, false, "q1", 0)
	h.pub("p", "t", 2, false, "q2-sent", 0)
	h.pub("p", "t", 2, false, "q2-unsent", 0)
	h.close(SessionClose{ClientID: "a", Generation: ga, Reason: CloseAbnormal, SentThroughSeq: 2, NowMillis: 0})
	gb := h.persistent("b", 0)
	h.subscribe("b", gb, 0, Subscription{Filter: "$share/g/t", QoS: 2})
	h.tick(10000)
	if _, ok := h.session("a"); ok {
		t.Fatal("a did not expire")
	}
	if got := payloads(h.queue("b")); !slices.Equal(got, []string{"q1", "q2-unsent"}) {
		t.Fatalf("b received %v, want [q1 q2-unsent]", got)
	}
	checkMQTT(t, h.f)
	var counter []byte
	if v, ok, _ := h.f.get(shareNextKey("$share/g/t")); ok {
		counter = v
	}
	h.ok(unsubscribeCommand(&UnsubscribeRequest{ClientID: "b", Generation: gb, Filters: []string{"$share/g/t"}}))
	if _, ok, _ := h.f.get(shareNextKey("$share/g/t")); ok || counter == nil {
		t.Fatalf("share position %x before, kept after the last member left: %v", counter, ok)
	}
	if binary.BigEndian.Uint64(counter) == 0 {
		t.Fatal("share position never advanced")
	}
	checkMQTT(t, h.f)
}
