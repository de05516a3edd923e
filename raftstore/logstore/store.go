package logstore

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// Errors returned by a Store. Wrapped errors are inspected with errors.Is.
var (
	// ErrNotFound is what Get and GetUint64 return for an absent key. Its text
	// is exactly "not found", without the package prefix, because
	// hashicorp/raft compares err.Error() == "not found" (api.go, raft.go).
	ErrNotFound = errors.New("not found")
	// ErrCorrupt reports a stored value that fails its checksum or does not
	// parse. The store never returns a wrong entry instead.
	ErrCorrupt = errors.New("logstore: corrupt value")
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("logstore: closed")
	// ErrFatal marks a storage failure Pebble cannot continue from, such as a
	// failed WAL write or sync. The first one makes every later call fail
	// with it (the write it interrupted may or may not be durable); the
	// owner should stop raft, Close the store and reopen it, which recovers
	// the acknowledged state from the WAL.
	ErrFatal = errors.New("logstore: fatal storage error")
	// ErrInvalid reports a call the store refuses: a nil entry, index 0, an
	// entry or stable key or value over its limit, or reading a stable key
	// as the other kind (bytes with GetUint64, a uint64 with Get).
	ErrInvalid = errors.New("logstore: invalid argument")
	// ErrNotLogStore is returned by Open for a non-empty Pebble database that
	// this package did not create (for example the FSM's).
	ErrNotLogStore = errors.New("logstore: database is not a raft log store")
)

// formatVersion is the layout version recorded under the meta key.
const formatVersion = 1

// metaFormatKey holds formatVersion; it marks a database as ours.
var metaFormatKey = []byte{metaPrefix, 'f', 'o', 'r', 'm', 'a', 't'}

// Store is a hashicorp/raft LogStore and StableStore in one Pebble database.
// All methods are safe for concurrent use; see doc.go for the concurrency and
// durability contracts.
type Store struct {
	db   *pebble.DB
	opts Options

	// life is read-locked by every call that uses db and write-locked by
	// Close, so db is never used after it is closed.
	life   sync.RWMutex
	closed bool // guarded by life

	// writeMu serializes the log writers (StoreLogs, DeleteRange), so bounds
	// changes in the order their batches commit. It is held across the
	// synced commit; readers never take it, except to rebuild bounds after an
	// error (see currentBounds).
	writeMu sync.Mutex
	// bounds caches the log's first and last index and running totals. nil
	// means unknown (after an error): the next user rescans Pebble.
	bounds atomic.Pointer[logBounds]
	// logBytes is the last LogBytes computed from known bounds.
	logBytes atomic.Int64
	// fatal is the first fatal storage error; once set, every call fails.
	fatal atomic.Pointer[fatalError]
}

// Compile-time checks: *Store is what raft.NewRaft takes for logs and stable
// state, and declares itself monotonic (doc.go says why).
var (
	_ raft.LogStore          = (*Store)(nil)
	_ raft.StableStore       = (*Store)(nil)
	_ raft.MonotonicLogStore = (*Store)(nil)
)

// logBounds is the span of the stored log and the running totals LogBytes is
// computed from. The zero value is an empty log (index 0 is never stored).
type logBounds struct {
	first, last uint64
	// cumBefore is the running total just before first; cumLast is the
	// running total recorded in the entry at last.
	cumBefore, cumLast uint64
}

func (b logBounds) empty() bool { return b.last == 0 }

// bytes is the approximate size of the log; see LogBytes.
func (b logBounds) bytes() int64 {
	if b.empty() || b.cumLast < b.cumBefore {
		return 0
	}
	return int64(b.cumLast - b.cumBefore)
}

// with returns b extended by an entry at index whose running total is cum and
// whose predecessor's running total is base.
func (b logBounds) with(index, base, cum uint64) logBounds {
	if b.empty() {
		return logBounds{first: index, last: index, cumBefore: base, cumLast: cum}
	}
	if index <= b.first {
		b.first, b.cumBefore = index, base
	}
	if index >= b.last {
		b.last, b.cumLast = index, cum
	}
	return b
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	db, err := openPebble(dir, opts.pebbleOptions(&pebbleLogger{log: opts.Logger}))
	if err != nil {
		return nil, fmt.Errorf("logstore: open %s: %w", dir, err)
	}
	s := &Store{db: db, opts: opts}
	if err := s.init(); err != nil {
		return nil, errors.Join(fmt.Errorf("logstore: open %s: %w", dir, err), s.Close())
	}
	return s, nil
}

// openPebble opens the database, turning a Fatalf during recovery into an
// error.
func openPebble(dir string, popts *pebble.Options) (db *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(*fatalError)
			if !ok {
				panic(r)
			}
			db, err = nil, fe
		}
	}()
	return pebble.Open(dir, popts)
}

// init checks the format marker (writing it into a new database) and loads
// the log bounds.
func (s *Store) init() (err error) {
	defer s.catchFatal(&err)
	if err := s.checkFormat(); err != nil {
		return err
	}
	b, err := s.scanBounds()
	if err != nil {
		return err
	}
	s.setBounds(b)
	return nil
}

func (s *Store) checkFormat() error {
	v, closer, err := s.db.Get(metaFormatKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return s.initFormat()
	}
	if err != nil {
		return fmt.Errorf("read format marker: %w", err)
	}
	kind, payload, err := decodeStable(v)
	var version uint64
	if err == nil && kind == stableKindUint64 {
		version = beUint64(payload)
	}
	if cerr := closer.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("read format marker: %w", err)
	case version != formatVersion:
		return fmt.Errorf("%w: format version %d, this binary reads %d", ErrNotLogStore, version, formatVersion)
	}
	return nil
}

// initFormat writes the format marker into an empty database and refuses a
// non-empty one: a database without the marker was not created here.
func (s *Store) initFormat() error {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return fmt.Errorf("scan for format marker: %w", err)
	}
	nonEmpty := it.First()
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("scan for format marker: %w", err)
	}
	if nonEmpty {
		return ErrNotLogStore
	}
	v := encodeStable(stableKindUint64, beBytes(formatVersion))
	if err := s.db.Set(metaFormatKey, v, pebble.Sync); err != nil {
		return fmt.Errorf("write format marker: %w", err)
	}
	return nil
}

// Close closes the database. It waits for calls in progress and is
// idempotent; every other method returns ErrClosed afterwards.
func (s *Store) Close() (err error) {
	s.life.Lock()
	defer s.life.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.logBytes.Store(0)
	defer s.catchFatal(&err)
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("logstore: close: %w", err)
	}
	return nil
}

// IsMonotonic implements raft.MonotonicLogStore. It returns true, so raft
// removes the whole log after installing a snapshot instead of leaving a gap
// before the snapshot's entries; see doc.go.
func (s *Store) IsMonotonic() bool { return true }

// enter starts a call that uses the database: it fails once the store is
// closed or has failed. Every successful enter is paired with exit.
func (s *Store) enter() error {
	s.life.RLock()
	if s.closed {
		s.life.RUnlock()
		return ErrClosed
	}
	if fe := s.fatal.Load(); fe != nil {
		s.life.RUnlock()
		return fe
	}
	return nil
}

func (s *Store) exit() { s.life.RUnlock() }

// catchFatal is deferred by every call into Pebble. It turns the panic of
// pebbleLogger.Fatalf on this goroutine into the call's error and fails the
// store, since Pebble's commit pipeline cannot be used after it. Any other
// panic continues.
func (s *Store) catchFatal(errp *error) {
	r := recover()
	if r == nil {
		return
	}
	fe, ok := r.(*fatalError)
	if !ok {
		panic(r)
	}
	s.fatal.CompareAndSwap(nil, fe)
	*errp = fe
}
