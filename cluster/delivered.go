package cluster

import (
	"sync"

	"tributary/raftstore"
)

// The QoS 0 publishes a node delivers from memory but must still store —
// their Kafka records, their retained copies — go to the log in batches:
// one command per message cost the proposer a queue slot, a completion and
// a decode at apply each, which at QoS 0 rates was most of the publish
// path's CPU. Batching adapts to the load without a timer: the flusher
// proposes whatever gathered while it was busy with the previous batch,
// so a lone message leaves at once and a flood leaves in large batches.
// Order is kept: one flusher, batches in arrival order.

const (
	// maxDeliveredBatch and maxDeliveredBatchBytes bound one batch command
	// (raftstore.MaxPublishBatch is the hard limit).
	maxDeliveredBatch      = 1024
	maxDeliveredBatchBytes = 1 << 20
	// maxDeliveredPending is how many publishes may wait for the flusher;
	// past it publishers wait, slowing QoS 0 down to what the log takes
	// instead of dropping records.
	maxDeliveredPending = 4 * maxDeliveredBatch
)

// deliveredQueue gathers publishes for the flusher. Its zero value is not
// usable; see newDeliveredQueue.
type deliveredQueue struct {
	mu      sync.Mutex
	room    *sync.Cond // signalled when pending shrinks or the queue closes
	pending []raftstore.PublishRequest
	closed  bool
	work    chan struct{} // one token: the flusher has something to do
}

func newDeliveredQueue() *deliveredQueue {
	q := &deliveredQueue{work: make(chan struct{}, 1)}
	q.room = sync.NewCond(&q.mu)
	return q
}

// add queues r, waiting while maxDeliveredPending publishes wait already;
// it returns false once the queue is closed.
func (q *deliveredQueue) add(r raftstore.PublishRequest) bool {
	q.mu.Lock()
	for len(q.pending) >= maxDeliveredPending && !q.closed {
		q.room.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.pending = append(q.pending, r)
	q.mu.Unlock()
	select {
	case q.work <- struct{}{}:
	default: // the flusher is already due to look
	}
	return true
}

// take removes the next batch, or returns nil when nothing waits.
func (q *deliveredQueue) take() []raftstore.PublishRequest {
	q.mu.Lock()
	defer q.mu.Unlock()
	n, size := 0, 0
	for n < len(q.pending) && n < maxDeliveredBatch {
		m := &q.pending[n].Message
		size += len(m.Topic) + len(m.Payload) + len(m.Properties) + len(q.pending[n].ClientID)
		if n > 0 && size > maxDeliveredBatchBytes {
			break
		}
		n++
	}
	if n == 0 {
		return nil
	}
	batch := make([]raftstore.PublishRequest, n)
	copy(batch, q.pending[:n])
	rest := copy(q.pending, q.pending[n:])
	clear(q.pending[rest:])
	q.pending = q.pending[:rest]
	q.room.Broadcast()
	return batch
}

// close wakes every waiting publisher; later adds fail.
func (q *deliveredQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.room.Broadcast()
	q.mu.Unlock()
}

// flushDelivered proposes the delivered publishes in batches until the
// node closes. Proposing waits while the proposer's queue is full, which
// is when batches grow.
func (n *Node) flushDelivered() {
	defer n.bg.Done()
	for {
		select {
		case <-n.stop:
			n.delivered.close()
			return
		case <-n.delivered.work:
		}
		for batch := n.delivered.take(); batch != nil; batch = n.delivered.take() {
			size := len(batch)
			if err := n.store.PublishBatchAsync(n.life, batch, func(err error) {
				if err != nil {
					n.log.Warn("QoS 0 messages not stored", "messages", size, "err", err)
				}
			}); err != nil {
				n.log.Warn("QoS 0 messages not stored", "messages", size, "err", err)
			}
		}
	}
}
