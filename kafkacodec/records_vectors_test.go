package kafkacodec

import (
	"encoding/binary"
	"slices"
)

// batchVector is one annotated batch for ParseBatch: the unit tests, the
// fuzz seeds and the benchmarks share this table.
type batchVector struct {
	Name    string
	Raw     []byte
	Err     error // nil: ParseBatch accepts it
	ReadErr bool  // ReadRecords must reject it too (it does not check the CRC)
}

// recBytes frames a record body with its varint length.
func recBytes(body ...byte) []byte {
	return append(binary.AppendVarint(nil, int64(len(body))), body...)
}

// rawBatch builds a batch of n records (the encoded records given) with
// attributes attrs, a matching length and a correct CRC.
func rawBatch(n int32, attrs int16, records []byte) []byte {
	be := binary.BigEndian
	b := make([]byte, BatchHeaderBytes, BatchHeaderBytes+len(records))
	be.PutUint32(b[offBatchLength:], uint32(BatchHeaderBytes-12+len(records)))
	b[offMagic] = 2
	be.PutUint16(b[offAttributes:], uint16(attrs))
	be.PutUint32(b[offLastOffsetDelta:], uint32(n-1))
	be.PutUint64(b[offFirstTimestamp:], 1000)
	be.PutUint64(b[offMaxTimestamp:], 1000)
	be.PutUint64(b[offProducerID:], ^uint64(0))
	be.PutUint16(b[offProducerEpoch:], ^uint16(0))
	be.PutUint32(b[offBaseSequence:], ^uint32(0))
	be.PutUint32(b[offNumRecords:], uint32(n))
	return fixCRC(append(b, records...))
}

// fixCRC rewrites b's CRC to match its contents.
func fixCRC(b []byte) []byte {
	binary.BigEndian.PutUint32(b[offCRC:], CRC32C(b[offAttributes:]))
	return b
}

// editBatch returns a copy of b changed by f.
func editBatch(b []byte, f func(b []byte)) []byte {
	b = slices.Clone(b)
	f(b)
	return b
}

// Record bodies, annotated.
var (
	// attrs 0, timestamp delta 0, offset delta 0, key null (-1), value
	// "v" (length 1), no headers.
	rec0 = recBytes(0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0x00)
	// The same at offset delta 1.
	rec1 = recBytes(0x00, 0x00, 0x02, 0x01, 0x02, 'w', 0x00)
)

// parseVectors is the table of batches ParseBatch must accept or reject.
func parseVectors() []batchVector {
	good := rawBatch(1, 0, rec0)
	bad := func(name string, raw []byte) batchVector {
		return batchVector{Name: name, Raw: raw, Err: ErrInvalidRecord, ReadErr: true}
	}
	badRecord := func(name string, body ...byte) batchVector {
		return bad("record/"+name, rawBatch(1, 0, recBytes(body...)))
	}
	return []batchVector{
		{Name: "valid/one-record-null-key", Raw: good},
		{Name: "valid/two-records", Raw: rawBatch(2, 0, slices.Concat(rec0, rec1))},
		{Name: "valid/built-with-headers", Raw: AppendBatch(nil, 0, 0, buildCases[3].recs)},
		{Name: "valid/header-null-value", Raw: rawBatch(1, 0, recBytes(
			0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0x02 /* 1 header */, 0x02, 'q' /* key "q" */, 0x01 /* value null */))},
		{Name: "valid/gzip-payload-not-decompressed", Raw: rawBatch(1, 1, []byte("not gzip"))},
		bad("short/60-bytes", good[:BatchHeaderBytes-1]),
		bad("short/empty", nil),
		bad("magic/1", editBatch(good, func(b []byte) { b[offMagic] = 1 })),
		{Name: "crc/flipped-value-byte", Raw: editBatch(good, func(b []byte) { b[len(b)-2] ^= 0x20 }), Err: ErrInvalidRecord},
		{Name: "crc/flipped-crc-bit", Raw: editBatch(good, func(b []byte) { b[offCRC] ^= 1 }), Err: ErrInvalidRecord},
		bad("length/truncated-by-one", good[:len(good)-1]),
		bad("length/batch-length-plus-one", editBatch(good, func(b []byte) { b[offBatchLength+3]++ })),
		bad("length/batch-length-negative", editBatch(good, func(b []byte) {
			binary.BigEndian.PutUint32(b[offBatchLength:], 0xffffffff)
		})),
		bad("length/trailing-byte-after-records", rawBatch(1, 0, append(slices.Clone(rec0), 0x00))),
		{Name: "count/zero", Raw: rawBatch(0, 0, nil), Err: ErrInvalidRecord}, // ReadRecords reads no records
		bad("count/last-offset-delta-mismatch", fixCRC(editBatch(rawBatch(2, 0, slices.Concat(rec0, rec1)), func(b []byte) {
			binary.BigEndian.PutUint32(b[offLastOffsetDelta:], 0)
		}))),
		bad("count/more-than-records", rawBatch(3, 0, slices.Concat(rec0, rec1))),
		bad("count/fewer-than-records", rawBatch(1, 0, slices.Concat(rec0, rec1))),
		bad("count/max-int32", rawBatch(0x7fffffff, 0, rec0)),
		bad("record/length-past-end", rawBatch(1, 0, append([]byte{0x7e /* 63 */}, rec0[1:]...))),
		bad("record/length-overlong-varint", rawBatch(1, 0, append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, rec0[1:]...))),
		bad("record/length-too-small", rawBatch(1, 0, []byte{0x02 /* 1 */, 0x00, 0, 0, 0, 0, 0, 0})),
		bad("record/offset-delta-out-of-sequence", rawBatch(2, 0, slices.Concat(rec0, rec0))),
		badRecord("timestamp-delta-overlong", 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00, 0x01, 0x01, 0x00),
		badRecord("key-length-past-end", 0x00, 0x00, 0x00, 0x20 /* 16 */, 'k', 0x01, 0x00),
		badRecord("key-length-negative-2", 0x00, 0x00, 0x00, 0x03 /* -2 */, 0x02, 'v', 0x00),
		badRecord("value-length-past-end", 0x00, 0x00, 0x00, 0x01, 0x10 /* 8 */, 'v', 0x00),
		badRecord("header-count-max-int32", 0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0xfe, 0xff, 0xff, 0xff, 0x0f),
		badRecord("header-count-negative", 0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0x01 /* -1 */, 0x00, 0x00),
		badRecord("header-count-overlong-varint", 0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
		badRecord("header-key-null", 0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0x02, 0x01 /* key -1 */, 0x01),
		badRecord("header-value-past-end", 0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0x02, 0x02, 'q', 0x40 /* 32 */, 'x'),
		badRecord("bytes-after-headers", 0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0x00, 0x00),
		bad("codec/unknown-5", rawBatch(1, 5, rec0)),
		bad("codec/gzip-empty-payload", rawBatch(1, 1, nil)),
	}
}
