package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
)

// The generic key/value table: small replicated settings (and the command
// set the tests drive). Keys are 1..MaxKVKeyBytes bytes.

// MaxKVKeyBytes bounds a key of the key/value table.
const MaxKVKeyBytes = 1024

// ErrKVKey reports a key/value key that is empty or too long.
var ErrKVKey = errors.New("raftstore: key/value key must be 1..1024 bytes")

// KVPut returns the command that sets key to value.
//
//	payload: key length (uvarint) | key | value
func KVPut(key, value []byte) (Command, error) {
	if err := checkKVKey(key); err != nil {
		return Command{}, err
	}
	p := make([]byte, 0, uvarintLen(uint64(len(key)))+len(key)+len(value))
	p = binary.AppendUvarint(p, uint64(len(key)))
	p = append(append(p, key...), value...)
	return Command{Type: CmdKVPut, Version: 1, Payload: p}, nil
}

// KVDelete returns the command that removes key.
//
//	payload: key
func KVDelete(key []byte) (Command, error) {
	if err := checkKVKey(key); err != nil {
		return Command{}, err
	}
	return Command{Type: CmdKVDelete, Version: 1, Payload: append([]byte(nil), key...)}, nil
}

// KVAdd returns the command that adds delta to the uint64 counter at key
// (absent counts as 0). Apply answers the new value as 8 big-endian bytes,
// or rejects the command if the value would leave [0, 2^64).
//
//	payload: delta (zigzag varint) | key
func KVAdd(key []byte, delta int64) (Command, error) {
	if err := checkKVKey(key); err != nil {
		return Command{}, err
	}
	p := binary.AppendVarint(make([]byte, 0, binary.MaxVarintLen64+len(key)), delta)
	return Command{Type: CmdKVAdd, Version: 1, Payload: append(p, key...)}, nil
}

func checkKVKey(key []byte) error {
	if len(key) == 0 || len(key) > MaxKVKeyBytes {
		return fmt.Errorf("%w (got %d)", ErrKVKey, len(key))
	}
	return nil
}

func applyKVPut(a *applyContext, payload []byte) ([]byte, error) {
	n, used := binary.Uvarint(payload)
	if used <= 0 || n > uint64(len(payload)-used) {
		return nil, reject("kv-put: key length past the end of the payload")
	}
	key := payload[used : used+int(n)]
	if checkKVKey(key) != nil {
		return nil, reject("kv-put: bad key length %d", len(key))
	}
	return nil, a.batch.Set(kvKey(key), payload[used+int(n):], nil)
}

func applyKVDelete(a *applyContext, payload []byte) ([]byte, error) {
	if checkKVKey(payload) != nil {
		return nil, reject("kv-delete: bad key length %d", len(payload))
	}
	return nil, a.batch.Delete(kvKey(payload), nil)
}

func applyKVAdd(a *applyContext, payload []byte) ([]byte, error) {
	delta, used := binary.Varint(payload)
	if used <= 0 {
		return nil, reject("kv-add: bad delta")
	}
	key := payload[used:]
	if checkKVKey(key) != nil {
		return nil, reject("kv-add: bad key length %d", len(key))
	}
	pk := kvKey(key)
	var cur uint64
	val, closer, err := a.batch.Get(pk)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("raftstore: kv-add read: %w", err)
	default:
		if len(val) != 8 {
			closer.Close()
			return nil, reject("kv-add: value at key is %d bytes, not a counter", len(val))
		}
		cur = binary.BigEndian.Uint64(val)
		closer.Close()
	}
	next, ok := addDelta(cur, delta)
	if !ok {
		return nil, reject("kv-add: %d%+d leaves the uint64 range", cur, delta)
	}
	out := binary.BigEndian.AppendUint64(nil, next)
	return out, a.batch.Set(pk, out, nil)
}

func addDelta(cur uint64, delta int64) (uint64, bool) {
	if delta >= 0 {
		next := cur + uint64(delta)
		return next, next >= cur
	}
	if delta == math.MinInt64 {
		return cur - (1 << 63), cur >= 1<<63
	}
	d := uint64(-delta)
	return cur - d, cur >= d
}

// KVGet reads key from this node's applied state. A follower may answer an
// older value than the leader; it never answers an uncommitted one.
func (s *Store) KVGet(key []byte) ([]byte, bool, error) {
	if err := checkKVKey(key); err != nil {
		return nil, false, err
	}
	return s.fsm.get(kvKey(key))
}
