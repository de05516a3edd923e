package kafkacodec

// lz4: RecordBatch v2 uses the lz4 frame format
// (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md):
//
//	+-----------------+-----+----+-----------------+------------+----+
//	| magic 184D2204  | FLG | BD | content size 8? | dict id 4? | HC |
//	+-----------------+-----+----+-----------------+------------+----+
//	| blocks: [size 4 LE, high bit = stored][data][xxh32 4?] ...      |
//	| end mark 00000000 | content xxh32 4?                            |
//	+-----------------------------------------------------------------+
//
// Skippable frames (magic 184D2A50–184D2A5F, a 4-byte size, data) are
// skipped. We walk the frames ourselves and decode each block with
// pierrec/lz4's block decoder straight into the output buffer: its frame
// Reader would take a block buffer of the frame's declared block size
// (4 MiB for kgo's frames) on top of the output, whatever the limit.
// Checksums (header, blocks, content) are verified as the Java client does.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/pierrec/lz4/v4"
)

const (
	lz4FrameMagic     = 0x184D2204
	lz4SkippableMagic = 0x184D2A50 // low 4 bits: any
	lz4WindowBytes    = 64 << 10   // how far back a dependent block may refer
	// lz4MaxRatio bounds what a compressed block can decode to: a match
	// grows by at most 255 bytes per length byte, and a sequence's
	// token and offset (3 bytes) add at most 19.
	lz4MaxRatio = 255
)

var errLZ4Truncated = errors.New("lz4: truncated frame")

// lz4Frame is what a frame descriptor says.
type lz4Frame struct {
	blockMax        int
	independent     bool
	blockChecksum   bool
	contentChecksum bool
	contentSize     uint64
	hasContentSize  bool
}

// unlz4 decompresses lz4 frames into dst (length 0), at most limit bytes.
func unlz4(dst, src []byte, limit int) ([]byte, error) {
	dst = withCap(dst, min(max(4*len(src), 512), limit+1))
	for len(src) > 0 {
		if len(src) < 4 {
			return dst, errLZ4Truncated
		}
		magic := binary.LittleEndian.Uint32(src)
		if magic&^0xf == lz4SkippableMagic {
			if len(src) < 8 || uint64(binary.LittleEndian.Uint32(src[4:])) > uint64(len(src)-8) {
				return dst, errLZ4Truncated
			}
			src = src[8+binary.LittleEndian.Uint32(src[4:]):]
			continue
		}
		if magic != lz4FrameMagic {
			return dst, fmt.Errorf("lz4: frame magic %#08x", magic)
		}
		f, rest, err := readLZ4Descriptor(src[4:])
		if err != nil {
			return dst, err
		}
		if f.hasContentSize && f.contentSize > uint64(limit-len(dst)) {
			return dst, errTooLarge
		}
		if dst, src, err = readLZ4Blocks(dst, rest, &f, limit); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// readLZ4Descriptor reads FLG, BD, the optional content size and HC.
func readLZ4Descriptor(b []byte) (lz4Frame, []byte, error) {
	var f lz4Frame
	if len(b) < 3 {
		return f, nil, errLZ4Truncated
	}
	flg, bd := b[0], b[1]
	switch {
	case flg>>6 != 1:
		return f, nil, fmt.Errorf("lz4: frame version %d", flg>>6)
	case flg&0x02 != 0 || bd&0x8f != 0:
		return f, nil, errors.New("lz4: reserved descriptor bits set")
	case flg&0x01 != 0:
		return f, nil, errors.New("lz4: dictionaries are not supported")
	case bd>>4 < 4:
		return f, nil, fmt.Errorf("lz4: block maximum size code %d", bd>>4)
	}
	f.blockMax = 1 << (2*int(bd>>4) + 8) // 4: 64 KiB … 7: 4 MiB
	f.independent = flg&0x20 != 0
	f.blockChecksum = flg&0x10 != 0
	f.contentChecksum = flg&0x04 != 0
	n := 2
	if flg&0x08 != 0 {
		if len(b) < n+8+1 {
			return f, nil, errLZ4Truncated
		}
		f.hasContentSize, f.contentSize = true, binary.LittleEndian.Uint64(b[n:])
		n += 8
	}
	if byte(xxh32(b[:n])>>8) != b[n] {
		return f, nil, errors.New("lz4: frame descriptor checksum mismatch")
	}
	return f, b[n+1:], nil
}

// readLZ4Blocks decodes the blocks of one frame up to its end mark and
// checks its content size and checksum. It returns the output and the
// bytes after the frame.
func readLZ4Blocks(dst, b []byte, f *lz4Frame, limit int) ([]byte, []byte, error) {
	frameStart := len(dst)
	for {
		if len(b) < 4 {
			return dst, nil, errLZ4Truncated
		}
		v := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if v == 0 { // end mark
			break
		}
		size := int(v & 0x7fffffff)
		need := size
		if f.blockChecksum {
			need += 4
		}
		switch {
		case size > f.blockMax:
			return dst, nil, fmt.Errorf("lz4: block of %d bytes, frame maximum %d", size, f.blockMax)
		case need > len(b):
			return dst, nil, errLZ4Truncated
		case f.blockChecksum && xxh32(b[:size]) != binary.LittleEndian.Uint32(b[size:]):
			return dst, nil, errors.New("lz4: block checksum mismatch")
		}
		var err error
		if dst, err = lz4Block(dst, b[:size], v&0x80000000 != 0, f, frameStart, limit); err != nil {
			return dst, nil, err
		}
		b = b[need:]
	}
	content := dst[frameStart:]
	if f.hasContentSize && uint64(len(content)) != f.contentSize {
		return dst, nil, fmt.Errorf("lz4: frame of %d bytes, descriptor says %d", len(content), f.contentSize)
	}
	if f.contentChecksum {
		if len(b) < 4 {
			return dst, nil, errLZ4Truncated
		}
		if xxh32(content) != binary.LittleEndian.Uint32(b) {
			return dst, nil, errors.New("lz4: content checksum mismatch")
		}
		b = b[4:]
	}
	return dst, b, nil
}

// lz4Block appends one block's output to dst: data itself when stored,
// else decoded, with up to 64 KiB of the frame's earlier output as the
// dictionary of a dependent block.
func lz4Block(dst, data []byte, stored bool, f *lz4Frame, frameStart, limit int) ([]byte, error) {
	if stored {
		if len(data) > limit-len(dst) {
			return dst, errTooLarge
		}
		return append(ensureRoom(dst, len(data), limit), data...), nil
	}
	room := min(f.blockMax, limit+1-len(dst), lz4MaxRatio*len(data))
	dst = ensureRoom(dst, room, limit)
	var dict []byte
	if !f.independent {
		dict = dst[max(frameStart, len(dst)-lz4WindowBytes):]
	}
	n, err := lz4.UncompressBlockWithDict(data, dst[len(dst):len(dst)+room], dict)
	switch {
	case err != nil && room == limit+1-len(dst) && room < f.blockMax:
		return dst, fmt.Errorf("%w (or a corrupt lz4 block: %w)", errTooLarge, err)
	case err != nil:
		return dst, fmt.Errorf("lz4 block: %w", err)
	case n > limit-len(dst):
		return dst, errTooLarge
	}
	return dst[:len(dst)+n], nil
}

// ensureRoom grows dst so that room more bytes fit, doubling but never
// past limit+1 bytes in all; len(dst)+room ≤ limit+1.
func ensureRoom(dst []byte, room, limit int) []byte {
	if cap(dst)-len(dst) >= room {
		return dst
	}
	grown := make([]byte, len(dst), min(max(2*cap(dst), len(dst)+room), limit+1))
	copy(grown, dst)
	return grown
}

// xxh32 is XXH32 with seed 0, the checksum of lz4 frames.
func xxh32(b []byte) uint32 {
	const (
		p1 uint32 = 2654435761
		p2 uint32 = 2246822519
		p3 uint32 = 3266489917
		p4 uint32 = 668265263
		p5 uint32 = 374761393
	)
	le := binary.LittleEndian
	round := func(acc, lane uint32) uint32 { return bits.RotateLeft32(acc+lane*p2, 13) * p1 }
	n := uint32(len(b))
	var h uint32
	if len(b) >= 16 {
		var seed uint32
		v1, v2, v3, v4 := seed+p1+p2, seed+p2, seed, seed-p1
		for ; len(b) >= 16; b = b[16:] {
			v1 = round(v1, le.Uint32(b))
			v2 = round(v2, le.Uint32(b[4:]))
			v3 = round(v3, le.Uint32(b[8:]))
			v4 = round(v4, le.Uint32(b[12:]))
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) + bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = p5
	}
	h += n
	for ; len(b) >= 4; b = b[4:] {
		h = bits.RotateLeft32(h+le.Uint32(b)*p3, 17) * p4
	}
	for _, c := range b {
		h = bits.RotateLeft32(h+uint32(c)*p5, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}
