package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/cluster"
)

// newKgo returns a franz-go client of the stack with its defaults (the
// idempotent producer among them) plus opts.
func (st *stack) newKgo(opts ...kgo.Opt) *kgo.Client {
	st.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(st.kafkaAddr()), kgo.FetchMaxWait(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		st.t.Fatalf("kgo.NewClient: %v", err)
	}
	st.t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with CreateTopics, as an admin client does.
func (st *stack) createTopic(name string, partitions int32) {
	st.t.Helper()
	cl := st.newKgo()
	req := kmsg.NewPtrCreateTopicsRequest()
	topic := kmsg.NewCreateTopicsRequestTopic()
	topic.Topic, topic.NumPartitions, topic.ReplicationFactor = name, partitions, -1
	req.Topics = append(req.Topics, topic)
	resp, err := req.RequestWith(contextWithWait(st.t), cl)
	if err != nil {
		st.t.Fatalf("CreateTopics %s: %v", name, err)
	}
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		st.t.Fatalf("CreateTopics %s: %v", name, err)
	}
}

// consume reads records of topic from the start until want have arrived.
func consume(t *testing.T, cl *kgo.Client, want int) []*kgo.Record {
	t.Helper()
	ctx := contextWithWait(t)
	var got []*kgo.Record
	for len(got) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), want, ctx.Err())
		}
		for _, e := range fs.Errors() {
			t.Fatalf("fetch %s/%d: %v", e.Topic, e.Partition, e.Err)
		}
		got = append(got, fs.Records()...)
	}
	return got
}

// checkGapless asserts that each partition's records carry consecutive
// offsets from 0 and, per key, the values in the order they were produced.
func checkGapless(t *testing.T, recs []*kgo.Record) {
	t.Helper()
	next := map[int32]int64{}
	lastByKey := map[string]int{}
	for _, r := range recs {
		if r.Offset != next[r.Partition] {
			t.Fatalf("partition %d: offset %d, want %d", r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
		var seq int
		if _, err := fmt.Sscanf(string(r.Value), "v%d", &seq); err != nil {
			t.Fatalf("value %q: %v", r.Value, err)
		}
		if last, ok := lastByKey[string(r.Key)]; ok && seq <= last {
			t.Fatalf("key %s: value %d after %d", r.Key, seq, last)
		}
		lastByKey[string(r.Key)] = seq
	}
}

func produceN(t *testing.T, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	recs := make([]*kgo.Record, 0, n)
	for i := from; i < from+n; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%16), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := cl.ProduceSync(contextWithWait(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// kgo's default producer is idempotent (InitProducerId and sequence
// numbers per partition); every record it acknowledges is read back once,
// in order, at gapless offsets.
func TestKgoIdempotentProduceAndConsume(t *testing.T) {
	st := newStack(t, stackOptions{noMirror: true})
	st.createTopic("orders", 3)
	produceN(t, st.newKgo(), "orders", 0, 1000)
	recs := consume(t, st.newKgo(kgo.ConsumeTopics("orders")), 1000)
	if len(recs) != 1000 {
		t.Fatalf("read %d records, want 1000", len(recs))
	}
	checkGapless(t, recs)
}

// Two consumers of one group, each on its own connection, share the
// partitions once the group is stable, and a member that joins later
// resumes from the committed offsets instead of reading from the start.
func TestKgoConsumerGroup(t *testing.T) {
	st := newStack(t, stackOptions{noMirror: true, kafka: fastGroups})
	st.createTopic("events", 4)

	seen := make(chan *kgo.Record, 1000)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	members := make([]*kgo.Client, 2)
	var counts [2]atomic.Int64
	for i := range members {
		members[i] = st.newKgo(kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("events"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				fs := members[i].PollFetches(ctx)
				fs.EachRecord(func(r *kgo.Record) { counts[i].Add(1); seen <- r })
			}
		}()
	}
	st.waitGroupStable(t, "g1", 2)
	produceN(t, st.newKgo(), "events", 0, 400)
	distinct := map[string]bool{}
	for len(distinct) < 400 {
		select {
		case r := <-seen:
			distinct[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = true
		case <-ctx.Done():
			t.Fatalf("group read %d distinct records of 400", len(distinct))
		}
	}
	if counts[0].Load() == 0 || counts[1].Load() == 0 {
		t.Errorf("records per member: %d and %d; a stable group of two shares its four partitions",
			counts[0].Load(), counts[1].Load())
	}
	for _, m := range members {
		if err := m.CommitUncommittedOffsets(contextWithWait(t)); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	cancel()
	wg.Wait()
	for _, m := range members {
		m.Close()
	}

	produceN(t, st.newKgo(), "events", 400, 20)
	late := st.newKgo(kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("events"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	recs := consume(t, late, 20)
	for _, r := range recs {
		var seq int
		fmt.Sscanf(string(r.Value), "v%d", &seq)
		if seq < 400 {
			t.Fatalf("a member joining later read v%d again: committed offsets were not used", seq)
		}
	}
}

// waitGroupStable polls DescribeGroups until group is Stable with members
// members that each have partitions assigned (kgo's cooperative-sticky
// balancer moves partitions in two rebalances), each shown with kgo's
// client id and its host.
func (st *stack) waitGroupStable(t *testing.T, group string, members int) {
	t.Helper()
	cl := st.newKgo()
	deadline := time.Now().Add(waitFor)
	for {
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.Groups = []string{group}
		resp, err := req.RequestWith(contextWithWait(t), cl)
		if err != nil {
			t.Fatalf("DescribeGroups: %v", err)
		}
		g := resp.Groups[0]
		if g.State == "Stable" && len(g.Members) == members && allAssigned(g.Members) {
			for _, m := range g.Members {
				if m.ClientID != "kgo" || !strings.Contains(m.ClientHost, "127.0.0.1") {
					t.Errorf("member %s: client id %q host %q, want kgo from 127.0.0.1", m.MemberID, m.ClientID, m.ClientHost)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: state %q with %d members, want Stable with %d", group, g.State, len(g.Members), members)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// allAssigned reports whether every member has at least one partition.
func allAssigned(ms []kmsg.DescribeGroupsResponseGroupMember) bool {
	for _, m := range ms {
		var a kmsg.ConsumerMemberAssignment
		if err := a.ReadFrom(m.MemberAssignment); err != nil || len(a.Topics) == 0 || len(a.Topics[0].Partitions) == 0 {
			return false
		}
	}
	return true
}

// fastGroups makes a new group's first rebalance start at once, so group
// tests do not wait Kafka's 3 s initial delay.
func fastGroups(c *cluster.KafkaConfig) { c.Groups.InitialRebalanceDelay = -1 }

// The records a producer acknowledged reach an admin's ListOffsets view:
// latest = high watermark, earliest = 0.
func TestKgoListOffsets(t *testing.T) {
	st := newStack(t, stackOptions{noMirror: true})
	st.createTopic("lo", 1)
	produceN(t, st.newKgo(), "lo", 0, 10)
	cl := st.newKgo()
	for _, c := range []struct{ ts, want int64 }{{-1, 10}, {-2, 0}} {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "lo"
		p := kmsg.NewListOffsetsRequestTopicPartition()
		p.Timestamp = c.ts
		rt.Partitions = append(rt.Partitions, p)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(contextWithWait(t), cl)
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Topics[0].Partitions[0]
		if err := kerr.ErrorForCode(got.ErrorCode); err != nil || got.Offset != c.want {
			t.Errorf("timestamp %d: offset %d (%v), want %d", c.ts, got.Offset, err, c.want)
		}
	}
}

// A produce to a topic that does not exist fails with
// UNKNOWN_TOPIC_OR_PARTITION; auto-creation is off by default.
func TestKgoProduceUnknownTopic(t *testing.T) {
	st := newStack(t, stackOptions{noMirror: true})
	cl := st.newKgo(kgo.RecordRetries(1), kgo.RecordDeliveryTimeout(2*time.Second))
	err := cl.ProduceSync(contextWithWait(t), &kgo.Record{Topic: "nope", Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("produce to a missing topic: %v, want UNKNOWN_TOPIC_OR_PARTITION", err)
	}
}
