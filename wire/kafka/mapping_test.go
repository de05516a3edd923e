package kafka

import (
	"errors"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newMQTT connects an MQTT 3.1.1 client (eclipse/paho.mqtt.golang) to the
// stack.
func (st *stack) newMQTT(clientID string) paho.Client {
	st.t.Helper()
	opts := paho.NewClientOptions().AddBroker("tcp://" + st.mqttAddr()).SetClientID(clientID).
		SetAutoReconnect(false).SetConnectTimeout(waitFor)
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		st.t.Fatalf("mqtt connect %s: %v", clientID, tok.Error())
	}
	st.t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// subscribe returns a channel that gets every message of filter.
func subscribe(t *testing.T, c paho.Client, filter string, qos byte) <-chan paho.Message {
	t.Helper()
	got := make(chan paho.Message, 100)
	tok := c.Subscribe(filter, qos, func(_ paho.Client, m paho.Message) { got <- m })
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	return got
}

func receive(t *testing.T, ch <-chan paho.Message, what string) paho.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(waitFor):
		t.Fatalf("%s: no MQTT message within %v", what, waitFor)
		return nil
	}
}

// An MQTT publish lands in the mirror topic "mqtt": key = MQTT topic,
// value = payload, headers with the QoS, retain flag and client id.
func TestMQTTPublishBecomesKafkaRecord(t *testing.T) {
	st := newStack(t, stackOptions{})
	pub := st.newMQTT("sensor-1")
	for qos := byte(0); qos <= 2; qos++ {
		tok := pub.Publish("sensors/1/temp", qos, false, fmt.Sprintf("21.%d", qos))
		if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
			t.Fatalf("publish QoS %d: %v", qos, tok.Error())
		}
	}
	recs := consume(t, st.newKgo(kgo.ConsumeTopics("mqtt")), 3)
	byValue := map[string]*kgo.Record{}
	for _, r := range recs {
		if string(r.Key) != "sensors/1/temp" {
			t.Errorf("record key %q, want sensors/1/temp", r.Key)
		}
		byValue[string(r.Value)] = r
	}
	for qos := 0; qos <= 2; qos++ {
		r := byValue[fmt.Sprintf("21.%d", qos)]
		if r == nil {
			t.Fatalf("no record for the QoS %d publish; got %d records", qos, len(recs))
		}
		want := map[string]string{"mqtt.qos": fmt.Sprint(qos), "mqtt.retain": "false", "mqtt.client_id": "sensor-1"}
		for _, h := range r.Headers {
			if w, ok := want[h.Key]; ok && w == string(h.Value) {
				delete(want, h.Key)
			}
		}
		if len(want) > 0 {
			t.Errorf("QoS %d record lacks headers %v (has %v)", qos, want, r.Headers)
		}
	}
	// One MQTT topic, one partition: its messages stay in order.
	if recs[0].Partition != recs[1].Partition || recs[1].Partition != recs[2].Partition {
		t.Errorf("one MQTT topic spread over partitions %d, %d, %d", recs[0].Partition, recs[1].Partition, recs[2].Partition)
	}
}

// A record produced to the mirror topic is published to the MQTT topic in
// its key, whatever the producer's compression codec; it is not appended
// to the mirror topic a second time.
func TestKafkaRecordReachesMQTTSubscriber(t *testing.T) {
	st := newStack(t, stackOptions{})
	sub := st.newMQTT("device-7")
	got := subscribe(t, sub, "devices/7/cmd", 1)
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(),
		kgo.Lz4Compression(), kgo.ZstdCompression()}
	for i, codec := range codecs {
		cl := st.newKgo(kgo.ProducerBatchCompression(codec))
		value := fmt.Sprintf("open-%d", i)
		if err := cl.ProduceSync(contextWithWait(t), &kgo.Record{Topic: "mqtt", Key: []byte("devices/7/cmd"), Value: []byte(value)}).FirstErr(); err != nil {
			t.Fatalf("produce with codec %d: %v", i, err)
		}
		m := receive(t, got, value)
		if m.Topic() != "devices/7/cmd" || string(m.Payload()) != value {
			t.Fatalf("codec %d: MQTT got %s %q, want devices/7/cmd %q", i, m.Topic(), m.Payload(), value)
		}
	}
	// Only the produced records are in the topic: none came back from MQTT.
	// A loop would append at the apply of each produce, so before the
	// marker produced last.
	marker := &kgo.Record{Topic: "mqtt", Key: []byte("devices/7/end"), Value: []byte("end")}
	if err := st.newKgo().ProduceSync(contextWithWait(t), marker).FirstErr(); err != nil {
		t.Fatalf("produce marker: %v", err)
	}
	recs := consume(t, st.newKgo(kgo.ConsumeTopics("mqtt")), len(codecs)+1)
	count := map[string]int{}
	for _, r := range recs {
		count[string(r.Value)]++
	}
	for i := range codecs {
		if n := count[fmt.Sprintf("open-%d", i)]; n != 1 {
			t.Errorf("record open-%d is %d times in the mirror topic, want once", i, n)
		}
	}
}

// A record for MQTT without a key, or whose key is not a valid MQTT topic
// name, is refused with INVALID_RECORD and nothing is stored.
func TestKafkaRecordWithoutValidTopicIsInvalid(t *testing.T) {
	st := newStack(t, stackOptions{})
	cl := st.newKgo(kgo.RecordRetries(0))
	for _, key := range [][]byte{nil, []byte("devices/+/cmd"), []byte("a/#"), {}} {
		err := cl.ProduceSync(contextWithWait(t), &kgo.Record{Topic: "mqtt", Key: key, Value: []byte("x")}).FirstErr()
		if !errors.Is(err, kerr.InvalidRecord) {
			t.Errorf("key %q: %v, want INVALID_RECORD", key, err)
		}
	}
	produceN(t, cl, "mqtt", 0, 1) // key "k0" is a valid topic name
	recs := consume(t, st.newKgo(kgo.ConsumeTopics("mqtt")), 1)
	if recs[0].Offset != 0 {
		t.Fatalf("first stored record at offset %d: refused records took offsets", recs[0].Offset)
	}
}
