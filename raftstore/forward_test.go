package raftstore

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// wireForwarder forwards to the leader's Store in process, through the
// same encodings a network forwarder sends (AppendCommands,
// AppendOutcomes), so the codecs are part of what the tests check.
type wireForwarder struct {
	stores   map[string]*Store
	mu       sync.Mutex
	requests int
	commands int
}

func (w *wireForwarder) Forward(ctx context.Context, leaderID, _ string, cmds []Command, done func([]Outcome, error)) error {
	w.mu.Lock()
	w.requests++
	w.commands += len(cmds)
	w.mu.Unlock()
	got, err := ParseCommands(AppendCommands(nil, cmds))
	if err != nil {
		return err
	}
	w.stores[leaderID].ProposeForwarded(ctx, got, func(outs []Outcome) {
		done(ParseOutcomes(AppendOutcomes(nil, outs)))
	})
	return nil
}

func (w *wireForwarder) counts() (requests, commands int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.requests, w.commands
}

// forwardingCluster opens three stores that forward to each other through
// a wireForwarder, and returns the forwarder and the two followers.
func forwardingCluster(t *testing.T) (*wireForwarder, []*Store) {
	t.Helper()
	stores, cfgs := openCluster(t, 3, func(*Config) {})
	t.Cleanup(func() {
		for _, s := range stores {
			s.Close()
		}
	})
	fw := &wireForwarder{stores: map[string]*Store{}}
	for i, s := range stores {
		fw.stores[cfgs[i].NodeID] = s
		s.SetForwarder(fw)
	}
	var followers []*Store
	for _, s := range stores {
		if !s.IsLeader() {
			followers = append(followers, s)
		}
	}
	if len(followers) != 2 {
		t.Fatalf("%d followers, want 2", len(followers))
	}
	return fw, followers
}

// TestFollowerForwardsAndReadsItsWrite proposes on followers: each command
// reaches the leader, and its answer comes back only once the follower
// has applied it, so the follower reads its own write.
func TestFollowerForwardsAndReadsItsWrite(t *testing.T) {
	fw, followers := forwardingCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 1; i <= 50; i++ {
		f := followers[i%2]
		v, err := f.Propose(ctx, must(KVAdd([]byte("n"), 1)))
		if err != nil {
			t.Fatalf("propose %d on a follower: %v", i, err)
		}
		if got := decodeCounter(t, v); got != uint64(i) {
			t.Fatalf("answer %d, want %d", got, i)
		}
		if got := counter(t, f, "n"); got != uint64(i) {
			t.Fatalf("follower reads %d right after its write %d was answered", got, i)
		}
	}
	if _, commands := fw.counts(); commands != 50 {
		t.Fatalf("forwarder carried %d commands, want 50", commands)
	}

	// A rejection comes back as one, with apply's reason.
	bad := Command{Type: CmdKVAdd, Version: 1, Payload: []byte{2}} // delta 1, empty key
	_, err := followers[0].Propose(ctx, bad)
	var rej *RejectedError
	if !errors.As(err, &rej) || !strings.Contains(rej.Reason, "key") {
		t.Fatalf("forwarded bad command: %v, want apply's rejection", err)
	}
}

// TestForwardBatchesKeepOrder proposes many commands on a follower at
// once: they travel in batches (at most MaxInflightEntries batches out,
// so while those wait the queue packs the next), each caller gets its
// own command's answer, and the leader applies them in the order they
// were proposed.
func TestForwardBatchesKeepOrder(t *testing.T) {
	fw, followers := forwardingCluster(t)
	f := followers[0]
	const n = 2000
	answers := make([]uint64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range n {
		wg.Add(1)
		err := f.ProposeAsync(ctx, must(KVAdd([]byte("n"), 1)), func(v []byte, err error) {
			defer wg.Done()
			if err != nil {
				errs <- err
				return
			}
			answers[i] = binary.BigEndian.Uint64(v)
		})
		if err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("forwarded proposal failed: %v", err)
	}
	// KVAdd answers the new counter: proposal i must have been applied
	// i-th.
	for i, got := range answers {
		if got != uint64(i+1) {
			t.Fatalf("proposal %d was applied as number %d: forwarding reordered the commands", i, got)
		}
	}
	requests, commands := fw.counts()
	if commands != n {
		t.Fatalf("forwarder carried %d commands, want %d", commands, n)
	}
	if requests*4 > commands {
		t.Fatalf("%d commands took %d requests: they were not batched", commands, requests)
	}
	t.Logf("%d commands in %d requests", commands, requests)
}

// TestForwardedUnknownCommandRefused keeps a peer's unknown command out of
// the log (it would stop every replica) while the commands beside it in
// the batch commit.
func TestForwardedUnknownCommandRefused(t *testing.T) {
	s := openStore(t, testConfig(t, t.TempDir()))
	defer s.Close()
	cmds := []Command{must(KVAdd([]byte("n"), 1)), {Type: 4242, Version: 1}, must(KVAdd([]byte("n"), 1))}
	got := make(chan []Outcome, 1)
	s.ProposeForwarded(context.Background(), cmds, func(outs []Outcome) { got <- outs })
	var outs []Outcome
	select {
	case outs = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("no outcomes")
	}
	if len(outs) != 3 || outs[0].Err != nil || outs[2].Err != nil || outs[1].Err == nil {
		t.Fatalf("outcomes %+v; want the unknown command refused and the others committed", outs)
	}
	if decodeCounter(t, outs[2].Value) != 2 {
		t.Fatalf("second add answered %d, want 2", decodeCounter(t, outs[2].Value))
	}
	if s.Err() != nil {
		t.Fatalf("store stopped: %v", s.Err())
	}
}

func TestOutcomeRoundTrip(t *testing.T) {
	cases := []struct {
		err  error
		want error
	}{
		{nil, nil},
		{rejectErr("subscribe", ErrSessionGone), ErrSessionGone},
		{rejectErr("produce", ErrOutOfOrderSequence), ErrOutOfOrderSequence},
		{reject("plain"), nil},
		{ErrNotLeader, ErrNotLeader},
		{ErrClosed, ErrClosed},
		{ErrOutcomeUnknown, ErrOutcomeUnknown},
		{ErrCommandTooLarge, ErrCommandTooLarge},
	}
	for _, c := range cases {
		o, perr := parseOutcome(appendOutcome(nil, 7, []byte("v"), c.err))
		if perr != nil {
			t.Fatalf("parseOutcome: %v", perr)
		}
		idx, v, err := o.Index, o.Value, o.Err
		switch {
		case c.err == nil:
			if err != nil || idx != 7 || string(v) != "v" {
				t.Errorf("ok outcome: %d %q %v", idx, v, err)
			}
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("%v came back as %v", c.err, err)
		case err == nil || err.Error() == "":
			t.Errorf("%v came back as %v", c.err, err)
		}
		var rej *RejectedError
		if errors.As(c.err, &rej) && (!errors.As(err, &rej) || idx != 7) {
			t.Errorf("%v lost its rejection or index: %v, %d", c.err, err, idx)
		}
	}
	for _, b := range [][]byte{nil, {outcomeOK}, {outcomeRejected, 1, 200}, {99}} {
		if _, err := parseOutcome(b); err == nil {
			t.Errorf("parseOutcome(%v) accepted", b)
		}
	}
}

func TestForwardBatchCodecs(t *testing.T) {
	cmds := []Command{{Type: CmdKVAdd, Version: 1, Payload: []byte("abc")}, {Type: 300, Version: 2}}
	got, err := ParseCommands(AppendCommands(nil, cmds))
	if err != nil || len(got) != 2 || got[0].Type != CmdKVAdd || string(got[0].Payload) != "abc" || got[1].Type != 300 || got[1].Version != 2 || len(got[1].Payload) != 0 {
		t.Fatalf("commands round trip: %+v, %v", got, err)
	}
	outs := []Outcome{{Index: 9, Value: []byte("v")}, {Err: ErrNotLeader}, {Index: 10, Err: rejectErr("x", ErrSessionGone)}}
	back, err := ParseOutcomes(AppendOutcomes(nil, outs))
	if err != nil || len(back) != 3 || back[0].Index != 9 || string(back[0].Value) != "v" ||
		!errors.Is(back[1].Err, ErrNotLeader) || back[2].Index != 10 || !errors.Is(back[2].Err, ErrSessionGone) {
		t.Fatalf("outcomes round trip: %+v, %v", back, err)
	}
	// Counts are checked against the bytes left, before any allocation:
	// the shape that makes kmsg's decoders loop is refused here.
	hostile := [][]byte{nil, {0}, {0xff, 0xff, 0xff, 0xff, 0x0f}, {2, 1, 1, 0}, {1, 1, 1, 5, 'a'}, append(AppendCommands(nil, cmds), 0)}
	for _, b := range hostile {
		if _, err := ParseCommands(b); err == nil {
			t.Errorf("ParseCommands(%v) accepted", b)
		}
	}
	for _, b := range [][]byte{nil, {0xff, 0xff, 0xff, 0xff, 0x0f}, {2, 1, 0}, {1, 5, 0}, {1, 1, 99}} {
		if _, err := ParseOutcomes(b); err == nil {
			t.Errorf("ParseOutcomes(%v) accepted", b)
		}
	}
}

// FuzzForwardBatchCodecs: neither batch decoder panics or allocates past
// its input on any bytes, and what decodes re-encodes to the same bytes.
func FuzzForwardBatchCodecs(f *testing.F) {
	f.Add(AppendCommands(nil, []Command{{Type: CmdKVAdd, Version: 1, Payload: []byte("abc")}}))
	f.Add(AppendOutcomes(nil, []Outcome{{Index: 3, Value: []byte("v")}, {Err: ErrClosed}}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		if cmds, err := ParseCommands(b); err == nil {
			if len(cmds) > len(b) {
				t.Fatalf("%d commands from %d bytes", len(cmds), len(b))
			}
			if again := AppendCommands(nil, cmds); len(again) > len(b) {
				t.Fatalf("re-encoding grew: %d bytes from %d", len(again), len(b))
			}
		}
		if outs, err := ParseOutcomes(b); err == nil && len(outs) > len(b) {
			t.Fatalf("%d outcomes from %d bytes", len(outs), len(b))
		}
	})
}

func TestWaitAppliedEndsWithContext(t *testing.T) {
	s := openStore(t, testConfig(t, t.TempDir()))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitApplied(ctx, s.AppliedIndex()+1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitApplied past the log: %v", err)
	}
	if err := s.WaitApplied(context.Background(), s.AppliedIndex()); err != nil {
		t.Fatalf("WaitApplied at the applied index: %v", err)
	}
}
