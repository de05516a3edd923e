package logstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"
)

func encodeForTest(l *raft.Log, cum uint64) []byte {
	v := make([]byte, entryLen(l, cum))
	encodeEntry(v, l, cum)
	return v
}

func TestEntryRoundTrip(t *testing.T) {
	t.Parallel()
	for _, l := range append(fieldEntries(), testEntries(1, 20, 3)...) {
		for _, cum := range []uint64{0, 1, 1 << 40, ^uint64(0)} {
			v := encodeForTest(l, cum)
			var got raft.Log
			gotCum, err := decodeEntry(v, &got)
			if err != nil {
				t.Fatalf("entry %d: %v", l.Index, err)
			}
			if gotCum != cum {
				t.Errorf("entry %d: cum %d, want %d", l.Index, gotCum, cum)
			}
			if d := cmp.Diff(l, &got, logCmpOpts); d != "" {
				t.Errorf("entry %d (-want +got):\n%s", l.Index, d)
			}
		}
	}
}

// TestEntryDecodeCopies checks that a decoded entry never aliases the
// stored value, which in the store is Pebble's memory.
func TestEntryDecodeCopies(t *testing.T) {
	t.Parallel()
	l := &raft.Log{Index: 1, Data: []byte("data"), Extensions: []byte("ext")}
	v := encodeForTest(l, 0)
	var got raft.Log
	if _, err := decodeEntry(v, &got); err != nil {
		t.Fatal(err)
	}
	clear(v)
	if string(got.Data) != "data" || string(got.Extensions) != "ext" {
		t.Fatalf("decoded entry changed with its source: %q %q", got.Data, got.Extensions)
	}
	// Data is capped, so appending to it cannot overwrite Extensions.
	_ = append(got.Data, 'X')
	if string(got.Extensions) != "ext" {
		t.Fatalf("append to Data overwrote Extensions: %q", got.Extensions)
	}
}

// TestEntryCorruptionDetected flips every bit of an encoded entry and cuts
// it at every length: each must be an ErrCorrupt, never a decoded entry.
func TestEntryCorruptionDetected(t *testing.T) {
	t.Parallel()
	v := encodeForTest(fieldEntries()[0], 12345)
	for bit := range len(v) * 8 {
		c := bytes.Clone(v)
		c[bit/8] ^= 1 << (bit % 8)
		var got raft.Log
		if _, err := decodeEntry(c, &got); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit %d flipped: err = %v, want ErrCorrupt", bit, err)
		}
	}
	for n := range len(v) {
		var got raft.Log
		if _, err := decodeEntry(v[:n], &got); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut to %d bytes: err = %v, want ErrCorrupt", n, err)
		}
	}
}

// withCRC appends a valid checksum to body, to reach the checks behind it.
func withCRC(body []byte) []byte {
	return binary.BigEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
}

// TestEntryMalformedRejected covers values with a valid checksum whose
// contents are still wrong: the parser must refuse them by their shape.
func TestEntryMalformedRejected(t *testing.T) {
	t.Parallel()
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	hdr := []byte{entryVersion, 0, 0}
	cases := map[string][]byte{
		"unknown version":         cat([]byte{2, 0, 0}, uv(1), uv(1), uv(1), uv(0), uv(0)),
		"unknown flag":            cat([]byte{entryVersion, 2, 0}, uv(1), uv(1), uv(1), uv(0), uv(0)),
		"data longer than value":  cat(hdr, uv(1), uv(1), uv(1), uv(1<<40), uv(0)),
		"lengths leave bytes":     cat(hdr, uv(1), uv(1), uv(1), uv(1), uv(0), []byte("ab")),
		"ext longer than value":   cat(hdr, uv(1), uv(1), uv(1), uv(0), uv(3), []byte("ab")),
		"truncated varint":        cat(hdr, uv(1), uv(1), []byte{0x80, 0x80}),
		"overlong varint":         cat(hdr, bytes.Repeat([]byte{0xff}, 11), uv(0), uv(0)),
		"nanoseconds of a second": cat([]byte{entryVersion, entryFlagAppendedAt, 0}, uv(1), uv(1), uv(1), uv(0), uv(1e9), uv(0), uv(0)),
		"too short":               {entryVersion, 0},
	}
	for name, body := range cases {
		var got raft.Log
		if _, err := decodeEntry(withCRC(body), &got); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestStableValueCorruptionDetected(t *testing.T) {
	t.Parallel()
	v := encodeStable(stableKindUint64, beBytes(42))
	for bit := range len(v) * 8 {
		c := bytes.Clone(v)
		c[bit/8] ^= 1 << (bit % 8)
		if _, _, err := decodeStable(c); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("bit %d flipped: err = %v, want ErrCorrupt", bit, err)
		}
	}
	if _, _, err := decodeStable(withCRC([]byte{stableVersion, stableKindUint64, 1, 2, 3})); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("3-byte uint64: err = %v, want ErrCorrupt", err)
	}
}

// FuzzDecodeEntry feeds arbitrary values to the decoder, both as they come
// and with a valid checksum appended so the fuzzer reaches the parser. It
// must never panic, and whatever decodes must re-encode to a value that
// decodes to the same entry.
func FuzzDecodeEntry(f *testing.F) {
	for _, l := range fieldEntries()[:5] {
		v := encodeForTest(l, 99)
		f.Add(v)
		f.Add(v[:len(v)-crcBytes])
	}
	f.Fuzz(func(t *testing.T, v []byte) {
		for _, in := range [][]byte{v, withCRC(v)} {
			var l raft.Log
			cum, err := decodeEntry(in, &l)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error %v does not wrap ErrCorrupt", err)
				}
				continue
			}
			var again raft.Log
			cum2, err := decodeEntry(encodeForTest(&l, cum), &again)
			if err != nil || cum2 != cum {
				t.Fatalf("re-encoded entry: cum %d vs %d, err %v", cum2, cum, err)
			}
			if d := cmp.Diff(&l, &again, logCmpOpts); d != "" {
				t.Fatalf("decode(encode(decode(x))) differs:\n%s", d)
			}
		}
	})
}
