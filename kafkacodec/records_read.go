package kafkacodec

// Reading the records of a RecordBatch v2, once uncompressed:
//
//	length varint | attributes int8 | timestampDelta varlong |
//	offsetDelta varint | keyLength varint | key | valueLength varint |
//	value | headerCount varint | headers: [keyLength varint | key |
//	valueLength varint | value]...
//
// Lengths of -1 mean null (not for header keys, which Kafka rejects when
// negative). Every length and count is checked against the bytes left
// before anything is sliced, so work is linear in the input.

import (
	"encoding/binary"
	"fmt"
)

const (
	// minRecordBodyBytes is the smallest record body: attributes,
	// timestamp delta, offset delta, key and value lengths and a header
	// count, one byte each.
	minRecordBodyBytes = 6
	// minRecordBytes is the smallest record with its length prefix.
	minRecordBytes = 1 + minRecordBodyBytes
	// minHeaderBytes is the smallest header: a key and a value length.
	minHeaderBytes = 2
)

// readRecordVarint decodes a zigzag varint of at most 5 bytes (Kafka's int32
// varint) from the start of b and returns it with its size. The size is 0
// when b ends first and -1 when the encoding overflows 32 bits.
func readRecordVarint(b []byte) (int32, int) {
	if len(b) > 0 && b[0] < 0x80 { // one byte: the common case
		u := uint32(b[0])
		return int32(u>>1) ^ -int32(u&1), 1
	}
	return readRecordVarintLong(b)
}

// readRecordVarintLong is readRecordVarint for encodings of more than one byte.
func readRecordVarintLong(b []byte) (int32, int) {
	var u uint32
	for i := range 5 {
		if i == len(b) {
			return 0, 0
		}
		c := b[i]
		if i == 4 && c > 0x0f {
			return 0, -1
		}
		u |= uint32(c&0x7f) << (7 * i)
		if c < 0x80 {
			return int32(u>>1) ^ -int32(u&1), i + 1
		}
	}
	return 0, -1 // not reached: the fifth byte is < 0x10
}

// recordCursor reads the fields of one record body. The first failure
// sticks in fail, a fixed description, so the happy path allocates nothing.
type recordCursor struct {
	b    []byte
	fail string
}

// byte1 reads one byte.
func (c *recordCursor) byte1(what string) byte {
	if c.fail != "" {
		return 0
	}
	if len(c.b) == 0 {
		c.fail = what + " truncated"
		return 0
	}
	v := c.b[0]
	c.b = c.b[1:]
	return v
}

// varint reads a zigzag varint of at most 5 bytes.
func (c *recordCursor) varint(what string) int32 {
	if len(c.b) > 0 && c.b[0] < 0x80 && c.fail == "" { // one byte: the common case
		u := uint32(c.b[0])
		c.b = c.b[1:]
		return int32(u>>1) ^ -int32(u&1)
	}
	return c.varintLong(what)
}

// varintLong is varint for encodings of more than one byte, or failures.
func (c *recordCursor) varintLong(what string) int32 {
	if c.fail != "" {
		return 0
	}
	v, n := readRecordVarintLong(c.b)
	if n <= 0 {
		c.fail = what + " truncated or overlong"
		return 0
	}
	c.b = c.b[n:]
	return v
}

// varlong reads a zigzag varint of at most 10 bytes.
func (c *recordCursor) varlong(what string) int64 {
	if c.fail != "" {
		return 0
	}
	v, n := binary.Varint(c.b)
	if n <= 0 {
		c.fail = what + " truncated or overlong"
		return 0
	}
	c.b = c.b[n:]
	return v
}

// bytes reads a varint length and that many bytes; a length of -1 is
// null (nil) when nullable. The result's capacity is clipped to its length.
func (c *recordCursor) bytes(what string, nullable bool) []byte {
	n := c.varint(what)
	switch {
	case c.fail != "":
		return nil
	case n == -1 && nullable:
		return nil
	case n < 0:
		c.fail = what + " has a negative length"
		return nil
	case int(n) > len(c.b):
		c.fail = what + " runs past the end of the record"
		return nil
	}
	v := c.b[:n:n]
	c.b = c.b[n:]
	return v
}

// splitRecord splits the length-prefixed record at the start of b into its
// body and the bytes after it. fail is "" when it fits.
func splitRecord(b []byte) (body, rest []byte, fail string) {
	n, size := readRecordVarint(b)
	switch {
	case size <= 0:
		return nil, nil, "record length truncated or overlong"
	case n < minRecordBodyBytes:
		return nil, nil, "record length too small"
	case int(n) > len(b)-size:
		return nil, nil, "record length runs past the end of the batch"
	}
	b = b[size:]
	return b[:n], b[n:], ""
}

// parseRecord decodes one record body, the index-th of its batch, into r,
// or only checks it when r is nil. It returns "" or what is wrong.
func parseRecord(body []byte, index int32, r *Record) string {
	c := recordCursor{b: body}
	attrs := c.byte1("attributes")
	tsDelta := c.varlong("timestamp delta")
	offDelta := c.varint("offset delta")
	key := c.bytes("key", true)
	value := c.bytes("value", true)
	count := c.varint("header count")
	switch {
	case c.fail != "":
		return c.fail
	case offDelta != index:
		return "offset delta out of sequence"
	case count < 0 || int(count) > len(c.b)/minHeaderBytes:
		return "header count larger than the bytes left"
	}
	if r != nil {
		*r = Record{Attributes: int8(attrs), TimestampDelta: tsDelta, OffsetDelta: offDelta,
			Key: key, Value: value, Headers: r.Headers[:0]}
	}
	for range count {
		hk := c.bytes("header key", false)
		hv := c.bytes("header value", true)
		if c.fail != "" {
			return c.fail
		}
		if r != nil {
			r.Headers = appendHeader(r.Headers, hk, hv)
		}
	}
	if len(c.b) != 0 {
		return "bytes left after the headers"
	}
	return ""
}

// appendHeader appends a header to hs. hs's spare capacity still holds the
// previous record's headers; when the key at this index is the same (the
// usual case: every record carries the same header keys) its string is
// reused instead of allocating a new one.
func appendHeader(hs []RecordHeader, key, value []byte) []RecordHeader {
	i := len(hs)
	var k string
	if i < cap(hs) {
		if old := hs[:i+1][i].Key; old == string(key) {
			k = old
		}
	}
	if k == "" && len(key) > 0 {
		k = string(key)
	}
	return append(hs, RecordHeader{Key: k, Value: value})
}

// walkRecords reads n records that must exactly fill b. With r nil it only
// checks them; otherwise it decodes each into r and calls fn with it.
func walkRecords(b []byte, n int32, r *Record, fn func(*Record) error) error {
	if n < 0 || int(n) > len(b)/minRecordBytes {
		return fmt.Errorf("%w: %d records cannot fit in %d bytes", ErrInvalidRecord, n, len(b))
	}
	for i := range n {
		body, rest, fail := splitRecord(b)
		if fail == "" {
			fail = parseRecord(body, i, r)
		}
		if fail != "" {
			return fmt.Errorf("%w: record %d: %s", ErrInvalidRecord, i, fail)
		}
		if fn != nil {
			if err := fn(r); err != nil {
				return err
			}
		}
		b = rest
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d bytes after the last of %d records", ErrInvalidRecord, len(b), n)
	}
	return nil
}

// checkRecords checks that b holds exactly n well-formed records.
func checkRecords(b []byte, n int32) error { return walkRecords(b, n, nil, nil) }

// eachRecord checks the n records of b, then calls fn (if not nil) with
// each, so fn sees all of them or none.
func eachRecord(b []byte, n int32, fn func(*Record) error) error {
	if err := checkRecords(b, n); err != nil || fn == nil {
		return err
	}
	return walkRecords(b, n, new(Record), fn)
}
