package kafkacodec_test

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
)

// benchProduce is a Produce v9 request of one topic with one 16 KiB batch,
// as kgo sends it.
func benchProduce(tb testing.TB) (kafkacodec.RequestHeader, []byte) {
	tb.Helper()
	batch := make([]byte, 16<<10)
	for i := range batch {
		batch[i] = byte(i)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version = 9
	req.Acks = -1
	req.TimeoutMillis = 30000
	req.Topics = []kmsg.ProduceRequestTopic{{Topic: "mqtt",
		Partitions: []kmsg.ProduceRequestTopicPartition{{Partition: 3, Records: batch}}}}
	return benchParse(tb, req)
}

// benchFetch is a Fetch v12 request of 4 topics with 8 partitions each.
func benchFetch(tb testing.TB) (kafkacodec.RequestHeader, []byte) {
	tb.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.Version = 12
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 5000, 1, 50<<20
	req.SessionEpoch = -1
	for ti := range 4 {
		t := kmsg.NewFetchRequestTopic()
		t.Topic = fmt.Sprintf("topic-%d", ti)
		for p := range int32(8) {
			fp := kmsg.NewFetchRequestTopicPartition()
			fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = p, 1000*int64(p), 1<<20
			t.Partitions = append(t.Partitions, fp)
		}
		req.Topics = append(req.Topics, t)
	}
	return benchParse(tb, req)
}

func benchParse(tb testing.TB, req kmsg.Request) (kafkacodec.RequestHeader, []byte) {
	tb.Helper()
	frame, _ := reqEncode(tb, req, 1)
	h, body, err := kafkacodec.ParseRequestHeader(frame)
	if err != nil {
		tb.Fatal(err)
	}
	return h, body
}

func BenchmarkDecodeRequest(b *testing.B) {
	for _, bc := range []struct {
		name  string
		build func(testing.TB) (kafkacodec.RequestHeader, []byte)
	}{
		{"Produce/v9/16KiB", benchProduce},
		{"Fetch/v12/4x8", benchFetch},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, body := bc.build(b)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := kafkacodec.DecodeRequest(h, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeProduceZeroCopy backs the claims of the hot path: a produce
// request's records alias the frame, and decoding it costs four
// allocations (request, topics, topic name, partitions) whatever the size
// of its batch.
func TestDecodeProduceZeroCopy(t *testing.T) {
	h, body := benchProduce(t)
	req, err := kafkacodec.DecodeRequest(h, body)
	if err != nil {
		t.Fatal(err)
	}
	records := req.(*kmsg.ProduceRequest).Topics[0].Partitions[0].Records
	body[len(body)-4] ^= 0xff // the batch's last byte; three tag sections follow
	if records[len(records)-1] != body[len(body)-4] {
		t.Fatal("Records is a copy, not a view of the frame")
	}
	if cap(records) != len(records) {
		t.Errorf("Records has cap %d > len %d: an append would write over the frame", cap(records), len(records))
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = kafkacodec.DecodeRequest(h, body) }); n > 4 {
		t.Errorf("Produce v9 decode: %v allocations, want ≤ 4", n)
	}
	h, body = benchFetch(t)
	// request, topics, and per topic its name and partitions
	if n := testing.AllocsPerRun(100, func() { _, _ = kafkacodec.DecodeRequest(h, body) }); n > 2+2*4 {
		t.Errorf("Fetch v12 decode of 4 topics: %v allocations, want ≤ 10", n)
	}
}
