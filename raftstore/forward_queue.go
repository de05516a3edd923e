package raftstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// forwardQueue packs the commands a follower forwards into batches, the
// way the proposer packs commands into entries: one goroutine (run) takes
// what is queued, up to MaxEntryBytes and maxForwardBatch commands, and
// hands it to the Forwarder as one request. At most MaxInflightEntries
// batches are out unanswered; while they are, the queue grows, so the
// batches grow with load and a lone command leaves at once. One request
// per command cost the leader and the follower a fifth of their CPU each
// under a QoS 1 load (a context, a timer, a frame and an answer per
// command).
//
// Commands leave in the order they were queued, and the Forwarder keeps
// the order of its requests, so the leader proposes a follower's commands
// in the order its callers proposed them. A command sent again after
// ErrNotLeader is queued again behind what came meanwhile.
type forwardQueue struct {
	s     *Store
	queue chan *forwardRequest
	slots chan struct{} // a token per batch out
}

// maxForwardBatch bounds the commands of one batch, so that a batch of
// tiny commands still answers its first callers soon.
const maxForwardBatch = 4096

// forwardRequest is one command waiting to be forwarded.
type forwardRequest struct {
	ctx     context.Context
	cmd     Command
	size    int
	attempt int
	done    func([]byte, error)
}

func newForwardQueue(s *Store) *forwardQueue {
	return &forwardQueue{
		s:     s,
		queue: make(chan *forwardRequest, s.cfg.MaxPendingProposals),
		slots: make(chan struct{}, s.cfg.MaxInflightEntries),
	}
}

// forward queues cmd for the leader. It waits (within ctx) only while the
// queue is full. done gets apply's answer once this node has applied the
// entry, or the error.
func (s *Store) forward(ctx context.Context, cmd Command, done func([]byte, error)) error {
	size := cmd.encodedLen()
	if size > s.cfg.MaxCommandBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrCommandTooLarge, size, s.cfg.MaxCommandBytes)
	}
	return s.forwards.enqueue(&forwardRequest{ctx: ctx, cmd: cmd, size: size, attempt: 1, done: done})
}

func (q *forwardQueue) enqueue(r *forwardRequest) error {
	select {
	case q.queue <- r:
		return nil
	case <-q.s.stopBg:
		return ErrClosed
	case <-r.ctx.Done():
		return fmt.Errorf("raftstore: forward queue full: %w", r.ctx.Err())
	}
}

// run sends batches until stop is closed; then it fails what is queued
// with ErrClosed. Batches out get their answers from the Forwarder (whose
// transport closes with the node) and the applied-index waiters.
func (q *forwardQueue) run(stop <-chan struct{}) {
	var carry *forwardRequest
	for {
		select {
		case q.slots <- struct{}{}:
		case <-stop:
			q.failQueued(carry)
			return
		}
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-q.queue:
			case <-stop:
				q.failQueued(nil)
				return
			}
		}
		batch, size := []*forwardRequest{first}, first.size
	fill:
		for len(batch) < maxForwardBatch {
			select {
			case r := <-q.queue:
				if size+r.size > q.s.cfg.MaxEntryBytes {
					carry = r
					break fill
				}
				batch, size = append(batch, r), size+r.size
			default:
				break fill
			}
		}
		q.send(batch)
	}
}

func (q *forwardQueue) failQueued(carry *forwardRequest) {
	if carry != nil {
		carry.done(nil, ErrClosed)
	}
	for {
		select {
		case r := <-q.queue:
			r.done(nil, ErrClosed)
		default:
			return
		}
	}
}

// release frees the slot of a batch that got its answer.
func (q *forwardQueue) release() { <-q.slots }

// send hands one batch to the leader, or to this node's proposer if it
// has become the leader meanwhile. Requests whose context ended are
// answered without being sent.
func (q *forwardQueue) send(batch []*forwardRequest) {
	live := batch[:0]
	var deadline time.Time
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done(nil, fmt.Errorf("%w: not forwarded: %w", ErrNotLeader, err))
			continue
		}
		if d, ok := r.ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
			deadline = d
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		q.release()
		return
	}
	// The batch lives as long as its most impatient command; without any
	// deadline the Forwarder applies its own timeout.
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if !deadline.IsZero() {
		ctx, cancel = context.WithDeadline(ctx, deadline)
	}
	addr, id, err := q.s.waitLeader(ctx)
	if err != nil {
		cancel()
		q.release()
		q.settle(live, nil, err)
		return
	}
	if id == q.s.cfg.NodeID {
		cancel()
		q.release()
		for _, r := range live {
			done := r.done
			if err := q.s.proposer.submit(r.ctx, r.cmd, func(_ uint64, v []byte, err error) { done(v, err) }); err != nil {
				done(nil, err)
			}
		}
		return
	}
	f := q.s.forwarder.Load()
	cmds := make([]Command, len(live))
	for i, r := range live {
		cmds[i] = r.cmd
	}
	err = (*f).Forward(ctx, id, addr, cmds, func(outs []Outcome, err error) {
		cancel()
		q.release()
		if err == nil && len(outs) != len(live) {
			err = fmt.Errorf("%w: the leader answered %d outcomes for %d commands", ErrOutcomeUnknown, len(outs), len(live))
		}
		q.settle(live, outs, err)
	})
	if err != nil {
		cancel()
		q.release()
		q.settle(live, nil, err)
	}
}

// settle answers a batch's requests: those the leader committed once this
// node has applied them (one waiter for the batch), those it did not take
// by sending them again, the rest with their error. With err set, the
// whole batch failed with it.
func (q *forwardQueue) settle(batch []*forwardRequest, outs []Outcome, err error) {
	var committed []int
	var last uint64
	for i, r := range batch {
		o := Outcome{Err: err}
		if err == nil {
			o = outs[i]
		}
		var rej *RejectedError
		switch {
		case err == nil && (o.Err == nil || errors.As(o.Err, &rej)):
			committed = append(committed, i)
			last = max(last, o.Index)
		case errors.Is(o.Err, ErrNotLeader):
			q.retry(r, o.Err)
		default:
			r.done(nil, o.Err)
		}
	}
	if len(committed) == 0 {
		return
	}
	q.s.waiters.add(last, func(werr error) {
		for _, i := range committed {
			if werr != nil {
				batch[i].done(nil, fmt.Errorf("raftstore: committed at %d, not applied here: %w", outs[i].Index, werr))
				continue
			}
			batch[i].done(outs[i].Value, outs[i].Err)
		}
	})
}

// retry queues r again once an election had time to settle: the leader
// it reached had moved or was gone, and nothing was written.
func (q *forwardQueue) retry(r *forwardRequest, cause error) {
	if r.attempt >= maxForwardAttempts || r.ctx.Err() != nil {
		r.done(nil, cause)
		return
	}
	go func() {
		select {
		case <-r.ctx.Done():
			r.done(nil, fmt.Errorf("%w: %w", cause, r.ctx.Err()))
			return
		case <-q.s.stopBg:
			r.done(nil, ErrClosed)
			return
		case <-time.After(forwardBackoff(r.attempt, q.s.cfg.ElectionTimeout)):
		}
		r.attempt++
		if err := q.enqueue(r); err != nil {
			r.done(nil, err)
		}
	}()
}
