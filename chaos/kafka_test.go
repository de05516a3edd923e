package chaos

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// committedOffsets reads the group's committed offsets of topic through
// client (kgo sends OffsetFetch to the group's coordinator).
func committedOffsets(ctx context.Context, client *kgo.Client, group, topic string) (map[int32]int64, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = group
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic = topic
	rt.Partitions = []int32{0, 1, 2, 3}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return nil, err
	}
	if resp.ErrorCode != 0 {
		return nil, fmt.Errorf("OffsetFetch error %d", resp.ErrorCode)
	}
	out := make(map[int32]int64)
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if p.ErrorCode != 0 {
				return nil, fmt.Errorf("OffsetFetch partition %d error %d", p.Partition, p.ErrorCode)
			}
			out[p.Partition] = p.Offset
		}
	}
	return out, nil
}

// coordinatorOf returns the broker id coordinating group.
func coordinatorOf(ctx context.Context, client *kgo.Client, group string) (int32, error) {
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	req.CoordinatorKeys = []string{group}
	resp, err := req.RequestWith(ctx, client)
	if err != nil {
		return 0, err
	}
	if len(resp.Coordinators) > 0 {
		c := resp.Coordinators[0]
		if c.ErrorCode != 0 {
			return 0, fmt.Errorf("FindCoordinator error %d", c.ErrorCode)
		}
		return c.NodeID, nil
	}
	if resp.ErrorCode != 0 {
		return 0, fmt.Errorf("FindCoordinator error %d", resp.ErrorCode)
	}
	return resp.NodeID, nil
}

// TestKafkaGroupSurvivesNodeDeath runs a kgo consumer group of two, each
// consumer bootstrapped from a different node, on the mirror topic `mqtt`
// while MQTT publishers feed it through HAProxy, and kills the node that
// coordinates the group: the group moves to another coordinator, the
// consumers go on without resetting, every acknowledged MQTT message is
// consumed, and the committed offsets are not lost.
func TestKafkaGroupSurvivesNodeDeath(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nodes := c.Nodes()
	const group = "chaos-group"

	var (
		mu   sync.Mutex
		seen = make(map[string]int)
	)
	consumer := func(seed string) *kgo.Client {
		cl, err := kgo.NewClient(
			kgo.SeedBrokers(seed),
			kgo.ConsumerGroup(group),
			kgo.ConsumeTopics("mqtt"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.AutoCommitInterval(300*time.Millisecond),
			kgo.FetchMaxWait(500*time.Millisecond),
		)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				fs := cl.PollFetches(ctx)
				if fs.IsClientClosed() || ctx.Err() != nil {
					return
				}
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					seen[string(r.Value)]++
					mu.Unlock()
				})
			}
		}()
		return cl
	}
	a := consumer(nodes[0].Ports.Kafka)
	defer a.Close()
	b := consumer(nodes[1].Ports.Kafka)
	defer b.Close()

	var acks atomic.Int64
	stop := make(chan struct{})
	wait := runPublishers(ctx, []string{c.MQTTAddr}, "kafka", []byte{1, 1, 1, 1}, stop, &acks)
	waitAcks(t, &acks, 200, time.Minute)

	admin, err := kgo.NewClient(kgo.SeedBrokers(nodes[0].Ports.Kafka, nodes[1].Ports.Kafka, nodes[2].Ports.Kafka))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var before map[int32]int64
	deadline := time.Now().Add(time.Minute)
	for {
		before, err = committedOffsets(ctx, admin, group, "mqtt")
		total := int64(0)
		for _, o := range before {
			if o > 0 {
				total += o
			}
		}
		if err == nil && total > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group committed nothing: %v %v", before, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	coord, err := coordinatorOf(ctx, admin, group)
	if err != nil {
		t.Fatal(err)
	}
	var victim *Node
	ms, err := c.Members(ctx, nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.BrokerID == coord {
			victim = c.Node(m.ID)
		}
	}
	if victim == nil {
		t.Fatalf("coordinator broker %d is no member: %+v", coord, ms)
	}
	killed := time.Now()
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	waitAcks(t, &acks, acks.Load()+200, time.Minute)
	close(stop)
	var acked []string
	for _, p := range wait() {
		acked = append(acked, p.ackedPayloads()...)
	}
	deadline = time.Now().Add(time.Minute)
	for {
		missing := 0
		mu.Lock()
		for _, m := range acked {
			if seen[m] == 0 {
				missing++
			}
		}
		mu.Unlock()
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acknowledged MQTT messages never reached the consumer group", missing, len(acked))
		}
		time.Sleep(100 * time.Millisecond)
	}
	consumedAll := time.Since(killed)
	newCoord, err := coordinatorOf(ctx, admin, group)
	if err != nil {
		t.Fatal(err)
	}
	if newCoord == coord {
		t.Errorf("the group is still coordinated by the dead broker %d", coord)
	}
	// The group keeps committing at its new coordinator: the committed
	// offsets never go back, and they reach past every acknowledged
	// message (the topic holds only this test's messages, some twice).
	var after map[int32]int64
	deadline = time.Now().Add(30 * time.Second)
	for {
		after, err = committedOffsets(ctx, admin, group, "mqtt")
		ok := err == nil
		total := int64(0)
		for p, o := range after {
			if o < before[p] {
				t.Fatalf("committed offset of partition %d went back: %d before the kill, %d after", p, before[p], o)
			}
			if o > 0 {
				total += o
			}
		}
		if ok && total >= int64(len(acked)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group's commits stopped: committed %v (total %d) for %d acknowledged messages (%v)", after, total, len(acked), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	dups := 0
	mu.Lock()
	for _, m := range acked {
		dups += seen[m] - 1
	}
	mu.Unlock()
	t.Logf("RESULT kafka-group: coordinator broker %d (%s) killed, group moved to broker %d; %d acknowledged messages consumed (%d seen twice); all consumed %v after the kill; committed before %v, after %v",
		coord, victim.ID, newCoord, len(acked), dups, consumedAll.Round(time.Millisecond), before, after)
}
