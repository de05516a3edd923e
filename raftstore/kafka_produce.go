package raftstore

import (
	"encoding/binary"
	"fmt"

	"tributary/kafkacodec"
)

// Produce at apply: offsets are assigned here (base offset = the
// partition's high watermark), idempotent producers' sequences are
// checked like Kafka's ProducerStateManager does, and the records of a
// KafkaToMQTT-mapped topic are published to MQTT.
//
// Transactions are not supported: a transactional or control batch is
// rejected with ErrInvalidRecord (the cluster advertises no transactional
// APIs, so a conforming client never sends one).

func applyProduce(a *applyContext, payload []byte) ([]byte, error) {
	r, err := decodeProduce(payload)
	if err != nil {
		return nil, rejectErr(CmdProduce.String(), err)
	}
	res, err := a.produce(&r)
	if err != nil {
		return nil, err
	}
	return encodeProduceResult(&res), nil
}

// produce appends one batch. Every check that can reject it runs before
// the first write, so a rejection leaves the state untouched.
func (a *applyContext) produce(r *ProduceRequest) (ProduceResult, error) {
	reject := func(err error) (ProduceResult, error) {
		return ProduceResult{}, rejectErr(CmdProduce.String(), err)
	}
	t, ok := a.kq.topic(r.Topic)
	if !ok || r.Partition < 0 || r.Partition >= t.Partitions {
		return reject(fmt.Errorf("%w: %q/%d", ErrUnknownTopicOrPartition, r.Topic, r.Partition))
	}
	h, err := checkProducedBatch(r.Batch)
	if err != nil {
		return reject(err)
	}
	k := partKey{t.num, r.Partition}
	s := a.kq.part(k)
	var ps producerState
	if h.ProducerID >= 0 {
		var dup *seqBatch
		if ps, dup, err = a.checkSequence(k, &h); err != nil {
			return reject(err)
		}
		if dup != nil {
			return ProduceResult{BaseOffset: dup.baseOffset, LogStartOffset: s.logStart, Duplicate: true}, nil
		}
	}
	var msgs []Message
	if maps := a.kq.mappingView().fromKafka[t.Name]; len(maps) > 0 {
		if msgs, err = recordsToMQTT(r.Batch, maps); err != nil {
			return reject(err)
		}
	}
	base := s.hw
	if err := a.storeProduced(k, &s, r.Batch, &h); err != nil {
		return ProduceResult{}, err
	}
	if h.ProducerID >= 0 {
		if err := a.saveProducer(k, &h, &ps, base); err != nil {
			return ProduceResult{}, err
		}
	}
	if err := a.publishFromKafka(t.Name, msgs, r.NowMillis); err != nil {
		return ProduceResult{}, err
	}
	return ProduceResult{BaseOffset: base, LogStartOffset: s.logStart}, nil
}

// checkProducedBatch re-checks, cheaply, what apply relies on: the
// proposer validated the batch whole (kafkacodec.ParseBatch), but apply
// must not trust a payload it cannot afford to re-verify.
func checkProducedBatch(b []byte) (kafkacodec.BatchHeader, error) {
	h, err := kafkacodec.PeekBatch(b)
	switch {
	case err != nil:
		return h, fmt.Errorf("%w: %w", ErrInvalidRecord, err)
	case h.Size() != len(b):
		return h, fmt.Errorf("%w: batch of %d bytes says %d", ErrInvalidRecord, len(b), h.Size())
	case h.Magic != 2:
		return h, fmt.Errorf("%w: magic %d", ErrInvalidRecord, h.Magic)
	case h.NumRecords < 1 || h.NumRecords != h.LastOffsetDelta+1:
		return h, fmt.Errorf("%w: %d records, last offset delta %d", ErrInvalidRecord, h.NumRecords, h.LastOffsetDelta)
	case h.Transactional() || h.Control():
		return h, fmt.Errorf("%w: transactional batches are not supported", ErrInvalidRecord)
	case h.ProducerID < -1:
		return h, fmt.Errorf("%w: producer id %d", ErrInvalidRecord, h.ProducerID)
	case h.ProducerID >= 0 && (h.ProducerEpoch < 0 || h.BaseSequence < 0):
		return h, fmt.Errorf("%w: idempotent batch with epoch %d, sequence %d", ErrInvalidRecord, h.ProducerEpoch, h.BaseSequence)
	}
	return h, nil
}

// storeProduced stamps a copy of the batch (the payload aliases the raft
// log, which must not change) with its base offset and leader epoch, and
// appends it.
func (a *applyContext) storeProduced(k partKey, s *partState, batch []byte, h *kafkacodec.BatchHeader) error {
	stamped := append(a.kq.scratch[:0], batch...)
	kafkacodec.StampBatch(stamped, s.hw, s.epoch)
	a.kq.scratch = stamped
	n := int64(h.LastOffsetDelta) + 1
	a.kq.appendedKafka += n
	return a.appendBatch(k, s, stamped, n, h.MaxTimestamp)
}

// nextSeq returns the sequence after seq; sequences wrap at MaxInt32.
func nextSeq(seq int32) int32 {
	if seq == maxInt32 {
		return 0
	}
	return seq + 1
}

// lastSeqOf returns the last sequence of a batch (Kafka's
// DefaultRecordBatch.incrementSequence).
func lastSeqOf(h *kafkacodec.BatchHeader) int32 {
	if h.BaseSequence > maxInt32-h.LastOffsetDelta {
		return h.LastOffsetDelta - (maxInt32 - h.BaseSequence) - 1
	}
	return h.BaseSequence + h.LastOffsetDelta
}

// checkSequence checks an idempotent batch against its producer's state
// in the partition and returns that state, or the remembered batch it
// duplicates.
func (a *applyContext) checkSequence(k partKey, h *kafkacodec.BatchHeader) (producerState, *seqBatch, error) {
	first, last := h.BaseSequence, lastSeqOf(h)
	v, ok, err := a.read(producerKey(k, h.ProducerID))
	if err != nil {
		return producerState{}, nil, err
	}
	if !ok {
		known, err := a.producerHandedOut(h.ProducerID)
		if err != nil {
			return producerState{}, nil, err
		}
		if first != 0 || !known {
			return producerState{}, nil, fmt.Errorf("%w: producer %d, sequence %d", ErrUnknownProducerID, h.ProducerID, first)
		}
		return producerState{epoch: h.ProducerEpoch}, nil, nil
	}
	ps, err := decodeProducerState(v)
	if err != nil {
		return ps, nil, err
	}
	switch {
	case h.ProducerEpoch < ps.epoch:
		return ps, nil, fmt.Errorf("%w: producer %d epoch %d, current %d", ErrInvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, ps.epoch)
	case h.ProducerEpoch > ps.epoch || len(ps.batches) == 0:
		if first != 0 {
			return ps, nil, fmt.Errorf("%w: producer %d: new epoch %d starts at sequence %d", ErrOutOfOrderSequence, h.ProducerID, h.ProducerEpoch, first)
		}
		return producerState{epoch: h.ProducerEpoch}, nil, nil
	}
	for i := range ps.batches {
		if b := &ps.batches[i]; b.firstSeq == first && b.lastSeq == last {
			return ps, b, nil
		}
	}
	if want := nextSeq(ps.batches[len(ps.batches)-1].lastSeq); first != want {
		return ps, nil, fmt.Errorf("%w: producer %d: sequence %d, expected %d", ErrOutOfOrderSequence, h.ProducerID, first, want)
	}
	return ps, nil, nil
}

// producerHandedOut reports whether InitProducerID handed out pid.
func (a *applyContext) producerHandedOut(pid int64) (bool, error) {
	next, err := a.counter(keyKafkaProducerID)
	return uint64(pid) < next, err
}

// saveProducer remembers an appended idempotent batch (the last
// producerBatches of them).
func (a *applyContext) saveProducer(k partKey, h *kafkacodec.BatchHeader, ps *producerState, base int64) error {
	ps.epoch = h.ProducerEpoch
	ps.batches = append(ps.batches, seqBatch{firstSeq: h.BaseSequence, lastSeq: lastSeqOf(h), baseOffset: base})
	if n := len(ps.batches); n > producerBatches {
		ps.batches = ps.batches[n-producerBatches:]
	}
	return a.set(producerKey(k, h.ProducerID), ps.encode())
}

// publishFromKafka publishes the messages of a produced batch to MQTT.
// While it does, the batch's own topic is excluded from MQTT→Kafka
// mappings, so a record never comes back to the topic it was produced to.
func (a *applyContext) publishFromKafka(topic string, msgs []Message, now int64) error {
	a.kafkaFrom = topic
	defer func() { a.kafkaFrom = "" }()
	for i := range msgs {
		if _, err := a.publish(&msgs[i], now, false); err != nil {
			return err
		}
	}
	return nil
}

// counter reads a uint64 counter of the meta table (0 when absent).
func (a *applyContext) counter(key []byte) (uint64, error) {
	v, ok, err := a.read(key)
	if err != nil || !ok {
		return 0, err
	}
	return decodeU64(v, string(key[1:]))
}

// nextCounter returns a counter's value and stores value+1.
func (a *applyContext) nextCounter(key []byte) (uint64, error) {
	v, err := a.counter(key)
	if err != nil {
		return 0, err
	}
	return v, a.set(key, binary.BigEndian.AppendUint64(nil, v+1))
}
