package logstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults and bounds of Options. The zero value of an Options field means
// its default; it never means "unlimited".
const (
	// DefaultMaxEntryBytes is the default cap on len(Data)+len(Extensions)
	// of one log entry. The proposer batches many messages into one entry,
	// so it is generous; it still bounds what a corrupt length can make us
	// believe.
	DefaultMaxEntryBytes = 64 << 20
	// MaxMaxEntryBytes is the largest MaxEntryBytes Validate accepts. Pebble
	// batches address their contents with 32-bit offsets, and an entry must
	// fit in one batch with room to spare.
	MaxMaxEntryBytes = 1 << 30
	// DefaultCacheBytes is the default Pebble block cache. Raft keeps its own
	// cache of recent entries (raft.LogCache) and recent entries are still in
	// the memtable, so the log needs little block cache.
	DefaultCacheBytes = 8 << 20
	// DefaultMemTableBytes is the default Pebble memtable size. Entries are
	// written once and deleted after the next snapshot; a medium memtable lets
	// many of them be dropped by their range deletion before they are ever
	// written to an sstable, without holding much memory.
	DefaultMemTableBytes = 16 << 20
	// DefaultMaxOpenFiles is the default soft cap on Pebble's open files. A
	// log database holds few sstables, since it is truncated after snapshots.
	DefaultMaxOpenFiles = 256
	// minMemTableBytes keeps Pebble's memtable large enough to hold a useful
	// batch; Pebble itself rejects very small values.
	minMemTableBytes = 1 << 20
	// tombstoneFlushDelay forces a flush of a memtable holding a range
	// deletion after this long, so the disk space of truncated entries is
	// reclaimed even when the cluster is idle after a snapshot.
	tombstoneFlushDelay = 30 * time.Second
	// memTableStopWrites is the number of queued memtables past which Pebble
	// stalls writes (Pebble's MemTableStopWritesThreshold).
	memTableStopWrites = 4
)

// Options configures a Store. The zero value of a field means its default.
type Options struct {
	// FS is the filesystem the database lives in. Default vfs.Default; tests
	// pass vfs.NewCrashableMem() or an errorfs wrapper.
	FS vfs.FS
	// Logger receives Pebble's log lines and storage anomalies. Default: a
	// logger that discards everything. No library writes to stderr.
	Logger *slog.Logger
	// MaxEntryBytes caps len(Data)+len(Extensions) of one log entry. StoreLogs
	// refuses larger entries, and a stored value whose lengths claim more is
	// reported as corrupt before anything is allocated for it.
	// Default DefaultMaxEntryBytes; at most MaxMaxEntryBytes.
	MaxEntryBytes int
	// CacheBytes is the size of Pebble's block cache. Default
	// DefaultCacheBytes.
	CacheBytes int64
	// MemTableBytes is the size of one Pebble memtable. Default
	// DefaultMemTableBytes; at least 1 MiB.
	MemTableBytes int
	// MaxOpenFiles is a soft cap on the files Pebble keeps open. Default
	// DefaultMaxOpenFiles.
	MaxOpenFiles int
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.Default
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxEntryBytes == 0 {
		o.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = DefaultMemTableBytes
	}
	if o.MaxOpenFiles == 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	return o
}

// Validate reports every out-of-range field of o (after defaults are
// applied) as one joined error.
func (o Options) Validate() error {
	o = o.withDefaults()
	var errs []error
	if o.MaxEntryBytes < 0 || o.MaxEntryBytes > MaxMaxEntryBytes {
		errs = append(errs, fmt.Errorf("logstore: MaxEntryBytes %d outside [1, %d]", o.MaxEntryBytes, MaxMaxEntryBytes))
	}
	if o.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("logstore: CacheBytes %d is negative", o.CacheBytes))
	}
	if o.MemTableBytes < minMemTableBytes {
		errs = append(errs, fmt.Errorf("logstore: MemTableBytes %d is below %d", o.MemTableBytes, minMemTableBytes))
	}
	if o.MaxOpenFiles < 16 {
		errs = append(errs, fmt.Errorf("logstore: MaxOpenFiles %d is below 16", o.MaxOpenFiles))
	}
	return errors.Join(errs...)
}

// pebbleOptions translates o (with defaults applied) into Pebble options
// suited to a raft log: small values written once in increasing key order,
// every commit synced, the oldest entries removed by range deletions.
func (o Options) pebbleOptions(log *pebbleLogger) *pebble.Options {
	popts := &pebble.Options{
		FS:     o.FS,
		Logger: log,
		// FormatTableFormatV6 is pinned, not FormatNewest, so that a Pebble
		// upgrade never ratchets the on-disk format by itself. It includes
		// FormatWALSyncChunks: WAL records carry the offset known to be
		// synced, so recovery tells a torn unsynced tail (dropped) from
		// corruption of acknowledged data (an error).
		FormatMajorVersion:          pebble.FormatTableFormatV6,
		CacheSize:                   o.CacheBytes,
		MemTableSize:                uint64(o.MemTableBytes),
		MemTableStopWritesThreshold: memTableStopWrites,
		MaxOpenFiles:                o.MaxOpenFiles,
		// Every commit is synced, so background WAL syncs would add fsyncs
		// without adding durability (0 disables them).
		WALBytesPerSync: 0,
		// Sstables (flushes and compactions) are synced every 512 KiB in the
		// background to avoid a latency spike when the kernel writes back a
		// large dirty region at once, stalling the WAL fsync behind it.
		BytesPerSync:          512 << 10,
		FlushDelayDeleteRange: tombstoneFlushDelay,
		EventListener:         log.eventListener(),
	}
	// No block compression: an entry is mostly payloads (MQTT messages,
	// Kafka batches a producer often compressed already), written once
	// and deleted after the next snapshot; compressing them costs CPU in
	// every flush for little space.
	popts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	// Keys only grow, so flushed sstables rarely overlap and Pebble moves
	// them down the LSM without rewriting them; the default leveling and
	// compaction concurrency suit that.
	return popts
}
