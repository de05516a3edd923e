package logstore

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// batchRecordBytes over-estimates Pebble's per-record batch overhead (kind,
// key and value lengths) plus our entry header, to size a batch up front.
const batchRecordBytes = 64

// maxBatchBytes caps one StoreLogs batch: 1.5 GiB, room for one entry of
// MaxMaxEntryBytes. Pebble panics on a batch of 4 GiB or more; StoreLogs
// refuses an oversized one with an error instead (and the cap fits an int
// on 32-bit platforms).
const maxBatchBytes = 3 << 29

// FirstIndex implements raft.LogStore: the lowest stored index, 0 when the
// log is empty. It reads an in-memory copy and does no I/O unless an earlier
// error left that copy unknown.
func (s *Store) FirstIndex() (uint64, error) {
	b, err := s.readBounds()
	return b.first, err
}

// LastIndex implements raft.LogStore: the highest stored index, 0 when the
// log is empty. Like FirstIndex it reads an in-memory copy.
func (s *Store) LastIndex() (uint64, error) {
	b, err := s.readBounds()
	return b.last, err
}

// LogBytes returns the approximate bytes held by log entries: for every
// stored entry, len(Data)+len(Extensions) plus a fixed per-entry overhead for
// key, header and checksum. It is exact while the log is written as raft
// writes it (appends, suffix truncation then append, prefix or suffix
// DeleteRange), survives reopening, and costs one atomic load. Writes that
// raft never makes (deleting a range from the middle, overwriting an entry
// without truncating what follows it, storing below the first index) leave
// it approximate. It returns 0 when the log is empty or the store closed.
func (s *Store) LogBytes() int64 {
	return s.logBytes.Load()
}

// GetLog implements raft.LogStore. It returns raft.ErrLogNotFound (unwrapped:
// raft compares with ==) when no entry is stored at index, and an error
// wrapping ErrCorrupt when the stored value fails its checksum or belongs to
// another index. l receives fresh copies of Data and Extensions.
func (s *Store) GetLog(index uint64, l *raft.Log) (err error) {
	if l == nil {
		return fmt.Errorf("%w: get log %d into a nil *raft.Log", ErrInvalid, index)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.catchFatal(&err)
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("logstore: get log %d: %w", index, err)
	}
	var got raft.Log
	_, err = decodeEntry(v, &got)
	if cerr := closer.Close(); err == nil {
		err = cerr
	}
	if err == nil && got.Index != index {
		err = fmt.Errorf("%w: value holds index %d", ErrCorrupt, got.Index)
	}
	if err != nil {
		return fmt.Errorf("logstore: get log %d: %w", index, err)
	}
	*l = got
	return nil
}

// StoreLog implements raft.LogStore; it is StoreLogs of one entry.
func (s *Store) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs implements raft.LogStore. It writes every entry in one Pebble
// batch committed with a WAL sync, so when it returns nil all of them are
// durable, and after a crash either all or none of them are present. An
// entry at an existing index replaces it. Entries must have a non-zero
// index and at most Options.MaxEntryBytes of Data plus Extensions.
func (s *Store) StoreLogs(logs []*raft.Log) (err error) {
	if len(logs) == 0 {
		return nil
	}
	size, err := s.checkLogs(logs)
	if err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.catchFatal(&err)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	first, last := logs[0].Index, logs[len(logs)-1].Index
	cur, err := s.boundsLocked()
	if err != nil {
		return fmt.Errorf("logstore: store logs [%d,%d]: %w", first, last, err)
	}
	b := s.db.NewBatchWithSize(size)
	defer b.Close()
	next, err := s.stage(b, cur, logs)
	if err == nil {
		err = s.commit(b)
	}
	if err != nil {
		return fmt.Errorf("logstore: store logs [%d,%d]: %w", first, last, err)
	}
	s.setBounds(next)
	return nil
}

// checkLogs validates logs before anything is written and returns the batch
// size to reserve.
func (s *Store) checkLogs(logs []*raft.Log) (int, error) {
	var size uint64
	for i, l := range logs {
		if l == nil {
			return 0, fmt.Errorf("%w: store logs: entry %d of %d is nil", ErrInvalid, i, len(logs))
		}
		if l.Index == 0 {
			return 0, fmt.Errorf("%w: store logs: entry %d of %d has index 0", ErrInvalid, i, len(logs))
		}
		n := len(l.Data) + len(l.Extensions)
		if n > s.opts.MaxEntryBytes {
			return 0, fmt.Errorf("%w: store logs: entry %d holds %d bytes, over MaxEntryBytes %d",
				ErrInvalid, l.Index, n, s.opts.MaxEntryBytes)
		}
		size += uint64(n) + logKeyBytes + batchRecordBytes
	}
	if size > maxBatchBytes {
		return 0, fmt.Errorf("%w: store logs: batch of %d bytes, over %d", ErrInvalid, size, uint64(maxBatchBytes))
	}
	return int(size), nil
}

// stage encodes logs into b and returns the bounds the log will have once b
// commits. Each entry records a running total of accounted bytes: its
// predecessor's total plus its own size (see LogBytes).
func (s *Store) stage(b *pebble.Batch, cur logBounds, logs []*raft.Log) (logBounds, error) {
	var prev *raft.Log
	var prevCum uint64
	for _, l := range logs {
		var base uint64
		if prev != nil && l.Index == prev.Index+1 {
			base = prevCum
		} else {
			var err error
			if base, err = s.cumBefore(cur, l.Index); err != nil {
				return logBounds{}, err
			}
		}
		cum := base + accountedBytes(l)
		op := b.SetDeferred(logKeyBytes, entryLen(l, cum))
		putLogKey(op.Key, l.Index)
		encodeEntry(op.Value, l, cum)
		if invariants {
			assertEncoded(op.Value, l, cum)
		}
		if err := op.Finish(); err != nil {
			return logBounds{}, err
		}
		cur = cur.with(l.Index, base, cum)
		prev, prevCum = l, cum
	}
	return cur, nil
}

// cumBefore returns the running total of the stored entry just below index,
// given the log's current bounds.
func (s *Store) cumBefore(cur logBounds, index uint64) (uint64, error) {
	switch {
	case cur.empty():
		return 0, nil
	case index > cur.last:
		return cur.cumLast, nil
	case index <= cur.first:
		return cur.cumBefore, nil
	}
	// An overwrite inside the log: read the entry before it.
	it, err := s.db.NewIter(logIterOptions())
	if err != nil {
		return 0, err
	}
	cum := cur.cumBefore
	if it.SeekLT(logKey(index)) {
		_, e, perr := entryAt(it)
		if perr != nil {
			return 0, errors.Join(perr, it.Close())
		}
		cum = e.cum
	}
	return cum, errors.Join(it.Error(), it.Close())
}

// DeleteRange implements raft.LogStore: it removes the entries with index in
// [min, max] (inclusive) with one Pebble range deletion committed with a WAL
// sync, so its cost does not depend on how many entries it removes. A range
// that holds no entry writes nothing.
func (s *Store) DeleteRange(min, max uint64) (err error) {
	if min > max {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.catchFatal(&err)
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur, err := s.boundsLocked()
	if err != nil {
		return fmt.Errorf("logstore: delete range [%d,%d]: %w", min, max, err)
	}
	if cur.empty() || max < cur.first || min > cur.last {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	err = b.DeleteRange(logKey(min), logKeyEnd(max), nil)
	if err == nil {
		err = s.commit(b)
	}
	if err == nil {
		// The deletion is durable; the new bounds are read back from Pebble.
		// If that fails, bounds stay unknown and are rescanned on next use.
		var next logBounds
		if next, err = s.scanBounds(); err == nil {
			s.setBounds(next)
		}
	}
	if err != nil {
		return fmt.Errorf("logstore: delete range [%d,%d]: %w", min, max, err)
	}
	return nil
}

// commit commits b with a WAL sync. Whatever the outcome, an error leaves
// the bounds unknown, so they are rebuilt from what Pebble holds.
func (s *Store) commit(b *pebble.Batch) error {
	if err := b.Commit(pebble.Sync); err != nil {
		s.bounds.Store(nil)
		return err
	}
	return nil
}

// readBounds returns the log bounds for a reader.
func (s *Store) readBounds() (logBounds, error) {
	if err := s.enter(); err != nil {
		return logBounds{}, err
	}
	defer s.exit()
	if b := s.bounds.Load(); b != nil {
		return *b, nil
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	return s.boundsLocked()
}

// boundsLocked returns the log bounds, rescanning Pebble if they are
// unknown. s.writeMu must be held.
func (s *Store) boundsLocked() (b logBounds, err error) {
	if p := s.bounds.Load(); p != nil {
		return *p, nil
	}
	defer s.catchFatal(&err)
	if b, err = s.scanBounds(); err != nil {
		return logBounds{}, err
	}
	s.setBounds(b)
	return b, nil
}

func (s *Store) setBounds(b logBounds) {
	if invariants && !b.empty() && (b.first > b.last || b.first == 0) {
		panic(fmt.Sprintf("logstore: bounds [%d,%d]", b.first, b.last))
	}
	s.bounds.Store(&b)
	s.logBytes.Store(b.bytes())
}

// scanBounds reads the first and last entries from Pebble.
func (s *Store) scanBounds() (logBounds, error) {
	it, err := s.db.NewIter(logIterOptions())
	if err != nil {
		return logBounds{}, fmt.Errorf("scan log bounds: %w", err)
	}
	var b logBounds
	if it.First() {
		var e entryView
		if b.first, e, err = entryAt(it); err == nil {
			b.cumBefore = e.cum - min(e.cum, e.accounted())
			if it.Last() {
				b.last, e, err = entryAt(it)
				b.cumLast = e.cum
			}
		}
	}
	if err = errors.Join(err, it.Error(), it.Close()); err != nil {
		return logBounds{}, fmt.Errorf("scan log bounds: %w", err)
	}
	return b, nil
}

// entryAt parses the entry under a positioned log iterator and checks that
// it belongs to its key. The view aliases the iterator's memory.
func entryAt(it *pebble.Iterator) (uint64, entryView, error) {
	index, ok := parseLogKey(it.Key())
	if !ok {
		return 0, entryView{}, fmt.Errorf("%w: log key %x", ErrCorrupt, it.Key())
	}
	v, err := it.ValueAndErr()
	if err != nil {
		return index, entryView{}, err
	}
	e, err := parseEntry(v)
	if err == nil && e.log.Index != index {
		err = fmt.Errorf("%w: value holds index %d", ErrCorrupt, e.log.Index)
	}
	if err != nil {
		return index, entryView{}, fmt.Errorf("entry %d: %w", index, err)
	}
	return index, e, nil
}

// logIterOptions bounds an iterator to the log keys.
func logIterOptions() *pebble.IterOptions {
	return &pebble.IterOptions{LowerBound: []byte{logPrefix}, UpperBound: []byte{logPrefix + 1}}
}
