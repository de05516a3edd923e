package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"tributary/cluster/peer"
	"tributary/raftstore"
)

// TestFollowerConnectAndSubscribeAreForwarded: a client of a follower
// opens its session and subscribes through the leader, and the follower
// reads both writes as soon as they are answered.
func TestFollowerConnectAndSubscribeAreForwarded(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	f := c.followers()[0]
	applied := f.store.AppliedIndex()
	s, _, res := c.connect(f, ConnectRequest{ClientID: "dev", CleanStart: true, ExpirySeconds: 60})
	if res.SessionPresent {
		t.Fatal("a clean start reported a session present")
	}
	info, ok, err := f.store.Session("dev")
	if err != nil || !ok || info.Node != f.id || !info.Connected || info.Generation != s.Generation() {
		t.Fatalf("right after Connect the follower reads %+v, %v, %v; want dev connected to %s at generation %d",
			info, ok, err, f.id, s.Generation())
	}
	subscribe(t, s, raftstore.Subscription{Filter: "cmd/+", QoS: 1})
	var routes []raftstore.Route
	f.store.Match("cmd/x", "", func(r raftstore.Route) { routes = append(routes, r) })
	if len(routes) != 1 || routes[0].ClientID != "dev" {
		t.Fatalf("right after Subscribe the follower matches %+v; want dev's subscription", routes)
	}
	if f.store.AppliedIndex() <= applied {
		t.Fatal("the follower's applied index did not move: nothing went through the log")
	}
	if f.store.IsLeader() {
		t.Fatal("the follower became the leader; the test proves nothing")
	}
}

// TestQoS1AcrossFollowersKeepsOrder publishes 200 QoS 1 messages on one
// follower, pipelined, to a subscriber held by the other: each is
// forwarded to the leader, and they arrive in publish order.
func TestQoS1AcrossFollowersKeepsOrder(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	fs := c.followers()
	a, b := fs[0], fs[1]
	sub, subConn, _ := c.connect(b, ConnectRequest{ClientID: "sub", CleanStart: true})
	subscribe(t, sub, raftstore.Subscription{Filter: "q/#", QoS: 1})
	c.catchUp(a, b)
	pub, _, _ := c.connect(a, ConnectRequest{ClientID: "pub", CleanStart: true})

	const n = 200
	errs := make(chan error, n)
	for i := range n {
		m := raftstore.Message{Topic: "q/t", QoS: 1, Payload: []byte(fmt.Sprint(i))}
		if err := pub.Publish(within(t), m, 0, func(_ raftstore.PublishResult, err error) { errs <- err }); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	for i := range n {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("publish answered with %v", err)
			}
		case <-time.After(clusterWithin):
			t.Fatalf("%d of %d publishes answered", i, n)
		}
	}
	for i := range n {
		o := subConn.next(t)
		if o.QoS != 1 || string(o.Message.Payload) != fmt.Sprint(i) {
			t.Fatalf("delivery %d: QoS %d payload %q; want QoS 1, payload %d (publish order)", i, o.QoS, o.Message.Payload, i)
		}
		sub.Acked(o.PacketID)
	}
}

// TestForwardDuringLeaderShutdown: a proposal forwarded to a leader that
// shuts down before answering ends with an error saying its outcome is
// unknown, never a hang; once a new leader is elected, proposals on the
// follower succeed again.
func TestForwardDuringLeaderShutdown(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	leader := c.leader()
	f := c.followers()[0]
	held := make(chan struct{}, 1)
	leader.gate.Store(&held)

	cmd, err := raftstore.KVAdd([]byte("n"), 1)
	if err != nil {
		t.Fatal(err)
	}
	result := make(chan error, 1)
	go func() {
		_, err := f.store.Propose(within(t), cmd)
		result <- err
	}()
	select {
	case <-held: // the leader has the request
	case <-time.After(clusterWithin):
		t.Fatal("the forwarded proposal never reached the leader")
	}
	c.shutdown(leader)
	select {
	case err := <-result:
		if !errors.Is(err, raftstore.ErrOutcomeUnknown) {
			t.Fatalf("proposal forwarded to a leader that shut down = %v, want ErrOutcomeUnknown", err)
		}
	case <-time.After(clusterWithin):
		t.Fatal("the forwarded proposal hangs after the leader shut down")
	}

	// The two others elect a leader; a proposal (retried while the
	// election runs: each attempt ends with an error, never hangs)
	// commits.
	ctx := within(t)
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := f.store.Propose(attempt, cmd)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no proposal committed after the leader shut down: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestForwardErrorClasses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   error
		want error
	}{
		{fmt.Errorf("%w: dial refused", peer.ErrNotSent), raftstore.ErrNotLeader},
		{peer.ErrQueueFull, raftstore.ErrNotLeader},
		{fmt.Errorf("%w: connection lost", peer.ErrNoAnswer), raftstore.ErrOutcomeUnknown},
		{&peer.RemoteError{Message: "handler timed out"}, raftstore.ErrOutcomeUnknown},
	}
	for _, tc := range cases {
		got := forwardError("n1", "127.0.0.1:1", tc.in)
		if !errors.Is(got, tc.want) || !errors.Is(got, tc.in) {
			t.Errorf("forwardError(%v) = %v; want it to wrap %v and the cause", tc.in, got, tc.want)
		}
	}
	if got := forwardError("n1", "a", peer.ErrClosed); errors.Is(got, raftstore.ErrNotLeader) || !errors.Is(got, peer.ErrClosed) {
		t.Errorf("forwardError(ErrClosed) = %v; want ErrClosed wrapped, not a retry", got)
	}
}

// rpcStack serves a one-node stack's handlers on a loopback peer server.
func rpcStack(t *testing.T) (*testStack, *peer.Client, string) {
	t.Helper()
	st := newStack(t)
	srv := peer.NewServer(peer.ServerConfig{})
	st.node.ServeRPC(srv)
	ln := listenLoopback(t)
	go func() { _ = srv.Serve(ln) }()
	client := peer.NewClient(peer.ClientConfig{})
	t.Cleanup(func() {
		_ = client.Close()
		_ = srv.Close()
	})
	return st, client, ln.Addr().String()
}

// TestForwarderAgainstALeader drives the forwarder and the leader's
// handler directly: a batch is answered command by command, in order,
// with each entry's index and apply's value; a rejection keeps its class
// without failing the commands beside it; garbage is answered with an
// error, not fatal.
func TestForwarderAgainstALeader(t *testing.T) {
	t.Parallel()
	st, client, addr := rpcStack(t)
	fw := &forwarder{peers: client, addr: func(_, a string) string { return a }, timeout: time.Minute}
	type answer struct {
		outs []raftstore.Outcome
		err  error
	}
	forward := func(cmds ...raftstore.Command) answer {
		t.Helper()
		ch := make(chan answer, 1)
		if err := fw.Forward(within(t), "n1", addr, cmds, func(outs []raftstore.Outcome, err error) { ch <- answer{outs, err} }); err != nil {
			t.Fatalf("Forward: %v", err)
		}
		return <-ch // bounded by within(t)
	}
	cmd, err := raftstore.KVAdd([]byte("k"), 1)
	if err != nil {
		t.Fatal(err)
	}
	bad := raftstore.Command{Type: cmd.Type, Version: cmd.Version, Payload: []byte{2}} // empty key
	a := forward(cmd, bad, cmd)
	if a.err != nil || len(a.outs) != 3 {
		t.Fatalf("forward = %+v; want three outcomes", a)
	}
	for _, i := range []int{0, 2} {
		if o := a.outs[i]; o.Err != nil || o.Index == 0 || o.Index > st.store.AppliedIndex() {
			t.Fatalf("outcome %d = %+v; want an applied index and no error", i, o)
		}
	}
	if got := binary.BigEndian.Uint64(a.outs[2].Value); got != 2 {
		t.Fatalf("the second add answered %d, want 2", got)
	}
	var rej *raftstore.RejectedError
	if !errors.As(a.outs[1].Err, &rej) {
		t.Fatalf("outcome of an invalid command = %v, want a RejectedError", a.outs[1].Err)
	}
	var remote *peer.RemoteError
	if _, err := client.CallSync(within(t), addr, peer.KindForward, []byte{0xFF}); !errors.As(err, &remote) {
		t.Fatalf("garbage forward = %v, want a remote error", err)
	}
}

// TestForwardRefusedAtOnceIsReturned: when the client refuses a request
// at once (the leader unreachable, within the dial backoff), Forward
// returns the error (as ErrNotLeader: nothing was sent) and never calls
// done on the caller's goroutine.
func TestForwardRefusedAtOnceIsReturned(t *testing.T) {
	t.Parallel()
	ln := listenLoopback(t)
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	client := peer.NewClient(peer.ClientConfig{DialBackoff: time.Hour})
	defer client.Close()
	fw := &forwarder{peers: client, addr: func(_, a string) string { return a }, timeout: time.Minute}
	cmd, err := raftstore.KVAdd([]byte("k"), 1)
	if err != nil {
		t.Fatal(err)
	}
	cmds := []raftstore.Command{cmd}
	first := make(chan error, 1)
	if err := fw.Forward(within(t), "n1", addr, cmds, func(_ []raftstore.Outcome, err error) { first <- err }); err != nil {
		first <- err
	}
	if err := <-first; !errors.Is(err, raftstore.ErrNotLeader) {
		t.Fatalf("forward to an unreachable leader = %v, want ErrNotLeader", err)
	}
	var called atomic.Bool
	err = fw.Forward(within(t), "n1", addr, cmds, func([]raftstore.Outcome, error) { called.Store(true) })
	if !errors.Is(err, raftstore.ErrNotLeader) || called.Load() {
		t.Fatalf("forward within the dial backoff = %v (done called: %v); want ErrNotLeader returned, done not called", err, called.Load())
	}
}
