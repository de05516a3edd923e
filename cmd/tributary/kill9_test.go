package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// recorder counts the payloads a subscriber receives.
type recorder struct {
	mu   sync.Mutex
	seen map[string]int
}

func newRecorder() *recorder { return &recorder{seen: make(map[string]int)} }

func (r *recorder) add(payload string) {
	r.mu.Lock()
	r.seen[payload]++
	r.mu.Unlock()
}

func (r *recorder) count(payload string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[payload]
}

// waitAll waits until every payload in want has arrived at least once.
func (r *recorder) waitAll(t *testing.T, who string, want []string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := 0
		first := ""
		for _, p := range want {
			if r.count(p) == 0 {
				if missing == 0 {
					first = p
				}
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d acknowledged messages never arrived (first: %s)", who, missing, len(want), first)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKill9LosesNoAcknowledgedMessage kills a node with SIGKILL while
// publishers are sending QoS 1 and 2 messages to two persistent sessions,
// one offline (MQTT 3.1.1, paho.mqtt.golang) and one online (MQTT 5,
// autopaho), with messages in flight to it. After the restart every
// message whose PUBACK or PUBCOMP reached a publisher arrives at both —
// QoS 2 exactly once at the MQTT 5 subscriber — and the subscriptions and
// the retained message are still there.
func TestKill9LosesNoAcknowledgedMessage(t *testing.T) {
	bin := buildBinary(t)
	n := startNode(t, bin)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	offline := newRecorder()
	off := connectV3(t, n, "offline", offline)
	if tok := off.Subscribe("k/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("offline subscribe: %v", tok.Error())
	}
	off.Disconnect(250)

	online := newRecorder()
	on := connectAutopaho(ctx, t, n, "online", online)
	defer on.Disconnect(context.Background())

	retained := publisherV5(ctx, t, n, "retainer")
	if _, err := retained.Publish(ctx, &paho.Publish{Topic: "state/k", QoS: 1, Retain: true, Payload: []byte("kept")}); err != nil {
		t.Fatalf("retained publish: %v", err)
	}
	retained.Disconnect(&paho.Disconnect{})

	acked := publishUntilKilled(ctx, t, n)
	n.restart(t)

	offline2 := connectV3(t, n, "offline", offline)
	defer offline2.Disconnect(250)
	offline.waitAll(t, "offline MQTT 3.1.1 session", acked)
	online.waitAll(t, "online MQTT 5 session", acked)
	for _, p := range acked {
		if p[1] == '2' && online.count(p) != 1 {
			t.Errorf("QoS 2 message %s arrived %d times at the MQTT 5 subscriber, want exactly once", p, online.count(p))
		}
	}

	// The subscriptions survived: neither client subscribed again.
	after := publisherV5(ctx, t, n, "after")
	if _, err := after.Publish(ctx, &paho.Publish{Topic: "k/after", QoS: 1, Payload: []byte("q1-after")}); err != nil {
		t.Fatalf("publish after restart: %v", err)
	}
	after.Disconnect(&paho.Disconnect{})
	offline.waitAll(t, "offline session after restart", []string{"q1-after"})
	online.waitAll(t, "online session after restart", []string{"q1-after"})

	// The retained message survived.
	ret := newRecorder()
	r := connectV3(t, n, "retained-reader", ret)
	if tok := r.Subscribe("state/#", 1, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	ret.waitAll(t, "retained after restart", []string{"kept"})
	r.Disconnect(250)
	t.Logf("%d acknowledged messages checked across the kill", len(acked))
	n.p.stop(t)
}

// publishUntilKilled runs publishers of QoS 1 and QoS 2 messages, kills
// the node once some have been acknowledged while more are in flight, and
// returns the payloads of the acknowledged ones.
func publishUntilKilled(ctx context.Context, t *testing.T, n *testNode) []string {
	t.Helper()
	var (
		mu    sync.Mutex
		acked []string
		count atomic.Int64
		wg    sync.WaitGroup
	)
	const publishers = 4
	for i := range publishers {
		qos := byte(1 + i%2)
		c := publisherV5(ctx, t, n, fmt.Sprintf("pub-%d", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; ; j++ {
				payload := fmt.Sprintf("q%d-%d-%d", qos, i, j)
				pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := c.Publish(pctx, &paho.Publish{Topic: fmt.Sprintf("k/%d", qos), QoS: qos, Payload: []byte(payload)})
				cancel()
				if err != nil {
					return // the node is gone
				}
				mu.Lock()
				acked = append(acked, payload)
				mu.Unlock()
				count.Add(1)
			}
		}()
	}
	for count.Load() < 200 {
		if ctx.Err() != nil {
			t.Fatal("publishers did not get 200 acknowledgements in time")
		}
		time.Sleep(5 * time.Millisecond)
	}
	n.kill9(t)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return append([]string(nil), acked...)
}

// connectV3 connects a paho.mqtt.golang (MQTT 3.1.1) client with a
// persistent session; every message lands in rec.
func connectV3(t *testing.T, n *testNode, id string, rec *recorder) mqtt3.Client {
	t.Helper()
	opts := mqtt3.NewClientOptions().AddBroker("tcp://" + n.mqttAddr).SetClientID(id).
		SetCleanSession(false).SetAutoReconnect(false).SetProtocolVersion(4).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) { rec.add(string(m.Payload())) })
	c := mqtt3.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	return c
}

// connectAutopaho connects an autopaho (MQTT 5) client with a persistent
// session that subscribes once, on its first connection, and reconnects
// by itself after the node restarts.
func connectAutopaho(ctx context.Context, t *testing.T, n *testNode, id string, rec *recorder) *autopaho.ConnectionManager {
	t.Helper()
	u, err := url.Parse("mqtt://" + n.mqttAddr)
	if err != nil {
		t.Fatal(err)
	}
	subscribed := make(chan error, 1)
	var once sync.Once
	cfg := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		SessionExpiryInterval:         3600,
		ReconnectBackoff:              func(int) time.Duration { return 100 * time.Millisecond },
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			once.Do(func() {
				go func() {
					_, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "k/#", QoS: 2}}})
					subscribed <- err
				}()
			})
		},
		ClientConfig: paho.ClientConfig{
			ClientID: id,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){
				func(pr paho.PublishReceived) (bool, error) {
					rec.add(string(pr.Packet.Payload))
					return true, nil
				},
			},
		},
	}
	cm, err := autopaho.NewConnection(ctx, cfg)
	if err != nil {
		t.Fatalf("autopaho: %v", err)
	}
	select {
	case err := <-subscribed:
		if err != nil {
			t.Fatalf("autopaho subscribe: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("autopaho never subscribed")
	}
	return cm
}

// publisherV5 connects a plain paho (MQTT 5) client for publishing.
func publisherV5(ctx context.Context, t *testing.T, n *testNode, id string) *paho.Client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", n.mqttAddr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: conn})
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ca, err := c.Connect(cctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
	if err != nil || ca.ReasonCode != 0 {
		t.Fatalf("connect %s: %v (reason %v)", id, err, ca)
	}
	return c
}
