package raftstore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"tributary/kafkacodec"
)

// Reads of the Kafka state from this node's Pebble. Partition states come
// from the index, which never runs ahead of Pebble (it changes after the
// commit), so every batch below the indexed high watermark is readable.

// errNoRecord ends a record scan early.
var errNoRecord = errors.New("raftstore: stop")

// readRecords returns the batches of a partition from the one holding
// offset, concatenated, up to maxBytes (the first one whole): from the
// batch cache when it holds offset (the result is then shared memory,
// never to be modified), from Pebble otherwise.
func (f *fsm) readRecords(topic string, partition int32, offset int64, maxBytes int) ([]byte, PartitionState, error) {
	k, s, err := f.kafka.partition(topic, partition)
	if err != nil {
		return nil, PartitionState{}, err
	}
	ps := s.public()
	if offset < s.logStart || offset > s.hw {
		return nil, ps, fmt.Errorf("%w: %d not in [%d, %d]", ErrOffsetOutOfRange, offset, s.logStart, s.hw)
	}
	if offset == s.hw {
		return nil, ps, nil
	}
	if data, ok := f.kafka.cache.read(k, offset, s.hw, maxBytes); ok {
		return data, ps, nil
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return nil, ps, errStopped
	}
	it, err := f.db.NewIter(&pebble.IterOptions{
		LowerBound: batchKey(tableKafkaBatch, k, 0),
		UpperBound: batchKey(tableKafkaBatch, k, s.hw),
	})
	if err != nil {
		return nil, ps, fmt.Errorf("raftstore: read records: %w", err)
	}
	out := make([]byte, 0, readSizeHint(s, offset, maxBytes))
	ok := it.SeekLT(batchKey(tableKafkaBatch, k, offset+1))
	if !ok {
		ok = it.First() // retention removed the batch of offset meanwhile
	}
	for ; ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return nil, ps, fmt.Errorf("raftstore: read records: %w", err)
		}
		if len(out) > 0 && len(out)+len(v) > maxBytes {
			break
		}
		out = append(out, v...) // the iterator reuses v
	}
	if err := it.Close(); err != nil {
		return nil, ps, fmt.Errorf("raftstore: read records: %w", err)
	}
	return out, ps, nil
}

// readSizeHint guesses what a read from offset returns, so that the
// result is allocated once: the partition's bytes in proportion to the
// offsets past offset, capped at maxBytes (an undersized guess only costs
// a reallocation).
func readSizeHint(s partState, offset int64, maxBytes int) int {
	if s.hw <= s.logStart {
		return 0
	}
	est := float64(s.bytes) * float64(s.hw-offset) / float64(s.hw-s.logStart)
	return int(min(est, float64(max(maxBytes, 0)))) + 16<<10
}

// offsetForTimestamp finds the first record with a timestamp ≥ ts: the
// batch index gives the first batch whose max timestamp reaches ts, and
// that batch's records the record.
func (f *fsm) offsetForTimestamp(topic string, partition int32, ts int64) (int64, int64, error) {
	k, s, err := f.kafka.partition(topic, partition)
	if err != nil {
		return -1, -1, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return -1, -1, errStopped
	}
	snap := f.db.NewSnapshot() // the index entry and its batch, consistently
	defer snap.Close()
	offset, stamp := int64(-1), int64(-1)
	lower, upper := batchKey(tableKafkaIndex, k, s.logStart), batchKey(tableKafkaIndex, k, s.hw)
	err = scanRange(snap, lower, upper, func(key, v []byte) (bool, error) {
		m, err := decodeBatchMeta(v)
		if err != nil || m.maxTimestamp < ts {
			return err == nil, err
		}
		base, err := keySuffixU64(key)
		if err != nil {
			return false, err
		}
		offset, stamp, err = firstAtOrAfter(snap, k, int64(base), ts)
		return offset < 0 && err == nil, err
	})
	if err != nil {
		return -1, -1, fmt.Errorf("raftstore: offset for timestamp %d: %w", ts, err)
	}
	return offset, stamp, nil
}

// maxTimestampBatch returns the base offset of the partition's batch with
// the largest max timestamp (the first such batch on a tie), or -1 when
// the partition holds none. It reads only the batch index.
func (f *fsm) maxTimestampBatch(topic string, partition int32) (int64, error) {
	k, s, err := f.kafka.partition(topic, partition)
	if err != nil {
		return -1, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return -1, errStopped
	}
	best, bestStamp := int64(-1), int64(0)
	lower, upper := batchKey(tableKafkaIndex, k, s.logStart), batchKey(tableKafkaIndex, k, s.hw)
	err = scanRange(f.db, lower, upper, func(key, v []byte) (bool, error) {
		m, err := decodeBatchMeta(v)
		if err != nil {
			return false, err
		}
		if best < 0 || m.maxTimestamp > bestStamp {
			base, err := keySuffixU64(key)
			if err != nil {
				return false, err
			}
			best, bestStamp = int64(base), m.maxTimestamp
		}
		return true, nil
	})
	if err != nil {
		return -1, fmt.Errorf("raftstore: max timestamp batch: %w", err)
	}
	return best, nil
}

// firstAtOrAfter returns the first record of the batch at base whose
// timestamp is at or after ts, or (-1, -1).
func firstAtOrAfter(r pebble.Reader, k partKey, base, ts int64) (int64, int64, error) {
	v, closer, err := r.Get(batchKey(tableKafkaBatch, k, base))
	if err != nil {
		return -1, -1, fmt.Errorf("read batch %d: %w", base, err)
	}
	defer closer.Close()
	h, err := kafkacodec.PeekBatch(v)
	if err != nil {
		return -1, -1, fmt.Errorf("%w: batch %d: %w", errCorruptKafka, base, err)
	}
	offset, stamp := int64(-1), int64(-1)
	err = kafkacodec.ReadRecords(v, MaxDecompressedBatchBytes, func(rec *kafkacodec.Record) error {
		t := h.FirstTimestamp + rec.TimestampDelta
		if h.LogAppendTime() {
			t = h.MaxTimestamp
		}
		if t >= ts {
			offset, stamp = base+int64(rec.OffsetDelta), t
			return errNoRecord
		}
		return nil
	})
	if err != nil && !errors.Is(err, errNoRecord) {
		return -1, -1, fmt.Errorf("%w: batch %d: %w", errCorruptKafka, base, err)
	}
	return offset, stamp, nil
}

// epochEndOffset answers OffsetForLeaderEpoch from the epoch table.
func (f *fsm) epochEndOffset(topic string, partition int32, epoch int32) (int32, int64, error) {
	k, s, err := f.kafka.partition(topic, partition)
	if err != nil {
		return -1, -1, err
	}
	if epoch < 0 {
		return -1, -1, nil
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return -1, -1, errStopped
	}
	it, err := f.db.NewIter(&pebble.IterOptions{
		LowerBound: partPrefix(tableKafkaEpoch, k, 0),
		UpperBound: prefixEnd(partPrefix(tableKafkaEpoch, k, 0)),
	})
	if err != nil {
		return -1, -1, fmt.Errorf("raftstore: epoch end offset: %w", err)
	}
	defer it.Close()
	if !it.SeekLT(epochKey(k, epoch+1)) {
		return -1, -1, it.Error()
	}
	if len(it.Key()) != 13 {
		return -1, -1, fmt.Errorf("%w: epoch key %x", errCorruptKafka, it.Key())
	}
	found := int32(binary.BigEndian.Uint32(it.Key()[9:]))
	if !it.Next() {
		return found, s.hw, it.Error() // the current epoch ends at the high watermark
	}
	v, err := it.ValueAndErr()
	if err != nil || len(v) != 8 {
		return -1, -1, fmt.Errorf("%w: epoch start %x: %v", errCorruptKafka, it.Key(), err)
	}
	return found, int64(binary.BigEndian.Uint64(v)), nil
}

// committedOffset reads one committed offset.
func (f *fsm) committedOffset(group, topic string, partition int32) (OffsetCommit, bool, error) {
	v, ok, err := f.get(offsetKey(group, topic, partition))
	if err != nil || !ok {
		return OffsetCommit{}, false, err
	}
	c := OffsetCommit{Group: group, Topic: topic, Partition: partition}
	return c, true, decodeOffsetCommit(v, &c)
}

// committedOffsets reads a group's committed offsets, sorted by topic and
// partition.
func (f *fsm) committedOffsets(group string) ([]OffsetCommit, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return nil, errStopped
	}
	var out []OffsetCommit
	err := scanPrefix(f.db, groupPrefix(group), func(k, v []byte) error {
		_, topic, p, err := parseOffsetKey(k)
		if err != nil {
			return err
		}
		c := OffsetCommit{Group: group, Topic: topic, Partition: p}
		if err := decodeOffsetCommit(v, &c); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	slices.SortFunc(out, func(a, b OffsetCommit) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, err
}

// offsetGroups lists the groups with committed offsets: one seek per
// group, past all of its keys.
func (f *fsm) offsetGroups() ([]string, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.db == nil {
		return nil, errStopped
	}
	it, err := f.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableKafkaOffset}, UpperBound: []byte{tableKafkaOffset + 1}})
	if err != nil {
		return nil, fmt.Errorf("raftstore: offset groups: %w", err)
	}
	defer it.Close()
	var out []string
	for ok := it.First(); ok; {
		group, _, _, err := parseOffsetKey(it.Key())
		if err != nil {
			return nil, err
		}
		out = append(out, group)
		ok = it.SeekGE(prefixEnd(groupPrefix(group)))
	}
	slices.Sort(out)
	return out, it.Error()
}
