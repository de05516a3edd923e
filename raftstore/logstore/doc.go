// Package logstore is Tributary's raft log and stable store: one Pebble
// database that implements hashicorp/raft's LogStore, StableStore and
// MonotonicLogStore.
//
// It exists because no maintained Pebble log store does, and raft-boltdb v2
// no longer builds with raft v1.8.0 (DESIGN.md, "Facts we measured").
//
// # What it owns, and what it never does
//
// The package owns the raft log entries, raft's stable keys (current term,
// last vote) and their on-disk encoding. It knows nothing of commands, the
// FSM or snapshots; the FSM's Pebble database is a different database, and
// Open refuses (ErrNotLogStore) a non-empty database it did not create. It
// never logs through anything but Options.Logger, never panics on stored
// bytes, and never returns a value that aliases Pebble's memory: GetLog and
// Get return fresh copies.
//
// # Key layout
//
// Every key starts with a one-byte prefix, so each kind is a contiguous
// range and a range operation on one never touches another:
//
//	+------+----------------------------+
//	| 'M'  | "format"                   |  -> format marker: uint64 1
//	+------+----------------------------+
//	| 'L'  | index (8 B, big-endian)    |  -> log entry (format below)
//	+------+----------------------------+
//	| 'S'  | raft's key bytes           |  -> stable value (format below)
//	+------+----------------------------+
//
// Log keys sort by index and raft appends at the end, so keys only grow:
// flushed sstables hardly overlap and Pebble moves them down without
// rewriting them. Truncation, at either end, is one range deletion.
//
// # Log entry format (version 1)
//
// Every field of raft.Log is stored; cum is ours (see LogBytes):
//
//	+-----+-------+------+---------+---------+---------+
//	| ver | flags | type | index   | term    | cum     |
//	| 1 B | 1 B   | 1 B  | uvarint | uvarint | uvarint |
//	+-----+-------+------+---------+---------+---------+
//	| appended_at s | appended_at ns | len(Data) | len(Extensions) |
//	| varint        | uvarint        | uvarint   | uvarint         |
//	+---------------+----------------+-----------+-----------------+
//	| Data ...      | Extensions ... | CRC-32C of all bytes before |
//	|               |                | (4 B, big-endian)           |
//	+---------------+----------------+-----------------------------+
//
// ver is 1. Flags bit 0 says AppendedAt is present; the two appended_at
// fields exist only then, and a zero AppendedAt round-trips as the zero time.
// Every other flag bit must be 0. The index is stored in the value as well
// as in the key, so a value found under the wrong key is reported, not
// returned. The checksum is verified before any field is read; every length
// is bounded by the bytes that remain (and by MaxMaxEntryBytes), and the
// lengths must account for every byte, so a corrupt value yields an error
// wrapping ErrCorrupt — never a wrong entry and never a large allocation.
// AppendedAt reads back in the local time zone without a monotonic clock
// reading (compare with time.Time.Equal); empty Data and Extensions read back
// as nil.
//
// Stable values are version, kind (bytes or uint64), payload and CRC-32C
// (see encodeStable).
//
// # MonotonicLogStore
//
// IsMonotonic returns true. After installing a snapshot, raft then deletes
// the whole log instead of keeping the old entries below a gap; with one
// range deletion that costs the same as any truncation here, and it keeps
// stale pre-snapshot entries from lingering and counting in LogBytes.
// The store does not reject gaps, though: a crash between persisting a
// snapshot and removing the old log can still make raft append after a gap
// on restart, and refusing that append would wedge the node. Gaps are stored
// as given; FirstIndex and LastIndex are the lowest and highest stored index.
//
// # Concurrency
//
// Every method is safe for concurrent use; raft calls the store from its
// main loop, its snapshot goroutine and its replication goroutines at once.
// StoreLogs and DeleteRange serialize on a mutex held across their synced
// commit, so the cached bounds change in commit order. FirstIndex, LastIndex
// and LogBytes read an atomic copy of the bounds and never wait for I/O
// (unless an earlier error left the copy unknown, when the next call
// rescans). GetLog, Get and GetUint64 read Pebble directly and run in
// parallel with writers. Close waits for calls in progress; every call after
// it returns ErrClosed.
//
// # Durability
//
// StoreLogs, StoreLog, DeleteRange, Set and SetUint64 each commit one Pebble
// batch with a WAL sync (pebble.Sync) before returning nil, so what they
// acknowledged survives a crash, and each is atomic: after a crash all of its
// effect is present or none. A call that returns an error may or may not have
// taken effect, as with any disk write.
//
// Pebble treats a failed WAL write or sync, and a failed MANIFEST update, as
// fatal: it calls Logger.Fatalf and cannot continue (its commit pipeline is
// left wedged, and the failed batch may already be visible to readers). Our
// Fatalf never returns: it panics with a private value. On the goroutine of
// a Store call that panic is recovered and returned as an error wrapping
// ErrFatal, and the store fails every later call with it; the owner stops
// raft and reopens the store, and WAL recovery restores exactly the
// acknowledged state plus, possibly, the interrupted batch. When Pebble hits
// such a failure on one of its background goroutines (a flush or compaction
// updating the MANIFEST) nothing can recover the panic and the process stops
// — the same outcome as Pebble's default logger, which exits — and restart
// recovers from the WAL. Every Open updates the MANIFEST from such a
// goroutine, so a disk that fails during Open can stop the process too, and
// Pebble panics outright (not through Fatalf) when the directory sync that
// commits a MANIFEST switch fails.
// Corruption found by a read is logged and returned by that read, not fatal.
//
// A Pebble v2.1.7 defect to know: an Open that fails with an I/O error after
// it has flushed the replayed WAL frees its table cache while a statistics
// goroutine it started may still read through it, which panics (integer
// divide by zero in the file cache). Such an Open cannot succeed anyway; the
// node stops instead of reporting the error. The fault tests avoid that
// window (fault_test.go) rather than hide it.
//
// # Pebble settings
//
// See Options.pebbleOptions: a 16 MiB memtable (entries are short-lived, and
// those truncated while still in the memtable are dropped at flush), no
// background WAL syncs (every commit syncs), 512 KiB background syncs for
// sstables, a forced flush 30 s after a range deletion so truncated space
// is reclaimed on an idle cluster, a small block cache (raft caches recent
// entries itself) and a pinned format major version.
package logstore
