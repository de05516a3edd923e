package raftstore

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// wireForwarder forwards to the leader's Store in process, through the
// same encodings a network forwarder sends (AppendCommand, AppendOutcome),
// so the codecs are part of what the tests check.
type wireForwarder struct {
	stores map[string]*Store
	mu     sync.Mutex
	sent   int
}

func (w *wireForwarder) Forward(ctx context.Context, leaderID, _ string, cmd Command, done func(uint64, []byte, error)) error {
	w.mu.Lock()
	w.sent++
	w.mu.Unlock()
	leader := w.stores[leaderID]
	got, err := ParseCommand(AppendCommand(nil, cmd))
	if err != nil {
		return err
	}
	return leader.ProposeForwarded(ctx, got, func(index uint64, value []byte, err error) {
		done(ParseOutcome(AppendOutcome(nil, index, value, err)))
	})
}

// TestFollowerForwardsAndReadsItsWrite proposes on followers: each command
// reaches the leader, and its answer comes back only once the follower
// has applied it, so the follower reads its own write.
func TestFollowerForwardsAndReadsItsWrite(t *testing.T) {
	stores, cfgs := openCluster(t, 3, func(*Config) {})
	defer func() {
		for _, s := range stores {
			s.Close()
		}
	}()
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
	if fw.sent != 50 {
		t.Fatalf("forwarder carried %d commands, want 50", fw.sent)
	}

	// A rejection comes back as one, with apply's reason.
	bad := Command{Type: CmdKVAdd, Version: 1, Payload: []byte{2}} // delta 1, empty key
	_, err := followers[0].Propose(ctx, bad)
	var rej *RejectedError
	if !errors.As(err, &rej) || !strings.Contains(rej.Reason, "key") {
		t.Fatalf("forwarded bad command: %v, want apply's rejection", err)
	}
}

// TestForwardedUnknownCommandRefused keeps a peer's unknown command out of
// the log: it would stop every replica.
func TestForwardedUnknownCommandRefused(t *testing.T) {
	s := openStore(t, testConfig(t, t.TempDir()))
	defer s.Close()
	err := s.ProposeForwarded(context.Background(), Command{Type: 4242, Version: 1}, func(uint64, []byte, error) {
		t.Error("done called for a refused command")
	})
	if err == nil {
		t.Fatal("unknown forwarded command accepted")
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
		idx, v, err := ParseOutcome(AppendOutcome(nil, 7, []byte("v"), c.err))
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
		if _, _, err := ParseOutcome(b); err == nil {
			t.Errorf("ParseOutcome(%v) accepted", b)
		}
	}
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
