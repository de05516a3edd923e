package raftstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Errors a proposal can end with besides a *RejectedError.
var (
	// ErrNotLeader: this node is not the raft leader, so it cannot propose.
	// Nothing was written. (Forwarding to the leader comes with the cluster.)
	ErrNotLeader = errors.New("raftstore: not the raft leader")
	// ErrClosed: the store is closing or closed. If the command was already
	// handed to raft, it may still have committed.
	ErrClosed = errors.New("raftstore: store closed")
	// ErrCommandTooLarge: the command exceeds Config.MaxCommandBytes.
	ErrCommandTooLarge = errors.New("raftstore: command too large")
	// ErrOutcomeUnknown: leadership was lost after the command was handed to
	// raft; it may or may not commit. Callers that must know retry with an
	// idempotent command or read the state back.
	ErrOutcomeUnknown = errors.New("raftstore: outcome unknown (leadership lost)")
)

// proposal is one command waiting to be packed, committed and applied.
type proposal struct {
	cmd   Command
	size  int // cmd.encodedLen()
	start time.Time
	// done gets the raft index of the entry that carried the command (0
	// when it was not appended), apply's value, or the error.
	done func(index uint64, value []byte, err error)
}

// inflightEntry is one raft entry proposed and not yet applied.
type inflightEntry struct {
	future raft.ApplyFuture
	props  []*proposal
}

// proposer packs the commands of many callers into few raft entries: one
// goroutine takes what is queued (up to MaxEntryBytes) and hands it to
// raft as one entry; a second waits for entries in order and tells each
// caller its command's result. While raft is busy the queue grows, so the
// entries grow with load; an idle store commits a lone command at once.
type proposer struct {
	raft     *raft.Raft
	cfg      Config
	metrics  *metrics
	queue    chan *proposal
	inflight chan inflightEntry
	stop     chan struct{}
	loopDone chan struct{}
	waitDone chan struct{}

	// mu orders submit against beginClose: a submitter holds the read lock
	// while it enqueues (its select also watches stop, so it never holds it
	// for long once closing starts), and beginClose takes the write lock
	// before the last drain, so no proposal is left in the queue unanswered.
	mu     sync.RWMutex
	closed bool
}

func newProposer(r *raft.Raft, cfg Config, m *metrics) *proposer {
	p := &proposer{
		raft:     r,
		cfg:      cfg,
		metrics:  m,
		queue:    make(chan *proposal, cfg.MaxPendingProposals),
		inflight: make(chan inflightEntry, cfg.MaxInflightEntries),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		waitDone: make(chan struct{}),
	}
	go p.packLoop()
	go p.waitLoop()
	return p
}

// submit queues a proposal, waiting while the queue is full.
func (p *proposer) submit(ctx context.Context, cmd Command, done func(uint64, []byte, error)) error {
	size := cmd.encodedLen()
	if size > p.cfg.MaxCommandBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrCommandTooLarge, size, p.cfg.MaxCommandBytes)
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrClosed
	}
	if p.raft.State() != raft.Leader {
		return ErrNotLeader
	}
	pr := &proposal{cmd: cmd, size: size, start: time.Now(), done: done}
	select {
	case p.queue <- pr:
		return nil
	case <-p.stop:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("raftstore: proposal queue full: %w", ctx.Err())
	}
}

func (p *proposer) packLoop() {
	defer close(p.loopDone)
	defer close(p.inflight)
	var carry *proposal
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-p.queue:
			case <-p.stop:
				p.failQueued()
				return
			}
		}
		props, size, next := p.fill([]*proposal{first}, first.size)
		carry = next
		cmds := make([]Command, len(props))
		for i, pr := range props {
			cmds[i] = pr.cmd
		}
		// Encoded once, at its exact size, into a slice raft then keeps.
		data := appendEntry(make([]byte, 0, entryLen(len(cmds), size)), cmds)
		p.metrics.entryCommands.Observe(float64(len(props)))
		p.metrics.entryBytes.Observe(float64(len(data)))
		f := p.raft.Apply(data, p.cfg.ApplyTimeout)
		select {
		case p.inflight <- inflightEntry{future: f, props: props}:
		case <-p.stop:
			p.finish(inflightEntry{future: f, props: props})
			if carry != nil {
				carry.done(0, nil, ErrClosed)
			}
			p.failQueued()
			return
		}
	}
}

// fill adds queued proposals to props (whose commands encode to size
// bytes) until the entry would pass MaxEntryBytes or the queue is empty. It
// returns the proposals, their encoded size, and a proposal that did not fit,
// to be the first of the next entry.
func (p *proposer) fill(props []*proposal, size int) ([]*proposal, int, *proposal) {
	for {
		select {
		case pr := <-p.queue:
			if size+pr.size > p.cfg.MaxEntryBytes {
				return props, size, pr
			}
			props = append(props, pr)
			size += pr.size
		default:
			return props, size, nil
		}
	}
}

func (p *proposer) failQueued() {
	for {
		select {
		case pr := <-p.queue:
			p.metrics.proposals.WithLabelValues("failed").Inc()
			pr.done(0, nil, ErrClosed)
		default:
			return
		}
	}
}

func (p *proposer) waitLoop() {
	defer close(p.waitDone)
	for e := range p.inflight {
		p.finish(e)
	}
}

// finish waits for one entry and reports every command's result.
func (p *proposer) finish(e inflightEntry) {
	err := e.future.Error()
	var results []commandResult
	if err == nil {
		switch r := e.future.Response().(type) {
		case []commandResult:
			results = r
		case error:
			err = r
		default:
			err = fmt.Errorf("raftstore: unexpected apply response %T", r)
		}
	}
	if err == nil && len(results) != len(e.props) {
		err = fmt.Errorf("raftstore: apply answered %d results for %d commands", len(results), len(e.props))
	}
	err = proposalError(err)
	var index uint64
	if err == nil {
		index = e.future.Index()
	}
	for i, pr := range e.props {
		p.metrics.commitSeconds.Observe(time.Since(pr.start).Seconds())
		if err != nil {
			p.metrics.proposals.WithLabelValues("failed").Inc()
			pr.done(0, nil, err)
			continue
		}
		if results[i].err != nil {
			p.metrics.proposals.WithLabelValues("rejected").Inc()
		} else {
			p.metrics.proposals.WithLabelValues("committed").Inc()
		}
		pr.done(index, results[i].value, results[i].err)
	}
}

// proposalError maps raft's errors onto the package's.
func proposalError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader):
		return ErrNotLeader
	case errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %w", ErrNotLeader, err) // refused before it was appended
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return fmt.Errorf("raftstore: propose: %w", err)
}

// beginClose stops taking proposals; queued ones fail with ErrClosed.
func (p *proposer) beginClose() {
	close(p.stop)
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}

// waitFor waits until every proposal has been answered, or timeout. Raft
// must still be running: it answers every entry it accepted (a leader that
// loses its quorum steps down and fails them), except the ones it holds
// when it shuts down. It reports whether everything was answered.
func (p *proposer) waitFor(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for _, ch := range []chan struct{}{p.loopDone, p.waitDone} {
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
	p.failQueued()
	return true
}
