package kafkacodec

// Decompressing the records of a RecordBatch v2 (attributes bits 0–2):
// 1 gzip, 2 snappy (raw, or the xerial framing the Java client writes),
// 3 lz4 frame format, 4 zstd. Every codec's output is capped at the
// caller's limit before it is allocated wherever the format says how big
// it will be (snappy lengths, zstd frame and block headers, the gzip
// trailer as a hint), and while it is read otherwise, so a small hostile
// payload (a "zip bomb") costs at most about the limit in memory.
//
// Output goes to a pooled buffer owned by ReadRecords for the duration of
// one call; gzip decoders are pooled, the zstd decoder is shared, and lz4
// and snappy decode blocks straight into the output.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
)

// errTooLarge reports output past the caller's limit.
var errTooLarge = errors.New("decompressed size over the limit")

// maxDecompressedBytes bounds any limit a caller passes: records count
// their lengths in int32, and limit+1 must not overflow.
const maxDecompressedBytes = math.MaxInt32 - 1

// maxPooledBytes is the largest decompression buffer kept for reuse.
const maxPooledBytes = 16 << 20

// bufPool holds decompression buffers (*[]byte, length 0).
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// getBuffer takes a decompression buffer from the pool.
func getBuffer() *[]byte { return bufPool.Get().(*[]byte) }

// putBuffer returns a buffer to the pool unless it grew too big to keep.
func putBuffer(b *[]byte) {
	if cap(*b) > maxPooledBytes {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// decompress appends the decompressed payload src to dst (length 0),
// reading at most limit bytes. It returns the buffer it wrote, which may
// be a new one, also on error (so a grown buffer can be pooled).
func decompress(dst, src []byte, c Compression, limit int) ([]byte, error) {
	limit = min(max(limit, 0), maxDecompressedBytes)
	var (
		out []byte
		err error
	)
	switch c {
	case CompressionGzip:
		out, err = gunzip(dst, src, limit)
	case CompressionSnappy:
		out, err = unsnappy(dst, src, limit)
	case CompressionLZ4:
		out, err = unlz4(dst, src, limit)
	case CompressionZstd:
		out, err = unzstd(dst, src, limit)
	default:
		return dst, fmt.Errorf("%w: unknown compression codec %d", ErrInvalidRecord, c)
	}
	if err != nil {
		return out, fmt.Errorf("%w: codec %d (limit %d bytes): %w", ErrInvalidRecord, c, limit, err)
	}
	return out, nil
}

// withCap returns dst (length 0) with a capacity of at least n, allocating
// exactly n when it must grow.
func withCap(dst []byte, n int) []byte {
	if cap(dst) >= n {
		return dst[:0]
	}
	return make([]byte, 0, n)
}

// readCapped reads r to EOF into dst (length 0), failing once more than
// limit bytes come out. It starts with room for hint bytes and doubles,
// never past limit+1, so it allocates at most about twice the output.
func readCapped(dst []byte, r io.Reader, limit, hint int) ([]byte, error) {
	dst = withCap(dst, min(max(hint, 512), limit)+1)
	for stalls := 0; ; {
		if len(dst) == cap(dst) {
			if len(dst) > limit {
				return dst, errTooLarge
			}
			grown := make([]byte, len(dst), min(2*cap(dst), limit+1))
			copy(grown, dst)
			dst = grown
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		switch {
		case len(dst) > limit:
			return dst, errTooLarge
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		case n == 0:
			if stalls++; stalls > 100 {
				return dst, io.ErrNoProgress
			}
		}
	}
}

// gzipReader is a pooled gzip decoder with the reader it reads from.
type gzipReader struct {
	src bytes.Reader
	zr  gzip.Reader
}

// gzipMaxRatio is deflate's largest expansion (258-byte matches coded in
// 2 bits, RFC 1951), a bound on what a gzip payload can decode to.
const gzipMaxRatio = 1032

var gzipPool = sync.Pool{New: func() any { return new(gzipReader) }}

// gunzip decompresses one or more concatenated gzip members.
func gunzip(dst, src []byte, limit int) ([]byte, error) {
	g := gzipPool.Get().(*gzipReader)
	defer func() {
		g.src.Reset(nil)
		gzipPool.Put(g)
	}()
	g.src.Reset(src)
	if err := g.zr.Reset(&g.src); err != nil {
		return dst, fmt.Errorf("gzip header: %w", err)
	}
	// Deflate expands at most 1032 times; the trailer's ISIZE is the size
	// (of the last member, mod 2^32) when it is honest.
	hint := gzipMaxRatio * len(src)
	if len(src) >= 18 { // the smallest gzip member
		hint = min(hint, int(binary.LittleEndian.Uint32(src[len(src)-4:])))
	}
	return readCapped(dst, &g.zr, limit, hint)
}

// xerialMagic starts the xerial snappy framing (Java's SnappyOutputStream):
// the magic, a 4-byte version and a 4-byte minimum compatible version, then
// blocks of a 4-byte big-endian length and a raw snappy block.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// xerialHeaderBytes is the size of the xerial header.
const xerialHeaderBytes = 16

// unsnappy decompresses raw or xerial-framed snappy.
func unsnappy(dst, src []byte, limit int) ([]byte, error) {
	if len(src) >= xerialHeaderBytes && bytes.HasPrefix(src, xerialMagic) {
		return unxerial(dst, src[xerialHeaderBytes:], limit)
	}
	n, err := snappyDecodedLen(src)
	if err != nil {
		return dst, err
	}
	if n > limit {
		return dst, errTooLarge
	}
	dst = withCap(dst, n)
	out, err := snappy.Decode(dst, src)
	if err != nil {
		return dst, fmt.Errorf("snappy: %w", err)
	}
	return out, nil
}

// snappyMaxRatio bounds what a snappy block can decode to: the densest
// element is a 3-byte copy of 64 bytes.
const snappyMaxRatio = 22

// snappyDecodedLen is the decoded length a snappy block claims, refused
// when the block is too short to hold it, so that a few hostile bytes
// cannot make us allocate up to the limit.
func snappyDecodedLen(block []byte) (int, error) {
	n, err := snappy.DecodedLen(block)
	switch {
	case err != nil:
		return 0, fmt.Errorf("snappy: %w", err)
	case n > snappyMaxRatio*len(block):
		return 0, fmt.Errorf("snappy: %d bytes cannot decode to the %d they claim", len(block), n)
	}
	return n, nil
}

// unxerial decodes xerial blocks: first it walks the block lengths and
// sums the decoded sizes against limit, so dst grows once, then it decodes
// each block in place.
func unxerial(dst, src []byte, limit int) ([]byte, error) {
	total := 0
	for rem := src; len(rem) > 0; {
		block, rest, err := xerialBlock(rem)
		if err != nil {
			return dst, err
		}
		n, err := snappyDecodedLen(block)
		if err != nil {
			return dst, fmt.Errorf("xerial block: %w", err)
		}
		if n > limit-total {
			return dst, errTooLarge
		}
		total += n
		rem = rest
	}
	dst = withCap(dst, total)
	for len(src) > 0 {
		block, rest, _ := xerialBlock(src) // checked above
		n, _ := snappy.DecodedLen(block)
		if _, err := snappy.Decode(dst[len(dst):len(dst)+n], block); err != nil {
			return dst, fmt.Errorf("xerial snappy block: %w", err)
		}
		dst = dst[:len(dst)+n]
		src = rest
	}
	return dst, nil
}

// xerialBlock splits the length-prefixed block at the start of b.
func xerialBlock(b []byte) (block, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("xerial snappy: truncated block length")
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("xerial snappy: block of %d bytes, %d left", n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}
