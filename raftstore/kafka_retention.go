package raftstore

import (
	"fmt"
	"slices"
)

// Retention at apply (kafka-trim, proposed by the leader with its clock):
// per partition, whole batches are deleted from the oldest while the
// batch's max timestamp is older than now − retention.ms, or while the
// partition holds more than retention.bytes. The log start offset moves
// to the first batch kept (the high watermark when none is), and the
// batch and index keys go with one range delete each: they are keyed by
// base offset, so what retention removes is always a prefix.
//
// Unlike Kafka, which never deletes its active segment, every batch may
// go; the high watermark stays, so offsets are never reused.

func applyKafkaTrim(a *applyContext, payload []byte) ([]byte, error) {
	now, err := decodeTrim(payload)
	if err != nil {
		return nil, rejectErr(CmdKafkaTrim.String(), err)
	}
	for _, name := range a.kq.topicNames() {
		t, _ := a.kq.topic(name)
		if t.RetentionMillis < 0 && t.RetentionBytes < 0 {
			continue
		}
		for p := range t.Partitions {
			if err := a.trimPartition(t, partKey{t.num, p}, now); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// topicNames returns the names of the topics as of this batch, sorted (so
// that trim visits them in the same order on every replica).
func (b *kafkaBatch) topicNames() []string {
	names := make([]string, 0, len(b.idx.topics)+len(b.topics))
	for n := range b.idx.topics {
		if _, changed := b.topics[n]; !changed {
			names = append(names, n)
		}
	}
	for n, t := range b.topics {
		if t != nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// trimPartition applies t's retention to one partition.
func (a *applyContext) trimPartition(t *kafkaTopic, k partKey, now int64) error {
	s := a.kq.part(k)
	if s.batches == 0 {
		return nil
	}
	start, cut := s.logStart, s.logStart
	lower := batchKey(tableKafkaIndex, k, s.logStart)
	upper := batchKey(tableKafkaIndex, k, s.hw)
	err := scanRange(a.batch, lower, upper, func(_, v []byte) (bool, error) {
		m, err := decodeBatchMeta(v)
		if err != nil {
			return false, err
		}
		old := t.RetentionMillis >= 0 && m.maxTimestamp < now-t.RetentionMillis
		big := t.RetentionBytes >= 0 && s.bytes > t.RetentionBytes
		if !old && !big {
			return false, nil
		}
		s.bytes -= int64(m.size)
		s.batches--
		cut = m.lastOffset + 1
		return true, nil
	})
	if err != nil || cut == start {
		return err
	}
	if s.batches == 0 {
		cut = s.hw
	}
	for _, table := range []byte{tableKafkaBatch, tableKafkaIndex} {
		if err := a.batch.DeleteRange(batchKey(table, k, start), batchKey(table, k, cut), nil); err != nil {
			return fmt.Errorf("raftstore: stage retention of %d/%d: %w", k.num, k.p, err)
		}
	}
	s.logStart = cut
	if err := a.evictProducers(k, cut); err != nil {
		return err
	}
	return a.savePart(k, s)
}

// evictProducers forgets the producers of a partition whose last batch
// retention removed (Kafka's ProducerStateManager does the same when the
// log start passes a producer's last offset), so producer state does not
// outlive the records it guards. Such a producer's next batch is answered
// UNKNOWN_PRODUCER_ID, which clients handle by bumping their epoch.
func (a *applyContext) evictProducers(k partKey, logStart int64) error {
	var gone [][]byte
	err := scanPrefix(a.batch, partPrefix(tableKafkaProducer, k, 0), func(key, v []byte) error {
		ps, err := decodeProducerState(v)
		if err != nil {
			return err
		}
		if n := len(ps.batches); n == 0 || ps.batches[n-1].baseOffset < logStart {
			gone = append(gone, append([]byte(nil), key...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, key := range gone {
		if err := a.del(key); err != nil {
			return err
		}
	}
	return nil
}
