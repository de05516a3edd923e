package logstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/hashicorp/raft"
)

// Key prefixes. Each kind of key lives under its own first byte, so a range
// over one kind never touches another (see the layout in doc.go).
const (
	metaPrefix   byte = 'M'
	logPrefix    byte = 'L'
	stablePrefix byte = 'S'
)

// logKeyBytes is the length of a log key: the prefix and a big-endian index.
const logKeyBytes = 1 + 8

// Value format versions. Each stored value starts with its version, so a
// later binary can add a version and still read the values written before.
const (
	entryVersion  byte = 1
	stableVersion byte = 1
)

// entryFlagAppendedAt marks that AppendedAt is present (not the zero time).
// Every other flag bit must be zero in version 1.
const entryFlagAppendedAt byte = 1 << 0

// entryMinBytes is the smallest well-formed version 1 entry: version, flags,
// type, five one-byte uvarints (index, term, cum, data and extension lengths)
// and the checksum.
const entryMinBytes = 3 + 5 + crcBytes

// entryMaxHeaderBytes bounds the header of a version 1 entry: three bytes,
// six varints of at most 10 bytes and one of at most 5 (the nanoseconds).
const entryMaxHeaderBytes = 3 + 6*binary.MaxVarintLen64 + 5

// crcBytes is the length of the trailing CRC-32C.
const crcBytes = 4

// entryOverheadBytes is what LogBytes counts for one entry on top of
// len(Data)+len(Extensions): the key, the header, the checksum and Pebble's
// per-key trailer, rounded.
const entryOverheadBytes = 48

// Stable value kinds.
const (
	stableKindBytes  byte = 1
	stableKindUint64 byte = 2
)

// Stable store bounds. Raft keeps a few short keys here (current term, last
// vote); anything near these limits is a bug, not data.
const (
	maxStableKeyBytes   = 4 << 10
	maxStableValueBytes = 1 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// logKey returns the key of the entry at index.
func logKey(index uint64) []byte {
	k := make([]byte, logKeyBytes)
	putLogKey(k, index)
	return k
}

// putLogKey writes the key of the entry at index into k[:logKeyBytes].
func putLogKey(k []byte, index uint64) {
	k[0] = logPrefix
	binary.BigEndian.PutUint64(k[1:logKeyBytes], index)
}

// logKeyEnd returns the exclusive upper bound of the keys of entries with an
// index at most max. For max = MaxUint64 that is the end of the log prefix.
func logKeyEnd(max uint64) []byte {
	if max == math.MaxUint64 {
		return []byte{logPrefix + 1}
	}
	return logKey(max + 1)
}

// parseLogKey returns the index in a log key, or false if k is not one.
func parseLogKey(k []byte) (uint64, bool) {
	if len(k) != logKeyBytes || k[0] != logPrefix {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}

// stableKey returns the Pebble key of a stable-store key.
func stableKey(key []byte) []byte {
	k := make([]byte, 0, 1+len(key))
	return append(append(k, stablePrefix), key...)
}

// accountedBytes is what LogBytes counts for an entry.
func accountedBytes(l *raft.Log) uint64 {
	return uint64(len(l.Data)) + uint64(len(l.Extensions)) + entryOverheadBytes
}

// entryLen returns the encoded length of l with running total cum.
func entryLen(l *raft.Log, cum uint64) int {
	n := 3 + uvarintLen(l.Index) + uvarintLen(l.Term) + uvarintLen(cum)
	if !l.AppendedAt.IsZero() {
		n += varintLen(l.AppendedAt.Unix()) + uvarintLen(uint64(l.AppendedAt.Nanosecond()))
	}
	n += uvarintLen(uint64(len(l.Data))) + uvarintLen(uint64(len(l.Extensions)))
	return n + len(l.Data) + len(l.Extensions) + crcBytes
}

// encodeEntry writes l, with running total cum, into dst, which must be
// exactly entryLen(l, cum) bytes long (a Pebble deferred batch value).
func encodeEntry(dst []byte, l *raft.Log, cum uint64) {
	dst[0] = entryVersion
	dst[1] = 0
	dst[2] = byte(l.Type)
	n := 3
	n += binary.PutUvarint(dst[n:], l.Index)
	n += binary.PutUvarint(dst[n:], l.Term)
	n += binary.PutUvarint(dst[n:], cum)
	if !l.AppendedAt.IsZero() {
		dst[1] |= entryFlagAppendedAt
		n += binary.PutVarint(dst[n:], l.AppendedAt.Unix())
		n += binary.PutUvarint(dst[n:], uint64(l.AppendedAt.Nanosecond()))
	}
	n += binary.PutUvarint(dst[n:], uint64(len(l.Data)))
	n += binary.PutUvarint(dst[n:], uint64(len(l.Extensions)))
	n += copy(dst[n:], l.Data)
	n += copy(dst[n:], l.Extensions)
	binary.BigEndian.PutUint32(dst[n:], crc32.Checksum(dst[:n], castagnoli))
}

// entryCursor reads the fields of an entry body in order, remembering the
// first problem so the decoder reads as a straight line.
type entryCursor struct {
	b   []byte
	err error
}

func (c *entryCursor) uvarint(field string) uint64 {
	if c.err != nil {
		return 0
	}
	v, n := binary.Uvarint(c.b)
	if n <= 0 {
		c.err = fmt.Errorf("%w: bad %s varint", ErrCorrupt, field)
		return 0
	}
	c.b = c.b[n:]
	return v
}

func (c *entryCursor) varint(field string) int64 {
	if c.err != nil {
		return 0
	}
	v, n := binary.Varint(c.b)
	if n <= 0 {
		c.err = fmt.Errorf("%w: bad %s varint", ErrCorrupt, field)
		return 0
	}
	c.b = c.b[n:]
	return v
}

// entryView is a parsed entry whose Data and Extensions alias the value it
// was parsed from.
type entryView struct {
	log raft.Log
	cum uint64
}

// accounted is what LogBytes counts for the entry.
func (e *entryView) accounted() uint64 { return accountedBytes(&e.log) }

// parseEntry checks and parses v. It verifies the checksum before reading
// any field and bounds every length by the bytes that remain and by
// MaxMaxEntryBytes, so a corrupt value is an error, never a wrong entry or a
// large allocation. The result aliases v.
//
// The bound is the hard MaxMaxEntryBytes, not Options.MaxEntryBytes: lowering
// the configured limit must not turn entries written under a higher one into
// "corrupt" ones. Options.MaxEntryBytes is enforced when entries are stored.
func parseEntry(v []byte) (entryView, error) {
	if len(v) < entryMinBytes {
		return entryView{}, fmt.Errorf("%w: entry of %d bytes is shorter than %d", ErrCorrupt, len(v), entryMinBytes)
	}
	if len(v) > MaxMaxEntryBytes+entryMaxHeaderBytes+crcBytes {
		return entryView{}, fmt.Errorf("%w: entry of %d bytes exceeds the %d-byte limit", ErrCorrupt, len(v), MaxMaxEntryBytes)
	}
	body := v[:len(v)-crcBytes]
	if want, got := binary.BigEndian.Uint32(v[len(body):]), crc32.Checksum(body, castagnoli); want != got {
		return entryView{}, fmt.Errorf("%w: entry checksum %#08x, computed %#08x", ErrCorrupt, want, got)
	}
	if body[0] != entryVersion {
		return entryView{}, fmt.Errorf("%w: unknown entry format version %d", ErrCorrupt, body[0])
	}
	flags := body[1]
	if flags&^entryFlagAppendedAt != 0 {
		return entryView{}, fmt.Errorf("%w: unknown entry flags %#02x", ErrCorrupt, flags)
	}
	c := entryCursor{b: body[3:]}
	e := entryView{log: raft.Log{Type: raft.LogType(body[2])}}
	e.log.Index, e.log.Term, e.cum = c.uvarint("index"), c.uvarint("term"), c.uvarint("cum")
	if flags&entryFlagAppendedAt != 0 {
		sec, nsec := c.varint("appended_at seconds"), c.uvarint("appended_at nanos")
		if c.err == nil && nsec >= uint64(time.Second) {
			return entryView{}, fmt.Errorf("%w: appended_at nanos %d out of range", ErrCorrupt, nsec)
		}
		e.log.AppendedAt = time.Unix(sec, int64(nsec))
	}
	dataLen, extLen := c.uvarint("data length"), c.uvarint("extensions length")
	if c.err != nil {
		return entryView{}, c.err
	}
	// Both lengths are bounded by the bytes left, so nothing can wrap.
	if dataLen > uint64(len(c.b)) || extLen != uint64(len(c.b))-dataLen || len(c.b) > MaxMaxEntryBytes {
		return entryView{}, fmt.Errorf("%w: lengths %d+%d do not match the %d bytes left", ErrCorrupt, dataLen, extLen, len(c.b))
	}
	if dataLen > 0 {
		e.log.Data = c.b[:dataLen:dataLen]
	}
	if extLen > 0 {
		e.log.Extensions = c.b[dataLen:len(c.b):len(c.b)]
	}
	return e, nil
}

// decodeEntry parses v into l and returns the entry's running total. Data
// and Extensions are copied into one fresh allocation, so l never aliases v
// (which is Pebble's memory). Zero-length Data and Extensions decode as nil.
func decodeEntry(v []byte, l *raft.Log) (uint64, error) {
	e, err := parseEntry(v)
	if err != nil {
		return 0, err
	}
	dataLen, extLen := len(e.log.Data), len(e.log.Extensions)
	if dataLen+extLen > 0 {
		buf := make([]byte, dataLen+extLen) // the one copy out of Pebble's memory
		copy(buf, e.log.Data)
		copy(buf[dataLen:], e.log.Extensions)
		e.log.Data, e.log.Extensions = nil, nil
		if dataLen > 0 {
			e.log.Data = buf[:dataLen:dataLen]
		}
		if extLen > 0 {
			e.log.Extensions = buf[dataLen:]
		}
	}
	*l = e.log
	return e.cum, nil
}

// encodeStable returns the stored form of a stable-store value:
//
//	+---------+--------+------------------------+-----------+
//	| version | kind   | payload                | CRC-32C   |
//	| 1 B     | 1 B    | bytes, or 8 B BE u64   | 4 B BE    |
//	+---------+--------+------------------------+-----------+
func encodeStable(kind byte, payload []byte) []byte {
	v := make([]byte, 2+len(payload)+crcBytes)
	v[0], v[1] = stableVersion, kind
	n := 2 + copy(v[2:], payload)
	binary.BigEndian.PutUint32(v[n:], crc32.Checksum(v[:n], castagnoli))
	return v
}

// decodeStable checks v and returns its kind and payload. The payload
// aliases v; callers copy it before v's Pebble closer is closed.
func decodeStable(v []byte) (byte, []byte, error) {
	if len(v) < 2+crcBytes {
		return 0, nil, fmt.Errorf("%w: stable value of %d bytes", ErrCorrupt, len(v))
	}
	if len(v) > 2+maxStableValueBytes+crcBytes {
		return 0, nil, fmt.Errorf("%w: stable value of %d bytes exceeds the limit", ErrCorrupt, len(v))
	}
	body := v[:len(v)-crcBytes]
	if want, got := binary.BigEndian.Uint32(v[len(body):]), crc32.Checksum(body, castagnoli); want != got {
		return 0, nil, fmt.Errorf("%w: stable value checksum %#08x, computed %#08x", ErrCorrupt, want, got)
	}
	if body[0] != stableVersion {
		return 0, nil, fmt.Errorf("%w: unknown stable value version %d", ErrCorrupt, body[0])
	}
	kind, payload := body[1], body[2:]
	switch {
	case kind == stableKindBytes:
	case kind == stableKindUint64 && len(payload) == 8:
	default:
		return 0, nil, fmt.Errorf("%w: stable value kind %d with %d payload bytes", ErrCorrupt, kind, len(payload))
	}
	return kind, payload, nil
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1 // zig-zag, as binary.PutVarint
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}
