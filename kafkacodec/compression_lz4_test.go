package kafkacodec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"
)

func TestXXH32Vectors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0x02cc5d05},
		{"abc", 0x32d153ff},
	} {
		if got := xxh32([]byte(c.in)); got != c.want {
			t.Errorf("xxh32(%q) = %#08x, want %#08x", c.in, got, c.want)
		}
	}
}

// lz4With compresses raw with pierrec's frame writer and options.
func lz4With(t *testing.T, raw []byte, opts ...lz4.Option) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := lz4.NewWriter(&buf)
	if err := w.Apply(opts...); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestUnLZ4MatchesPierrecReader decodes frames written with every writer
// option (block sizes, block and content checksums, content size) and
// compares with pierrec's own frame Reader.
func TestUnLZ4MatchesPierrecReader(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	inputs := [][]byte{{}, []byte("x"), bytes.Repeat([]byte("kafka "), 50000), make([]byte, 300<<10)}
	noise := make([]byte, 200<<10) // incompressible: stored blocks
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	inputs = append(inputs, noise)
	optionSets := map[string][]lz4.Option{
		"default-4MiB":       nil,
		"64KiB":              {lz4.BlockSizeOption(lz4.Block64Kb)},
		"256KiB-checksums":   {lz4.BlockSizeOption(lz4.Block256Kb), lz4.BlockChecksumOption(true), lz4.ChecksumOption(true)},
		"1MiB-no-checksum":   {lz4.BlockSizeOption(lz4.Block1Mb), lz4.ChecksumOption(false)},
		"64KiB-content-size": {lz4.BlockSizeOption(lz4.Block64Kb), lz4.SizeOption(0)},
	}
	for name, opts := range optionSets {
		for i, raw := range inputs {
			if name == "64KiB-content-size" {
				opts = []lz4.Option{lz4.BlockSizeOption(lz4.Block64Kb), lz4.SizeOption(uint64(len(raw)))}
			}
			frame := lz4With(t, raw, opts...)
			want, err := io.ReadAll(lz4.NewReader(bytes.NewReader(frame)))
			if err != nil {
				t.Fatalf("%s/%d: pierrec Reader: %v", name, i, err)
			}
			got, err := unlz4(nil, frame, len(raw))
			if err != nil || !bytes.Equal(got, want) || !bytes.Equal(got, raw) {
				t.Errorf("%s/%d: unlz4 gave %d bytes, %v; want %d", name, i, len(got), err, len(raw))
			}
			if len(raw) > 0 {
				if _, err := unlz4(nil, frame, len(raw)-1); !errors.Is(err, errTooLarge) {
					t.Errorf("%s/%d: limit one short: %v, want errTooLarge", name, i, err)
				}
			}
		}
	}
}

// dependentFrame is a hand-made frame with dependent blocks (FLG bit 5
// clear), which pierrec's writer never makes: a stored block, then a
// compressed block whose match reaches back into the first one.
func dependentFrame() []byte {
	first := []byte("hello world, hello world!")
	second := []byte{
		0x08,       // token: 0 literals, match length 4+8 = 12
		0x19, 0x00, // offset 25: the start of the first block
		0x50, '!', '!', '!', '!', '!', // last sequence: 5 literals
	}
	b := binary.LittleEndian.AppendUint32(nil, lz4FrameMagic)
	desc := []byte{0x40 /* version 01, dependent blocks */, 0x40 /* 64 KiB */}
	b = append(b, desc...)
	b = append(b, byte(xxh32(desc)>>8))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(first))|0x80000000) // stored
	b = append(b, first...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(second)))
	b = append(b, second...)
	return binary.LittleEndian.AppendUint32(b, 0) // end mark
}

func TestUnLZ4DependentBlocks(t *testing.T) {
	t.Parallel()
	frame := dependentFrame()
	want, err := io.ReadAll(lz4.NewReader(bytes.NewReader(frame)))
	if err != nil {
		t.Fatalf("pierrec Reader: %v", err)
	}
	if string(want) != "hello world, hello world!hello world,!!!!!" {
		t.Fatalf("pierrec reads %q: the hand-made frame is wrong", want)
	}
	got, err := unlz4(nil, frame, 1<<20)
	if err != nil || string(got) != string(want) {
		t.Errorf("unlz4 = %q, %v; want %q", got, err, want)
	}
}

func TestUnLZ4RejectsBrokenFrames(t *testing.T) {
	t.Parallel()
	good := lz4With(t, bytes.Repeat([]byte("abc"), 1000), lz4.BlockChecksumOption(true), lz4.ChecksumOption(true))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	for name, b := range map[string][]byte{
		"bad-magic":            mutate(func(b []byte) []byte { b[0]++; return b }),
		"descriptor-checksum":  mutate(func(b []byte) []byte { b[6]++; return b }),
		"version-0":            mutate(func(b []byte) []byte { b[4] &^= 0x40; return b }),
		"block-checksum":       mutate(func(b []byte) []byte { b[len(b)-12] ^= 1; return b }),
		"content-checksum":     mutate(func(b []byte) []byte { b[len(b)-1] ^= 1; return b }),
		"truncated":            good[:len(good)-5],
		"no-end-mark":          good[:len(good)-8],
		"block-over-frame-max": append(append([]byte(nil), good[:7]...), 0xff, 0xff, 0xff, 0x7f),
		"skippable-truncated":  {0x50, 0x2a, 0x4d, 0x18, 0xff, 0, 0, 0},
	} {
		if _, err := unlz4(nil, b, 1<<20); err == nil {
			t.Errorf("%s: unlz4 accepted a broken frame", name)
		}
	}
	skip := append([]byte{0x5f, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 'h', 'i'}, good...)
	if got, err := unlz4(nil, skip, 1<<20); err != nil || len(got) != 3000 {
		t.Errorf("skippable frame first: %d bytes, %v", len(got), err)
	}
}
