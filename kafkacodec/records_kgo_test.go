package kafkacodec

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestReadRecordsKgoProducedBatches produces with a real client (kgo,
// idempotent, every codec) to kfake, captures the Produce requests' raw
// batches, and reads them back with ParseBatch and ReadRecords.
func TestReadRecordsKgoProducedBatches(t *testing.T) {
	// Not parallel: kfake listens on a loopback port.
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var (
		mu      sync.Mutex
		batches [][]byte
	)
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		for _, topic := range req.(*kmsg.ProduceRequest).Topics {
			for _, p := range topic.Partitions {
				batches = append(batches, slices.Clone(p.Records))
			}
		}
		return nil, nil, false // kfake handles the request as usual
	})
	for _, c := range []struct {
		codec kgo.CompressionCodec
		want  Compression
	}{
		{kgo.NoCompression(), CompressionNone},
		{kgo.GzipCompression(), CompressionGzip},
		{kgo.SnappyCompression(), CompressionSnappy},
		{kgo.Lz4Compression(), CompressionLZ4},
		{kgo.ZstdCompression(), CompressionZstd},
	} {
		mu.Lock()
		batches = nil
		mu.Unlock()
		want := produceWithKgo(t, cluster.ListenAddrs(), c.codec)
		mu.Lock()
		got := readCaptured(t, batches, c.want)
		mu.Unlock()
		if diff := diffRecords(want, got); diff != "" {
			t.Errorf("codec %d: records (-kgo produced +we read):\n%s", c.want, diff)
		}
	}
}

// produceWithKgo produces 200 records with codec and returns them as
// flatRecords (offset deltas zeroed: batching is kgo's choice).
func produceWithKgo(t *testing.T, addrs []string, codec kgo.CompressionCodec) []flatRecord {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.DefaultProduceTopic("t"),
		kgo.ProducerBatchCompression(codec), kgo.ProducerLinger(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var (
		recs []*kgo.Record
		want []flatRecord
	)
	for i := range 200 {
		r := &kgo.Record{
			Key:       []byte(fmt.Sprintf("devices/d-%d/telemetry", i%7)),
			Value:     bytes.Repeat([]byte(fmt.Sprintf(`{"seq":%d}`, i)), 1+i%30),
			Timestamp: time.UnixMilli(1700000000000 + int64(i)),
			Headers:   []kgo.RecordHeader{{Key: "qos", Value: []byte{byte(i % 3)}}, {Key: "retain"}},
		}
		if i%10 == 0 {
			r.Key = nil
		}
		recs = append(recs, r)
		f := flatRecord{Timestamp: r.Timestamp.UnixMilli(), Key: r.Key, Value: r.Value}
		for _, h := range r.Headers {
			f.Headers = append(f.Headers, RecordHeader{Key: h.Key, Value: h.Value})
		}
		want = append(want, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return want
}

// readCaptured parses and reads every captured batch.
func readCaptured(t *testing.T, batches [][]byte, codec Compression) []flatRecord {
	t.Helper()
	var got []flatRecord
	for i, b := range batches {
		h, err := ParseBatch(b)
		if err != nil {
			t.Fatalf("batch %d: ParseBatch: %v", i, err)
		}
		if h.Compression() != codec || h.ProducerID < 0 {
			t.Errorf("batch %d: codec %d producer id %d, want codec %d from an idempotent producer",
				i, h.Compression(), h.ProducerID, codec)
		}
		if codec == CompressionSnappy {
			t.Logf("batch %d: snappy, xerial framing %v", i, bytes.HasPrefix(b[BatchHeaderBytes:], xerialMagic))
		}
		recs, err := readAllRecords(b, 4<<20)
		if err != nil {
			t.Fatalf("batch %d: ReadRecords: %v", i, err)
		}
		for _, r := range recs {
			r.OffsetDelta = 0
			got = append(got, r)
		}
	}
	return got
}
