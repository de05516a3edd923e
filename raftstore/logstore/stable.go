package logstore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Set implements raft.StableStore. The value is durable (WAL-synced) when Set
// returns nil. A key holds either bytes (Set) or a uint64 (SetUint64); the
// last write decides which.
func (s *Store) Set(key []byte, val []byte) error {
	if len(val) > maxStableValueBytes {
		return fmt.Errorf("%w: stable value for %q holds %d bytes, over %d", ErrInvalid, key, len(val), maxStableValueBytes)
	}
	return s.setStable(key, stableKindBytes, val)
}

// SetUint64 implements raft.StableStore. The value is durable when SetUint64
// returns nil.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.setStable(key, stableKindUint64, beBytes(val))
}

// Get implements raft.StableStore. It returns a copy of the value set with
// Set, and exactly ErrNotFound (text "not found", as raft expects) with a nil
// slice when key is absent. A key last written with SetUint64 is an error.
func (s *Store) Get(key []byte) ([]byte, error) {
	var out []byte
	err := s.getStable(key, stableKindBytes, func(payload []byte) {
		out = make([]byte, len(payload)) // copy out of Pebble's memory
		copy(out, payload)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetUint64 implements raft.StableStore. It returns exactly ErrNotFound and
// 0 when key is absent, as raft-boltdb does; raft treats that as 0. A key
// last written with Set is an error.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	var out uint64
	err := s.getStable(key, stableKindUint64, func(payload []byte) {
		out = beUint64(payload)
	})
	if err != nil {
		return 0, err
	}
	return out, nil
}

func (s *Store) setStable(key []byte, kind byte, payload []byte) (err error) {
	if len(key) > maxStableKeyBytes {
		return fmt.Errorf("%w: stable key of %d bytes, over %d", ErrInvalid, len(key), maxStableKeyBytes)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.catchFatal(&err)
	if err := s.db.Set(stableKey(key), encodeStable(kind, payload), pebble.Sync); err != nil {
		return fmt.Errorf("logstore: set %q: %w", key, err)
	}
	return nil
}

// getStable reads key, checks it holds a value of kind and hands the payload
// to use before Pebble's memory is released.
func (s *Store) getStable(key []byte, kind byte, use func(payload []byte)) (err error) {
	if len(key) > maxStableKeyBytes {
		return fmt.Errorf("%w: stable key of %d bytes, over %d", ErrInvalid, len(key), maxStableKeyBytes)
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.exit()
	defer s.catchFatal(&err)
	v, closer, err := s.db.Get(stableKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("logstore: get %q: %w", key, err)
	}
	got, payload, err := decodeStable(v)
	if err == nil && got != kind {
		err = fmt.Errorf("%w: holds kind %d, read as kind %d", ErrInvalid, got, kind)
	}
	if err == nil {
		use(payload)
	}
	if cerr := closer.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("logstore: get %q: %w", key, err)
	}
	return nil
}

func beBytes(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}

func beUint64(b []byte) uint64 {
	return binary.BigEndian.Uint64(b)
}
