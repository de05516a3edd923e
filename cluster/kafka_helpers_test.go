package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
)

// kafkaStack is a real one-node store, its node and the Kafka side on it.
type kafkaStack struct {
	*testStack
	kafka *Kafka
}

func newKafkaStack(t *testing.T, cfg KafkaConfig) *kafkaStack {
	t.Helper()
	st := newStack(t)
	if cfg.Groups.InitialRebalanceDelay == 0 {
		cfg.Groups.InitialRebalanceDelay = -1
	}
	k, err := NewKafka(st.node, cfg)
	if err != nil {
		t.Fatalf("NewKafka: %v", err)
	}
	t.Cleanup(k.Close) // runs before the stack's close
	return &kafkaStack{testStack: st, kafka: k}
}

// handle sends req at version v and returns the response as T.
func handle[T kmsg.Response](t *testing.T, k *Kafka, v int16, req kmsg.Request) T {
	t.Helper()
	req.SetVersion(v)
	resp, err := k.Handle(context.Background(), req)
	if err != nil {
		t.Fatalf("Handle(key %d v%d): %v", req.Key(), v, err)
	}
	r, ok := resp.(T)
	if !ok {
		t.Fatalf("Handle(key %d v%d) answered %T", req.Key(), v, resp)
	}
	if r.GetVersion() != v {
		t.Fatalf("response version %d, want %d", r.GetVersion(), v)
	}
	return r
}

// createTopic creates a topic through CreateTopics and checks it worked.
func (ks *kafkaStack) createTopic(name string, partitions int32, configs ...string) kmsg.CreateTopicsResponseTopic {
	ks.t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, -1
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = configs[i], kmsg.StringPtr(configs[i+1])
		rt.Configs = append(rt.Configs, c)
	}
	req.Topics = []kmsg.CreateTopicsRequestTopic{rt}
	req.TimeoutMillis = 10000
	resp := handle[*kmsg.CreateTopicsResponse](ks.t, ks.kafka, 7, req)
	if got := resp.Topics[0].ErrorCode; got != 0 {
		ks.t.Fatalf("create topic %q: %v", name, kerr.ErrorForCode(got))
	}
	return resp.Topics[0]
}

// batch builds one uncompressed batch of values (keys "k0", "k1", …).
func batch(values ...string) []byte {
	recs := make([]kafkacodec.BuildRecord, len(values))
	for i, v := range values {
		recs[i] = kafkacodec.BuildRecord{TimestampMillis: time.Now().UnixMilli(), Key: fmt.Appendf(nil, "k%d", i), Value: []byte(v)}
	}
	return kafkacodec.AppendBatch(nil, 0, -1, recs)
}

// keyedBatch builds one batch of one record with a key.
func keyedBatch(key, value string) []byte {
	return kafkacodec.AppendBatch(nil, 0, -1, []kafkacodec.BuildRecord{
		{TimestampMillis: time.Now().UnixMilli(), Key: []byte(key), Value: []byte(value)}})
}

// idempotent makes b a batch of producer id/epoch starting at sequence
// seq, with its CRC recomputed.
func idempotent(b []byte, id int64, epoch int16, seq int32) []byte {
	binary.BigEndian.PutUint64(b[43:], uint64(id))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], kafkacodec.CRC32C(b[21:]))
	return b
}

// produceReq is a Produce of one batch per partition given, acks -1.
func produceReq(topic string, batches map[int32][]byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < int32(len(batches))+8; p++ {
		b, ok := batches[p]
		if !ok {
			continue
		}
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition, rp.Records = p, b
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = []kmsg.ProduceRequestTopic{rt}
	return req
}

// produce produces b to topic/partition and returns the partition answer.
func (ks *kafkaStack) produce(topic string, partition int32, b []byte) kmsg.ProduceResponseTopicPartition {
	ks.t.Helper()
	resp := handle[*kmsg.ProduceResponse](ks.t, ks.kafka, 9, produceReq(topic, map[int32][]byte{partition: b}))
	return resp.Topics[0].Partitions[0]
}

// fetchReq fetches one partition from offset; MinBytes 0 (no wait).
func fetchReq(topic string, partition int32, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.MaxBytes, req.MinBytes, req.MaxWaitMillis = 1<<20, 0, 0
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
	rt.Partitions = []kmsg.FetchRequestTopicPartition{rp}
	req.Topics = []kmsg.FetchRequestTopic{rt}
	return req
}

// fetchedRecord is a record read back from a fetch, with its offset.
type fetchedRecord struct {
	Offset int64
	Key    string
	Value  string
}

// records decodes the batches of a fetched partition.
func records(t *testing.T, b []byte) []fetchedRecord {
	t.Helper()
	var out []fetchedRecord
	for len(b) > 0 {
		h, err := kafkacodec.PeekBatch(b)
		if err != nil {
			t.Fatalf("peek batch: %v", err)
		}
		err = kafkacodec.ReadRecords(b[:h.Size()], 1<<20, func(r *kafkacodec.Record) error {
			out = append(out, fetchedRecord{h.BaseOffset + int64(r.OffsetDelta), string(r.Key), string(r.Value)})
			return nil
		})
		if err != nil {
			t.Fatalf("read records: %v", err)
		}
		b = b[h.Size():]
	}
	return out
}

// waitFor polls cond until it holds (10s at most).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// codeName renders an error code for messages.
func codeName(code int16) string {
	if code == 0 {
		return "NONE"
	}
	return kerr.ErrorForCode(code).Error()
}

// wantCode fails unless got is want.
func wantCode(t *testing.T, what string, got int16, want *kerr.Error) {
	t.Helper()
	var w int16
	if want != nil {
		w = want.Code
	}
	if got != w {
		t.Errorf("%s: error %s, want %s", what, codeName(got), codeName(w))
	}
}
