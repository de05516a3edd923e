package raftstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Store. The zero value of every tuning field means
// "use the default"; it never means "unlimited".
type Config struct {
	// NodeID is this node's raft server ID. It is recorded in the data
	// directory on first start, and a later start with another ID is
	// refused: raft would not recognise itself in its own configuration.
	NodeID string
	// DataDir holds raft/ (the log and raft's stable state), fsm/ (the
	// state database) and snapshots/.
	DataDir string
	// StreamLayer carries raft traffic (NewStreamLayer adapts wire's
	// cluster port).
	StreamLayer raft.StreamLayer
	// AdvertiseAddr is the raft address other nodes reach this node at.
	// Default: StreamLayer.Addr().
	AdvertiseAddr string
	// NoBootstrap keeps a node with no raft state from making itself a
	// one-voter cluster, as a node that will join an existing cluster must.
	NoBootstrap bool
	// FS is the filesystem of the log and state databases. Default:
	// vfs.Default. Tests use vfs.NewCrashableMem. Snapshots always live on
	// the real filesystem (raft's file snapshot store).
	FS vfs.FS
	// Logger receives raft's, Pebble's and this package's logs. Nil
	// discards them.
	Logger *slog.Logger
	// Registerer receives the store's metrics. Nil registers nothing.
	Registerer prometheus.Registerer
	// OnEvents receives the MQTT events of every batch of entries this node
	// applies (takeovers, deliveries for sessions without persistence,
	// queue growth, ended sessions), in apply order, once the batch has
	// committed to the state database — also while Open replays the log.
	// It is called on raft's FSM goroutine and must not block: hand the
	// events to other goroutines. The slice and the messages it points to
	// are the callee's and never reused; the deliveries of one publish
	// share one *Message, so treat messages as read-only. Nil drops them.
	OnEvents func([]Event)

	// HeartbeatTimeout and ElectionTimeout are raft's; defaults 1s each.
	HeartbeatTimeout time.Duration
	ElectionTimeout  time.Duration
	// CommitTimeout is how long an idle leader waits before it sends a
	// heartbeat carrying the latest commit index. Default 5ms.
	CommitTimeout time.Duration
	// MaxAppendEntries caps log entries per append RPC and per batch of
	// the apply channel. Default 512; raft allows at most 1024.
	MaxAppendEntries int

	// MaxEntryBytes is the size at which the proposer stops packing more
	// commands into one raft entry. Default 1 MiB.
	MaxEntryBytes int
	// MaxCommandBytes bounds one command; bigger proposals are refused with
	// ErrCommandTooLarge. Default 16 MiB.
	MaxCommandBytes int
	// MaxPendingProposals bounds the proposals queued for the next entry;
	// past it Propose waits (and its context may give up). Default 16384.
	MaxPendingProposals int
	// MaxInflightEntries bounds the entries proposed and not yet applied.
	// While that many are in flight, new proposals wait in the queue and
	// leave together in the next entry: few in flight packs many commands
	// per entry. Default 4 (measured: at 256 proposers, 4 packs ~30
	// commands per entry and doubles throughput over 256, which packs ~1).
	MaxInflightEntries int
	// KafkaCacheBytes is the memory that keeps the newest Kafka record
	// batches of every partition, so that fetches at the tail are served
	// without reading Pebble. Default 64 MiB; negative disables it.
	KafkaCacheBytes int64
	// ReadyMaxLag is how many committed entries a node's state may trail
	// by and still be Ready, once it has caught up after Open. Default 4096.
	ReadyMaxLag uint64
	// ApplyTimeout bounds how long the proposer waits for raft to accept an
	// entry. Default 10s.
	ApplyTimeout time.Duration

	// SnapshotThreshold is the number of entries since the last snapshot
	// that makes raft take the next one; raft checks it every
	// SnapshotInterval. Defaults 16384 and 30s.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// TrailingLogs is how many entries a snapshot leaves in the log, so a
	// follower slightly behind catches up from the log, not a snapshot.
	// Default 10240.
	TrailingLogs uint64
	// MaxLogBytes triggers a snapshot (and so a log truncation) when the
	// raft log grows past it, whatever the entry count. Default 512 MiB.
	MaxLogBytes int64
	// TrailingLogBytes caps what a size-triggered truncation leaves behind:
	// TrailingLogs is lowered to fit it for large entries. Default 64 MiB.
	TrailingLogBytes int64
	// LogCheckInterval is how often the log size is checked. Default 5s.
	LogCheckInterval time.Duration
	// SnapshotRetain is how many snapshots are kept on disk. Default 2.
	SnapshotRetain int
	// ShutdownTimeout bounds how long Close waits for raft to answer the
	// proposals it already accepted. Default 10s.
	ShutdownTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.AdvertiseAddr == "" && c.StreamLayer != nil {
		c.AdvertiseAddr = c.StreamLayer.Addr().String()
	}
	if c.FS == nil {
		c.FS = vfs.Default
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&c.HeartbeatTimeout, time.Second)
	setDefault(&c.ElectionTimeout, time.Second)
	setDefault(&c.CommitTimeout, 5*time.Millisecond)
	setDefault(&c.MaxAppendEntries, 512)
	setDefault(&c.MaxEntryBytes, 1<<20)
	setDefault(&c.MaxCommandBytes, 16<<20)
	setDefault(&c.MaxPendingProposals, 16384)
	setDefault(&c.MaxInflightEntries, 4)
	setDefault(&c.ApplyTimeout, 10*time.Second)
	setDefault(&c.ReadyMaxLag, 4096)
	setDefault(&c.KafkaCacheBytes, 64<<20)
	setDefault(&c.SnapshotThreshold, 16384)
	setDefault(&c.SnapshotInterval, 30*time.Second)
	setDefault(&c.TrailingLogs, 10240)
	setDefault(&c.MaxLogBytes, 512<<20)
	setDefault(&c.TrailingLogBytes, 64<<20)
	setDefault(&c.LogCheckInterval, 5*time.Second)
	setDefault(&c.SnapshotRetain, 2)
	setDefault(&c.ShutdownTimeout, 10*time.Second)
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate reports every problem of the configuration (after defaults) at
// once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("raftstore: "+format, args...))
		}
	}
	check(c.NodeID != "", "NodeID is required")
	check(len(c.NodeID) <= 64, "NodeID is longer than 64 bytes")
	check(c.DataDir != "", "DataDir is required")
	check(c.StreamLayer != nil, "StreamLayer is required")
	check(c.AdvertiseAddr != "", "AdvertiseAddr is required when there is no StreamLayer to take it from")
	check(c.HeartbeatTimeout >= 5*time.Millisecond, "HeartbeatTimeout %v is below 5ms", c.HeartbeatTimeout)
	check(c.ElectionTimeout >= c.HeartbeatTimeout, "ElectionTimeout %v is below HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	check(c.CommitTimeout >= time.Millisecond, "CommitTimeout %v is below 1ms", c.CommitTimeout)
	check(c.MaxAppendEntries > 0 && c.MaxAppendEntries <= 1024, "MaxAppendEntries %d is outside 1..1024", c.MaxAppendEntries)
	check(c.MaxEntryBytes > 0, "MaxEntryBytes must be positive")
	check(c.MaxCommandBytes >= c.MaxEntryBytes/2, "MaxCommandBytes %d is below half of MaxEntryBytes %d", c.MaxCommandBytes, c.MaxEntryBytes)
	check(c.MaxCommandBytes <= 256<<20, "MaxCommandBytes %d is above 256 MiB", c.MaxCommandBytes)
	check(c.MaxPendingProposals > 0, "MaxPendingProposals must be positive")
	check(c.MaxInflightEntries > 0, "MaxInflightEntries must be positive")
	check(c.TrailingLogs > 0, "TrailingLogs must be positive")
	check(c.TrailingLogBytes > 0 && c.TrailingLogBytes < c.MaxLogBytes, "TrailingLogBytes %d must be positive and below MaxLogBytes %d", c.TrailingLogBytes, c.MaxLogBytes)
	check(c.SnapshotInterval >= 5*time.Millisecond, "SnapshotInterval %v is below 5ms", c.SnapshotInterval)
	check(c.SnapshotRetain >= 1, "SnapshotRetain must be at least 1")
	return errors.Join(errs...)
}

// raftConfig translates the store's configuration into raft's.
func (c Config) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.NodeID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = min(rc.LeaderLeaseTimeout, c.HeartbeatTimeout)
	rc.CommitTimeout = c.CommitTimeout
	rc.MaxAppendEntries = c.MaxAppendEntries
	rc.BatchApplyCh = true
	rc.NoSnapshotRestoreOnStart = true
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	rc.Logger = newHCLog(c.Logger.With("component", "raft"))
	rc.NoLegacyTelemetry = true
	return rc
}
