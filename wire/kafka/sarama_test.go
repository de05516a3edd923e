package kafka

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// saramaConfig is sarama's default configuration at its default protocol
// version (V2_8_0_0: Produce v9, Fetch v12, flexible versions), with the
// consumer starting at the oldest offset.
func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "sarama-test"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	return cfg
}

// groupHandler counts the records a sarama group member consumes and marks
// them, so their offsets are committed.
type groupHandler struct {
	mu   sync.Mutex
	seen map[string]bool
	done chan struct{}
	want int
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		s.MarkMessage(m, "")
		h.mu.Lock()
		h.seen[fmt.Sprintf("%d/%d", m.Partition, m.Offset)] = true
		if len(h.seen) == h.want {
			close(h.done)
		}
		h.mu.Unlock()
	}
	return nil
}

// sarama's producer and consumer group (range assignor, offsets committed
// through OffsetCommit v8) read back what they wrote.
func TestSaramaProduceAndConsumerGroup(t *testing.T) {
	st := newStack(t, stackOptions{noMirror: true, kafka: fastGroups})
	st.createTopic("sarama", 2)
	cfg := saramaConfig()
	prod, err := sarama.NewSyncProducer([]string{st.kafkaAddr()}, cfg)
	if err != nil {
		t.Fatalf("sarama producer: %v", err)
	}
	defer prod.Close()
	for i := range 50 {
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "sarama",
			Key: sarama.StringEncoder(fmt.Sprint(i % 5)), Value: sarama.StringEncoder(fmt.Sprint(i))}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	group, err := sarama.NewConsumerGroup([]string{st.kafkaAddr()}, "sarama-group", cfg)
	if err != nil {
		t.Fatalf("sarama consumer group: %v", err)
	}
	defer group.Close()
	h := &groupHandler{seen: map[string]bool{}, done: make(chan struct{}), want: 50}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if err := group.Consume(ctx, []string{"sarama"}, h); err != nil && ctx.Err() == nil {
				t.Logf("consume: %v", err)
			}
		}
	}()
	select {
	case <-h.done:
	case <-ctx.Done():
		t.Fatalf("the group consumed %d of 50 records", len(h.seen))
	}
}
