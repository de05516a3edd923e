package raftstore

import (
	"bytes"
	"errors"
	"testing"
)

func TestEntryRoundTrip(t *testing.T) {
	cmds := []Command{
		{Type: CmdKVPut, Version: 1, Payload: []byte("abc")},
		{Type: 0xFFFF, Version: 255, Payload: nil},
		{Type: CmdKVAdd, Version: 1, Payload: bytes.Repeat([]byte{7}, 300)},
	}
	size := 0
	for _, c := range cmds {
		size += c.encodedLen()
	}
	data := appendEntry(nil, cmds)
	if len(data) != entryLen(len(cmds), size) {
		t.Fatalf("entry is %d bytes, entryLen says %d", len(data), entryLen(len(cmds), size))
	}
	var got []Command
	n, err := decodeEntry(data, func(_ int, c Command) error { got = append(got, c); return nil })
	if err != nil || n != len(cmds) {
		t.Fatalf("decode: n=%d err=%v", n, err)
	}
	for i := range cmds {
		if got[i].Type != cmds[i].Type || got[i].Version != cmds[i].Version || !bytes.Equal(got[i].Payload, cmds[i].Payload) {
			t.Fatalf("command %d: got %+v, want %+v", i, got[i], cmds[i])
		}
	}
}

func TestDecodeEntryRefusesDamage(t *testing.T) {
	good := appendEntry(nil, []Command{{Type: CmdKVPut, Version: 1, Payload: []byte("abc")}})
	for name, data := range map[string][]byte{
		"empty":           nil,
		"future format":   append([]byte{2}, good[1:]...),
		"count too large": {entryFormatV1, 0x7f},
		"truncated":       good[:len(good)-1],
		"trailing bytes":  append(bytes.Clone(good), 0),
		"huge length":     {entryFormatV1, 1, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		_, err := decodeEntry(data, func(int, Command) error { return nil })
		if !errors.Is(err, errEntryFormat) && !errors.Is(err, errEntryCorrupt) {
			t.Errorf("%s: err = %v, want a format or corruption error", name, err)
		}
	}
}

// FuzzDecodeEntry checks that any bytes decode without panicking, that a
// decoded entry re-encodes to the same bytes, and that the work is bounded
// by the input (every count is checked against the bytes left).
func FuzzDecodeEntry(f *testing.F) {
	f.Add(appendEntry(nil, []Command{{Type: CmdKVPut, Version: 1, Payload: []byte("k")}}))
	f.Add(appendEntry(nil, []Command{{Type: 1}, {Type: 2, Payload: []byte{1, 2, 3}}}))
	f.Add([]byte{entryFormatV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var cmds []Command
		n, err := decodeEntry(data, func(_ int, c Command) error {
			cmds = append(cmds, c)
			return nil
		})
		if n > len(data) {
			t.Fatalf("decoded %d commands from %d bytes", n, len(data))
		}
		if err != nil {
			return
		}
		if again := appendEntry(nil, cmds); !bytes.Equal(again, data) {
			// Only non-minimal varints may differ; the lengths must agree.
			if len(again) > len(data) {
				t.Fatalf("re-encoding grew: %x → %x", data, again)
			}
		}
	})
}
