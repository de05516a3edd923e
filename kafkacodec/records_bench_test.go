package kafkacodec

import (
	"bytes"
	"testing"
)

// benchRecords are n MQTT-like records with size-byte values.
func benchRecords(n, size int) []BuildRecord {
	recs := make([]BuildRecord, n)
	for i := range recs {
		recs[i] = BuildRecord{TimestampMillis: 1700000000000 + int64(i), Key: []byte("devices/d-42/telemetry"),
			Value:   bytes.Repeat([]byte{byte('a' + i%26)}, size),
			Headers: []RecordHeader{{Key: "qos", Value: []byte{1}}, {Key: "client_id", Value: []byte("d-42")}}}
	}
	return recs
}

func BenchmarkAppendBatch(b *testing.B) {
	recs := benchRecords(100, 64)
	dst := AppendBatch(nil, 0, 0, recs)
	b.ReportAllocs()
	b.SetBytes(int64(len(dst)))
	for b.Loop() {
		dst = AppendBatch(dst[:0], 1, 2, recs)
	}
}

func BenchmarkParseBatch(b *testing.B) {
	n := 100
	batch := AppendBatch(nil, 0, 0, benchRecords(n, 64))
	for len(batch) < 16<<10 { // the smallest batch of such records ≥ 16 KiB
		n++
		batch = AppendBatch(batch[:0], 0, 0, benchRecords(n, 64))
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(batch)))
	for b.Loop() {
		if _, err := ParseBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBatchVectors(b *testing.B) {
	for _, v := range parseVectors() {
		b.Run(v.Name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(v.Raw)))
			for b.Loop() {
				_, _ = ParseBatch(v.Raw)
			}
		})
	}
}

func BenchmarkReadRecords(b *testing.B) {
	recs := benchRecords(160, 64)
	raw := recordsSection(recs)
	for _, v := range codecVariants {
		b.Run(v.name, func(b *testing.B) {
			batch := compressedBatch(v.codec, int32(len(recs)), v.compress(b, raw))
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if err := ReadRecords(batch, 1<<20, func(*Record) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("none", func(b *testing.B) {
		batch := AppendBatch(nil, 0, 0, recs)
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if err := ReadRecords(batch, 1<<20, func(*Record) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
