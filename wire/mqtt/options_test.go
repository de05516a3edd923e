package mqtt

import (
	"testing"

	"github.com/eclipse/paho.golang/paho"
)

// Subscription options exercised by a real MQTT 5 client (paho.golang).

func TestNoLocal_MQTT_3_8_3_3(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	c, _ := st.dialV5("echo", nil)
	c.subscribe(paho.SubscribeOptions{Topic: "chat/mine", QoS: 1, NoLocal: true},
		paho.SubscribeOptions{Topic: "chat/all", QoS: 1})
	c.publish(&paho.Publish{Topic: "chat/mine", QoS: 1, Payload: []byte("own")})
	c.publish(&paho.Publish{Topic: "chat/all", QoS: 1, Payload: []byte("echoed")})
	if m := c.message(); string(m.Payload) != "echoed" {
		t.Fatalf("got %q, want only the message of the subscription without No Local", m.Payload)
	}
	c.noMessage()
}

func TestRetainAsPublished_MQTT_3_3_1_12(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	keep, _ := st.dialV5("keep", nil)
	keep.subscribe(paho.SubscribeOptions{Topic: "rap/x", QoS: 1, RetainAsPublished: true})
	clear, _ := st.dialV5("clear", nil)
	clear.subscribe(paho.SubscribeOptions{Topic: "rap/x", QoS: 1})
	pub, _ := st.dialV5("pub", nil)
	pub.publish(&paho.Publish{Topic: "rap/x", QoS: 1, Retain: true, Payload: []byte("v")})
	if m := keep.message(); !m.Retain {
		t.Fatal("Retain As Published subscriber got RETAIN 0 [MQTT-3.3.1-13]")
	}
	if m := clear.message(); m.Retain {
		t.Fatal("subscriber without Retain As Published got RETAIN 1 [MQTT-3.3.1-12]")
	}
}

func TestRetainHandling_MQTT_3_3_1_10(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	pub, _ := st.dialV5("pub", nil)
	pub.publish(&paho.Publish{Topic: "rh/x", QoS: 1, Retain: true, Payload: []byte("r")})

	never, _ := st.dialV5("never", nil)
	never.subscribe(paho.SubscribeOptions{Topic: "rh/#", QoS: 1, RetainHandling: 2})
	never.noMessage() // 2: never sent

	once, _ := st.dialV5("once", nil)
	once.subscribe(paho.SubscribeOptions{Topic: "rh/#", QoS: 1, RetainHandling: 1})
	if m := once.message(); string(m.Payload) != "r" {
		t.Fatalf("retain handling 1, new subscription: got %q, want the retained message", m.Payload)
	}
	once.subscribe(paho.SubscribeOptions{Topic: "rh/#", QoS: 1, RetainHandling: 1})
	once.noMessage() // 1: not again for an existing subscription

	always, _ := st.dialV5("always", nil)
	always.subscribe(paho.SubscribeOptions{Topic: "rh/#", QoS: 1})
	always.message()
	always.subscribe(paho.SubscribeOptions{Topic: "rh/#", QoS: 1})
	if m := always.message(); string(m.Payload) != "r" {
		t.Fatalf("retain handling 0, repeated subscription: got %q, want the retained message again", m.Payload)
	}
}
