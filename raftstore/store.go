package raftstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"tributary/raftstore/logstore"
)

// Store is one node's replica of the replicated state: raft over our
// Pebble log store, the state machine in its own Pebble database, and the
// proposer that batches commands into raft entries.
type Store struct {
	cfg    Config
	logger *slog.Logger

	logs     *logstore.Store
	fsm      *fsm
	snaps    *raft.FileSnapshotStore
	trans    *raft.NetworkTransport
	raft     *raft.Raft
	proposer *proposer
	metrics  *metrics

	forwarder    atomic.Pointer[Forwarder] // set by SetForwarder
	forwards     *forwardQueue             // a follower's commands on their way to the leader
	caughtUpOnce atomic.Bool               // Ready held once since Open
	waiters      *appliedWaiters           // forwarded answers waiting for apply

	done      chan struct{} // closed by fail
	opened    chan struct{} // closed when Open returns
	failOnce  sync.Once
	fatalErr  error // set before done is closed
	closeOnce sync.Once
	closeErr  error
	stopBg    chan struct{}
	bgDone    sync.WaitGroup
}

// keyNodeID is where the stable store records the node ID it belongs to.
var keyNodeID = []byte("tributary/node_id")

// Open starts this node's replica: it opens (or creates) the log, the
// state and the snapshots under cfg.DataDir, restores the state from the
// latest snapshot if the state is behind it, bootstraps a one-voter
// cluster on first start (unless cfg.NoBootstrap), and starts raft.
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Store{
		cfg:     cfg,
		logger:  cfg.Logger, // cmd's root logger already carries node_id
		metrics: newMetrics(),
		done:    make(chan struct{}),
		opened:  make(chan struct{}),
		stopBg:  make(chan struct{}),
	}
	err := s.open()
	close(s.opened)
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open() error {
	var err error
	if err = s.openStorage(); err != nil {
		return err
	}
	if err = s.catchUpWithSnapshot(); err != nil {
		return err
	}
	s.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  s.cfg.StreamLayer,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  newHCLog(s.logger.With("component", "raft-transport")),
	})
	rc := s.cfg.raftConfig()
	if err = s.bootstrap(rc); err != nil {
		return err
	}
	logs := watchedLog{Store: s.logs, fail: s.fail}
	if s.raft, err = raft.NewRaft(rc, s.fsm, logs, logs, s.snaps, s.trans); err != nil {
		return fmt.Errorf("raftstore: start raft: %w", err)
	}
	s.proposer = newProposer(s.raft, s.cfg, s.metrics)
	if err = s.metrics.register(s.cfg.Registerer, s); err != nil {
		return err
	}
	s.forwards = newForwardQueue(s)
	s.bgDone.Add(3)
	go s.watchLogSize()
	go func() {
		defer s.bgDone.Done()
		s.forwards.run(s.stopBg)
	}()
	go func() {
		defer s.bgDone.Done()
		s.waiters.run(s.stopBg)
	}()
	s.logger.Info("raft store open", "raft_index", s.fsm.applied.Load(), "advertise", s.cfg.AdvertiseAddr)
	return nil
}

func (s *Store) openStorage() error {
	var err error
	if err = os.MkdirAll(s.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("raftstore: create data dir: %w", err)
	}
	s.logs, err = logstore.Open(filepath.Join(s.cfg.DataDir, "raft"), logstore.Options{
		FS:     s.cfg.FS,
		Logger: s.logger.With("db", "raft-log"),
	})
	if err != nil {
		return fmt.Errorf("raftstore: open raft log: %w", err)
	}
	if err = s.checkNodeID(); err != nil {
		return err
	}
	s.fsm, err = openFSM(s.cfg.FS, filepath.Join(s.cfg.DataDir, "fsm"), s.logger, s.metrics)
	if err != nil {
		return err
	}
	s.fsm.kafka.cache = newBatchCache(s.cfg.KafkaCacheBytes)
	s.fsm.onFatal = s.fail
	s.fsm.onEvents = s.cfg.OnEvents
	s.waiters = newAppliedWaiters(s.fsm.applied.Load)
	s.fsm.onApplied = s.waiters.signal
	s.snaps, err = raft.NewFileSnapshotStoreWithLogger(s.cfg.DataDir, s.cfg.SnapshotRetain,
		newHCLog(s.logger.With("component", "raft-snapshots")))
	if err != nil {
		return fmt.Errorf("raftstore: open snapshot store: %w", err)
	}
	return nil
}

// checkNodeID refuses a data directory written by another node ID: raft
// would not find itself in its own configuration and never lead.
func (s *Store) checkNodeID() error {
	v, err := s.logs.Get(keyNodeID)
	switch {
	case errors.Is(err, logstore.ErrNotFound):
		return s.logs.Set(keyNodeID, []byte(s.cfg.NodeID))
	case err != nil:
		return fmt.Errorf("raftstore: read node id: %w", err)
	case string(v) != s.cfg.NodeID:
		return fmt.Errorf("raftstore: data dir %s belongs to node %q, not %q", s.cfg.DataDir, v, s.cfg.NodeID)
	}
	return nil
}

// catchUpWithSnapshot restores the state from the newest snapshot when the
// state is behind it. raft (with NoSnapshotRestoreOnStart) replays only
// the entries after its latest snapshot, so a state behind the snapshot
// would silently miss the entries in between (DESIGN.md, "Apply is
// deterministic"). Snapshot syncs the state first, so this happens only
// when the state database was lost or replaced.
func (s *Store) catchUpWithSnapshot() error {
	metas, err := s.snaps.List()
	if err != nil {
		return fmt.Errorf("raftstore: list snapshots: %w", err)
	}
	if len(metas) == 0 {
		return s.checkLogCoversState()
	}
	meta, rc, err := s.snaps.Open(metas[0].ID)
	if err != nil {
		return fmt.Errorf("raftstore: open snapshot %s: %w", metas[0].ID, err)
	}
	snapApplied, err := readSnapshotHeader(rc)
	rc.Close()
	if err != nil {
		return fmt.Errorf("raftstore: snapshot %s: %w", meta.ID, err)
	}
	if applied := s.fsm.applied.Load(); applied < snapApplied {
		s.logger.Warn("state is behind the latest snapshot; restoring it",
			"raft_index", applied, "snapshot_index", snapApplied, "snapshot", meta.ID)
		if _, rc, err = s.snaps.Open(meta.ID); err != nil {
			return fmt.Errorf("raftstore: reopen snapshot %s: %w", meta.ID, err)
		}
		if err := s.fsm.Restore(rc); err != nil {
			return fmt.Errorf("raftstore: restore snapshot %s at start: %w", meta.ID, err)
		}
	}
	return nil
}

// checkLogCoversState refuses to start when, with no snapshot, the log no
// longer holds the entries right after the state: they are gone and the
// state could only diverge.
func (s *Store) checkLogCoversState() error {
	first, err := s.logs.FirstIndex()
	if err != nil {
		return fmt.Errorf("raftstore: raft log first index: %w", err)
	}
	if applied := s.fsm.applied.Load(); first > applied+1 {
		return fmt.Errorf("raftstore: state is at entry %d but the raft log starts at %d and no snapshot covers the gap: the data directory is damaged", applied, first)
	}
	return nil
}

func (s *Store) bootstrap(rc *raft.Config) error {
	if s.cfg.NoBootstrap {
		return nil
	}
	has, err := raft.HasExistingState(s.logs, s.logs, s.snaps)
	if err != nil {
		return fmt.Errorf("raftstore: check existing raft state: %w", err)
	}
	if has {
		return nil
	}
	s.logger.Info("bootstrapping a one-voter cluster")
	conf := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter,
		ID:       raft.ServerID(s.cfg.NodeID),
		Address:  raft.ServerAddress(s.cfg.AdvertiseAddr),
	}}}
	if err := raft.BootstrapCluster(rc, s.logs, s.logs, s.snaps, s.trans, conf); err != nil {
		return fmt.Errorf("raftstore: bootstrap: %w", err)
	}
	return nil
}

// Propose replicates cmd and waits until it has been committed and applied
// on this node, returning apply's answer: a value, a *RejectedError, or an
// error saying it was not (or may not have been) committed — see
// ErrNotLeader, ErrClosed, ErrOutcomeUnknown. Giving up on ctx does not
// withdraw a command already queued.
func (s *Store) Propose(ctx context.Context, cmd Command) ([]byte, error) {
	type answer struct {
		value []byte
		err   error
	}
	ch := make(chan answer, 1)
	if err := s.ProposeAsync(ctx, cmd, func(v []byte, err error) { ch <- answer{v, err} }); err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a.value, a.err
	case <-ctx.Done():
		return nil, fmt.Errorf("raftstore: waiting for commit: %w", ctx.Err())
	}
}

// ProposeAsync queues cmd and returns; done is called exactly once with
// what Propose would have returned, on the proposer's goroutine, so it
// must not block. If ProposeAsync returns an error, done is not called.
// It waits (until ctx ends) only while the proposal queue is full.
func (s *Store) ProposeAsync(ctx context.Context, cmd Command, done func(value []byte, err error)) error {
	if err := s.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if s.forwarder.Load() != nil && !s.IsLeader() {
		return s.forward(ctx, cmd, done)
	}
	return s.proposer.submit(ctx, cmd, func(_ uint64, v []byte, err error) { done(v, err) })
}

// IsLeader reports whether this node is the raft leader now.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the raft address and ID of the leader this node knows of,
// or empty strings when there is none.
func (s *Store) Leader() (address, id string) {
	a, i := s.raft.LeaderWithID()
	return string(a), string(i)
}

// AppliedIndex is the index of the last raft entry in this node's state.
func (s *Store) AppliedIndex() uint64 { return s.fsm.applied.Load() }

// Ready returns nil when the node can serve: raft has a leader, this node
// knows what is committed (an entry of the current term has committed, so
// entries of earlier terms in its log are settled), and its state includes
// every entry it knows to be committed — until the first time that holds
// after Open. From then on a state at most Config.ReadyMaxLag entries
// behind the commit index is ready too: a follower under load always
// trails the leader by a few entries, and a load balancer must not take it
// out of rotation for that. Otherwise it says why not.
func (s *Store) Ready() error {
	if s.caughtUpOnce.Load() {
		return s.caughtUp(s.cfg.ReadyMaxLag)
	}
	err := s.caughtUp(0)
	if err == nil {
		s.caughtUpOnce.Store(true)
	}
	return err
}

// CaughtUp is Ready without the lag allowance: nil only when the state
// includes every entry this node knows to be committed (and raft has a
// leader that committed an entry of its term).
func (s *Store) CaughtUp() error { return s.caughtUp(0) }

// caughtUp is Ready's check, allowing the state to trail the commit index
// by at most maxLag entries.
func (s *Store) caughtUp(maxLag uint64) error {
	if err := s.Err(); err != nil {
		return err
	}
	if _, id := s.raft.LeaderWithID(); id == "" {
		return errors.New("raftstore: no raft leader")
	}
	term := s.raft.CurrentTerm()
	commit := s.raft.CommitIndex()
	var l raft.Log
	if err := s.logs.GetLog(commit, &l); err != nil || l.Term != term {
		return fmt.Errorf("raftstore: nothing of term %d committed yet (commit index %d)", term, commit)
	}
	applied := s.fsm.applied.Load()
	if applied+maxLag >= commit {
		return nil
	}
	pending, err := s.stateEntryBetween(applied, commit)
	if err != nil {
		return err
	}
	if pending {
		return fmt.Errorf("raftstore: applied %d of %d committed entries", applied, commit)
	}
	return nil
}

// stateEntryBetween reports whether (after, upTo] holds an entry the state
// machine applies. raft appends entries the state never sees (a new
// leader's no-op, barriers), so "applied ≥ commit" alone would never hold
// while one of those is the latest entry.
func (s *Store) stateEntryBetween(after, upTo uint64) (bool, error) {
	const maxScan = 1024 // raft-internal entries come one at a time
	if upTo-after > maxScan {
		return true, nil
	}
	var l raft.Log
	for i := upTo; i > after; i-- {
		if err := s.logs.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				return true, nil // truncated under us: ask again later
			}
			return false, fmt.Errorf("raftstore: read log %d: %w", i, err)
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return true, nil
		}
	}
	return false, nil
}

// Done is closed when the store stops by itself on a fatal error (see Err).
func (s *Store) Done() <-chan struct{} { return s.done }

// Err returns the fatal error that stopped the store, or nil.
func (s *Store) Err() error {
	select {
	case <-s.done:
		return s.fatalErr
	default:
		return nil
	}
}

// fail stops the store after a fatal error; called by the state machine
// on a goroutine of its own.
func (s *Store) fail(err error) {
	s.failOnce.Do(func() {
		s.fatalErr = err
		close(s.done)
	})
	s.logger.Error("raft store stopping after a fatal error", "err", err)
	<-s.opened // the state machine may stop while Open is still replaying
	if cerr := s.Close(); cerr != nil {
		s.logger.Error("raft store close after fatal error", "err", cerr)
	}
}

// Close stops raft and closes the databases. Proposals still queued fail
// with ErrClosed; those already handed to raft get raft's answer first,
// because raft abandons, without an answer, the entries it holds when it
// shuts down. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.logger.Info("raft store closing")
		if s.proposer != nil {
			s.proposer.beginClose()
			if !s.proposer.waitFor(s.cfg.ShutdownTimeout) {
				s.logger.Error("raft did not answer every proposal before shutdown; their callers get no answer",
					"timeout", s.cfg.ShutdownTimeout)
			}
		}
		close(s.stopBg)
		s.bgDone.Wait()
		s.closeErr = s.closeParts()
	})
	return s.closeErr
}

func (s *Store) closeParts() error {
	var errs []error
	if s.raft != nil {
		if err := s.raft.Shutdown().Error(); err != nil {
			errs = append(errs, fmt.Errorf("raftstore: shut down raft: %w", err))
		}
	}
	if s.trans != nil {
		if err := s.trans.Close(); err != nil {
			errs = append(errs, fmt.Errorf("raftstore: close transport: %w", err))
		}
	}
	if s.fsm != nil {
		errs = append(errs, s.fsm.close())
	}
	if s.logs != nil {
		if err := s.logs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("raftstore: close raft log: %w", err))
		}
	}
	return errors.Join(errs...)
}
