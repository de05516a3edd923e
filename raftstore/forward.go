package raftstore

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Forwarder carries a command to the raft leader when this node is not it.
// Package cluster implements it over its RPC transport (DESIGN.md: cluster
// forwards proposals; raftstore never opens a socket).
type Forwarder interface {
	// Forward sends cmd to the leader known by leaderID and leaderAddr
	// (its raft address) and calls done exactly once, on any goroutine,
	// with the raft index of the entry that carried the command and
	// apply's value or *RejectedError, or with an error saying it was
	// not (ErrNotLeader: nothing was written, retry) or may not have been
	// committed. If Forward returns an error, done is not called. done
	// must not block.
	Forward(ctx context.Context, leaderID, leaderAddr string, cmd Command, done func(index uint64, value []byte, err error)) error
}

// SetForwarder makes ProposeAsync (and so every proposing method) on a
// follower hand its command to f instead of failing with ErrNotLeader. The
// answer reaches the caller only once this node has applied the entry
// itself, so a caller reads its own writes on any node.
func (s *Store) SetForwarder(f Forwarder) {
	s.forwarder.Store(&f)
}

// maxForwardAttempts bounds how often a forwarded command is sent again
// after a leader answered ErrNotLeader (leadership moved meanwhile).
const maxForwardAttempts = 5

// forward sends cmd to the leader through f. It waits (within ctx) for a
// leader to be known, and sends again when the leader it reached was no
// longer the leader, since ErrNotLeader means nothing was written.
func (s *Store) forward(ctx context.Context, f Forwarder, cmd Command, done func([]byte, error)) error {
	if size := cmd.encodedLen(); size > s.cfg.MaxCommandBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrCommandTooLarge, size, s.cfg.MaxCommandBytes)
	}
	return s.forwardAttempt(ctx, f, cmd, done, 1)
}

func (s *Store) forwardAttempt(ctx context.Context, f Forwarder, cmd Command, done func([]byte, error), attempt int) error {
	addr, id, err := s.waitLeader(ctx)
	if err != nil {
		return err
	}
	if id == s.cfg.NodeID {
		return s.proposer.submit(ctx, cmd, func(_ uint64, v []byte, err error) { done(v, err) })
	}
	return f.Forward(ctx, id, addr, cmd, func(index uint64, value []byte, err error) {
		var rej *RejectedError
		switch {
		case err == nil || errors.As(err, &rej):
			s.waiters.add(index, func(werr error) {
				if werr != nil {
					done(nil, fmt.Errorf("raftstore: committed at %d, not applied here: %w", index, werr))
					return
				}
				done(value, err)
			})
		case errors.Is(err, ErrNotLeader) && attempt < maxForwardAttempts && ctx.Err() == nil:
			// The leader moved or is gone: nothing was written, so send it
			// again once an election had time to settle.
			go func() {
				select {
				case <-ctx.Done():
					done(nil, fmt.Errorf("%w: %w", err, ctx.Err()))
					return
				case <-s.stopBg:
					done(nil, ErrClosed)
					return
				case <-time.After(forwardBackoff(attempt, s.cfg.ElectionTimeout)):
				}
				if ferr := s.forwardAttempt(ctx, f, cmd, done, attempt+1); ferr != nil {
					done(nil, ferr)
				}
			}()
		default:
			done(nil, err)
		}
	})
}

// forwardBackoff is the pause before forwarding attempt+1: growing, so the
// attempts span about two election timeouts in all.
func forwardBackoff(attempt int, election time.Duration) time.Duration {
	return time.Duration(attempt) * election / 5
}

// leaderPoll is how often waitLeader looks for a leader while there is
// none (an election is under way).
const leaderPoll = 20 * time.Millisecond

// waitLeader returns the leader's raft address and ID, waiting within ctx
// (and at most a few election timeouts) while an election is under way.
func (s *Store) waitLeader(ctx context.Context) (addr, id string, err error) {
	deadline := time.Now().Add(5 * s.cfg.ElectionTimeout)
	for {
		if addr, id = s.Leader(); id != "" {
			return addr, id, nil
		}
		if time.Now().After(deadline) {
			return "", "", fmt.Errorf("%w: no leader elected", ErrNotLeader)
		}
		select {
		case <-ctx.Done():
			return "", "", fmt.Errorf("%w: waiting for a leader: %w", ErrNotLeader, ctx.Err())
		case <-s.stopBg:
			return "", "", ErrClosed
		case <-time.After(leaderPoll):
		}
	}
}

// ProposeForwarded is the leader's side of Forwarder: it queues a command
// another node forwarded, and calls done once with the entry's raft index
// and apply's answer, on the proposer's goroutine (done must not block). A
// node that is not the leader refuses with ErrNotLeader.
func (s *Store) ProposeForwarded(ctx context.Context, cmd Command, done func(index uint64, value []byte, err error)) error {
	if err := s.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if !IsKnownCommand(cmd) {
		// Never let a peer's unknown command into the log: every replica
		// would stop on it.
		return fmt.Errorf("raftstore: forwarded command %s v%d is unknown to the leader", cmd.Type, cmd.Version)
	}
	return s.proposer.submit(ctx, cmd, done)
}

// IsKnownCommand reports whether this binary can apply cmd's type and
// version.
func IsKnownCommand(cmd Command) bool {
	_, ok := commands[commandKey{cmd.Type, cmd.Version}]
	return ok
}

// WaitApplied waits until this node's state includes raft entry index.
func (s *Store) WaitApplied(ctx context.Context, index uint64) error {
	ch := make(chan error, 1)
	s.waiters.add(index, func(err error) { ch <- err })
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("raftstore: waiting for entry %d (applied %d): %w", index, s.AppliedIndex(), ctx.Err())
	}
}

// appliedWaiters runs callbacks once the applied index reaches theirs. One
// goroutine (run) calls them, woken by the state machine after each
// committed batch, so apply itself never runs a caller's code.
type appliedWaiters struct {
	applied func() uint64
	wake    chan struct{}

	mu     sync.Mutex
	queue  waiterHeap
	closed bool
}

func newAppliedWaiters(applied func() uint64) *appliedWaiters {
	return &appliedWaiters{applied: applied, wake: make(chan struct{}, 1)}
}

// signal wakes run; it never blocks.
func (w *appliedWaiters) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// add calls fn(nil) once the applied index is at least index (at once if
// it already is), or fn(ErrClosed) when the store closes first.
func (w *appliedWaiters) add(index uint64, fn func(error)) {
	if w.applied() >= index {
		fn(nil)
		return
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		fn(ErrClosed)
		return
	}
	heap.Push(&w.queue, waiter{index: index, fn: fn})
	w.mu.Unlock()
	w.signal() // the index may have moved between the check and the push
}

// run calls the due callbacks each time the applied index moves, until
// stop is closed; then it fails the rest with ErrClosed.
func (w *appliedWaiters) run(stop <-chan struct{}) {
	for {
		select {
		case <-w.wake:
			w.callDue()
		case <-stop:
			w.mu.Lock()
			w.closed = true
			rest := w.queue
			w.queue = nil
			w.mu.Unlock()
			for _, x := range rest {
				x.fn(ErrClosed)
			}
			return
		}
	}
}

func (w *appliedWaiters) callDue() {
	applied := w.applied()
	for {
		w.mu.Lock()
		if len(w.queue) == 0 || w.queue[0].index > applied {
			w.mu.Unlock()
			return
		}
		x := heap.Pop(&w.queue).(waiter)
		w.mu.Unlock()
		x.fn(nil)
	}
}

type waiter struct {
	index uint64
	fn    func(error)
}

// waiterHeap orders waiters by index, lowest first.
type waiterHeap []waiter

func (h waiterHeap) Len() int           { return len(h) }
func (h waiterHeap) Less(i, j int) bool { return h[i].index < h[j].index }
func (h waiterHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *waiterHeap) Push(x any)        { *h = append(*h, x.(waiter)) }
func (h *waiterHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = waiter{}
	*h = old[:len(old)-1]
	return x
}

// AppendCommand encodes c for a forwarding RPC (the same layout as inside
// a log entry).
func AppendCommand(dst []byte, c Command) []byte {
	dst = binary.AppendUvarint(dst, uint64(c.Type))
	dst = append(dst, c.Version)
	dst = binary.AppendUvarint(dst, uint64(len(c.Payload)))
	return append(dst, c.Payload...)
}

// ParseCommand decodes what AppendCommand wrote; the payload aliases b.
// Trailing bytes are an error.
func ParseCommand(b []byte) (Command, error) {
	c, rest, err := decodeCommand(b)
	if err != nil {
		return Command{}, err
	}
	if len(rest) != 0 {
		return Command{}, fmt.Errorf("%w: %d bytes after the command", errEntryCorrupt, len(rest))
	}
	return c, nil
}

// Outcome kinds on the wire (AppendOutcome).
const (
	outcomeOK byte = iota
	outcomeRejected
	outcomeNotLeader
	outcomeClosed
	outcomeTooLarge
	outcomeUnknown
	outcomeFailed
)

// rejectionCauses are the sentinels a *RejectedError may wrap, numbered
// for the wire: append only, never renumber.
var rejectionCauses = []error{
	nil,
	ErrSessionGone,
	ErrUnknownTopicOrPartition,
	ErrTopicExists,
	ErrInvalidTopic,
	ErrInvalidConfig,
	ErrInvalidPartitions,
	ErrOffsetOutOfRange,
	ErrInvalidRecord,
	ErrOutOfOrderSequence,
	ErrInvalidProducerEpoch,
	ErrUnknownProducerID,
	ErrInvalidMapping,
	ErrUnknownMapping,
	ErrOffsetMetadataTooLarge,
	ErrInvalidGroupID,
	ErrKVKey,
	ErrUnknownNode,
}

// AppendOutcome encodes a proposal's answer for a forwarding RPC: the raft
// index, and apply's value or the error. A *RejectedError keeps its reason
// and the sentinel it wraps, so errors.Is works on the other node; other
// errors keep their class (ErrNotLeader, ErrClosed, ErrCommandTooLarge,
// ErrOutcomeUnknown) and their text.
func AppendOutcome(dst []byte, index uint64, value []byte, err error) []byte {
	var rej *RejectedError
	switch {
	case err == nil:
		dst = append(dst, outcomeOK)
		dst = binary.AppendUvarint(dst, index)
		return append(dst, value...)
	case errors.As(err, &rej):
		cause := 0
		for i, c := range rejectionCauses[1:] {
			if errors.Is(rej.cause, c) {
				cause = i + 1
				break
			}
		}
		dst = append(dst, outcomeRejected)
		dst = binary.AppendUvarint(dst, index)
		dst = binary.AppendUvarint(dst, uint64(cause))
		return append(dst, rej.Reason...)
	case errors.Is(err, ErrNotLeader):
		dst = append(dst, outcomeNotLeader)
	case errors.Is(err, ErrClosed):
		dst = append(dst, outcomeClosed)
	case errors.Is(err, ErrCommandTooLarge):
		dst = append(dst, outcomeTooLarge)
	case errors.Is(err, ErrOutcomeUnknown):
		dst = append(dst, outcomeUnknown)
	default:
		dst = append(dst, outcomeFailed)
	}
	return append(dst, err.Error()...)
}

// ParseOutcome decodes what AppendOutcome wrote. value aliases b.
func ParseOutcome(b []byte) (index uint64, value []byte, err error) {
	if len(b) == 0 {
		return 0, nil, errors.New("raftstore: empty outcome")
	}
	kind, b := b[0], b[1:]
	switch kind {
	case outcomeOK, outcomeRejected:
		idx, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, nil, errors.New("raftstore: outcome: bad index")
		}
		b = b[n:]
		if kind == outcomeOK {
			return idx, b, nil
		}
		cause, n := binary.Uvarint(b)
		if n <= 0 || cause >= uint64(len(rejectionCauses)) {
			return 0, nil, errors.New("raftstore: outcome: bad rejection cause")
		}
		return idx, nil, &RejectedError{Reason: string(b[n:]), cause: rejectionCauses[cause]}
	}
	msg := string(b)
	switch kind {
	case outcomeNotLeader:
		return 0, nil, fmt.Errorf("%w (at the leader: %s)", ErrNotLeader, msg)
	case outcomeClosed:
		return 0, nil, fmt.Errorf("%w (at the leader: %s)", ErrClosed, msg)
	case outcomeTooLarge:
		return 0, nil, fmt.Errorf("%w (at the leader: %s)", ErrCommandTooLarge, msg)
	case outcomeUnknown:
		return 0, nil, fmt.Errorf("%w (at the leader: %s)", ErrOutcomeUnknown, msg)
	case outcomeFailed:
		return 0, nil, fmt.Errorf("raftstore: at the leader: %s", msg)
	}
	return 0, nil, fmt.Errorf("raftstore: outcome kind %d unknown", kind)
}
