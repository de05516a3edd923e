package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"

	"tributary/cluster/peer"
	"tributary/raftstore"
)

// Forwarding proposals to the raft leader [DESIGN.md: followers forward
// their proposals to it]. A follower's raftstore packs the commands it
// cannot propose into batches and hands each batch to forwarder.Forward,
// which sends it to the leader as one peer.KindForward request; the
// leader's handleForward proposes them in order and answers, once all are
// applied, with each entry's index and apply's answer. raftstore then waits
// until the follower has applied that index before it answers its
// caller, so a client reads its own writes on any node.
//
// Error classes survive the trip: an answer carries raftstore's outcome
// encoding (AppendOutcomes), and a failure of the transport becomes
//
//	peer.ErrNotSent   → raftstore.ErrNotLeader: nothing reached the leader,
//	                    so raftstore may send it again (to the new leader)
//	peer.ErrNoAnswer  → raftstore.ErrOutcomeUnknown: it may have committed
//	*peer.RemoteError → raftstore.ErrOutcomeUnknown: the leader's server
//	                    answered for a handler that panicked or timed out,
//	                    after the command may have been proposed

// forwarder implements raftstore.Forwarder over the peer client.
type forwarder struct {
	peers *peer.Client
	// addr maps the leader to its peer RPC address (Config.PeerAddr).
	addr func(nodeID, raftAddr string) string
	// timeout bounds a forward whose ctx has no deadline
	// (Config.ProposeTimeout).
	timeout time.Duration
}

// Forward sends a batch of commands to the leader. ctx bounds the whole
// exchange (and Config.ProposeTimeout does when ctx has no deadline). It
// never blocks on the network, and never calls done before it returns:
// raftstore's callers expect done on another goroutine, so a request the
// client refuses at once (its queue full, the leader unreachable) is
// reported by Forward's error instead, and done is not called.
func (f *forwarder) Forward(ctx context.Context, leaderID, leaderAddr string, cmds []raftstore.Command, done func([]raftstore.Outcome, error)) error {
	cancel := context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		ctx, cancel = context.WithTimeout(ctx, f.timeout)
	}
	buf := bytebufferpool.Get()
	buf.B = raftstore.AppendCommands(buf.B, cmds)
	addr := f.addr(leaderID, leaderAddr)
	// state: 0 while Call runs, 1 once it returned, 2 when a failure came
	// before it returned (then in early). early is written before the
	// swap that publishes it: Forward reads it only after seeing state 2.
	var state atomic.Int32
	var early error
	f.peers.Call(ctx, addr, peer.KindForward, buf.B, func(resp []byte, err error) {
		if err != nil && state.Load() == 0 {
			early = err
			if state.CompareAndSwap(0, 2) {
				return
			}
		}
		cancel()
		if err != nil {
			done(nil, forwardError(leaderID, addr, err))
			return
		}
		outs, err := raftstore.ParseOutcomes(resp) // resp is ours: values may alias it
		if err != nil {
			err = fmt.Errorf("cluster: answer of leader %s at %s: %w: %w", leaderID, addr, raftstore.ErrOutcomeUnknown, err)
		}
		done(outs, err)
	})
	bytebufferpool.Put(buf) // Call copied the frame
	if !state.CompareAndSwap(0, 1) {
		cancel()
		return forwardError(leaderID, addr, early)
	}
	return nil
}

// forwardError maps a transport failure to the raftstore error class that
// says what the caller may do next.
func forwardError(leaderID, addr string, err error) error {
	var remote *peer.RemoteError
	switch {
	case errors.Is(err, peer.ErrNotSent):
		return fmt.Errorf("cluster: forward to leader %s at %s: %w: %w", leaderID, addr, raftstore.ErrNotLeader, err)
	case errors.Is(err, peer.ErrNoAnswer), errors.As(err, &remote):
		return fmt.Errorf("cluster: forward to leader %s at %s: %w: %w", leaderID, addr, raftstore.ErrOutcomeUnknown, err)
	}
	return fmt.Errorf("cluster: forward to leader %s at %s: %w", leaderID, addr, err)
}

// handleForward is the leader's side: it proposes, in order, the batch
// of commands a follower forwarded and answers with their outcomes once
// every one has its answer. A node that is not the leader (any more)
// answers raftstore.ErrNotLeader for each, which sends the follower
// looking for the new one. A body that does not decode is answered with
// a remote error: nothing was proposed, and the follower cannot tell
// which command was at fault.
func (n *Node) handleForward(ctx context.Context, body []byte, reply func([]byte, error)) {
	cmds, err := raftstore.ParseCommands(body)
	if err != nil {
		reply(nil, fmt.Errorf("cluster: forwarded batch: %w", err))
		return
	}
	// body aliases the frame, which is reused once this handler returns;
	// the proposals outlive it. Copy the payloads once, into one block.
	total := 0
	for _, c := range cmds {
		total += len(c.Payload)
	}
	block := make([]byte, 0, total)
	for i, c := range cmds {
		start := len(block)
		block = append(block, c.Payload...)
		cmds[i].Payload = block[start:len(block):len(block)]
	}
	n.store.ProposeForwarded(ctx, cmds, func(outs []raftstore.Outcome) {
		buf := bytebufferpool.Get()
		buf.B = raftstore.AppendOutcomes(buf.B, outs)
		reply(buf.B, nil) // reply copies it
		bytebufferpool.Put(buf)
	})
}
