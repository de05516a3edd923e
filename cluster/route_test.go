package cluster

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tributary/raftstore"
)

// TestQoS0RoutedToAnotherNode: a QoS 0 message published on one node
// reaches a subscriber on another node (one routed request) and one on the
// publisher's node, without going through the log.
func TestQoS0RoutedToAnotherNode(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a, b := c.members[0], c.members[1]
	sb, bConn, _ := c.connect(b, ConnectRequest{ClientID: "on-b", CleanStart: true})
	subscribe(t, sb, raftstore.Subscription{Filter: "z/#", QoS: 1, SubscriptionID: 5})
	sa, aConn, _ := c.connect(a, ConnectRequest{ClientID: "on-a", CleanStart: true})
	subscribe(t, sa, raftstore.Subscription{Filter: "z/+"})
	c.catchUp(a, b)
	pub, _, _ := c.connect(a, ConnectRequest{ClientID: "pub", CleanStart: true})
	c.catchUp(b, a)

	applied := b.store.AppliedIndex()
	r := publish(t, pub, raftstore.Message{Topic: "z/1", QoS: 0, Payload: []byte("hello")}, 0)
	if r.Matched != 2 {
		t.Fatalf("Matched = %d, want 2", r.Matched)
	}
	for _, got := range []struct {
		name string
		conn *testConn
		ids  []uint32
	}{{"local", aConn, nil}, {"routed", bConn, []uint32{5}}} {
		o := got.conn.next(t)
		if o.QoS != 0 || o.PacketID != 0 || string(o.Message.Payload) != "hello" || o.Message.Topic != "z/1" ||
			!cmp.Equal(o.SubscriptionIDs, got.ids) {
			t.Fatalf("%s delivery = %+v; want QoS 0 \"hello\" on z/1 with subscription ids %v", got.name, o, got.ids)
		}
		got.conn.none(t)
	}
	if v := counterValue(t, a.node.routeMetrics.sent); v != 1 {
		t.Fatalf("routed messages sent by the publisher's node = %v, want 1", v)
	}
	if v := counterValue(t, b.node.routeMetrics.received); v != 1 {
		t.Fatalf("routed messages received = %v, want 1", v)
	}
	if got := b.store.AppliedIndex(); got != applied {
		t.Fatalf("a QoS 0 publish went through the log: applied index %d → %d", applied, got)
	}
}

// TestQoS0ToUnknownNodeIsCounted: a route to a node the raft
// configuration does not name is dropped and counted, not sent.
func TestQoS0ToUnknownNodeIsCounted(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	n := c.members[0].node
	m := &raftstore.Message{Topic: "x", Payload: []byte("p")}
	n.router.route(m, []raftstore.Route{{ClientID: "ghost", Node: "n9", Generation: 1, Connected: true}})
	if v := counterValue(t, n.routeMetrics.dropped[routeDropUnknownNode]); v != 1 {
		t.Fatalf("unknown-node drops = %v, want 1", v)
	}
	if v := counterValue(t, n.routeMetrics.sent); v != 0 {
		t.Fatalf("sent = %v, want 0", v)
	}
}

// TestTakeoverAcrossNodes: a persistent session connected on one node
// connects again on another: the first connection is kicked with 0x8E
// [MQTT-3.1.4-3] and the new one resends the unacknowledged QoS 1
// messages with DUP and the same packet ids [MQTT-4.4.0-1].
func TestTakeoverAcrossNodes(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	fs := c.followers()
	a, b := fs[0], fs[1]
	dev, aConn, _ := c.connect(a, ConnectRequest{ClientID: "dev", CleanStart: true, ExpirySeconds: 3600})
	subscribe(t, dev, raftstore.Subscription{Filter: "cmd/#", QoS: 1})
	pub, _, _ := c.connect(c.leader(), ConnectRequest{ClientID: "pub", CleanStart: true})
	var sent []Outbound
	for _, p := range []string{"one", "two", "three"} {
		publish(t, pub, raftstore.Message{Topic: "cmd/x", QoS: 1, Payload: []byte(p)}, 0)
		sent = append(sent, aConn.next(t))
	}
	c.catchUp(b, a)

	_, bConn, res := c.connect(b, ConnectRequest{ClientID: "dev", ExpirySeconds: 3600})
	if !res.SessionPresent {
		t.Fatal("takeover on another node: session not present")
	}
	select {
	case r := <-aConn.kicked:
		if r != reasonSessionTakenOver {
			t.Fatalf("first connection kicked with 0x%02X, want 0x8E", r)
		}
	case <-within(t).Done():
		t.Fatal("the first connection was not kicked")
	}
	for i, want := range sent {
		got := bConn.next(t)
		if got.PacketID != want.PacketID || !got.Dup || got.QoS != 1 ||
			!bytes.Equal(got.Message.Payload, want.Message.Payload) {
			t.Fatalf("resend %d: id %d dup %v payload %q; want id %d with DUP, payload %q",
				i, got.PacketID, got.Dup, got.Message.Payload, want.PacketID, want.Message.Payload)
		}
	}
}

func TestDeliverBodyRoundTrip(t *testing.T) {
	t.Parallel()
	m := raftstore.Message{Topic: "a/b", QoS: 0, Retain: true, PublisherID: "pub", Payload: []byte("x"), ExpiresAtMillis: 9}
	routes := []raftstore.Route{
		{ClientID: "c1", Node: "n2", Generation: 7, Connected: true, RetainAsPublished: true, SubscriptionIDs: []uint32{1, 268435455}},
		{ClientID: "c2", Node: "n2", Generation: 1 << 40, Connected: true},
	}
	body := appendDeliver(nil, "n2", raftstore.AppendMessage(nil, &m), routes)
	node, got, gotRoutes, err := parseDeliver(body)
	if err != nil {
		t.Fatal(err)
	}
	if node != "n2" {
		t.Fatalf("node = %q", node)
	}
	if diff := cmp.Diff(m, got); diff != "" {
		t.Fatalf("message (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(routes, gotRoutes); diff != "" {
		t.Fatalf("routes (-want +got):\n%s", diff)
	}
	// Nothing parsed aliases the body.
	for i := range body {
		body[i] = 0
	}
	if string(got.Payload) != "x" || gotRoutes[0].ClientID != "c1" {
		t.Fatal("the parsed delivery aliases its frame")
	}
}

func TestDeliverBodyRejects(t *testing.T) {
	t.Parallel()
	m := raftstore.Message{Topic: "t", Payload: []byte("p")}
	good := appendDeliver(nil, "n1", raftstore.AppendMessage(nil, &m), []raftstore.Route{{ClientID: "c", Generation: 1}})
	hugeCount := appendDeliver(nil, "n1", raftstore.AppendMessage(nil, &m), nil)
	hugeCount = append(hugeCount[:len(hugeCount)-1], 0xFF, 0xFF, 0xFF, 0x0F) // the route count
	cases := map[string][]byte{
		"empty":          nil,
		"version":        append([]byte{9}, good[1:]...),
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte(nil), good...), 0),
		"huge count":     hugeCount,
		"empty client":   appendDeliver(nil, "n1", raftstore.AppendMessage(nil, &m), []raftstore.Route{{Generation: 1}}),
		"bad message":    appendDeliver(nil, "n1", []byte{1, 'a'}, nil),
		"wildcard topic": appendDeliver(nil, "n1", raftstore.AppendMessage(nil, &raftstore.Message{Topic: "#"}), nil),
	}
	for name, b := range cases {
		if _, _, _, err := parseDeliver(b); !errors.Is(err, errMalformedDeliver) {
			t.Errorf("%s: err = %v, want errMalformedDeliver", name, err)
		}
	}
}

// FuzzParseDeliver: no input panics, counts are bounded by the bytes
// left, and what parses re-encodes to something that parses the same.
func FuzzParseDeliver(f *testing.F) {
	m := raftstore.Message{Topic: "t/u", Payload: []byte("p"), Properties: []byte{0}}
	f.Add(appendDeliver(nil, "n1", raftstore.AppendMessage(nil, &m),
		[]raftstore.Route{{ClientID: "c", Generation: 3, RetainAsPublished: true, SubscriptionIDs: []uint32{4}}}))
	f.Add([]byte{1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F})
	f.Fuzz(func(t *testing.T, b []byte) {
		node, msg, routes, err := parseDeliver(b)
		if err != nil {
			return
		}
		if len(routes) > len(b) {
			t.Fatalf("%d routes from %d bytes", len(routes), len(b))
		}
		node2, msg2, routes2, err := parseDeliver(appendDeliver(nil, node, raftstore.AppendMessage(nil, &msg), routes))
		if err != nil {
			t.Fatalf("re-encoded delivery does not parse: %v", err)
		}
		if node2 != node || !cmp.Equal(msg, msg2) || !cmp.Equal(routes, routes2) {
			t.Fatal("decode(encode(decode(x))) differs from decode(x)")
		}
	})
}
