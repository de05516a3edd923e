package kafkacodec

import (
	"errors"
	"runtime"
	"testing"
)

// toBuild turns records read back into records to build again.
func toBuild(recs []flatRecord) []BuildRecord {
	out := make([]BuildRecord, len(recs))
	for i, r := range recs {
		out[i] = BuildRecord{TimestampMillis: r.Timestamp, Key: r.Key, Value: r.Value, Headers: r.Headers}
	}
	return out
}

// checkRoundTrip rebuilds recs with AppendBatch and checks that reading
// the result gives the same records: decode(encode(decode(x))) is stable.
func checkRoundTrip(t *testing.T, recs []flatRecord) {
	t.Helper()
	if len(recs) == 0 {
		return
	}
	rebuilt := AppendBatch(nil, 5, 6, toBuild(recs))
	if _, err := ParseBatch(rebuilt); err != nil {
		t.Fatalf("ParseBatch(AppendBatch(records read)) = %v", err)
	}
	again, err := readAllRecords(rebuilt, len(rebuilt))
	if err != nil {
		t.Fatalf("ReadRecords(AppendBatch(records read)) = %v", err)
	}
	if diff := diffRecords(recs, again); diff != "" {
		t.Fatalf("round trip changed the records (-first +second):\n%s", diff)
	}
}

func FuzzParseBatch(f *testing.F) {
	for _, v := range parseVectors() {
		f.Add(v.Raw)
	}
	for _, tc := range buildCases[:4] {
		f.Add(AppendBatch(nil, 0, 0, tc.recs))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseBatch(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("ParseBatch error %v does not wrap ErrInvalidRecord", err)
			}
			return
		}
		if h.Size() != len(b) || h.NumRecords < 1 {
			t.Fatalf("accepted header %+v for %d bytes", h, len(b))
		}
		if allocs := testing.AllocsPerRun(1, func() { _, _ = ParseBatch(b) }); allocs != 0 {
			t.Fatalf("ParseBatch of a valid batch allocated %v times", allocs)
		}
		if h.Compression() != CompressionNone {
			return
		}
		recs, err := readAllRecords(b, len(b))
		if err != nil {
			t.Fatalf("ParseBatch accepted, ReadRecords refused: %v", err)
		}
		if len(recs) != int(h.NumRecords) {
			t.Fatalf("read %d records, header says %d", len(recs), h.NumRecords)
		}
		checkRoundTrip(t, recs)
	})
}

// fuzzLimitBytes is the decompression limit FuzzReadRecords uses.
const fuzzLimitBytes = 256 << 10

func FuzzReadRecords(f *testing.F) {
	small := buildCases[3].recs
	raw := recordsSection(small)
	f.Add(uint8(CompressionNone), int32(len(small)), raw)
	for _, v := range codecVariants {
		f.Add(uint8(v.codec), int32(len(small)), v.compress(f, raw))
	}
	f.Add(uint8(CompressionSnappy), int32(1), xerialBytes([]byte("short"), 2))
	f.Add(uint8(CompressionLZ4), int32(1), dependentFrame())
	f.Add(uint8(CompressionSnappy), int32(1), denseSnappy(4096))
	if _, err := sharedZstd(); err != nil { // built before any allocation is measured
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, codec uint8, n int32, payload []byte) {
		batch := compressedBatch(Compression(codec&0x07), n, payload)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		recs, err := readAllRecords(batch, fuzzLimitBytes)
		runtime.ReadMemStats(&after)
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 4*fuzzLimitBytes+8*uint64(len(batch))+1<<20 {
			t.Fatalf("ReadRecords of a %d-byte batch allocated %d bytes", len(batch), allocated)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("ReadRecords error %v does not wrap ErrInvalidRecord", err)
			}
			return
		}
		if len(recs) != int(n) {
			t.Fatalf("read %d records, header says %d", len(recs), n)
		}
		checkRoundTrip(t, recs)
	})
}
