package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
	"tributary/raftstore"
)

// TestKafkaQoS0MappedPublish: a QoS 0 publish on a topic mapped to Kafka
// is delivered from memory and also lands in Kafka, in the background.
func TestKafkaQoS0MappedPublish(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ctx := context.Background()
	id, err := newTopicID()
	if err != nil {
		t.Fatal(err)
	}
	err = ks.store.SetMapping(ctx, raftstore.Mapping{
		Name: "sensors", Direction: raftstore.MQTTToKafka, KafkaTopic: "sensors",
		Partitions: 1, RetentionMillis: -1, RetentionBytes: -1, Filters: []string{"sensors/#"},
	}, id, ks.node.nowMillis())
	if err != nil {
		t.Fatalf("set mapping: %v", err)
	}
	sub, subConn, _ := ks.connect(ConnectRequest{ClientID: "sub", CleanStart: true})
	subscribe(t, sub, raftstore.Subscription{Filter: "sensors/#", QoS: 0})
	pub, _, _ := ks.connect(ConnectRequest{ClientID: "pub", CleanStart: true})
	publish(t, pub, raftstore.Message{Topic: "sensors/kitchen", Payload: []byte("21.5"), QoS: 0}, 0)
	publish(t, pub, raftstore.Message{Topic: "other/kitchen", Payload: []byte("no"), QoS: 0}, 0)

	if o := subConn.next(t); o.Message.Topic != "sensors/kitchen" || o.QoS != 0 {
		t.Errorf("delivered %q qos %d", o.Message.Topic, o.QoS)
	}
	var got []fetchedRecord
	waitFor(t, "the QoS 0 record in Kafka", func() bool {
		resp := handle[*kmsg.FetchResponse](t, ks.kafka, 12, fetchReq("sensors", 0, 0))
		got = records(t, resp.Topics[0].Partitions[0].RecordBatches)
		return len(got) > 0
	})
	if len(got) != 1 || got[0].Key != "sensors/kitchen" || got[0].Value != "21.5" {
		t.Errorf("records %+v, want one with key sensors/kitchen", got)
	}
}

// TestKafkaProduceReachesMQTT: a record produced to a topic mapped to MQTT
// reaches an MQTT subscriber through its session.
func TestKafkaProduceReachesMQTT(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ctx := context.Background()
	ks.createTopic("commands", 2)
	err := ks.store.SetMapping(ctx, raftstore.Mapping{
		Name: "commands", Direction: raftstore.KafkaToMQTT, KafkaTopic: "commands", QoS: 1,
	}, [16]byte{}, ks.node.nowMillis())
	if err != nil {
		t.Fatalf("set mapping: %v", err)
	}
	sub, conn, _ := ks.connect(ConnectRequest{ClientID: "device", CleanStart: true})
	subscribe(t, sub, raftstore.Subscription{Filter: "devices/+/cmd", QoS: 1})

	sp := ks.produce("commands", 1, keyedBatch("devices/7/cmd", "reboot"))
	wantCode(t, "produce", sp.ErrorCode, nil)
	o := conn.next(t)
	if o.Message.Topic != "devices/7/cmd" || string(o.Message.Payload) != "reboot" || o.QoS != 1 {
		t.Errorf("delivered %q %q qos %d, want devices/7/cmd reboot 1", o.Message.Topic, o.Message.Payload, o.QoS)
	}
	// A record without a key has no MQTT topic: INVALID_RECORD.
	nokey := kafkacodec.AppendBatch(nil, 0, -1, []kafkacodec.BuildRecord{{TimestampMillis: 1, Value: []byte("x")}})
	wantCode(t, "keyless record", ks.produce("commands", 0, nokey).ErrorCode, kerr.InvalidRecord)
}

// TestKafkaRetentionLoop: the leader's trim loop applies retention by the
// node's clock.
func TestKafkaRetentionLoop(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{TrimInterval: 10 * time.Millisecond})
	ks.createTopic("short", 1, "retention.ms", "60000")
	now := ks.node.nowMillis()
	for range 2 {
		ks.produce("short", 0, kafkacodec.AppendBatch(nil, 0, -1, []kafkacodec.BuildRecord{{TimestampMillis: now, Value: []byte("v")}}))
	}
	ks.clock.advance(2 * time.Minute)
	waitFor(t, "retention trims the old batches", func() bool {
		st, err := ks.store.Partition("short", 0)
		return err == nil && st.LogStartOffset == 2
	})
	resp := handle[*kmsg.FetchResponse](t, ks.kafka, 12, fetchReq("short", 0, 0))
	wantCode(t, "fetch below log start", resp.Topics[0].Partitions[0].ErrorCode, kerr.OffsetOutOfRange)
}

// TestRetainedOrderAcrossQoS: with the topic mapped to Kafka (so QoS 0
// messages are also proposed), a burst of retained QoS 0 messages followed
// by a retained QoS 1 message leaves the QoS 1 one retained: retained QoS 0
// messages are not held back in a batch behind later messages.
func TestRetainedOrderAcrossQoS(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	id, err := newTopicID()
	if err != nil {
		t.Fatal(err)
	}
	err = ks.store.SetMapping(context.Background(), raftstore.Mapping{
		Name: "all", Direction: raftstore.MQTTToKafka, KafkaTopic: "all",
		Partitions: 1, RetentionMillis: -1, RetentionBytes: -1, Filters: []string{"#"},
	}, id, ks.node.nowMillis())
	if err != nil {
		t.Fatalf("set mapping: %v", err)
	}
	pub, _, _ := ks.connect(ConnectRequest{ClientID: "pub", CleanStart: true})
	for i := range 500 {
		publish(t, pub, raftstore.Message{Topic: "state", Payload: fmt.Appendf(nil, "q0-%d", i), Retain: true}, 0)
	}
	publish(t, pub, raftstore.Message{Topic: "state", Payload: []byte("final"), QoS: 1, Retain: true}, 0)
	sub, subConn, _ := ks.connect(ConnectRequest{ClientID: "sub", CleanStart: true})
	subscribe(t, sub, raftstore.Subscription{Filter: "state", QoS: 1})
	if o := subConn.next(t); string(o.Message.Payload) != "final" {
		t.Fatalf("retained after the burst: %q, want the last one published, \"final\"", o.Message.Payload)
	}
}
