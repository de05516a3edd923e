package raftstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tributary/kafkacodec"
	"tributary/mqttcodec"
)

// userProps is an MQTT 5 property section with a content type and user
// properties (name, value pairs).
func userProps(t testing.TB, contentType string, kv ...string) []byte {
	t.Helper()
	var p mqttcodec.Properties
	if contentType != "" {
		p.SetContentType([]byte(contentType))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if err := p.AddUserProperty([]byte(kv[i]), []byte(kv[i+1])); err != nil {
			t.Fatal(err)
		}
	}
	b, err := mqttcodec.AppendPropertySection(nil, &p, mqttcodec.TypePublish)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mirrorMapping(name, topic string, partitions int32, key string, filters ...string) Mapping {
	return Mapping{Name: name, Direction: MQTTToKafka, KafkaTopic: topic, Partitions: partitions,
		RetentionMillis: -1, RetentionBytes: -1, Filters: filters, KeyTemplate: key}
}

func TestMQTTPublishBecomesRecords(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	if err := h.setMapping(mirrorMapping("all", "mqtt", 4, "", "#")); err != nil {
		t.Fatal(err)
	}
	s := h.store()
	if !s.MappedToKafka("a/b") || s.MappedToKafka("$SYS/x") {
		t.Fatal("MappedToKafka: '#' must match a/b and not $SYS/x")
	}
	topics := []string{"a/b", "a/c", "d", "a/b", "e/f/g", "$SYS/x"}
	var cmds []Command
	for i, topic := range topics {
		cmds = append(cmds, publishCommand(&PublishRequest{ClientID: "pub", NowMillis: 5000 + int64(i), Message: Message{
			Topic: topic, QoS: 1, Payload: []byte(fmt.Sprint(i)), PublisherID: "pub"}}))
	}
	h.apply(cmds...) // one entry
	want := map[int32][]string{}
	for i, topic := range topics[:5] {
		p := kafkacodec.PartitionForKey([]byte(topic), 4)
		want[p] = append(want[p], fmt.Sprintf("%s=%d", topic, i))
	}
	for p := range int32(4) {
		recs, bases := readAll(t, s, "mqtt", p, 0)
		var got []string
		for _, r := range recs {
			got = append(got, r.Key+"="+r.Value)
		}
		if !cmp.Equal(got, want[p]) {
			t.Fatalf("partition %d: records %v, want %v", p, got, want[p])
		}
		if len(recs) > 0 && len(bases) != 1 {
			t.Fatalf("partition %d: %d batches for one entry, want 1", p, len(bases))
		}
	}
	// Headers and timestamp.
	p := kafkacodec.PartitionForKey([]byte("d"), 4)
	recs, _ := readAll(t, s, "mqtt", p, 0)
	var d readRec
	for _, r := range recs {
		if r.Key == "d" {
			d = r
		}
	}
	if d.Timestamp != 5002 || !cmp.Equal(d.Headers, []string{"mqtt.qos=1", "mqtt.retain=false", "mqtt.client_id=pub"}) {
		t.Fatalf("record of d: %+v", d)
	}
	checkKafka(t, h.f)
}

func TestMQTTRecordHeadersAndKeyTemplate(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	if err := h.setMapping(mirrorMapping("m", "sensors", 3, "{level:1}-{client_id}/x", "sensors/+/temp", "other/#")); err != nil {
		t.Fatal(err)
	}
	h.publish(PublishRequest{ClientID: "dev9", NowMillis: 7, Message: Message{Topic: "sensors/42/temp", QoS: 2,
		Retain: true, Payload: []byte("21.5"), PublisherID: "dev9", Properties: userProps(t, "text/plain", "unit", "C", "unit", "K")}})
	h.publish(PublishRequest{NowMillis: 8, Message: Message{Topic: "sensors/1/hum", QoS: 1, Payload: []byte("no")}})
	h.publish(PublishRequest{NowMillis: 9, AlreadyDelivered: true, Message: Message{Topic: "other", Payload: []byte("qos0")}})
	var all []readRec
	for p := range int32(3) {
		all = append(all, recordsOf(t, h, "sensors", p)...)
	}
	if len(all) != 2 {
		t.Fatalf("records %+v", all)
	}
	key := "42-dev9/x"
	recs := recordsOf(t, h, "sensors", kafkacodec.PartitionForKey([]byte(key), 3))
	wantHeaders := []string{"mqtt.qos=2", "mqtt.retain=true", "mqtt.client_id=dev9", "content-type=text/plain", "unit=C", "unit=K"}
	if len(recs) == 0 || recs[0].Key != key || recs[0].Value != "21.5" || !cmp.Equal(recs[0].Headers, wantHeaders) {
		t.Fatalf("record %+v", recs)
	}
	// The AlreadyDelivered QoS 0 publish is appended too, without a client id.
	recs = recordsOf(t, h, "sensors", kafkacodec.PartitionForKey([]byte("-/x"), 3))
	if len(recs) == 0 || recs[len(recs)-1].Value != "qos0" || !cmp.Equal(recs[len(recs)-1].Headers, []string{"mqtt.qos=0", "mqtt.retain=false"}) {
		t.Fatalf("already delivered record %+v", recs)
	}
}

func TestMQTTWillAndExpiredPublishes(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	if err := h.setMapping(mirrorMapping("m", "mqtt", 1, "", "#")); err != nil {
		t.Fatal(err)
	}
	o := h.open(SessionOpen{ClientID: "dev", NowMillis: 10, Will: &Will{Message: Message{Topic: "dev/status", QoS: 1, Payload: []byte("gone")}}})
	h.publish(PublishRequest{ClientID: "dev", NowMillis: 20, Message: Message{Topic: "dev/x", QoS: 1, Payload: []byte("late"), ExpiresAtMillis: 15}})
	h.close(SessionClose{ClientID: "dev", Generation: o.Generation, Reason: CloseAbnormal, NowMillis: 30})
	recs := recordsOf(t, h, "mqtt", 0)
	if len(recs) != 1 || recs[0].Key != "dev/status" || recs[0].Value != "gone" || recs[0].Timestamp != 30 {
		t.Fatalf("records %+v, want only the will", recs)
	}
	if !cmp.Equal(recs[0].Headers, []string{"mqtt.qos=1", "mqtt.retain=false", "mqtt.client_id=dev"}) {
		t.Fatalf("will headers %v", recs[0].Headers)
	}
}

func TestMQTTMappingValidation(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	bad := []Mapping{
		mirrorMapping("", "t", 1, "", "#"),
		mirrorMapping("m", "bad topic", 1, "", "#"),
		mirrorMapping("m", "t", 1, "", "a/#/b"),
		mirrorMapping("m", "t", 1, ""),
		mirrorMapping("m", "t", 1, "", "$share/g/a"),
		mirrorMapping("m", "t", 1, "{nope}", "#"),
		mirrorMapping("m", "t", 1, "{topic", "#"),
		mirrorMapping("m", "t", 0, "{level:x}", "#"),
		mirrorMapping("m", "t", MaxPartitions+1, "", "#"),
		{Name: "m", Direction: KafkaToMQTT, KafkaTopic: "t", QoS: 3},
		{Name: "m", Direction: KafkaToMQTT, KafkaTopic: "t", TopicTemplate: "{topic}"},
		{Name: "m", Direction: 7, KafkaTopic: "t"},
	}
	for _, m := range bad {
		wantErr(t, h.setMapping(m), ErrInvalidMapping)
	}
	if len(h.store().Mappings()) != 0 || len(h.store().Topics()) != 0 {
		t.Fatal("a refused mapping left state behind")
	}
	// Partitions 0 means 1; retention 0 means Kafka's defaults.
	if err := h.setMapping(Mapping{Name: "in", Direction: KafkaToMQTT, KafkaTopic: "cmd"}); err != nil {
		t.Fatal(err)
	}
	tp, ok := h.store().TopicByName("cmd")
	if !ok || tp.Partitions != 1 || tp.RetentionMillis != defaultRetentionMillis || tp.RetentionBytes != -1 || tp.ID != [16]byte{9} {
		t.Fatalf("topic created by the mapping %+v %v", tp, ok)
	}
	_, err := h.one(nameCommand(CmdMappingDelete, "nope"))
	wantErr(t, err, ErrUnknownMapping)
	h.ok(nameCommand(CmdMappingDelete, "in"))
	if len(h.store().Mappings()) != 0 {
		t.Fatal("mapping not deleted")
	}
	if _, ok := h.store().TopicByName("cmd"); !ok {
		t.Fatal("deleting a mapping deleted its topic")
	}
	checkKafka(t, h.f)
}

// kafkaToMQTTFixture is a store with a KafkaToMQTT mapping from topic
// "cmd", a persistent QoS 1 subscriber "p" and a clean subscriber "c"
// (connected), both on "dev/#".
func kafkaToMQTTFixture(t *testing.T, m Mapping) *mqttFSM {
	h := newMQTTFSM(t)
	if err := h.setMapping(m); err != nil {
		t.Fatal(err)
	}
	gp := h.persistent("p", 1)
	h.subscribe("p", gp, 1, Subscription{Filter: "dev/#", QoS: 1})
	gc := h.open(SessionOpen{ClientID: "c", CleanStart: true, NowMillis: 1}).Generation
	h.subscribe("c", gc, 1, Subscription{Filter: "dev/#", QoS: 1})
	h.takeEvents()
	return h
}

func TestKafkaProduceReachesMQTT(t *testing.T) {
	t.Parallel()
	h := kafkaToMQTTFixture(t, Mapping{Name: "in", Direction: KafkaToMQTT, KafkaTopic: "cmd", QoS: 1, Retain: true})
	res := h.mustProduce("cmd", 0, batchOf(rec("dev/1", "on", 5, "content-type", "text/plain", "who", "ops"), rec("dev/2", "off", 6)))
	if res.BaseOffset != 0 || h.part("cmd", 0).HighWatermark != 2 {
		t.Fatalf("produce %+v", res)
	}
	q := h.queue("p")
	if !cmp.Equal(payloads(q), []string{"on", "off"}) || q[0].Message.Topic != "dev/1" || q[0].QoS != 1 {
		t.Fatalf("persistent queue %+v", q)
	}
	var props mqttcodec.Properties
	if _, err := mqttcodec.DecodePropertySection(q[0].Message.Properties, mqttcodec.TypePublish, &props); err != nil {
		t.Fatal(err)
	}
	var users []string
	for k, v := range props.UserProperties() {
		users = append(users, string(k)+"="+string(v))
	}
	if string(props.ContentType) != "text/plain" || !cmp.Equal(users, []string{"who=ops"}) || q[0].Message.PublisherID != "" {
		t.Fatalf("properties: content type %q, user %v, publisher %q", props.ContentType, users, q[0].Message.PublisherID)
	}
	ev := eventsOf(h.takeEvents(), EventDeliver)
	if len(ev) != 2 || ev[0].ClientID != "c" || string(ev[1].Delivery.Message.Payload) != "off" {
		t.Fatalf("deliveries %+v", ev)
	}
	// Retained: a new subscriber gets the last message of each topic.
	gn := h.open(SessionOpen{ClientID: "n", CleanStart: true, NowMillis: 2}).Generation
	got := h.subscribe("n", gn, 2, Subscription{Filter: "dev/+", QoS: 1})
	if len(got.Retained) != 2 {
		t.Fatalf("retained %+v", got.Retained)
	}
}

func TestKafkaProduceNoLoopBack(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	for _, m := range []Mapping{
		{Name: "in", Direction: KafkaToMQTT, KafkaTopic: "mqtt"},
		mirrorMapping("mirror", "mqtt", 1, "", "#"),
		mirrorMapping("zcopy", "copy", 1, "", "dev/#"),
	} {
		if err := h.setMapping(m); err != nil {
			t.Fatal(err)
		}
	}
	h.mustProduce("mqtt", 0, batchOf(rec("dev/1", "x", 5)))
	if hw := h.part("mqtt", 0).HighWatermark; hw != 1 {
		t.Fatalf("record came back to its own topic: hw %d", hw)
	}
	if recs := recordsOf(t, h, "copy", 0); len(recs) != 1 || recs[0].Key != "dev/1" || recs[0].Timestamp != 1 {
		t.Fatalf("other mapping's records %+v", recs)
	}
	// An MQTT publish still lands in "mqtt" (and is not published back).
	h.pub("c", "dev/2", 1, false, "y", 9)
	if hw := h.part("mqtt", 0).HighWatermark; hw != 2 {
		t.Fatalf("MQTT publish not mirrored: hw %d", hw)
	}
	checkKafka(t, h.f)
}

func TestKafkaProduceInvalidForMQTT(t *testing.T) {
	t.Parallel()
	h := kafkaToMQTTFixture(t, Mapping{Name: "in", Direction: KafkaToMQTT, KafkaTopic: "cmd", QoS: 1, Retain: true,
		TopicTemplate: "dev/{header:room}/{key}"})
	cases := map[string][]byte{
		"no key":          batchOf(rec("ok", "1", 1, "room", "r"), rec(nullKey, "2", 1, "room", "r")),
		"wildcard":        batchOf(rec("ok", "1", 1, "room", "r"), rec("a/#", "2", 1, "room", "r")),
		"plus":            batchOf(rec("+", "2", 1, "room", "r")),
		"missing header":  batchOf(rec("k", "2", 1)),
		"bad utf8":        batchOf(rec("\xff", "2", 1, "room", "r")),
		"too long":        batchOf(rec(strings.Repeat("k", 70000), "2", 1, "room", "r")),
		"nul in the name": batchOf(rec("a\x00b", "2", 1, "room", "r")),
	}
	for name, b := range cases {
		_, err := h.produce("cmd", 0, b, 1)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		wantErr(t, err, ErrInvalidRecord)
	}
	if hw := h.part("cmd", 0).HighWatermark; hw != 0 || len(h.queue("p")) != 0 || len(h.takeEvents()) != 0 {
		t.Fatalf("a refused batch left state behind: hw %d", hw)
	}
	h.mustProduce("cmd", 0, batchOf(rec("lamp", "on", 1, "room", "kitchen")))
	if q := h.queue("p"); len(q) != 1 || q[0].Message.Topic != "dev/kitchen/lamp" {
		t.Fatalf("queue %+v", q)
	}
}
