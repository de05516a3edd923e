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

	"tributary/kafkacodec"
)

// TestKafkaStoreAPI drives the Store's Kafka methods through raft on a
// one-node store, then checks that a restart rebuilds the Kafka index
// (topics, partition states, mappings) from Pebble.
func TestKafkaStoreAPI(t *testing.T) {
	dir := t.TempDir()
	reg := prometheus.NewPedanticRegistry()
	s := mqttStore(t, dir, make(eventSink, 64), reg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := s.SetMapping(ctx, mirrorMapping("mirror", "mqtt", 2, "", "#"), [16]byte{1}, 10); err != nil {
		t.Fatal(err)
	}
	tp, err := s.CreateTopic(ctx, CreateTopicRequest{Name: "orders", ID: [16]byte{2}, Partitions: 1,
		RetentionMillis: -1, RetentionBytes: -1, NowMillis: 11})
	if err != nil || tp.Name != "orders" || tp.CreatedMillis != 11 {
		t.Fatalf("create topic %+v %v", tp, err)
	}
	if _, err := s.CreateTopic(ctx, CreateTopicRequest{Name: "orders", Partitions: 1}); !errors.Is(err, ErrTopicExists) {
		t.Fatalf("create twice: %v", err)
	}
	changed := s.KafkaChanged()
	pid, err := s.InitProducerID(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := produceSync(t, ctx, s, ProduceRequest{Topic: "orders", Batch: idempotent(nRecords(3), pid.ID, pid.Epoch, 0), NowMillis: 12})
	if res.BaseOffset != 0 || res.Duplicate {
		t.Fatalf("produce %+v", res)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("KafkaChanged not closed by a produce")
	}
	if res := produceSync(t, ctx, s, ProduceRequest{Topic: "orders", Batch: idempotent(nRecords(3), pid.ID, pid.Epoch, 0)}); !res.Duplicate {
		t.Fatalf("retried batch %+v", res)
	}
	if _, err := s.Publish(ctx, PublishRequest{ClientID: "dev", NowMillis: 13,
		Message: Message{Topic: "dev/1", QoS: 1, Payload: []byte("hi")}}); err != nil {
		t.Fatal(err)
	}
	errs, err := s.CommitOffsets(ctx, []OffsetCommit{{Group: "g", Topic: "orders", Offset: 3}, {Group: "g", Topic: "nope"}})
	if err != nil || errs[0] != nil || !errors.Is(errs[1], ErrUnknownTopicOrPartition) {
		t.Fatalf("commit offsets %v %v", errs, err)
	}
	if err := s.TrimKafka(ctx, 1<<40); err != nil {
		t.Fatal(err)
	}
	checkKafkaGauges(t, reg)

	if err := s.DeleteMapping(ctx, "nope"); !errors.Is(err, ErrUnknownMapping) {
		t.Fatalf("delete unknown mapping: %v", err)
	}
	if err := s.DeleteTopic(ctx, "nope"); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Fatalf("delete unknown topic: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mqttStore(t, dir, make(eventSink, 16), nil)
	defer s.Close()
	if ms := s.Mappings(); len(ms) != 1 || ms[0].Name != "mirror" || !s.MappedToKafka("x/y") {
		t.Fatalf("mappings after restart %+v", ms)
	}
	if names := topicNames(s.Topics()); !slices.Equal(names, []string{"mqtt", "orders"}) {
		t.Fatalf("topics after restart %v", names)
	}
	if ps, err := s.Partition("orders", 0); err != nil || ps.HighWatermark != 3 {
		t.Fatalf("orders after restart %+v %v", ps, err)
	}
	p := kafkacodec.PartitionForKey([]byte("dev/1"), 2)
	if ps, err := s.Partition("mqtt", p); err != nil || ps.HighWatermark != 1 {
		t.Fatalf("mqtt/%d after restart %+v %v", p, ps, err)
	}
	if c, ok, err := s.CommittedOffset("g", "orders", 0); err != nil || !ok || c.Offset != 3 {
		t.Fatalf("committed offset after restart %+v %v %v", c, ok, err)
	}
}

func produceSync(t *testing.T, ctx context.Context, s *Store, r ProduceRequest) ProduceResult {
	t.Helper()
	type answer struct {
		res ProduceResult
		err error
	}
	ch := make(chan answer, 1)
	if err := s.ProduceAsync(ctx, r, func(res ProduceResult, err error) { ch <- answer{res, err} }); err != nil {
		t.Fatal(err)
	}
	a := <-ch
	if a.err != nil {
		t.Fatalf("produce: %v", a.err)
	}
	return a.res
}

func checkKafkaGauges(t *testing.T, reg *prometheus.Registry) {
	t.Helper()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP tributary_kafka_records_appended_total Records appended to Kafka partitions on this node, by origin: mqtt (mapped publishes) or kafka (produced).
# TYPE tributary_kafka_records_appended_total counter
tributary_kafka_records_appended_total{origin="kafka"} 3
tributary_kafka_records_appended_total{origin="mqtt"} 1
# HELP tributary_kafka_topics Kafka topics in the replicated state.
# TYPE tributary_kafka_topics gauge
tributary_kafka_topics 2
`), "tributary_kafka_records_appended_total", "tributary_kafka_topics"); err != nil {
		t.Fatal(err)
	}
	// Retention -1 on both topics: the trim kept every byte.
	if n, err := testutil.GatherAndCount(reg, "tributary_kafka_partition_bytes"); err != nil || n != 1 {
		t.Fatalf("partition bytes gauge: %d %v", n, err)
	}
}
