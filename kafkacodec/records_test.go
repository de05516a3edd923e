package kafkacodec

import (
	"encoding/binary"
	"errors"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// flatRecord is a record as a consumer sees it: absolute timestamp, the
// offset delta, and copies of the bytes (nil stays nil).
type flatRecord struct {
	Timestamp   int64
	OffsetDelta int32
	Key         []byte
	Value       []byte
	Headers     []RecordHeader
}

// readAllRecords reads every record of batch with ReadRecords, copying each.
func readAllRecords(batch []byte, maxBytes int) ([]flatRecord, error) {
	first := int64(0)
	if len(batch) >= BatchHeaderBytes {
		first = readBatchHeader(batch).FirstTimestamp
	}
	var out []flatRecord
	err := ReadRecords(batch, maxBytes, func(r *Record) error {
		out = append(out, flatten(first, r))
		return nil
	})
	return out, err
}

// flatten copies r.
func flatten(firstTimestamp int64, r *Record) flatRecord {
	f := flatRecord{
		Timestamp:   firstTimestamp + r.TimestampDelta,
		OffsetDelta: r.OffsetDelta,
		Key:         slices.Clone(r.Key),
		Value:       slices.Clone(r.Value),
	}
	for _, h := range r.Headers {
		f.Headers = append(f.Headers, RecordHeader{Key: h.Key, Value: slices.Clone(h.Value)})
	}
	return f
}

// diffRecords is cmp.Diff(want, got), skipped when they are equal (cmp is
// slow on large byte slices under -race). nil and empty slices differ.
func diffRecords(want, got []flatRecord) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return cmp.Diff(want, got)
}

// expectedRecords is what reading recs back must give.
func expectedRecords(recs []BuildRecord) []flatRecord {
	out := make([]flatRecord, len(recs))
	for i, r := range recs {
		out[i] = flatRecord{Timestamp: r.TimestampMillis, OffsetDelta: int32(i), Key: r.Key, Value: r.Value}
		out[i].Headers = append([]RecordHeader(nil), r.Headers...)
	}
	return out
}

// kmsgDecode decodes a trusted batch with kmsg: the batch and its records
// (uncompressed batches only).
func kmsgDecode(t *testing.T, b []byte) (kmsg.RecordBatch, []kmsg.Record) {
	t.Helper()
	var batch kmsg.RecordBatch
	if err := batch.ReadFrom(b); err != nil {
		t.Fatalf("kmsg RecordBatch.ReadFrom: %v", err)
	}
	var recs []kmsg.Record
	for data := batch.Records; len(data) > 0; {
		length, n := binary.Varint(data)
		if n <= 0 || int(length) > len(data)-n {
			t.Fatalf("kmsg oracle: bad record length at %d bytes left", len(data))
		}
		var r kmsg.Record
		if err := r.ReadFrom(data[:n+int(length)]); err != nil {
			t.Fatalf("kmsg Record.ReadFrom: %v", err)
		}
		recs = append(recs, r)
		data = data[n+int(length):]
	}
	return batch, recs
}

// buildCases are record sets for AppendBatch round trips.
var buildCases = []struct {
	name string
	recs []BuildRecord
}{
	{"one/null-key", []BuildRecord{{TimestampMillis: 1700000000000, Value: []byte("hello")}}},
	{"one/null-key-null-value", []BuildRecord{{TimestampMillis: 1}}},
	{"one/empty-key-empty-value", []BuildRecord{{TimestampMillis: 2, Key: []byte{}, Value: []byte{}}}},
	{"headers/null-and-empty-values", []BuildRecord{{
		TimestampMillis: 5, Key: []byte("a/b/c"), Value: []byte("payload"),
		Headers: []RecordHeader{{Key: "qos", Value: []byte{1}}, {Key: "retain"}, {Key: "", Value: []byte{}}},
	}}},
	{"many/timestamps-go-back", []BuildRecord{
		{TimestampMillis: 1000, Key: []byte("k1"), Value: []byte("v1")},
		{TimestampMillis: 900, Key: []byte("k2"), Value: []byte("v2")},
		{TimestampMillis: 5000, Key: []byte("k3"), Value: slices.Repeat([]byte("x"), 300)},
		{TimestampMillis: -1, Value: slices.Repeat([]byte("y"), 70000)},
	}},
	{"many/200-records-shared-header-keys", func() []BuildRecord {
		recs := make([]BuildRecord, 200)
		for i := range recs {
			recs[i] = BuildRecord{TimestampMillis: int64(i), Key: []byte{byte(i)}, Value: []byte{byte(i), 2},
				Headers: []RecordHeader{{Key: "client_id", Value: []byte("dev")}, {Key: "qos", Value: []byte{byte(i % 3)}}}}
		}
		return recs
	}()},
}

func TestAppendBatchKmsgOracle(t *testing.T) {
	t.Parallel()
	for _, tc := range buildCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := []byte("prefix")
			b := AppendBatch(slices.Clone(prefix), 1234, 7, tc.recs)
			if string(b[:len(prefix)]) != string(prefix) {
				t.Fatalf("AppendBatch overwrote dst's prefix")
			}
			b = b[len(prefix):]
			batch, recs := kmsgDecode(t, b)
			checkKmsgBatch(t, batch, b, tc.recs)
			checkKmsgRecords(t, recs, tc.recs)

			h, err := ParseBatch(b)
			if err != nil {
				t.Fatalf("ParseBatch(AppendBatch) = %v", err)
			}
			if h.Size() != len(b) || h.Compression() != CompressionNone || h.Transactional() || h.Control() || h.LogAppendTime() {
				t.Errorf("ParseBatch header = %+v", h)
			}
			got, err := readAllRecords(b, 1<<20)
			if err != nil {
				t.Fatalf("ReadRecords: %v", err)
			}
			if diff := diffRecords(expectedRecords(tc.recs), got); diff != "" {
				t.Errorf("ReadRecords (-want +got):\n%s", diff)
			}
		})
	}
}

// checkKmsgBatch compares the header kmsg decoded with what AppendBatch
// promises.
func checkKmsgBatch(t *testing.T, got kmsg.RecordBatch, raw []byte, recs []BuildRecord) {
	t.Helper()
	maxTS := recs[0].TimestampMillis
	for _, r := range recs {
		maxTS = max(maxTS, r.TimestampMillis)
	}
	want := kmsg.RecordBatch{
		FirstOffset: 1234, Length: int32(len(raw) - 12), PartitionLeaderEpoch: 7, Magic: 2,
		CRC: int32(CRC32C(raw[21:])), Attributes: 0, LastOffsetDelta: int32(len(recs) - 1),
		FirstTimestamp: recs[0].TimestampMillis, MaxTimestamp: maxTS,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)),
		Records: raw[61:],
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("kmsg batch (-want +got):\n%s", diff)
	}
}

// checkKmsgRecords compares the records kmsg decoded with recs.
func checkKmsgRecords(t *testing.T, got []kmsg.Record, recs []BuildRecord) {
	t.Helper()
	if len(got) != len(recs) {
		t.Fatalf("kmsg read %d records, want %d", len(got), len(recs))
	}
	for i, r := range recs {
		g := got[i]
		if g.Attributes != 0 || g.OffsetDelta != int32(i) || g.TimestampDelta64 != r.TimestampMillis-recs[0].TimestampMillis {
			t.Errorf("record %d: attrs %d offset delta %d ts delta %d", i, g.Attributes, g.OffsetDelta, g.TimestampDelta64)
		}
		if (g.Key == nil) != (r.Key == nil) || string(g.Key) != string(r.Key) {
			t.Errorf("record %d: key %q (nil %v), want %q (nil %v)", i, g.Key, g.Key == nil, r.Key, r.Key == nil)
		}
		if (g.Value == nil) != (r.Value == nil) || string(g.Value) != string(r.Value) {
			t.Errorf("record %d: value of %d bytes (nil %v), want %d (nil %v)", i, len(g.Value), g.Value == nil, len(r.Value), r.Value == nil)
		}
		if len(g.Headers) != len(r.Headers) {
			t.Fatalf("record %d: %d headers, want %d", i, len(g.Headers), len(r.Headers))
		}
		for j, h := range r.Headers {
			gh := g.Headers[j]
			if gh.Key != h.Key || (gh.Value == nil) != (h.Value == nil) || string(gh.Value) != string(h.Value) {
				t.Errorf("record %d header %d: %q=%q (nil %v), want %q=%q", i, j, gh.Key, gh.Value, gh.Value == nil, h.Key, h.Value)
			}
		}
	}
}

func TestAppendBatchEmptyAppendsNothing(t *testing.T) {
	t.Parallel()
	if got := AppendBatch([]byte("x"), 0, 0, nil); string(got) != "x" {
		t.Errorf("AppendBatch(no records) = %q, want dst unchanged", got)
	}
}

func TestAppendBatchAllocs(t *testing.T) {
	recs := benchRecords(100, 64)
	dst := make([]byte, 0, 64<<10)
	allocs := testing.AllocsPerRun(100, func() {
		dst = AppendBatch(dst[:0], 42, 3, recs)
	})
	if allocs != 0 {
		t.Errorf("AppendBatch into a pre-sized dst: %v allocations, want 0", allocs)
	}
}

func TestParseBatchAllocs(t *testing.T) {
	b := AppendBatch(nil, 0, 0, buildCases[len(buildCases)-1].recs)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ParseBatch(b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseBatch of a valid batch: %v allocations, want 0", allocs)
	}
}

func TestStampBatchKeepsCRC(t *testing.T) {
	t.Parallel()
	b := AppendBatch(nil, 0, -1, buildCases[3].recs)
	StampBatch(b, 1<<40+5, 99)
	h, err := ParseBatch(b)
	if err != nil {
		t.Fatalf("ParseBatch after StampBatch: %v", err)
	}
	if h.BaseOffset != 1<<40+5 || h.PartitionLeaderEpoch != 99 {
		t.Errorf("stamped header: base offset %d epoch %d", h.BaseOffset, h.PartitionLeaderEpoch)
	}
	kb, _ := kmsgDecode(t, b)
	if uint32(kb.CRC) != CRC32C(b[21:]) || kb.FirstOffset != 1<<40+5 || kb.PartitionLeaderEpoch != 99 {
		t.Errorf("kmsg sees %+v", kb)
	}
	short := []byte{1, 2, 3}
	StampBatch(short, 7, 7) // too short: left alone, no panic
	if string(short) != "\x01\x02\x03" {
		t.Errorf("StampBatch changed a short slice: %v", short)
	}
}

func TestCRC32CKnownVector(t *testing.T) {
	t.Parallel()
	// The CRC-32C check value (RFC 3720 appendix B.4 / iSCSI).
	if got := CRC32C([]byte("123456789")); got != 0xe3069283 {
		t.Errorf("CRC32C(123456789) = %#x, want 0xe3069283", got)
	}
}

func TestPeekBatchWalksConcatenatedBatches(t *testing.T) {
	t.Parallel()
	var log []byte
	for i, tc := range buildCases {
		log = AppendBatch(log, int64(i*1000), int32(i), tc.recs)
	}
	n := 0
	for rest := log; len(rest) > 0; n++ {
		h, err := PeekBatch(rest)
		if err != nil {
			t.Fatalf("PeekBatch batch %d: %v", n, err)
		}
		if h.BaseOffset != int64(n*1000) || h.NumRecords != int32(len(buildCases[n].recs)) {
			t.Errorf("batch %d: %+v", n, h)
		}
		if _, err := ParseBatch(rest[:h.Size()]); err != nil {
			t.Errorf("batch %d: %v", n, err)
		}
		rest = rest[h.Size():]
	}
	if n != len(buildCases) {
		t.Errorf("walked %d batches, want %d", n, len(buildCases))
	}
	for _, short := range [][]byte{nil, log[:10], log[:BatchHeaderBytes-1]} {
		if _, err := PeekBatch(short); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("PeekBatch(%d bytes) = %v, want ErrInvalidRecord", len(short), err)
		}
	}
	if _, err := PeekBatch(log[:len(log)-1]); err != nil { // first batch still whole
		t.Errorf("PeekBatch with a partial second batch: %v", err)
	}
	last := AppendBatch(nil, 0, 0, buildCases[0].recs)
	if _, err := PeekBatch(last[:len(last)-1]); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("PeekBatch(truncated batch) = %v, want ErrInvalidRecord", err)
	}
	hostile := slices.Clone(last)
	binary.BigEndian.PutUint32(hostile[8:], 0x80000000) // negative batch length
	if _, err := PeekBatch(hostile); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("PeekBatch(negative length) = %v, want ErrInvalidRecord", err)
	}
}

func TestParseBatchVectors(t *testing.T) {
	t.Parallel()
	for _, v := range parseVectors() {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			h, err := ParseBatch(v.Raw)
			if v.Err == nil {
				if err != nil {
					t.Fatalf("ParseBatch = %v, want success", err)
				}
				if h.Size() != len(v.Raw) {
					t.Errorf("Size() = %d, want %d", h.Size(), len(v.Raw))
				}
				return
			}
			if !errors.Is(err, v.Err) {
				t.Fatalf("ParseBatch = %v, want %v", err, v.Err)
			}
			// ReadRecords must refuse it too (whatever it checks first).
			if _, rerr := readAllRecords(v.Raw, 1<<20); rerr == nil && v.ReadErr {
				t.Errorf("ReadRecords accepted a batch ParseBatch rejects (%v)", err)
			}
		})
	}
}

func TestParseBatchReportsTransactionalAndControl(t *testing.T) {
	t.Parallel()
	rec := recBytes(0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0x00)
	for _, attrs := range []int16{0x10, 0x20, 0x30, 0x08} {
		h, err := ParseBatch(rawBatch(1, attrs, rec))
		if err != nil {
			t.Fatalf("attributes %#x: %v", attrs, err)
		}
		if h.Transactional() != (attrs&0x10 != 0) || h.Control() != (attrs&0x20 != 0) || h.LogAppendTime() != (attrs&0x08 != 0) {
			t.Errorf("attributes %#x: transactional %v control %v log-append %v", attrs, h.Transactional(), h.Control(), h.LogAppendTime())
		}
	}
}

func TestReadRecordsFnErrorAndAllOrNothing(t *testing.T) {
	t.Parallel()
	b := AppendBatch(nil, 0, 0, buildCases[4].recs)
	stop := errors.New("stop")
	calls := 0
	err := ReadRecords(b, 1<<20, func(*Record) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("ReadRecords = %v after %d calls, want fn's error after 1", err, calls)
	}
	// Two good records, then a broken one: fn must not be called at all.
	good := recBytes(0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0x00)
	second := recBytes(0x00, 0x00, 0x02, 0x01, 0x02, 'w', 0x00)
	broken := recBytes(0x00, 0x00, 0x04, 0x01, 0x7f /* value length -64 */, 0x00)
	calls = 0
	err = ReadRecords(rawBatch(3, 0, slices.Concat(good, second, broken)), 1<<20, func(*Record) error { calls++; return nil })
	if !errors.Is(err, ErrInvalidRecord) || calls != 0 {
		t.Errorf("ReadRecords = %v after %d calls, want ErrInvalidRecord before any call", err, calls)
	}
	if err := ReadRecords(append(slices.Clone(b), 0), 1<<20, func(*Record) error { return nil }); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("ReadRecords(batch + trailing byte) = %v, want ErrInvalidRecord", err)
	}
}

func TestReadRecordsReusesHeaderKeys(t *testing.T) {
	t.Parallel()
	b := AppendBatch(nil, 0, 0, buildCases[5].recs)
	var prev string
	i := 0
	err := ReadRecords(b, 1<<20, func(r *Record) error {
		k := r.Headers[0].Key
		if k != "client_id" {
			t.Fatalf("header key %q", k)
		}
		if i > 0 && unsafeStringData(k) != unsafeStringData(prev) {
			t.Errorf("record %d: header key string reallocated", i)
		}
		prev, i = k, i+1
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadRecordVarint(t *testing.T) {
	t.Parallel()
	for _, v := range []int32{0, 1, -1, 63, -64, 64, 1 << 20, -(1 << 20), 1<<31 - 1, -1 << 31} {
		b := binary.AppendVarint(nil, int64(v))
		got, n := readRecordVarint(b)
		if got != v || n != len(b) {
			t.Errorf("readRecordVarint(%x) = %d, %d; want %d, %d", b, got, n, v, len(b))
		}
		if _, n := readRecordVarint(b[:len(b)-1]); n != 0 {
			t.Errorf("readRecordVarint(truncated %x) size %d, want 0", b[:len(b)-1], n)
		}
	}
	for _, b := range [][]byte{
		{0xff, 0xff, 0xff, 0xff, 0x10},       // 33 bits
		{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // 6 bytes
	} {
		if _, n := readRecordVarint(b); n != -1 {
			t.Errorf("readRecordVarint(%x) size %d, want -1 (overlong)", b, n)
		}
	}
}

// unsafeStringData is the address of s's bytes (to see whether two equal
// strings share them).
func unsafeStringData(s string) *byte { return unsafe.StringData(s) }

func TestReadRecordsNilFnValidates(t *testing.T) {
	t.Parallel()
	raw := recordsSection(compressibleRecords())
	good := compressedBatch(CompressionGzip, 300, gzipBytes(t, raw))
	if err := ReadRecords(good, 1<<20, nil); err != nil {
		t.Errorf("ReadRecords(good gzip batch, nil) = %v", err)
	}
	bad := compressedBatch(CompressionGzip, 301, gzipBytes(t, raw))
	if err := ReadRecords(bad, 1<<20, nil); !errors.Is(err, ErrInvalidRecord) {
		t.Errorf("ReadRecords(gzip batch with a wrong count, nil) = %v, want ErrInvalidRecord", err)
	}
}
