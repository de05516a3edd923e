package kafkacodec

// RecordBatch v2 (magic 2): parsing and validating produced batches,
// stamping the fields a broker owns, reading records (decompressing), and
// building the uncompressed batches of MQTT-originated records.
//
//	+-------------+---------------+----------------------+-------+---------+
//	| baseOffset 8| batchLength 4 | partitionLeaderEpoch4| magic1| crc 4   |
//	+-------------+---------------+----------------------+-------+---------+
//	| attributes 2 | lastOffsetDelta 4 | firstTimestamp 8 | maxTimestamp 8 |
//	| producerId 8 | producerEpoch 2 | baseSequence 4 | recordCount 4 | records |
//	+------------------------------------------------------------------------+
//
// The CRC-32C (Castagnoli) covers attributes through the end of the batch,
// so stamping baseOffset and partitionLeaderEpoch leaves it valid.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// ErrInvalidRecord reports a record batch that fails validation (Kafka's
// INVALID_RECORD / CORRUPT_MESSAGE): bad magic, length, CRC, counts.
var ErrInvalidRecord = errors.New("kafkacodec: invalid record batch")

// BatchHeaderBytes is the size of a RecordBatch v2 header (61 bytes).
const BatchHeaderBytes = 61

// Compression is the codec in bits 0–2 of a batch's attributes.
type Compression int8

// The compression codecs of RecordBatch v2.
const (
	CompressionNone   Compression = 0
	CompressionGzip   Compression = 1
	CompressionSnappy Compression = 2
	CompressionLZ4    Compression = 3
	CompressionZstd   Compression = 4
)

// BatchHeader is the fixed header of one RecordBatch v2.
type BatchHeader struct {
	BaseOffset           int64
	BatchLength          int32 // bytes after this field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	FirstTimestamp       int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Compression returns the batch's codec (attributes bits 0–2).
func (h *BatchHeader) Compression() Compression { return Compression(h.Attributes & 0x07) }

// LogAppendTime reports attributes bit 3 (timestamp type LogAppendTime).
func (h *BatchHeader) LogAppendTime() bool { return h.Attributes&0x08 != 0 }

// Transactional reports attributes bit 4.
func (h *BatchHeader) Transactional() bool { return h.Attributes&0x10 != 0 }

// Control reports attributes bit 5 (a control batch: transaction markers).
func (h *BatchHeader) Control() bool { return h.Attributes&0x20 != 0 }

// Size is the whole batch's size in bytes (12 + BatchLength).
func (h *BatchHeader) Size() int { return 12 + int(h.BatchLength) }

// Record is one record of a batch, decoded. Key is nil for a null key
// (an empty non-null key is a non-nil empty slice); likewise Value. Key,
// Value and header values alias the batch (or its decompressed copy) and
// stay valid only as long as it does: for a compressed batch that is until
// the ReadRecords callback returns. Header keys are real strings and may
// be kept.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key            []byte
	Value          []byte
	Headers        []RecordHeader
}

// RecordHeader is one header of a record. Value is nil for a null value.
type RecordHeader struct {
	Key   string
	Value []byte
}

// BuildRecord is one record to put into a new batch.
type BuildRecord struct {
	TimestampMillis int64
	Key             []byte // nil: null key
	Value           []byte // nil: null value
	Headers         []RecordHeader
}

// Offsets of the header fields within a batch.
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21 // the CRC covers from here to the end
	offLastOffsetDelta = 23
	offFirstTimestamp  = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offNumRecords      = 57

	// batchLengthOverhead is the bytes before and including batchLength,
	// which batchLength does not count.
	batchLengthOverhead = 12
	// minBatchLength is the smallest batchLength whose header fits.
	minBatchLength = BatchHeaderBytes - batchLengthOverhead

	batchMagic = 2
)

// castagnoli is the CRC-32C table (hardware accelerated where available).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C is the CRC-32C (Castagnoli) checksum of b, the checksum of
// RecordBatch v2 (over attributes through the end of the batch).
func CRC32C(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// ParseBatch validates b as exactly one produced RecordBatch v2 (a Produce
// partition's Records field): magic 2, batchLength == len(b)-12, the
// CRC-32C, NumRecords ≥ 1 and == LastOffsetDelta+1, every record's framing
// readable without decompressing (counts checked against bytes left). It
// returns ErrInvalidRecord (wrapped, saying what is wrong) otherwise.
//
// An uncompressed batch is checked record by record (framing, offset
// deltas 0..n-1, header counts); a compressed one only for a non-empty
// payload and a known codec: ReadRecords decompresses and checks the rest.
// Transactional and control batches are not rejected here: see the
// BatchHeader methods. ParseBatch does not allocate (but for errors).
func ParseBatch(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderBytes {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header",
			ErrInvalidRecord, len(b), BatchHeaderBytes)
	}
	h := readBatchHeader(b)
	if err := checkBatchHeader(&h, len(b)); err != nil {
		return h, err
	}
	if got := CRC32C(b[offAttributes:]); got != h.CRC {
		return h, fmt.Errorf("%w: crc %#08x, computed %#08x", ErrInvalidRecord, h.CRC, got)
	}
	if h.NumRecords < 1 || h.LastOffsetDelta != h.NumRecords-1 {
		return h, fmt.Errorf("%w: %d records with last offset delta %d",
			ErrInvalidRecord, h.NumRecords, h.LastOffsetDelta)
	}
	payload := b[BatchHeaderBytes:]
	switch c := h.Compression(); c {
	case CompressionNone:
		if err := checkRecords(payload, h.NumRecords); err != nil {
			return h, err
		}
	case CompressionGzip, CompressionSnappy, CompressionLZ4, CompressionZstd:
		if len(payload) == 0 {
			return h, fmt.Errorf("%w: compressed batch (codec %d) with no payload", ErrInvalidRecord, c)
		}
	default:
		return h, fmt.Errorf("%w: unknown compression codec %d", ErrInvalidRecord, c)
	}
	return h, nil
}

// checkBatchHeader checks the magic and that batchLength spans exactly
// size bytes.
func checkBatchHeader(h *BatchHeader, size int) error {
	if h.Magic != batchMagic {
		return fmt.Errorf("%w: magic %d, want %d", ErrInvalidRecord, h.Magic, batchMagic)
	}
	if int64(h.BatchLength) != int64(size)-batchLengthOverhead {
		return fmt.Errorf("%w: batch length %d for %d bytes (want %d)",
			ErrInvalidRecord, h.BatchLength, size, size-batchLengthOverhead)
	}
	return nil
}

// PeekBatch parses the header of the batch at the start of b (stored
// batches concatenated), checking only that the header fits and that
// Size() ≤ len(b). It does not check the CRC.
func PeekBatch(b []byte) (BatchHeader, error) {
	if len(b) < BatchHeaderBytes {
		return BatchHeader{}, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header",
			ErrInvalidRecord, len(b), BatchHeaderBytes)
	}
	h := readBatchHeader(b)
	if h.BatchLength < minBatchLength {
		return h, fmt.Errorf("%w: batch length %d, shorter than the header", ErrInvalidRecord, h.BatchLength)
	}
	if h.Size() > len(b) {
		return h, fmt.Errorf("%w: batch of %d bytes, only %d left", ErrInvalidRecord, h.Size(), len(b))
	}
	return h, nil
}

// readBatchHeader decodes the fixed header; len(b) ≥ BatchHeaderBytes.
func readBatchHeader(b []byte) BatchHeader {
	be := binary.BigEndian
	_ = b[BatchHeaderBytes-1]
	return BatchHeader{
		BaseOffset:           int64(be.Uint64(b[offBaseOffset:])),
		BatchLength:          int32(be.Uint32(b[offBatchLength:])),
		PartitionLeaderEpoch: int32(be.Uint32(b[offLeaderEpoch:])),
		Magic:                int8(b[offMagic]),
		CRC:                  be.Uint32(b[offCRC:]),
		Attributes:           int16(be.Uint16(b[offAttributes:])),
		LastOffsetDelta:      int32(be.Uint32(b[offLastOffsetDelta:])),
		FirstTimestamp:       int64(be.Uint64(b[offFirstTimestamp:])),
		MaxTimestamp:         int64(be.Uint64(b[offMaxTimestamp:])),
		ProducerID:           int64(be.Uint64(b[offProducerID:])),
		ProducerEpoch:        int16(be.Uint16(b[offProducerEpoch:])),
		BaseSequence:         int32(be.Uint32(b[offBaseSequence:])),
		NumRecords:           int32(be.Uint32(b[offNumRecords:])),
	}
}

// StampBatch writes the broker-owned fields (base offset, partition leader
// epoch) into the batch b in place; the CRC stays valid, since it covers
// only attributes onwards. A b shorter than the header (which ParseBatch
// or PeekBatch would have rejected) is left untouched.
func StampBatch(b []byte, baseOffset int64, leaderEpoch int32) {
	if len(b) < BatchHeaderBytes {
		return
	}
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(baseOffset))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(leaderEpoch))
}

// ReadRecords calls fn with each record of batch (one whole batch, already
// validated), decompressing it first when compressed. Decompressed bytes
// are capped at maxBytes (ErrInvalidRecord beyond); the record count must
// match the header. fn's *Record is reused between calls.
//
// The whole batch is checked before fn is first called, so fn sees all of
// the records or none. An error from fn stops the walk and is returned as
// is. The CRC is not checked again (ParseBatch did). A compressed batch is
// decompressed into a pooled buffer that is reused once ReadRecords
// returns: fn must copy the Key, Value and header values it keeps. For an
// uncompressed batch they alias batch. With a nil fn, ReadRecords only
// validates: it checks a compressed batch fully, as a Kafka broker does.
// Control batches (transaction markers) are read like any other: callers
// that want data records skip batches whose header says Control().
func ReadRecords(batch []byte, maxBytes int, fn func(*Record) error) error {
	h, err := PeekBatch(batch)
	if err != nil {
		return err
	}
	if err := checkBatchHeader(&h, len(batch)); err != nil {
		return err
	}
	if h.NumRecords < 0 || h.LastOffsetDelta != h.NumRecords-1 {
		return fmt.Errorf("%w: %d records with last offset delta %d",
			ErrInvalidRecord, h.NumRecords, h.LastOffsetDelta)
	}
	payload := batch[BatchHeaderBytes:]
	if h.Compression() == CompressionNone {
		return eachRecord(payload, h.NumRecords, fn)
	}
	buf := getBuffer()
	defer putBuffer(buf)
	out, err := decompress((*buf)[:0], payload, h.Compression(), maxBytes)
	if cap(out) > cap(*buf) {
		*buf = out[:0] // keep the grown buffer for the pool
	}
	if err != nil {
		return err
	}
	return eachRecord(out, h.NumRecords, fn)
}
