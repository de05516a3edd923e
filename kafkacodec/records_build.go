package kafkacodec

// Building the uncompressed batches of MQTT-originated records. This runs
// inside raft apply for every such batch, so it sizes the batch first,
// grows dst once, and then only writes: no allocation apart from dst.

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// AppendBatch appends an uncompressed RecordBatch v2 holding recs (at least
// one) to dst: producer id -1, epoch -1, base sequence -1, CreateTime
// timestamps (first = recs[0]'s, max = the largest), offset deltas 0..n-1,
// and a correct CRC-32C. A header with a nil Value is written as null.
//
// It appends nothing when recs is empty or the batch would not fit the
// int32 batch length (the caller bounds its batches well below that).
func AppendBatch(dst []byte, baseOffset int64, leaderEpoch int32, recs []BuildRecord) []byte {
	if len(recs) == 0 || len(recs) > math.MaxInt32 {
		return dst
	}
	first := recs[0].TimestampMillis
	maxTS := first
	size := BatchHeaderBytes
	for i := range recs {
		rec := &recs[i]
		maxTS = max(maxTS, rec.TimestampMillis)
		body := recordBodySize(rec, int32(i), rec.TimestampMillis-first)
		size += varintSize(int64(body)) + body
		if size > math.MaxInt32 {
			return dst
		}
	}
	dst = slices.Grow(dst, size)
	start := len(dst)
	dst = appendBatchHeader(dst, batchFields{
		baseOffset: baseOffset, batchLength: int32(size - batchLengthOverhead),
		leaderEpoch: leaderEpoch, lastOffsetDelta: int32(len(recs) - 1),
		firstTimestamp: first, maxTimestamp: maxTS,
	})
	for i := range recs {
		rec := &recs[i]
		dst = appendRecord(dst, rec, int32(i), rec.TimestampMillis-first)
	}
	crc := CRC32C(dst[start+offAttributes:])
	binary.BigEndian.PutUint32(dst[start+offCRC:], crc)
	return dst
}

// batchFields are the header fields AppendBatch varies.
type batchFields struct {
	baseOffset      int64
	batchLength     int32
	leaderEpoch     int32
	lastOffsetDelta int32
	firstTimestamp  int64
	maxTimestamp    int64
}

// appendBatchHeader appends the 61-byte header of an uncompressed,
// non-transactional, non-idempotent batch with a zero CRC placeholder.
func appendBatchHeader(dst []byte, f batchFields) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(f.baseOffset))
	dst = be.AppendUint32(dst, uint32(f.batchLength))
	dst = be.AppendUint32(dst, uint32(f.leaderEpoch))
	dst = append(dst, batchMagic)
	dst = be.AppendUint32(dst, 0) // CRC, written last
	dst = be.AppendUint16(dst, 0) // attributes: no compression, CreateTime
	dst = be.AppendUint32(dst, uint32(f.lastOffsetDelta))
	dst = be.AppendUint64(dst, uint64(f.firstTimestamp))
	dst = be.AppendUint64(dst, uint64(f.maxTimestamp))
	dst = be.AppendUint64(dst, math.MaxUint64)               // producer id -1
	dst = be.AppendUint16(dst, math.MaxUint16)               // producer epoch -1
	dst = be.AppendUint32(dst, math.MaxUint32)               // base sequence -1
	return be.AppendUint32(dst, uint32(f.lastOffsetDelta+1)) // record count
}

// appendRecord appends one length-prefixed record.
func appendRecord(dst []byte, rec *BuildRecord, offsetDelta int32, tsDelta int64) []byte {
	dst = binary.AppendVarint(dst, int64(recordBodySize(rec, offsetDelta, tsDelta)))
	dst = append(dst, 0) // attributes: unused
	dst = binary.AppendVarint(dst, tsDelta)
	dst = binary.AppendVarint(dst, int64(offsetDelta))
	dst = appendNullableBytes(dst, rec.Key)
	dst = appendNullableBytes(dst, rec.Value)
	dst = binary.AppendVarint(dst, int64(len(rec.Headers)))
	for i := range rec.Headers {
		h := &rec.Headers[i]
		dst = binary.AppendVarint(dst, int64(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullableBytes(dst, h.Value)
	}
	return dst
}

// appendNullableBytes appends a varint length (-1 for nil) and b.
func appendNullableBytes(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 1) // zigzag(-1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// recordBodySize is the size of a record after its length prefix.
func recordBodySize(rec *BuildRecord, offsetDelta int32, tsDelta int64) int {
	n := 1 + varintSize(tsDelta) + varintSize(int64(offsetDelta)) +
		nullableBytesSize(rec.Key) + nullableBytesSize(rec.Value) +
		varintSize(int64(len(rec.Headers)))
	for i := range rec.Headers {
		h := &rec.Headers[i]
		n += varintSize(int64(len(h.Key))) + len(h.Key) + nullableBytesSize(h.Value)
	}
	return n
}

// nullableBytesSize is the encoded size of b with its varint length.
func nullableBytesSize(b []byte) int {
	if b == nil {
		return 1
	}
	return varintSize(int64(len(b))) + len(b)
}

// varintSize is the size of v as a zigzag varint.
func varintSize(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	return (bits.Len64(u|1) + 6) / 7
}
