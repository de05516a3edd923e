package cluster

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"tributary/raftstore"
)

func deliveredReq(i int, payload int) raftstore.PublishRequest {
	return raftstore.PublishRequest{ClientID: "c", AlreadyDelivered: true,
		Message: raftstore.Message{Topic: fmt.Sprint(i), Payload: make([]byte, payload)}}
}

// Batches come out in arrival order, at most maxDeliveredBatch publishes
// or maxDeliveredBatchBytes each (a bigger message alone).
func TestDeliveredQueueBatches(t *testing.T) {
	t.Parallel()
	q := newDeliveredQueue()
	for i := range maxDeliveredBatch + 10 {
		if !q.add(deliveredReq(i, 1)) {
			t.Fatal("add refused on an open queue")
		}
	}
	first, second := q.take(), q.take()
	if len(first) != maxDeliveredBatch || len(second) != 10 || q.take() != nil {
		t.Fatalf("batches of %d and %d, want %d and 10, then none", len(first), len(second), maxDeliveredBatch)
	}
	for i, r := range append(first, second...) {
		if r.Message.Topic != fmt.Sprint(i) {
			t.Fatalf("publish %d came out as %s: order lost", i, r.Message.Topic)
		}
	}
	q.add(deliveredReq(0, maxDeliveredBatchBytes))
	q.add(deliveredReq(1, 10))
	if b := q.take(); len(b) != 1 {
		t.Fatalf("a message of maxDeliveredBatchBytes shared its batch with %d more", len(b)-1)
	}
}

// A publisher waits while maxDeliveredPending publishes wait, goes on when
// the flusher takes a batch, and is released (refused) when the queue
// closes.
func TestDeliveredQueueBackPressureAndClose(t *testing.T) {
	t.Parallel()
	q := newDeliveredQueue()
	for i := range maxDeliveredPending {
		q.add(deliveredReq(i, 1))
	}
	added := make(chan bool)
	go func() { added <- q.add(deliveredReq(-1, 1)) }()
	select {
	case <-added:
		t.Fatal("add did not wait on a full queue")
	case <-time.After(50 * time.Millisecond): // nothing asserts on time: this only gives a wrong add a chance to show
	}
	q.take()
	if !<-added {
		t.Fatal("add refused after the flusher made room")
	}
	for len(q.take()) > 0 {
	}
	for i := range maxDeliveredPending {
		q.add(deliveredReq(i, 1))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); added <- q.add(deliveredReq(-1, 1)) }()
	q.close()
	if <-added {
		t.Fatal("add accepted a publish on a closed queue")
	}
	wg.Wait()
}
