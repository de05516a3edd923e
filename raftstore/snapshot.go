package raftstore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// A snapshot is the whole state database, streamed key by key in key order:
//
//	header: magic "TRIBSNAP" (8) | format (u32) | reserved (u32) | applied index (u64)
//	block:  length (u32, > 0) | crc32c of records (u32) | records
//	        record: key length (uvarint) | key | value length (uvarint) | value
//	end:    0 (u32) | record count (u64) | crc32c of the record count (u32)
//
// Integers are big-endian. The applied index in the header is the state's
// own (the last command or configuration entry it holds), which may be
// below raft's snapshot index when raft-internal entries (no-ops, barriers)
// follow it; that gap holds nothing for the state machine.
const (
	snapshotMagic     = "TRIBSNAP"
	snapshotFormat    = 1
	snapshotHeaderLen = 24
	// snapshotBlockBytes is the size at which the writer ends a block.
	snapshotBlockBytes = 1 << 20
	// maxSnapshotBlockBytes bounds a block a reader accepts (a record larger
	// than snapshotBlockBytes gets a block of its own).
	maxSnapshotBlockBytes = 256 << 20
	// restoreBatchBytes is how much a restore stages per Pebble commit.
	restoreBatchBytes = 4 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errSnapshotCorrupt reports a snapshot stream that fails its checks.
var errSnapshotCorrupt = errors.New("raftstore: corrupt snapshot")

// Snapshot flushes the state database to sstables (it has no WAL), so that
// everything up to the snapshot is durable before raft truncates the log
// behind it (DESIGN.md, "Apply is deterministic"), then pins a consistent
// Pebble snapshot for Persist.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.Err(); err != nil {
		return nil, fmt.Errorf("raftstore: no snapshot of a stopped state machine: %w", err)
	}
	if err := f.db.Flush(); err != nil {
		return nil, fmt.Errorf("raftstore: flush state db before snapshot: %w", err)
	}
	f.pinned.Add(1)
	f.metrics.snapshots.Inc()
	return &fsmSnapshot{snap: f.db.NewSnapshot(), applied: f.applied.Load(), done: f.pinned.Done}, nil
}

type fsmSnapshot struct {
	snap    *pebble.Snapshot
	applied uint64
	done    func()
}

// Persist streams the pinned state into sink, and cancels the sink on error.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("raftstore: close snapshot sink: %w", err)
	}
	return nil
}

func (s *fsmSnapshot) write(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := bw.Write(snapshotHeader(s.applied)); err != nil {
		return fmt.Errorf("raftstore: write snapshot header: %w", err)
	}
	it, err := s.snap.NewIter(nil)
	if err != nil {
		return fmt.Errorf("raftstore: snapshot iterator: %w", err)
	}
	defer it.Close()
	var block []byte
	var count uint64
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("raftstore: snapshot read: %w", err)
		}
		block = appendRecord(block, it.Key(), v)
		count++
		if len(block) >= snapshotBlockBytes {
			if err := writeBlock(bw, block); err != nil {
				return err
			}
			block = block[:0]
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("raftstore: snapshot iterate: %w", err)
	}
	if len(block) > 0 {
		if err := writeBlock(bw, block); err != nil {
			return err
		}
	}
	if _, err := bw.Write(snapshotEnd(count)); err != nil {
		return fmt.Errorf("raftstore: write snapshot end: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("raftstore: flush snapshot: %w", err)
	}
	return nil
}

// Release unpins the Pebble snapshot.
func (s *fsmSnapshot) Release() {
	s.snap.Close()
	s.done()
}

func snapshotHeader(applied uint64) []byte {
	h := make([]byte, 0, snapshotHeaderLen)
	h = append(h, snapshotMagic...)
	h = binary.BigEndian.AppendUint32(h, snapshotFormat)
	h = binary.BigEndian.AppendUint32(h, 0)
	return binary.BigEndian.AppendUint64(h, applied)
}

func snapshotEnd(count uint64) []byte {
	e := binary.BigEndian.AppendUint32(make([]byte, 0, 16), 0)
	c := binary.BigEndian.AppendUint64(nil, count)
	e = append(e, c...)
	return binary.BigEndian.AppendUint32(e, crc32.Checksum(c, crcTable))
}

func appendRecord(dst, k, v []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(k)))
	dst = append(dst, k...)
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func writeBlock(w io.Writer, block []byte) error {
	var h [8]byte
	binary.BigEndian.PutUint32(h[:4], uint32(len(block)))
	binary.BigEndian.PutUint32(h[4:], crc32.Checksum(block, crcTable))
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("raftstore: write snapshot block: %w", err)
	}
	if _, err := w.Write(block); err != nil {
		return fmt.Errorf("raftstore: write snapshot block: %w", err)
	}
	return nil
}

// readSnapshotHeader reads and checks a snapshot's header and returns the
// applied index it records.
func readSnapshotHeader(r io.Reader) (uint64, error) {
	var h [snapshotHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, fmt.Errorf("%w: header: %w", errSnapshotCorrupt, err)
	}
	if string(h[:8]) != snapshotMagic {
		return 0, fmt.Errorf("%w: bad magic %q", errSnapshotCorrupt, h[:8])
	}
	if v := binary.BigEndian.Uint32(h[8:12]); v != snapshotFormat {
		return 0, fmt.Errorf("raftstore: snapshot format %d, this binary reads %d", v, snapshotFormat)
	}
	return binary.BigEndian.Uint64(h[16:]), nil
}

// Restore replaces the state with a snapshot: it loads the stream into a
// fresh database beside the live one, checks it, and swaps it in. A crash
// at any point leaves either the old or the new database (recoverSwap).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.Err(); err != nil {
		return fmt.Errorf("raftstore: no restore into a stopped state machine: %w", err)
	}
	staged := filepath.Join(f.dir, fsmDBName+".restore")
	applied, err := f.loadSnapshot(rc, staged)
	if err != nil {
		_ = f.fs.RemoveAll(staged)
		return err
	}
	f.pinned.Wait() // a Persist may still read the old database
	f.mu.Lock()
	defer f.mu.Unlock()
	// From here the old database is going away: a failure leaves no state
	// to serve, so it stops the node (a restart finishes the swap).
	if err := f.swapDB(applied); err != nil {
		f.stop(err)
		return err
	}
	if err := f.rebuildIndexes(f.db); err != nil {
		f.stop(err)
		return err
	}
	f.metrics.restores.Inc()
	f.logger.Info("state restored from snapshot", "raft_index", applied)
	return nil
}

func (f *fsm) swapDB(applied uint64) error {
	err := f.db.Close()
	f.db = nil
	if err != nil {
		return fmt.Errorf("raftstore: close state db for restore: %w", err)
	}
	if err := f.swapIn(); err != nil {
		return err
	}
	db, dbApplied, err := openStateDB(f.fs, filepath.Join(f.dir, fsmDBName), f.logger)
	if err != nil {
		return err
	}
	if dbApplied != applied {
		db.Close()
		return fmt.Errorf("%w: restored state at %d, header says %d", errSnapshotCorrupt, dbApplied, applied)
	}
	f.db = db
	f.applied.Store(applied)
	if f.onApplied != nil {
		f.onApplied()
	}
	return nil
}

// restoreMarker is created inside a staged database once it is complete.
const restoreMarker = "RESTORE_COMPLETE"

func (f *fsm) loadSnapshot(r io.Reader, path string) (uint64, error) {
	if err := f.fs.RemoveAll(path); err != nil {
		return 0, fmt.Errorf("raftstore: clear %s: %w", path, err)
	}
	br := bufio.NewReaderSize(r, 256<<10)
	applied, err := readSnapshotHeader(br)
	if err != nil {
		return 0, err
	}
	db, err := pebble.Open(path, &pebble.Options{FS: f.fs, Logger: pebbleLogger{f.logger.With("db", "fsm-restore")}})
	if err != nil {
		return 0, fmt.Errorf("raftstore: open staging db: %w", err)
	}
	err = loadRecords(br, db)
	if err == nil {
		var got uint64
		if got, err = readApplied(db); err == nil && got != applied {
			err = fmt.Errorf("%w: applied key %d, header %d", errSnapshotCorrupt, got, applied)
		}
	}
	if err == nil {
		err = db.Flush()
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("raftstore: close staging db: %w", cerr)
	}
	if err == nil {
		err = f.writeMarker(path)
	}
	return applied, err
}

func loadRecords(r *bufio.Reader, db *pebble.DB) error {
	b := db.NewBatch()
	defer func() { b.Close() }()
	err := readRecords(r, func(k, v []byte) error {
		if err := b.Set(k, v, nil); err != nil {
			return fmt.Errorf("raftstore: stage snapshot record: %w", err)
		}
		if b.Len() < restoreBatchBytes {
			return nil
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			return fmt.Errorf("raftstore: commit snapshot records: %w", err)
		}
		b.Close()
		b = db.NewBatch()
		return nil
	})
	if err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("raftstore: commit snapshot records: %w", err)
	}
	return nil
}

// readRecords calls fn for every record of a snapshot stream (after its
// header), checking every block's checksum and the final record count. The
// slices passed to fn are valid only during the call.
func readRecords(r *bufio.Reader, fn func(k, v []byte) error) error {
	var count uint64
	for {
		block, end, err := readBlock(r)
		if err != nil {
			return err
		}
		if end != nil {
			if *end != count {
				return fmt.Errorf("%w: %d records, end says %d", errSnapshotCorrupt, count, *end)
			}
			return nil
		}
		for len(block) > 0 {
			var k, v []byte
			if k, v, block, err = nextRecord(block); err != nil {
				return err
			}
			if err := fn(k, v); err != nil {
				return err
			}
			count++
		}
	}
}

// readBlock returns the next block's records, or the end record's count.
func readBlock(r *bufio.Reader) ([]byte, *uint64, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, nil, fmt.Errorf("%w: block header: %w", errSnapshotCorrupt, err)
	}
	n := binary.BigEndian.Uint32(h[:4])
	if n == 0 {
		var c [8]byte
		copy(c[:4], h[4:])
		if _, err := io.ReadFull(r, c[4:]); err != nil {
			return nil, nil, fmt.Errorf("%w: end record: %w", errSnapshotCorrupt, err)
		}
		var sum [4]byte
		if _, err := io.ReadFull(r, sum[:]); err != nil {
			return nil, nil, fmt.Errorf("%w: end checksum: %w", errSnapshotCorrupt, err)
		}
		if crc32.Checksum(c[:], crcTable) != binary.BigEndian.Uint32(sum[:]) {
			return nil, nil, fmt.Errorf("%w: end checksum mismatch", errSnapshotCorrupt)
		}
		count := binary.BigEndian.Uint64(c[:])
		return nil, &count, nil
	}
	if n > maxSnapshotBlockBytes {
		return nil, nil, fmt.Errorf("%w: block of %d bytes exceeds %d", errSnapshotCorrupt, n, maxSnapshotBlockBytes)
	}
	// Grow with the bytes that actually arrive: a corrupt length must not
	// allocate its claim up front.
	block, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil || len(block) != int(n) {
		return nil, nil, fmt.Errorf("%w: block of %d bytes cut at %d: %v", errSnapshotCorrupt, n, len(block), err)
	}
	if crc32.Checksum(block, crcTable) != binary.BigEndian.Uint32(h[4:]) {
		return nil, nil, fmt.Errorf("%w: block checksum mismatch", errSnapshotCorrupt)
	}
	return block, nil, nil
}

func nextRecord(b []byte) (k, v, rest []byte, err error) {
	kl, n := binary.Uvarint(b)
	if n <= 0 || kl > uint64(len(b)-n) {
		return nil, nil, nil, fmt.Errorf("%w: key length", errSnapshotCorrupt)
	}
	k, b = b[n:n+int(kl)], b[n+int(kl):]
	vl, n := binary.Uvarint(b)
	if n <= 0 || vl > uint64(len(b)-n) {
		return nil, nil, nil, fmt.Errorf("%w: value length", errSnapshotCorrupt)
	}
	return k, b[n : n+int(vl)], b[n+int(vl):], nil
}

func (f *fsm) writeMarker(dbPath string) error {
	m, err := f.fs.Create(filepath.Join(dbPath, restoreMarker), "")
	if err != nil {
		return fmt.Errorf("raftstore: create restore marker: %w", err)
	}
	if err := m.Sync(); err != nil {
		m.Close()
		return fmt.Errorf("raftstore: sync restore marker: %w", err)
	}
	if err := m.Close(); err != nil {
		return fmt.Errorf("raftstore: close restore marker: %w", err)
	}
	return f.syncDir(dbPath)
}

// swapIn replaces the live database directory with the staged one.
func (f *fsm) swapIn() error {
	live := filepath.Join(f.dir, fsmDBName)
	old := live + ".old"
	staged := live + ".restore"
	if err := f.fs.RemoveAll(old); err != nil {
		return fmt.Errorf("raftstore: clear %s: %w", old, err)
	}
	if err := f.fs.Rename(live, old); err != nil {
		return fmt.Errorf("raftstore: move live state aside: %w", err)
	}
	if err := f.fs.Rename(staged, live); err != nil {
		return fmt.Errorf("raftstore: move restored state in: %w", err)
	}
	if err := f.syncDir(f.dir); err != nil {
		return err
	}
	if err := f.fs.RemoveAll(old); err != nil {
		return fmt.Errorf("raftstore: remove old state: %w", err)
	}
	return nil
}

// recoverSwap finishes or undoes a restore a crash interrupted: a staged
// database with its marker is complete and replaces the live one; without
// the marker it is discarded.
func (f *fsm) recoverSwap() error {
	if err := f.fs.MkdirAll(f.dir, 0o755); err != nil {
		return fmt.Errorf("raftstore: create %s: %w", f.dir, err)
	}
	live := filepath.Join(f.dir, fsmDBName)
	staged := live + ".restore"
	if _, err := f.fs.Stat(filepath.Join(staged, restoreMarker)); err == nil {
		f.logger.Warn("finishing a snapshot restore interrupted by a crash")
		if _, err := f.fs.Stat(live); err == nil {
			if err := f.fs.RemoveAll(live + ".old"); err != nil {
				return fmt.Errorf("raftstore: clear old state: %w", err)
			}
			if err := f.fs.Rename(live, live+".old"); err != nil {
				return fmt.Errorf("raftstore: move live state aside: %w", err)
			}
		}
		if err := f.fs.Rename(staged, live); err != nil {
			return fmt.Errorf("raftstore: move restored state in: %w", err)
		}
		if err := f.syncDir(f.dir); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("raftstore: check restore marker: %w", err)
	}
	for _, leftover := range []string{staged, live + ".old"} {
		if err := f.fs.RemoveAll(leftover); err != nil {
			return fmt.Errorf("raftstore: remove %s: %w", leftover, err)
		}
	}
	return nil
}

func (f *fsm) syncDir(path string) error {
	d, err := f.fs.OpenDir(path)
	if err != nil {
		return fmt.Errorf("raftstore: open dir %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("raftstore: sync dir %s: %w", path, err)
	}
	return nil
}
