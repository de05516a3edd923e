package raftstore

import (
	"fmt"
	"testing"
	"time"

	"tributary/kafkacodec"
)

// BenchmarkApplyMappedPublishes measures apply alone (no raft) of raft
// entries holding 1000 QoS 1 publishes each, to 1000 MQTT topics that an
// MQTTToKafka mapping sends to a 4-partition topic: each entry becomes
// four RecordBatches. It reports records per second.
func BenchmarkApplyMappedPublishes(b *testing.B) {
	const perEntry = 1000
	h := newMQTTFSM(b)
	if err := h.setMapping(mirrorMapping("all", "mqtt", 4, "", "#")); err != nil {
		b.Fatal(err)
	}
	payload := make([]byte, benchPayloadBytes)
	cmds := make([]Command, perEntry)
	for i := range cmds {
		cmds[i] = publishCommand(&PublishRequest{ClientID: "dev", NowMillis: int64(i), Message: Message{
			Topic: fmt.Sprintf("sensors/%d/temp", i), QoS: 1, Payload: payload, PublisherID: "dev"}})
	}
	b.ReportAllocs()
	b.SetBytes(perEntry * benchPayloadBytes)
	start := time.Now()
	for b.Loop() {
		h.apply(cmds...)
	}
	b.ReportMetric(float64(b.N*perEntry)/time.Since(start).Seconds(), "records/s")
	if hw := h.f.kafka.bytes.Load(); hw == 0 {
		b.Fatal("nothing appended")
	}
}

// BenchmarkReadRecords measures ReadRecords (a Fetch's read) of 1 MiB
// from a partition of 1000 batches of 100 records, from offsets spread
// over the partition. It reports MB/s.
func BenchmarkReadRecords(b *testing.B) {
	h := newMQTTFSM(b)
	h.mustTopic("t", 1)
	value := string(make([]byte, benchPayloadBytes))
	for i := range 1000 {
		recs := make([]kafkacodec.BuildRecord, 100)
		for j := range recs {
			recs[j] = rec(fmt.Sprint(j), value, int64(i))
		}
		h.mustProduce("t", 0, batchOf(recs...))
	}
	s := h.store()
	span := h.part("t", 0).HighWatermark / 2 // every read finds 1 MiB
	var n, bytes int64
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		data, _, err := s.ReadRecords("t", 0, (n*7919)%span, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		bytes += int64(len(data))
		n++
	}
	b.ReportMetric(float64(bytes)/1e6/time.Since(start).Seconds(), "MB/s")
}
