package raftstore

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// eventSink collects OnEvents deliveries without blocking apply.
type eventSink chan []Event

func (e eventSink) wait(t *testing.T, kind EventKind, clientID string) Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case evs := <-e:
			for _, ev := range evs {
				if ev.Kind == kind && ev.ClientID == clientID {
					return ev
				}
			}
		case <-timeout:
			t.Fatalf("no event %d for %s", kind, clientID)
		}
	}
}

func mqttStore(t *testing.T, dir string, events eventSink, reg prometheus.Registerer) *Store {
	cfg := testConfig(t, dir)
	cfg.OnEvents = func(ev []Event) {
		select {
		case events <- ev:
		default: // a test that stopped listening must not stall apply
		}
	}
	cfg.Registerer = reg
	return openStore(t, cfg)
}

// TestMQTTStoreAPI drives the Store's MQTT methods through raft: what a
// node of the cluster does for a persistent subscriber and a publisher,
// and that a restart rebuilds the subscription index.
func TestMQTTStoreAPI(t *testing.T) {
	dir := t.TempDir()
	events := make(eventSink, 1024)
	reg := prometheus.NewPedanticRegistry()
	s := mqttStore(t, dir, events, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	sub, err := s.OpenSession(ctx, SessionOpen{ClientID: "sub", Node: "n1", CleanStart: true,
		ExpirySeconds: NeverExpires, ProtocolVersion: 5, MaxQueuedMessages: 100, NowMillis: 1})
	if err != nil || sub.Present {
		t.Fatalf("open: %+v %v", sub, err)
	}
	if _, err := s.Subscribe(ctx, SubscribeRequest{ClientID: "sub", Generation: sub.Generation,
		Subscriptions: []Subscription{{Filter: "t/+", QoS: 1, SubscriptionID: 2}}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Publish(ctx, PublishRequest{ClientID: "pub", NowMillis: 2,
		Message: Message{Topic: "t/1", QoS: 1, Retain: true, Payload: []byte("hello")}})
	if err != nil || res.Matched != 1 {
		t.Fatalf("publish: %+v %v", res, err)
	}
	if ev := events.wait(t, EventQueued, "sub"); ev.Seq != 1 || ev.Generation != sub.Generation {
		t.Fatalf("queued event %+v", ev)
	}
	q, err := s.ReadQueue("sub", 0, 10)
	if err != nil || len(q) != 1 || string(q[0].Message.Payload) != "hello" || !slices.Equal(q[0].SubscriptionIDs, []uint32{2}) {
		t.Fatalf("ReadQueue = %+v, %v", q, err)
	}
	checkStoreAsync(t, ctx, s, sub.Generation, q[0].Seq)

	// A non-persistent subscriber gets the retained message in the answer.
	v, err := s.OpenSession(ctx, SessionOpen{ClientID: "viewer", Node: "n1", ProtocolVersion: 4, MaxQueuedMessages: 1, NowMillis: 4})
	if err != nil {
		t.Fatal(err)
	}
	sres, err := s.Subscribe(ctx, SubscribeRequest{ClientID: "viewer", Generation: v.Generation,
		Subscriptions: []Subscription{{Filter: "t/#", QoS: 2}}})
	if err != nil || len(sres.Retained) != 1 || !sres.Retained[0].Retain || sres.Retained[0].QoS != 1 {
		t.Fatalf("subscribe result %+v, %v", sres, err)
	}

	checkStoreErrors(t, ctx, s, sub.Generation)
	checkStoreReads(t, s)
	checkStoreWillAndTick(t, ctx, s, events)

	n, err := testutil.GatherAndCount(reg, "tributary_mqtt_sessions", "tributary_mqtt_retained_messages",
		"tributary_mqtt_queued_messages", "tributary_mqtt_queue_dropped_total")
	if err != nil || n != 4 {
		t.Fatalf("gathered %d mqtt series (%v), want 4", n, err)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tributary_mqtt_retained_messages Retained messages in the replicated state (expired ones count until a subscribe meets them).
# TYPE tributary_mqtt_retained_messages gauge
tributary_mqtt_retained_messages 1
`), "tributary_mqtt_retained_messages"); err != nil {
		t.Fatal(err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mqttStore(t, dir, make(eventSink, 16), nil)
	defer s.Close()
	var routes []string
	s.Match("t/9", "", func(r Route) { routes = append(routes, r.ClientID) })
	if !slices.Equal(routes, []string{"sub", "viewer"}) {
		t.Fatalf("Match after restart: %v", routes)
	}
}

func checkStoreErrors(t *testing.T, ctx context.Context, s *Store, gen uint64) {
	t.Helper()
	_, err := s.Subscribe(ctx, SubscribeRequest{ClientID: "sub", Generation: gen + 1000,
		Subscriptions: []Subscription{{Filter: "x"}}})
	var rej *RejectedError
	if !errors.Is(err, ErrSessionGone) || !errors.As(err, &rej) {
		t.Fatalf("subscribe with a stale generation: %v, want ErrSessionGone inside a RejectedError", err)
	}
	if _, err := s.Unsubscribe(ctx, UnsubscribeRequest{ClientID: "nobody", Generation: 1, Filters: []string{"x"}}); !errors.Is(err, ErrSessionGone) {
		t.Fatalf("unsubscribe without a session: %v", err)
	}
	existed, err := s.Unsubscribe(ctx, UnsubscribeRequest{ClientID: "sub", Generation: gen, Filters: []string{"never", "t/+"}})
	if err != nil || !slices.Equal(existed, []bool{false, true}) {
		t.Fatalf("unsubscribe answered %v, %v", existed, err)
	}
	if _, err := s.Subscribe(ctx, SubscribeRequest{ClientID: "sub", Generation: gen,
		Subscriptions: []Subscription{{Filter: "t/+", QoS: 1, RetainHandling: 2}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadQueue("sub", 0, 0); err == nil {
		t.Fatal("ReadQueue with max 0 did not fail")
	}
}

func checkStoreReads(t *testing.T, s *Store) {
	t.Helper()
	info, ok, err := s.Session("sub")
	if err != nil || !ok || !info.Connected || !info.Persistent || info.Node != "n1" {
		t.Fatalf("Session(sub) = %+v %v %v", info, ok, err)
	}
	if _, ok, _ := s.Session("nobody"); ok {
		t.Fatal("Session of an unknown client")
	}
	conn, err := s.ConnectedSessions("n1")
	if err != nil || len(conn) != 2 || conn[0].ClientID != "sub" || conn[1].ClientID != "viewer" {
		t.Fatalf("ConnectedSessions = %+v, %v", conn, err)
	}
	var routes []Route
	s.Match("t/3", "", func(r Route) { routes = append(routes, r) })
	if len(routes) != 2 || routes[0].ClientID != "sub" || !routes[0].Persistent || routes[1].Persistent {
		t.Fatalf("Match = %+v", routes)
	}
}

// checkStoreWillAndTick closes a session with a delayed will and fires it
// with Tick at NextDeadline.
func checkStoreWillAndTick(t *testing.T, ctx context.Context, s *Store, events eventSink) {
	t.Helper()
	w, err := s.OpenSession(ctx, SessionOpen{ClientID: "dev", Node: "n1", ExpirySeconds: 3600, ProtocolVersion: 5,
		MaxQueuedMessages: 1, NowMillis: 10_000, Will: &Will{DelaySeconds: 5, Message: Message{Topic: "t/dev", QoS: 1, Payload: []byte("bye")}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSession(ctx, SessionClose{ClientID: "dev", Generation: w.Generation, Reason: CloseAbnormal, NowMillis: 10_000}); err != nil {
		t.Fatal(err)
	}
	at, ok := s.NextDeadline()
	if !ok || at != 15_000 {
		t.Fatalf("NextDeadline = %d %v, want 15000", at, ok)
	}
	if err := s.Tick(ctx, at); err != nil {
		t.Fatal(err)
	}
	ev := events.wait(t, EventDeliver, "viewer")
	for string(ev.Delivery.Message.Payload) != "bye" {
		ev = events.wait(t, EventDeliver, "viewer")
	}
	if at, ok := s.NextDeadline(); !ok || at != 10_000+3600_000 {
		t.Fatalf("after the will NextDeadline = %d %v, want the session expiry", at, ok)
	}
}

// checkStoreAsync acknowledges an entry, publishes a QoS 2 message and
// releases its packet id, through the Async methods.
func checkStoreAsync(t *testing.T, ctx context.Context, s *Store, gen, seq uint64) {
	t.Helper()
	acked := make(chan error, 1)
	if err := s.AckQueueAsync(ctx, QueueAck{ClientID: "sub", Generation: gen, Done: []uint64{seq}},
		func(err error) { acked <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-acked; err != nil {
		t.Fatal(err)
	}

	published := make(chan PublishResult, 1)
	if err := s.PublishAsync(ctx, PublishRequest{ClientID: "pub", PacketID: 5, NowMillis: 3,
		Message: Message{Topic: "t/2", QoS: 2, Payload: []byte("x")}}, func(r PublishResult, err error) {
		if err != nil {
			t.Error(err)
		}
		published <- r
	}); err != nil {
		t.Fatal(err)
	}
	if r := <-published; r.Matched != 1 {
		t.Fatalf("async publish %+v", r)
	}
	released := make(chan error, 1)
	if err := s.ReleaseInboundAsync(ctx, "pub", 5, func(err error) { released <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-released; err != nil {
		t.Fatal(err)
	}
}
