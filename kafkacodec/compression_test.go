package kafkacodec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// codecVariant compresses a records section the way some producer does.
type codecVariant struct {
	name     string
	codec    Compression
	compress func(tb testing.TB, raw []byte) []byte
}

var codecVariants = []codecVariant{
	{"gzip", CompressionGzip, func(tb testing.TB, raw []byte) []byte { return gzipBytes(tb, raw) }},
	{"gzip/two-members", CompressionGzip, func(tb testing.TB, raw []byte) []byte {
		return append(gzipBytes(tb, raw[:len(raw)/2]), gzipBytes(tb, raw[len(raw)/2:])...)
	}},
	{"snappy/raw", CompressionSnappy, func(_ testing.TB, raw []byte) []byte { return snappy.Encode(nil, raw) }},
	{"snappy/xerial-32KiB-blocks", CompressionSnappy, func(_ testing.TB, raw []byte) []byte { return xerialBytes(raw, 32<<10) }},
	{"snappy/xerial-1KiB-blocks", CompressionSnappy, func(_ testing.TB, raw []byte) []byte { return xerialBytes(raw, 1<<10) }},
	{"lz4", CompressionLZ4, func(tb testing.TB, raw []byte) []byte { return lz4Bytes(tb, raw) }},
	{"lz4/two-frames", CompressionLZ4, func(tb testing.TB, raw []byte) []byte {
		return append(lz4Bytes(tb, raw[:len(raw)/2]), lz4Bytes(tb, raw[len(raw)/2:])...)
	}},
	{"zstd/encode-all-with-content-size", CompressionZstd, func(tb testing.TB, raw []byte) []byte {
		enc, err := zstd.NewWriter(nil)
		if err != nil {
			tb.Fatal(err)
		}
		defer enc.Close()
		return enc.EncodeAll(raw, nil)
	}},
	{"zstd/stream-no-content-size", CompressionZstd, func(tb testing.TB, raw []byte) []byte {
		return zstdStream(tb, bytes.NewReader(raw), -1)
	}},
	{"zstd/two-frames-and-skippable", CompressionZstd, func(tb testing.TB, raw []byte) []byte {
		skippable := []byte{0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'a', 'b', 'c'}
		return slices.Concat(zstdStream(tb, bytes.NewReader(raw[:10]), 10), skippable,
			zstdStream(tb, bytes.NewReader(raw[10:]), -1))
	}},
}

func gzipBytes(tb testing.TB, raw []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(raw); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func lz4Bytes(tb testing.TB, raw []byte) []byte {
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if _, err := w.Write(raw); err != nil {
		tb.Fatal(err)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// zstdStream compresses r with the streaming encoder; size ≥ 0 writes
// the frame content size, -1 leaves it out (as streaming producers do).
func zstdStream(tb testing.TB, r io.Reader, size int64) []byte {
	var buf bytes.Buffer
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	enc.ResetContentSize(&buf, size)
	if _, err := io.Copy(enc, r); err != nil {
		tb.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// xerialBytes frames raw as Java's SnappyOutputStream does: the header
// (magic, version 1, compatible version 1), then [length][snappy block].
func xerialBytes(raw []byte, blockBytes int) []byte {
	out := append(slices.Clone(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1)
	for len(raw) > 0 {
		n := min(blockBytes, len(raw))
		block := snappy.Encode(nil, raw[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		raw = raw[n:]
	}
	return out
}

// compressedBatch builds a batch of n records whose records section is
// payload, with kmsg's encoder and a CRC computed here.
func compressedBatch(codec Compression, n int32, payload []byte) []byte {
	return compressedBatchAt(codec, n, 1000, payload)
}

// compressedBatchAt is compressedBatch with the first timestamp given.
func compressedBatchAt(codec Compression, n int32, firstTimestamp int64, payload []byte) []byte {
	b := kmsg.RecordBatch{
		FirstOffset: 0, Length: int32(BatchHeaderBytes - 12 + len(payload)), PartitionLeaderEpoch: -1,
		Magic: 2, Attributes: int16(codec), LastOffsetDelta: n - 1, FirstTimestamp: firstTimestamp, MaxTimestamp: firstTimestamp,
		ProducerID: 17, ProducerEpoch: 1, FirstSequence: 0, NumRecords: n, Records: payload,
	}
	return fixCRC(b.AppendTo(nil))
}

// recordsSection is the uncompressed records section of recs.
func recordsSection(recs []BuildRecord) []byte {
	return AppendBatch(nil, 0, 0, recs)[BatchHeaderBytes:]
}

// compressibleRecords are records whose section compresses well and spans
// several snappy blocks.
func compressibleRecords() []BuildRecord {
	recs := make([]BuildRecord, 300)
	for i := range recs {
		recs[i] = BuildRecord{TimestampMillis: 1000 + int64(i), Key: []byte("sensors/room-1/temperature"),
			Value:   bytes.Repeat([]byte(`{"celsius":21.5,"unit":"C"}`), 1+i%20),
			Headers: []RecordHeader{{Key: "qos", Value: []byte{1}}, {Key: "retain"}}}
	}
	return recs
}

func TestReadRecordsEveryCodec(t *testing.T) {
	t.Parallel()
	sets := map[string][]BuildRecord{"one": buildCases[3].recs, "compressible": compressibleRecords()}
	for _, v := range codecVariants {
		for setName, recs := range sets {
			t.Run(v.name+"/"+setName, func(t *testing.T) {
				t.Parallel()
				raw := recordsSection(recs)
				batch := compressedBatchAt(v.codec, int32(len(recs)), recs[0].TimestampMillis, v.compress(t, raw))
				h, err := ParseBatch(batch)
				if err != nil {
					t.Fatalf("ParseBatch: %v", err)
				}
				if h.Compression() != v.codec || h.ProducerID != 17 {
					t.Errorf("header %+v", h)
				}
				got, err := readAllRecords(batch, len(raw))
				if err != nil {
					t.Fatalf("ReadRecords(limit = exact size %d): %v", len(raw), err)
				}
				if diff := diffRecords(expectedRecords(recs), got); diff != "" {
					t.Errorf("records (-want +got):\n%s", diff)
				}
				if _, err := readAllRecords(batch, len(raw)-1); !errors.Is(err, ErrInvalidRecord) {
					t.Errorf("ReadRecords(limit one byte short) = %v, want ErrInvalidRecord", err)
				}
			})
		}
	}
}

func TestReadRecordsCompressedCountMismatch(t *testing.T) {
	t.Parallel()
	recs := compressibleRecords()
	raw := recordsSection(recs)
	for _, n := range []int32{int32(len(recs)) - 1, int32(len(recs)) + 1, 0x7fffffff} {
		batch := compressedBatch(CompressionLZ4, n, lz4Bytes(t, raw))
		if _, err := readAllRecords(batch, 1<<20); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%d records claimed, %d present: %v, want ErrInvalidRecord", n, len(recs), err)
		}
	}
}

func TestReadRecordsCorruptPayloads(t *testing.T) {
	t.Parallel()
	raw := recordsSection(compressibleRecords())
	for _, v := range codecVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			payload := v.compress(t, raw)
			for _, p := range [][]byte{payload[:len(payload)/2], payload[:len(payload)-1], []byte("garbage!garbage!garbage!")} {
				batch := compressedBatch(v.codec, 300, p)
				if _, err := readAllRecords(batch, 1<<20); !errors.Is(err, ErrInvalidRecord) {
					t.Errorf("payload of %d bytes: %v, want ErrInvalidRecord", len(p), err)
				}
			}
		})
	}
}

// denseSnappy is a snappy block of n bytes (a multiple of 64) at the
// format's densest: one literal, then 3-byte copies of 64 bytes.
func denseSnappy(n int) []byte {
	b := binary.AppendUvarint(nil, uint64(n))
	b = append(b, 0x00, 'x')                                            // literal of 1 byte
	b = append(b, 0xfa, 0x01, 0x00)                                     // copy-2: 63 bytes at offset 1
	return append(b, bytes.Repeat([]byte{0xfe, 0x01, 0x00}, n/64-1)...) // copy-2: 64 bytes
}

// zeroReader yields zeros forever.
type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestDecompressionBombCapped(t *testing.T) {
	// Not parallel: it measures the bytes allocated while it runs. A bomb
	// is 100 members/frames of 1 MiB of zeros (cheap to build) or, for
	// zstd with a content size, one 100 MiB frame.
	const memberBytes, members, limit = 1 << 20, 100, 1 << 20
	zeros := func(n int64) io.Reader { return io.LimitReader(zeroReader{}, n) }
	repeat := func(member []byte) []byte { return bytes.Repeat(member, members) }
	bombs := []struct {
		name    string
		codec   Compression
		payload func() []byte
	}{
		{"gzip", CompressionGzip, func() []byte { return repeat(gzipBytes(t, make([]byte, memberBytes))) }},
		{"zstd/no-content-size", CompressionZstd, func() []byte { return repeat(zstdStream(t, zeros(memberBytes), -1)) }},
		{"zstd/content-size", CompressionZstd, func() []byte {
			return zstdStream(t, zeros(members*memberBytes), members*memberBytes)
		}},
		{"lz4", CompressionLZ4, func() []byte { return repeat(lz4Bytes(t, make([]byte, memberBytes))) }},
		{"snappy/raw", CompressionSnappy, func() []byte { return denseSnappy(members * memberBytes) }},
		{"snappy/xerial", CompressionSnappy, func() []byte {
			block := denseSnappy(4 * memberBytes)
			out := append(slices.Clone(xerialMagic), 0, 0, 0, 1, 0, 0, 0, 1)
			for range members / 4 {
				out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
				out = append(out, block...)
			}
			return out
		}},
		{"snappy/raw-header-lies", CompressionSnappy, func() []byte {
			return append(binary.AppendUvarint(nil, members*memberBytes), 0x00)
		}},
	}
	warm := func(c Compression, v func(testing.TB, []byte) []byte) {
		raw := recordsSection(buildCases[3].recs)
		if _, err := readAllRecords(compressedBatch(c, 1, v(t, raw)), limit); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
	for _, v := range codecVariants {
		warm(v.codec, v.compress) // decoders and pools exist before measuring
	}
	for _, b := range bombs {
		batch := compressedBatch(b.codec, 1, b.payload())
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := ReadRecords(batch, limit, func(*Record) error { return nil })
		runtime.ReadMemStats(&after)
		allocated := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d-byte payload, %d bytes allocated: %v", b.name, len(batch), allocated, err)
		if !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: ReadRecords = %v, want ErrInvalidRecord (over the limit)", b.name, err)
		}
		if allocated > 4*limit {
			t.Errorf("%s: allocated %d bytes for a %d-byte limit", b.name, allocated, limit)
		}
	}
}

func TestZstdBoundCoversRealFrames(t *testing.T) {
	t.Parallel()
	raw := recordsSection(compressibleRecords())
	for _, v := range codecVariants {
		if v.codec != CompressionZstd {
			continue
		}
		bound, err := zstdBound(v.compress(t, raw), 1<<30)
		if err != nil || bound < uint64(len(raw)) {
			t.Errorf("%s: bound %d for %d bytes, err %v", v.name, bound, len(raw), err)
		}
	}
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(level), zstd.WithWindowSize(1<<10))
		payload := enc.EncodeAll(raw, nil)
		enc.Close()
		got, err := readAllRecords(compressedBatch(CompressionZstd, 300, payload), len(raw))
		if err != nil || len(got) != 300 {
			t.Errorf("level %v, 1 KiB window: %d records, %v", level, len(got), err)
		}
	}
}

func TestDenseSnappyIsValid(t *testing.T) {
	t.Parallel()
	block := denseSnappy(64 << 10)
	want, err := snappy.Decode(nil, block)
	if err != nil || !bytes.Equal(want, bytes.Repeat([]byte("x"), 64<<10)) {
		t.Fatalf("reference decode: %d bytes, %v", len(want), err)
	}
	got, err := unsnappy(nil, block, 64<<10)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("unsnappy at the densest ratio: %d bytes, %v", len(got), err)
	}
}
