package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"tributary/raftstore"
)

func msg(topic string, qos byte, payload string) raftstore.Message {
	return raftstore.Message{Topic: topic, QoS: qos, Payload: []byte(payload)}
}

func TestQoS0IsDeliveredFromMemory(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	sub, subConn, _ := st.connect(ConnectRequest{ClientID: "sub", CleanStart: true})
	subscribe(t, sub, raftstore.Subscription{Filter: "a/+", QoS: 1, SubscriptionID: 7})
	pub, _, _ := st.connect(ConnectRequest{ClientID: "pub", CleanStart: true})

	applied := st.store.AppliedIndex()
	r := publish(t, pub, msg("a/b", 0, "hello"), 0)
	if r.Matched != 1 {
		t.Fatalf("Matched = %d, want 1", r.Matched)
	}
	o := subConn.next(t)
	if o.QoS != 0 || o.PacketID != 0 || string(o.Message.Payload) != "hello" || len(o.SubscriptionIDs) != 1 || o.SubscriptionIDs[0] != 7 {
		t.Fatalf("delivery = %+v, want QoS 0, no packet id, payload hello, subscription id 7", o)
	}
	if got := st.store.AppliedIndex(); got != applied {
		t.Fatalf("a QoS 0 publish went through the log: applied index %d → %d", applied, got)
	}
}

func TestCleanSessionRespectsReceiveMaximum(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	sub, c, _ := st.connect(ConnectRequest{ClientID: "sub", CleanStart: true, ReceiveMaximum: 2})
	subscribe(t, sub, raftstore.Subscription{Filter: "t", QoS: 1})
	pub, _, _ := st.connect(ConnectRequest{ClientID: "pub", CleanStart: true})
	for i := range 5 {
		publish(t, pub, msg("t", 1, fmt.Sprint(i)), 0)
	}
	first, second := c.next(t), c.next(t)
	c.none(t) // the window of 2 is full [MQTT-3.3.4-7]
	if first.PacketID == second.PacketID || first.PacketID == 0 {
		t.Fatalf("packet ids %d and %d: want two distinct non-zero ids", first.PacketID, second.PacketID)
	}
	if !sub.Acked(first.PacketID) {
		t.Fatal("Acked of an id in flight returned false")
	}
	if sub.Acked(first.PacketID) {
		t.Fatal("a second Acked of the same id returned true")
	}
	third := c.next(t)
	if string(third.Message.Payload) != "2" {
		t.Fatalf("third delivery carries %q, want \"2\" (order kept)", third.Message.Payload)
	}
	c.none(t)
}

func TestPersistentQueueResendsWithSameIDsAndDup(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	persistent := ConnectRequest{ClientID: "dev", ExpirySeconds: 3600}
	sub, _, _ := st.connect(func() ConnectRequest { r := persistent; r.CleanStart = true; return r }())
	subscribe(t, sub, raftstore.Subscription{Filter: "cmd/#", QoS: 2})
	sub.Close(raftstore.CloseNormal, nil)

	pub, _, _ := st.connect(ConnectRequest{ClientID: "pub", CleanStart: true})
	publish(t, pub, msg("cmd/a", 1, "one"), 0)
	publish(t, pub, msg("cmd/b", 2, "two"), 9)

	sub, c, res := st.connect(persistent)
	if !res.SessionPresent {
		t.Fatal("session not present on reconnect [MQTT-3.2.2-2]")
	}
	a, b := c.next(t), c.next(t)
	if a.QoS != 1 || b.QoS != 2 || string(a.Message.Payload) != "one" || string(b.Message.Payload) != "two" {
		t.Fatalf("got %+v and %+v, want the queued QoS 1 then QoS 2 message", a, b)
	}
	// Neither is acknowledged; the next connection gets both again, with
	// the same packet ids and DUP set [MQTT-4.4.0-1].
	sub.Close(raftstore.CloseAbnormal, nil)
	sub, c, _ = st.connect(persistent)
	a2, b2 := c.next(t), c.next(t)
	if a2.PacketID != a.PacketID || b2.PacketID != b.PacketID || !a2.Dup || !b2.Dup {
		t.Fatalf("resend ids %d,%d dup %v,%v; want ids %d,%d with DUP", a2.PacketID, b2.PacketID, a2.Dup, b2.Dup, a.PacketID, b.PacketID)
	}
	// QoS 1 acknowledged; QoS 2 received: the next connection sends only
	// PUBREL for it [MQTT-4.4.0-1].
	sub.Acked(a2.PacketID)
	if !sub.Received(b2.PacketID) {
		t.Fatal("Received of a QoS 2 id in flight returned false")
	}
	if rel := c.next(t); !rel.PubRel || rel.PacketID != b2.PacketID {
		t.Fatalf("after PUBREC got %+v, want PUBREL %d", rel, b2.PacketID)
	}
	waitAcks(t, sub)
	sub.Close(raftstore.CloseAbnormal, nil)
	sub, c, _ = st.connect(persistent)
	if rel := c.next(t); !rel.PubRel || rel.PacketID != b2.PacketID {
		t.Fatalf("after reconnect got %+v, want only PUBREL %d", rel, b2.PacketID)
	}
	sub.Acked(b2.PacketID)
	c.none(t)
	waitAcks(t, sub)
	sub.Close(raftstore.CloseNormal, nil)
	_, c, _ = st.connect(persistent)
	c.none(t)
}

// waitAcks waits until the session's acknowledgements have committed.
func waitAcks(t *testing.T, s *Session) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		idle := !s.acking && len(s.ackDone) == 0 && len(s.ackRecv) == 0
		s.mu.Unlock()
		if idle {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("acknowledgements not committed within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSecondConnectionTakesOver(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	_, old, _ := st.connect(ConnectRequest{ClientID: "dev", ExpirySeconds: 60, CleanStart: true})
	_, _, res := st.connect(ConnectRequest{ClientID: "dev", ExpirySeconds: 60})
	if !res.SessionPresent {
		t.Fatal("takeover without clean start: session not present")
	}
	select {
	case r := <-old.kicked:
		if r != 0x8E {
			t.Fatalf("old connection kicked with 0x%02X, want 0x8E [MQTT-3.1.4-3]", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("old connection not kicked")
	}
}

func TestSubackComesBeforeRetained(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	pub, _, _ := st.connect(ConnectRequest{ClientID: "pub", CleanStart: true})
	m := msg("state/x", 1, "on")
	m.Retain = true
	publish(t, pub, m, 0)

	sub, c, _ := st.connect(ConnectRequest{ClientID: "sub", CleanStart: true})
	var sentBeforeSuback int
	err := sub.Subscribe(context.Background(), []raftstore.Subscription{{Filter: "state/+", QoS: 1}}, func() {
		sentBeforeSuback = len(c.out)
	})
	if err != nil {
		t.Fatal(err)
	}
	if sentBeforeSuback != 0 {
		t.Fatalf("%d packets sent before the SUBACK", sentBeforeSuback)
	}
	o := c.next(t)
	if !o.Retain || string(o.Message.Payload) != "on" {
		t.Fatalf("got %+v, want the retained message with RETAIN set [MQTT-3.3.1-9]", o)
	}
}

func TestExpiredMessageIsNotDelivered(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	persistent := ConnectRequest{ClientID: "dev", ExpirySeconds: 3600, CleanStart: true}
	sub, _, _ := st.connect(persistent)
	subscribe(t, sub, raftstore.Subscription{Filter: "t", QoS: 1})
	sub.Close(raftstore.CloseNormal, nil)
	pub, _, _ := st.connect(ConnectRequest{ClientID: "pub", CleanStart: true})
	short := msg("t", 1, "short")
	short.ExpiresAtMillis = st.clock.now().Add(10 * time.Second).UnixMilli()
	publish(t, pub, short, 0)
	publish(t, pub, msg("t", 1, "long"), 0)

	st.clock.advance(time.Minute)
	persistent.CleanStart = false
	_, c, _ := st.connect(persistent)
	if o := c.next(t); string(o.Message.Payload) != "long" {
		t.Fatalf("got %q, want only the unexpired message [MQTT-3.3.2-5]", o.Message.Payload)
	}
	c.none(t)
}

func TestStaleSessionsEndAtRestartAndFireWills(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	watcher := ConnectRequest{ClientID: "watcher", ExpirySeconds: 3600, CleanStart: true}
	w, _, _ := st.connect(watcher)
	subscribe(t, w, raftstore.Subscription{Filter: "status/#", QoS: 1})
	w.Close(raftstore.CloseNormal, nil)
	st.connect(ConnectRequest{ClientID: "dev", ExpirySeconds: 60, CleanStart: true,
		Will: &raftstore.Will{Message: raftstore.Message{Topic: "status/dev", QoS: 1, Payload: []byte("gone")}}})

	// The node stops without closing the session, as a kill would.
	st.node.Close() // kicks the test conn; the session is never Closed
	if err := st.store.Close(); err != nil {
		t.Fatal(err)
	}
	st.node, st.store = nil, nil
	st.open()

	watcher.CleanStart = false
	_, c, _ := st.connect(watcher)
	if o := c.next(t); o.Message.Topic != "status/dev" || string(o.Message.Payload) != "gone" {
		t.Fatalf("got %+v, want the will of the session left connected [MQTT-3.1.2-8]", o)
	}
}

// A session a killed run left connected may have been sent anything in
// its queue: once the restart has ended it, the next connection gets the
// unacknowledged messages again with DUP set and the same packet ids
// [MQTT-3.3.1-1] (without DUP, a client may deliver a QoS 2 message twice).
func TestStaleSessionResendsWithDup(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	req := ConnectRequest{ClientID: "sub", ExpirySeconds: 3600, CleanStart: true}
	sub, c, _ := st.connect(req)
	subscribe(t, sub, raftstore.Subscription{Filter: "t", QoS: 2})
	pub, _, _ := st.connect(ConnectRequest{ClientID: "pub", CleanStart: true})
	publish(t, pub, msg("t", 2, "once"), 1)
	first := c.next(t)
	if first.Dup {
		t.Fatal("the first send carries DUP")
	}

	st.node.Close() // a kill: the sessions are never closed
	if err := st.store.Close(); err != nil {
		t.Fatal(err)
	}
	st.node, st.store = nil, nil
	st.open()
	waitFor(t, "the restart to end the sessions left connected", func() bool {
		left, err := st.store.ConnectedSessions("n1")
		return err == nil && len(left) == 0
	})
	req.CleanStart = false
	_, c, _ = st.connect(req)
	again := c.next(t)
	if string(again.Message.Payload) != "once" || !again.Dup || again.PacketID != first.PacketID {
		t.Fatalf("resent %q dup=%v id %d, want %q with DUP and id %d", again.Message.Payload, again.Dup, again.PacketID,
			"once", first.PacketID)
	}
}

func TestQoS0DroppedWhenConnectionIsFull(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	sub, c, _ := st.connect(ConnectRequest{ClientID: "sub", CleanStart: true})
	subscribe(t, sub, raftstore.Subscription{Filter: "t", QoS: 0})
	pub, _, _ := st.connect(ConnectRequest{ClientID: "pub", CleanStart: true})
	c.full.Store(true)
	publish(t, pub, msg("t", 0, "x"), 0) // must not block the publisher
	c.full.Store(false)
	c.none(t)
	if got := c.refused.Load(); got != 1 {
		t.Fatalf("the session offered the connection %d messages, want 1 (then dropped, not retried)", got)
	}
}

func TestTickFiresDelayedWillAndExpiresSession(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	w, wc, _ := st.connect(ConnectRequest{ClientID: "watcher", CleanStart: true})
	subscribe(t, w, raftstore.Subscription{Filter: "wills/#", QoS: 1})
	dev, _, _ := st.connect(ConnectRequest{ClientID: "dev", ExpirySeconds: 30, CleanStart: true,
		Will: &raftstore.Will{DelaySeconds: 10, Message: raftstore.Message{Topic: "wills/dev", QoS: 1, Payload: []byte("late")}}})
	dev.Close(raftstore.CloseAbnormal, nil)
	wc.none(t) // the will waits for its delay [MQTT-3.1.3-9]

	st.clock.advance(11 * time.Second)
	if o := wc.next(t); string(o.Message.Payload) != "late" {
		t.Fatalf("got %q, want the delayed will", o.Message.Payload)
	}
	if _, ok, err := st.store.Session("dev"); err != nil || !ok {
		t.Fatalf("session gone before its expiry: ok=%v err=%v", ok, err)
	}
	st.clock.advance(30 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := st.store.Session("dev")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break // expired [MQTT-3.1.2-23]
		}
		if time.Now().After(deadline) {
			t.Fatal("session still present 30s past its expiry")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReconnectWaitsForTheCloseOfThePreviousConnection(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	dev, _, _ := st.connect(ConnectRequest{ClientID: "dev", ExpirySeconds: 3600, CleanStart: true})
	// A DISCONNECT that ends the session (expiry 0) is still committing
	// when the client reconnects: the new connection must see its effect.
	zero := uint32(0)
	go dev.Close(raftstore.CloseNormal, &zero)
	for {
		st.node.mu.Lock()
		_, closing := st.node.closing["dev"]
		st.node.mu.Unlock()
		if closing || isClosed(dev) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	_, _, res := st.connect(ConnectRequest{ClientID: "dev", ExpirySeconds: 3600})
	if res.SessionPresent {
		t.Fatal("session present after a DISCONNECT set its expiry to 0 [MQTT-3.1.2-23]")
	}
}

func isClosed(s *Session) bool {
	select {
	case <-s.closeDone:
		return true
	default:
		return false
	}
}

func TestMemoryQueueBoundDropsAndCounts(t *testing.T) {
	t.Parallel()
	st := newStack(t) // MaxQueuedMessages: 50
	sub, c, _ := st.connect(ConnectRequest{ClientID: "sub", CleanStart: true, ReceiveMaximum: 1})
	subscribe(t, sub, raftstore.Subscription{Filter: "t", QoS: 1})
	pub, _, _ := st.connect(ConnectRequest{ClientID: "pub", CleanStart: true})
	for i := range 60 {
		publish(t, pub, msg("t", 1, fmt.Sprint(i)), 0)
	}
	// One in flight, 50 waiting in memory, 9 dropped.
	if got := counterValue(t, st.node.metrics.dropped.WithLabelValues(dropQueueFull)); got != 9 {
		t.Fatalf("queue-full drops = %v, want 9", got)
	}
	for i := range 51 {
		o := c.next(t)
		if string(o.Message.Payload) != fmt.Sprint(i) {
			t.Fatalf("delivery %d carries %q: order lost", i, o.Message.Payload)
		}
		sub.Acked(o.PacketID)
	}
	c.none(t)
}

// TestDrainBoundsProposals: once a shutdown began, a proposal made for a
// session waits at most the drain grace, not ProposeTimeout (30s), so a
// node that can no longer commit still stops promptly.
func TestDrainBoundsProposals(t *testing.T) {
	st := newStack(t)
	ctx, cancel := st.node.proposeContext()
	dl, ok := ctx.Deadline()
	cancel()
	if !ok || time.Until(dl) < 10*time.Second {
		t.Fatalf("before Drain the deadline is %v away, want about ProposeTimeout", time.Until(dl))
	}
	st.node.Drain(200 * time.Millisecond)
	ctx, cancel = st.node.proposeContext()
	defer cancel()
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 200*time.Millisecond {
		t.Fatalf("after Drain(200ms) the deadline is %v away", time.Until(dl))
	}
}
