package raftstore

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Forwarder carries commands to the raft leader when this node is not it.
// Package cluster implements it over its RPC transport (DESIGN.md: cluster
// forwards proposals; raftstore never opens a socket). The store packs
// the commands its callers propose into batches (forwardQueue), so one
// request carries many of them.
type Forwarder interface {
	// Forward sends cmds, in order, to the leader known by leaderID and
	// leaderAddr (its raft address) and calls done exactly once, on any
	// goroutine, with one Outcome per command in the same order, or with
	// an error for the whole batch saying it was not sent (ErrNotLeader:
	// nothing was written, retry) or may not have been committed. If
	// Forward returns an error, done is not called. done must not block.
	// The Outcomes' values may alias a buffer done owns.
	Forward(ctx context.Context, leaderID, leaderAddr string, cmds []Command, done func(outs []Outcome, err error)) error
}

// Outcome is the leader's answer for one forwarded command: the raft
// index of the entry that carried it and apply's value, or the error
// (a *RejectedError from apply keeps the index; other errors have none).
type Outcome struct {
	Index uint64
	Value []byte
	Err   error
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

// ProposeForwarded is the leader's side of Forwarder: it queues the
// commands another node forwarded, in order, and calls done once with one
// Outcome per command, on the proposer's goroutine (done must not block),
// when every one of them has its answer. A command this binary does not
// know is refused on its own (a peer's unknown command must never enter
// the log: every replica would stop on it); a node that is not the leader
// answers ErrNotLeader for what it could not queue.
func (s *Store) ProposeForwarded(ctx context.Context, cmds []Command, done func([]Outcome)) {
	outs := make([]Outcome, len(cmds))
	var left atomic.Int64
	left.Store(int64(len(cmds)) + 1) // +1 until every command is queued
	finish := func() {
		if left.Add(-1) == 0 {
			done(outs)
		}
	}
	closed := s.Err()
	for i, cmd := range cmds {
		var err error
		switch {
		case closed != nil:
			err = fmt.Errorf("%w: %w", ErrClosed, closed)
		case !IsKnownCommand(cmd):
			err = fmt.Errorf("raftstore: forwarded command %s v%d is unknown to the leader", cmd.Type, cmd.Version)
		default:
			err = s.proposer.submit(ctx, cmd, func(index uint64, value []byte, err error) {
				outs[i] = Outcome{Index: index, Value: value, Err: err}
				finish()
			})
		}
		if err != nil {
			outs[i] = Outcome{Err: err}
			finish()
		}
	}
	finish()
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

// minCommandBytes is the smallest encoded command: type, version and an
// empty payload's length.
const minCommandBytes = 3

// AppendCommands encodes a batch of commands for a forwarding RPC: their
// count, then each command as inside a log entry.
func AppendCommands(dst []byte, cmds []Command) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(cmds)))
	for _, c := range cmds {
		dst = binary.AppendUvarint(dst, uint64(c.Type))
		dst = append(dst, c.Version)
		dst = binary.AppendUvarint(dst, uint64(len(c.Payload)))
		dst = append(dst, c.Payload...)
	}
	return dst
}

// ParseCommands decodes what AppendCommands wrote; the payloads alias b.
// The count is checked against the bytes left before anything is
// allocated, and trailing bytes are an error.
func ParseCommands(b []byte) ([]Command, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, fmt.Errorf("%w: bad command count", errEntryCorrupt)
	}
	b = b[n:]
	if count == 0 || count > uint64(len(b)/minCommandBytes) {
		return nil, fmt.Errorf("%w: %d commands in %d bytes", errEntryCorrupt, count, len(b))
	}
	cmds := make([]Command, count)
	for i := range cmds {
		c, rest, err := decodeCommand(b)
		if err != nil {
			return nil, err
		}
		cmds[i], b = c, rest
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the commands", errEntryCorrupt, len(b))
	}
	return cmds, nil
}

// AppendOutcomes encodes the answers to a forwarded batch: their count,
// then each outcome (appendOutcome) behind its length.
func AppendOutcomes(dst []byte, outs []Outcome) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(outs)))
	var one []byte
	for _, o := range outs {
		one = appendOutcome(one[:0], o.Index, o.Value, o.Err)
		dst = binary.AppendUvarint(dst, uint64(len(one)))
		dst = append(dst, one...)
	}
	return dst
}

// ParseOutcomes decodes what AppendOutcomes wrote; values alias b.
func ParseOutcomes(b []byte) ([]Outcome, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errors.New("raftstore: outcomes: bad count")
	}
	b = b[n:]
	// Each outcome takes at least its length and its kind.
	if count > uint64(len(b)/2) {
		return nil, fmt.Errorf("raftstore: outcomes: %d in %d bytes", count, len(b))
	}
	outs := make([]Outcome, count)
	for i := range outs {
		size, n := binary.Uvarint(b)
		if n <= 0 || size > uint64(len(b)-n) {
			return nil, errors.New("raftstore: outcomes: length past the end")
		}
		one := b[n : n+int(size) : n+int(size)]
		b = b[n+int(size):]
		o, err := parseOutcome(one)
		if err != nil {
			return nil, err
		}
		outs[i] = o
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("raftstore: outcomes: %d bytes after them", len(b))
	}
	return outs, nil
}

// Outcome kinds on the wire (appendOutcome).
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

// appendOutcome encodes a proposal's answer for a forwarding RPC: the raft
// index, and apply's value or the error. A *RejectedError keeps its reason
// and the sentinel it wraps, so errors.Is works on the other node; other
// errors keep their class (ErrNotLeader, ErrClosed, ErrCommandTooLarge,
// ErrOutcomeUnknown) and their text.
func appendOutcome(dst []byte, index uint64, value []byte, err error) []byte {
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

// parseOutcome decodes what appendOutcome wrote; the value aliases b. Its
// error is about the encoding; the outcome's own error is in Outcome.Err.
func parseOutcome(b []byte) (Outcome, error) {
	if len(b) == 0 {
		return Outcome{}, errors.New("raftstore: empty outcome")
	}
	kind, b := b[0], b[1:]
	switch kind {
	case outcomeOK, outcomeRejected:
		idx, n := binary.Uvarint(b)
		if n <= 0 {
			return Outcome{}, errors.New("raftstore: outcome: bad index")
		}
		b = b[n:]
		if kind == outcomeOK {
			return Outcome{Index: idx, Value: b}, nil
		}
		cause, n := binary.Uvarint(b)
		if n <= 0 || cause >= uint64(len(rejectionCauses)) {
			return Outcome{}, errors.New("raftstore: outcome: bad rejection cause")
		}
		return Outcome{Index: idx, Err: &RejectedError{Reason: string(b[n:]), cause: rejectionCauses[cause]}}, nil
	}
	msg := string(b)
	var err error
	switch kind {
	case outcomeNotLeader:
		err = fmt.Errorf("%w (at the leader: %s)", ErrNotLeader, msg)
	case outcomeClosed:
		err = fmt.Errorf("%w (at the leader: %s)", ErrClosed, msg)
	case outcomeTooLarge:
		err = fmt.Errorf("%w (at the leader: %s)", ErrCommandTooLarge, msg)
	case outcomeUnknown:
		err = fmt.Errorf("%w (at the leader: %s)", ErrOutcomeUnknown, msg)
	case outcomeFailed:
		err = fmt.Errorf("raftstore: at the leader: %s", msg)
	default:
		return Outcome{}, fmt.Errorf("raftstore: outcome kind %d unknown", kind)
	}
	return Outcome{Err: err}, nil
}
