package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func newKgo(t *testing.T, n *testNode, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(n.kafkaAddr), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func kafkaContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), kafkaToolWithin)
	t.Cleanup(cancel)
	return ctx
}

// committedOffsets asks OffsetFetch for a group's offsets of one topic.
func committedOffsets(t *testing.T, cl *kgo.Client, group, topic string, partitions int32) []int64 {
	t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	for p := range partitions {
		rt.Partitions = append(rt.Partitions, p)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(kafkaContext(t), cl)
	if err != nil {
		t.Fatalf("OffsetFetch: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("OffsetFetch: %v", err)
	}
	out := make([]int64, partitions)
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			out[p.Partition] = p.Offset
		}
	}
	return out
}

// TestKafkaStateSurvivesKill9: topics, acknowledged records (produced by
// kgo and mirrored from MQTT) and a group's committed offsets are all
// there after kill -9 and a restart, and producing continues at the next
// offset.
func TestKafkaStateSurvivesKill9(t *testing.T) {
	requireMosquittoClients(t)
	bin := buildBinary(t)
	n := startNode(t, bin)
	cl := newKgo(t, n)
	create := kmsg.NewPtrCreateTopicsRequest()
	ct := kmsg.NewCreateTopicsRequestTopic()
	ct.Topic, ct.NumPartitions, ct.ReplicationFactor = "durable", 2, 1
	create.Topics = append(create.Topics, ct)
	if resp, err := create.RequestWith(kafkaContext(t), cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("CreateTopics: %v %+v", err, resp)
	}
	var recs []*kgo.Record
	for i := range 300 {
		recs = append(recs, &kgo.Record{Topic: "durable", Key: fmt.Appendf(nil, "k%d", i%5), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := cl.ProduceSync(kafkaContext(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	n.mosq(t, "mosquitto_pub", "-t", "plant/1/state", "-m", "running", "-q", "1")

	group := newKgo(t, n, kgo.ConsumerGroup("durable-group"), kgo.ConsumeTopics("durable"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	read := 0
	for read < 300 {
		fs := group.PollFetches(kafkaContext(t))
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("fetch: %v", errs)
		}
		read += fs.NumRecords()
	}
	if err := group.CommitUncommittedOffsets(kafkaContext(t)); err != nil {
		t.Fatalf("commit: %v", err)
	}
	before := committedOffsets(t, cl, "durable-group", "durable", 2)
	group.Close()

	n.kill9(t)
	n.restart(t)

	cl2 := newKgo(t, n)
	after := committedOffsets(t, cl2, "durable-group", "durable", 2)
	if before[0]+before[1] != 300 || after[0] != before[0] || after[1] != before[1] {
		t.Fatalf("committed offsets before the kill %v, after %v; want equal, summing to 300", before, after)
	}
	again := newKgo(t, n, kgo.ConsumeTopics("durable"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	next := map[int32]int64{}
	for total := 0; total < 300; {
		fs := again.PollFetches(kafkaContext(t))
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != next[r.Partition] {
				t.Fatalf("after restart, partition %d offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
			}
			next[r.Partition]++
			total++
		})
	}
	mirror := newKgo(t, n, kgo.ConsumeTopics("mqtt"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := mirror.PollFetches(kafkaContext(t))
	if fs.NumRecords() != 1 || string(fs.Records()[0].Value) != "running" {
		t.Fatalf("mirror topic after restart: %d records, want the one MQTT publish", fs.NumRecords())
	}
	res := cl2.ProduceSync(kafkaContext(t), &kgo.Record{Topic: "durable", Key: []byte("k0"), Value: []byte("late")})
	if err := res.FirstErr(); err != nil {
		t.Fatalf("produce after restart: %v", err)
	}
	if r := res[0].Record; r.Offset != next[r.Partition] {
		t.Fatalf("produce after restart got offset %d in partition %d, want %d", r.Offset, r.Partition, next[r.Partition])
	}
	n.p.stop(t)
}
