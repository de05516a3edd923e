package raftstore

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

func TestFillStopsAtMaxEntryBytes(t *testing.T) {
	p := &proposer{cfg: Config{MaxEntryBytes: 450}, queue: make(chan *proposal, 10)}
	for i := 0; i < 10; i++ {
		p.queue <- &proposal{size: 100}
	}
	first := <-p.queue
	props, size, carry := p.fill([]*proposal{first}, first.size)
	if len(props) != 4 || size != 400 || carry == nil {
		t.Fatalf("packed %d proposals of %d bytes (carry %v), want 4 of 400 and a carried fifth", len(props), size, carry != nil)
	}
	if len(p.queue) != 5 {
		t.Fatalf("%d left queued, want 5", len(p.queue))
	}
	props, _, carry = p.fill([]*proposal{carry}, carry.size)
	if len(props) != 4 || carry == nil {
		t.Fatalf("second entry packed %d", len(props))
	}
}

// TestQueuedProposalsShareOneEntry queues 100 proposals before the
// proposer's goroutines start: they must become one raft entry, and each
// caller must get its own command's answer (the counter's value after its
// own increment, in queue order).
func TestQueuedProposalsShareOneEntry(t *testing.T) {
	s := openStore(t, testConfig(t, t.TempDir()))
	defer s.Close()
	m := newMetrics()
	p := &proposer{
		raft: s.raft, cfg: s.cfg, metrics: m,
		queue:    make(chan *proposal, 100),
		inflight: make(chan inflightEntry, 1),
		stop:     make(chan struct{}),
		loopDone: make(chan struct{}),
		waitDone: make(chan struct{}),
	}
	const n = 100
	answers := make(chan uint64, n)
	for i := 0; i < n; i++ {
		done := func(index uint64, v []byte, err error) {
			if err != nil || index == 0 {
				t.Errorf("proposal: index %d, %v", index, err)
			}
			answers <- binary.BigEndian.Uint64(v)
		}
		if err := p.submit(context.Background(), must(KVAdd([]byte("n"), 1)), done); err != nil {
			t.Fatal(err)
		}
	}
	go p.packLoop()
	go p.waitLoop()
	defer func() { p.beginClose(); p.waitFor(10 * time.Second) }()
	for want := uint64(1); want <= n; want++ {
		select {
		case got := <-answers:
			if got != want {
				t.Fatalf("answer %d, want %d: results were not matched to their commands", got, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d answers", want-1)
		}
	}
	var h dto.Metric
	if err := m.entryCommands.Write(&h); err != nil {
		t.Fatal(err)
	}
	if c := h.GetHistogram().GetSampleCount(); c != 1 {
		t.Fatalf("%d entries for %d queued proposals, want 1", c, n)
	}
	if got := testutil.ToFloat64(m.proposals.WithLabelValues("committed")); got != n {
		t.Fatalf("committed = %v, want %d", got, n)
	}
}

func TestProposeRefusals(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	cfg.MaxEntryBytes = 1 << 10
	cfg.MaxCommandBytes = 4 << 10
	s := openStore(t, cfg)
	ctx := context.Background()
	if _, err := s.Propose(ctx, must(KVPut([]byte("k"), make([]byte, 5<<10)))); !errors.Is(err, ErrCommandTooLarge) {
		t.Fatalf("oversized command: %v, want ErrCommandTooLarge", err)
	}
	// A command above MaxEntryBytes but within MaxCommandBytes travels alone.
	propose(t, s, must(KVPut([]byte("k"), make([]byte, 3<<10))))
	var rej *RejectedError
	if _, err := s.Propose(ctx, must(KVAdd([]byte("k"), 1))); !errors.As(err, &rej) {
		t.Fatalf("add to a non-counter: %v, want a RejectedError", err)
	}
	s.Close()
	if _, err := s.Propose(ctx, must(KVAdd([]byte("n"), 1))); !errors.Is(err, ErrClosed) {
		t.Fatalf("propose after close: %v, want ErrClosed", err)
	}
}
