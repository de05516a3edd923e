package raftstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/google/go-cmp/cmp"

	"tributary/kafkacodec"
)

// Kafka helpers on top of the MQTT state machine harness (mqttFSM): a
// real state machine on in-memory Pebble, one raft entry per apply.

func (h *mqttFSM) createTopic(name string, partitions int32, retMs, retBytes int64) error {
	h.t.Helper()
	_, err := h.one(createTopicCommand(&CreateTopicRequest{Name: name, ID: [16]byte{byte(len(name)), 1},
		Partitions: partitions, RetentionMillis: retMs, RetentionBytes: retBytes, NowMillis: 1}))
	return err
}

func (h *mqttFSM) mustTopic(name string, partitions int32) {
	h.t.Helper()
	if err := h.createTopic(name, partitions, -1, -1); err != nil {
		h.t.Fatal(err)
	}
}

func (h *mqttFSM) produce(topic string, p int32, batch []byte, now int64) (ProduceResult, error) {
	h.t.Helper()
	v, err := h.one(produceCommand(&ProduceRequest{Topic: topic, Partition: p, Batch: batch, NowMillis: now}))
	if err != nil {
		return ProduceResult{}, err
	}
	res, derr := decodeProduceResult(v)
	if derr != nil {
		h.t.Fatal(derr)
	}
	return res, nil
}

func (h *mqttFSM) mustProduce(topic string, p int32, batch []byte) ProduceResult {
	h.t.Helper()
	res, err := h.produce(topic, p, batch, 1)
	if err != nil {
		h.t.Fatalf("produce: %v", err)
	}
	return res
}

func (h *mqttFSM) setMapping(m Mapping) error {
	h.t.Helper()
	_, err := h.one(mappingSetCommand(&m, [16]byte{9}, 1))
	return err
}

func (h *mqttFSM) initPID(prev *ProducerID) ProducerID {
	h.t.Helper()
	id, err := decodeProducerID(h.ok(initProducerIDCommand(prev)))
	if err != nil {
		h.t.Fatal(err)
	}
	return id
}

func (h *mqttFSM) part(topic string, p int32) PartitionState {
	h.t.Helper()
	s, err := h.store().Partition(topic, p)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// nullKey, as rec's key, makes a record with a null key.
const nullKey = "\x00"

// rec is a record for a test batch; headers are name, value pairs.
func rec(key, value string, ts int64, headers ...string) kafkacodec.BuildRecord {
	r := kafkacodec.BuildRecord{TimestampMillis: ts, Value: []byte(value)}
	if key != nullKey {
		r.Key = []byte(key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, kafkacodec.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return r
}

// batchOf is a produced batch (producer id -1) of recs.
func batchOf(recs ...kafkacodec.BuildRecord) []byte {
	return kafkacodec.AppendBatch(nil, 0, -1, recs)
}

// nRecords is a produced batch of n records with keys k0, k1, ...
func nRecords(n int) []byte {
	recs := make([]kafkacodec.BuildRecord, n)
	for i := range recs {
		recs[i] = rec(fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i), int64(100+i))
	}
	return batchOf(recs...)
}

// idempotent rewrites a batch's producer fields and its CRC.
func idempotent(b []byte, pid int64, epoch int16, seq int32) []byte {
	b = append([]byte(nil), b...)
	binary.BigEndian.PutUint64(b[43:], uint64(pid))
	binary.BigEndian.PutUint16(b[51:], uint16(epoch))
	binary.BigEndian.PutUint32(b[53:], uint32(seq))
	binary.BigEndian.PutUint32(b[17:], kafkacodec.CRC32C(b[21:]))
	return b
}

// withAttributes sets a batch's attributes and fixes its CRC.
func withAttributes(b []byte, attrs int16) []byte {
	b = append([]byte(nil), b...)
	binary.BigEndian.PutUint16(b[21:], uint16(attrs))
	binary.BigEndian.PutUint32(b[17:], kafkacodec.CRC32C(b[21:]))
	return b
}

// readRec is one record read back, with its absolute offset.
type readRec struct {
	Offset    int64
	Timestamp int64
	Key       string
	Value     string
	Headers   []string
}

// readAll reads every record of a partition from offset, checking each
// stored batch's CRC and returning the batches' base offsets too.
func readAll(t testing.TB, s *Store, topic string, p int32, offset int64) ([]readRec, []int64) {
	t.Helper()
	data, _, err := s.ReadRecords(topic, p, offset, 1<<30)
	if err != nil {
		t.Fatalf("read records: %v", err)
	}
	recs, bases, err := decodeBatches(data)
	if err != nil {
		t.Fatal(err)
	}
	return recs, bases
}

func decodeBatches(data []byte) ([]readRec, []int64, error) {
	var out []readRec
	var bases []int64
	for len(data) > 0 {
		bh, err := kafkacodec.PeekBatch(data)
		if err != nil {
			return nil, nil, err
		}
		b := data[:bh.Size()]
		data = data[bh.Size():]
		h, err := kafkacodec.ParseBatch(b)
		if err != nil {
			return nil, nil, fmt.Errorf("stored batch at %d: %w", bh.BaseOffset, err)
		}
		bases = append(bases, h.BaseOffset)
		err = kafkacodec.ReadRecords(b, 1<<30, func(r *kafkacodec.Record) error {
			rr := readRec{Offset: h.BaseOffset + int64(r.OffsetDelta), Timestamp: h.FirstTimestamp + r.TimestampDelta,
				Key: string(r.Key), Value: string(r.Value)}
			if r.Key == nil {
				rr.Key = "<null>"
			}
			for _, hd := range r.Headers {
				rr.Headers = append(rr.Headers, hd.Key+"="+string(hd.Value))
			}
			out = append(out, rr)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return out, bases, nil
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v, want %v", err, want)
	}
	var rej *RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("error %v is not a rejection", err)
	}
}

// checkKafka checks that the Kafka index equals one rebuilt from Pebble
// and the invariants between the Kafka tables.
func checkKafka(t testing.TB, f *fsm) {
	t.Helper()
	fresh := newKafkaIndex()
	if err := fresh.rebuild(f.db); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(kafkaIndexDump(fresh), kafkaIndexDump(f.kafka)); d != "" {
		t.Fatalf("in-memory kafka index differs from Pebble (-pebble +memory):\n%s", d)
	}
	if err := kafkaInvariants(f.db, fresh); err != nil {
		t.Fatalf("kafka state: %v", err)
	}
}

// kafkaIndexDump renders a Kafka index as sorted lines.
func kafkaIndexDump(x *kafkaIndex) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []string
	for name, t := range x.topics {
		out = append(out, fmt.Sprintf("topic %q %+v num=%d parts=%+v", name, t.Topic, t.num, t.parts))
		if x.nums[t.num] != t {
			out = append(out, fmt.Sprintf("BAD NUM %d", t.num))
		}
	}
	for n, m := range x.mappings {
		out = append(out, fmt.Sprintf("mapping %q %+v", n, m))
	}
	out = append(out, fmt.Sprintf("view %d %d nums=%d topics=%d bytes=%d", len(x.view.toKafka), len(x.view.fromKafka),
		len(x.nums), x.topicCount.Load(), x.bytes.Load()))
	out = append(out, fmt.Sprintf("live brokers %v", x.live))
	slices.Sort(out)
	return out
}

// kafkaInvariants checks, per partition, that the batch index and the
// batches agree (same base offsets, sizes, contiguous offsets from the log
// start to the high watermark) and that the partition's counters add up;
// and that no key belongs to a topic number that does not exist.
func kafkaInvariants(r pebble.Reader, x *kafkaIndex) error {
	var errs []error
	for _, t := range x.topics {
		for p := range t.Partitions {
			if err := partitionInvariants(r, partKey{t.num, p}, t.parts[p]); err != nil {
				errs = append(errs, fmt.Errorf("%s/%d: %w", t.Name, p, err))
			}
		}
	}
	for _, table := range []byte{tableKafkaPartition, tableKafkaBatch, tableKafkaIndex, tableKafkaEpoch, tableKafkaProducer} {
		err := scanPrefix(r, []byte{table}, func(k, _ []byte) error {
			if x.nums[binary.BigEndian.Uint32(k[1:5])] == nil {
				return fmt.Errorf("table %#x: key %x of no topic", table, k)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func partitionInvariants(r pebble.Reader, k partKey, s partState) error {
	var metas []batchMeta
	var bases []int64
	err := scanPrefix(r, partPrefix(tableKafkaIndex, k, 0), func(key, v []byte) error {
		m, err := decodeBatchMeta(v)
		base, _ := keySuffixU64(key)
		metas, bases = append(metas, m), append(bases, int64(base))
		return err
	})
	if err != nil {
		return err
	}
	next, bytes, i := s.logStart, int64(0), 0
	err = scanPrefix(r, partPrefix(tableKafkaBatch, k, 0), func(key, v []byte) error {
		base, _ := keySuffixU64(key)
		h, err := kafkacodec.ParseBatch(v)
		switch {
		case err != nil:
			return err
		case i >= len(metas) || bases[i] != int64(base) || int64(base) != next || h.BaseOffset != next:
			return fmt.Errorf("batch at %d (header %d), expected %d", base, h.BaseOffset, next)
		case int(metas[i].size) != len(v) || metas[i].lastOffset != next+int64(h.LastOffsetDelta):
			return fmt.Errorf("batch at %d: index %+v, batch of %d bytes", base, metas[i], len(v))
		}
		next = metas[i].lastOffset + 1
		bytes += int64(len(v))
		i++
		return nil
	})
	if err != nil {
		return err
	}
	if i != len(metas) || int64(i) != s.batches || bytes != s.bytes || next != s.hw {
		return fmt.Errorf("state %+v; %d batches, %d index entries, %d bytes, ends at %d", s, i, len(metas), bytes, next)
	}
	return nil
}
