package kafkacodec

// zstd: one shared decoder (DecodeAll is safe for concurrent use, up to
// GOMAXPROCS at a time) that decodes straight into the output buffer and
// may not write past that buffer's capacity (WithDecodeAllCapLimit). The
// capacity is the smaller of the caller's limit and an upper bound read
// from the frame and block headers, so a legitimate batch gets a buffer
// about its size and a "bomb" about the limit: a frame with a content size
// over it is refused from its header; one without is refused after the
// block that crosses it (the decoder may grow the buffer once for that
// block, so the worst case is about twice the limit).

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// zstdMaxBlockBytes is the largest a zstd block may decode to (the
// format's Block_Maximum_Size is min(Window_Size, 128 KiB)).
const zstdMaxBlockBytes = 128 << 10

// sharedZstd builds the shared decoder once.
var sharedZstd = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecodeAllCapLimit(true),
	)
})

// unzstd decompresses one or more zstd frames.
func unzstd(dst, src []byte, limit int) ([]byte, error) {
	d, err := sharedZstd()
	if err != nil {
		return dst, fmt.Errorf("zstd decoder: %w", err)
	}
	bound, err := zstdBound(src, uint64(limit))
	if err != nil {
		return dst, err
	}
	n := int(min(bound, uint64(limit)))
	if cap(dst) >= n {
		dst = dst[:0:n] // the decoder's limit is cap(dst)
	} else {
		dst = make([]byte, 0, n)
	}
	out, err := d.DecodeAll(src, dst)
	switch {
	case errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return dst, fmt.Errorf("zstd: %w: %w", errTooLarge, err)
	case err != nil:
		return dst, fmt.Errorf("zstd: %w", err)
	}
	return out, nil
}

// zstdBound walks the frame and block headers of src and returns an upper
// bound of its decoded size, stopping after the frame that takes the bound
// past limit.
// Broken framing is an error.
func zstdBound(src []byte, limit uint64) (uint64, error) {
	var (
		h     zstd.Header
		total uint64
	)
	for len(src) > 0 && total <= limit {
		rest, err := h.DecodeAndStrip(src)
		if err != nil {
			return 0, fmt.Errorf("zstd frame header: %w", err)
		}
		if h.Skippable {
			if uint64(h.SkippableSize) > uint64(len(rest)) {
				return 0, fmt.Errorf("zstd: skippable frame: %w", io.ErrUnexpectedEOF)
			}
			src = rest[h.SkippableSize:]
			continue
		}
		window := h.WindowSize
		if h.SingleSegment {
			window = h.FrameContentSize
		}
		n, rest, err := zstdBlocksBound(rest, min(window, zstdMaxBlockBytes))
		if err != nil {
			return 0, err
		}
		if h.HasFCS {
			n = min(n, h.FrameContentSize)
		}
		if h.HasCheckSum {
			if len(rest) < 4 {
				return 0, fmt.Errorf("zstd: checksum: %w", io.ErrUnexpectedEOF)
			}
			rest = rest[4:]
		}
		total += n
		src = rest
	}
	return total, nil
}

// zstdBlocksBound walks the blocks of one frame: raw and RLE blocks say
// their size, a compressed block decodes to at most blockMax. It returns
// the bound and the bytes after the last block. Every block header takes
// 3 bytes, so the walk is linear in the input.
func zstdBlocksBound(b []byte, blockMax uint64) (uint64, []byte, error) {
	var total uint64
	for {
		if len(b) < 3 {
			return 0, nil, fmt.Errorf("zstd block header: %w", io.ErrUnexpectedEOF)
		}
		bh := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
		b = b[3:]
		size := uint64(bh >> 3)
		consumed := size
		switch (bh >> 1) & 3 {
		case 0: // raw
			total += size
		case 1: // RLE: one byte repeated size times
			total += size
			consumed = 1
		case 2: // compressed
			total += blockMax
		default:
			return 0, nil, errors.New("zstd: reserved block type")
		}
		if consumed > uint64(len(b)) {
			return 0, nil, fmt.Errorf("zstd block of %d bytes, %d left: %w", consumed, len(b), io.ErrUnexpectedEOF)
		}
		b = b[consumed:]
		if bh&1 != 0 {
			return total, b, nil
		}
	}
}
