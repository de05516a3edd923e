package raftstore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// bufferSink is a raft.SnapshotSink over memory.
type bufferSink struct {
	bytes.Buffer
	cancelled bool
}

func (b *bufferSink) ID() string    { return "test" }
func (b *bufferSink) Close() error  { return nil }
func (b *bufferSink) Cancel() error { b.cancelled = true; return nil }

func snapshotBytes(t testing.TB, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	defer snap.Release()
	var sink bufferSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	return sink.Bytes()
}

func restoreFrom(t testing.TB, src, dst *fsm) {
	t.Helper()
	if err := dst.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, src)))); err != nil {
		t.Fatalf("restore: %v", err)
	}
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	fs := vfs.NewMem()
	src := newTestFSM(t, fs, "src")
	rng := rand.New(rand.NewPCG(1, 2))
	applyInBatches(src, randomLogs(rng, 300), func() int { return 7 })
	// A value bigger than a snapshot block gets a block of its own.
	big := bytes.Repeat([]byte("v"), snapshotBlockBytes+10)
	src.ApplyBatch([]*raft.Log{entry(301, must(KVPut([]byte("big"), big)))})

	dst := newTestFSM(t, fs, "dst")
	dst.ApplyBatch([]*raft.Log{entry(1, must(KVPut([]byte("stale"), []byte("gone after restore"))))})
	restoreFrom(t, src, dst)
	if err := sameDump(dumpDB(t, src.db), dumpDB(t, dst.db)); err != nil {
		t.Fatalf("restored state differs: %v", err)
	}
	if dst.applied.Load() != 301 {
		t.Fatalf("restored applied index = %d, want 301", dst.applied.Load())
	}
	// The restored database is the live one after a reopen too.
	if err := dst.close(); err != nil {
		t.Fatal(err)
	}
	again := newTestFSM(t, fs, "dst")
	if err := sameDump(dumpDB(t, src.db), dumpDB(t, again.db)); err != nil {
		t.Fatalf("reopened restored state differs: %v", err)
	}
}

func TestSnapshotPersistIsPointInTime(t *testing.T) {
	f := newTestFSM(t, vfs.NewMem(), "fsm")
	f.ApplyBatch([]*raft.Log{entry(1, must(KVAdd([]byte("n"), 1)))})
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	f.ApplyBatch([]*raft.Log{entry(2, must(KVAdd([]byte("n"), 1)))}) // after the snapshot
	var sink bufferSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	g := newTestFSM(t, vfs.NewMem(), "g")
	if err := g.Restore(io.NopCloser(&sink)); err != nil {
		t.Fatal(err)
	}
	if g.applied.Load() != 1 || counterOf(t, g, "n") != 1 {
		t.Fatalf("snapshot holds index %d, n=%d; want the state at index 1", g.applied.Load(), counterOf(t, g, "n"))
	}
}

func counterOf(t testing.TB, f *fsm, key string) uint64 {
	t.Helper()
	v, ok, err := f.get(kvKey([]byte(key)))
	if err != nil || !ok {
		t.Fatalf("get %s: ok=%v err=%v", key, ok, err)
	}
	return binary.BigEndian.Uint64(v)
}

// TestRestoreRejectsDamagedSnapshots flips, cuts and pads snapshot streams:
// every damaged stream is refused, and the state it was meant to replace
// stays as it was.
func TestRestoreRejectsDamagedSnapshots(t *testing.T) {
	fs := vfs.NewMem()
	src := newTestFSM(t, fs, "src")
	applyInBatches(src, randomLogs(rand.New(rand.NewPCG(3, 4)), 100), func() int { return 10 })
	good := snapshotBytes(t, src)

	dst := newTestFSM(t, fs, "dst")
	dst.ApplyBatch([]*raft.Log{entry(1, must(KVPut([]byte("keep"), []byte("me"))))})
	before := dumpDB(t, dst.db)

	damaged := map[string][]byte{
		"empty":     nil,
		"bad magic": append([]byte("XRIBSNAP"), good[8:]...),
		"truncated": good[:len(good)/2],
		"no end":    good[:len(good)-16],
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 20; i++ {
		b := bytes.Clone(good)
		pos := snapshotHeaderLen + rng.IntN(len(b)-snapshotHeaderLen)
		b[pos] ^= byte(1 + rng.IntN(255))
		damaged[fmt.Sprintf("flip@%d", pos)] = b
	}
	for name, b := range damaged {
		if err := dst.Restore(io.NopCloser(bytes.NewReader(b))); err == nil {
			t.Errorf("%s: restore succeeded", name)
		}
		if err := sameDump(before, dumpDB(t, dst.db)); err != nil {
			t.Fatalf("%s: failed restore changed the live state: %v", name, err)
		}
	}
	if dst.Err() != nil {
		t.Fatalf("a refused snapshot stopped the state machine: %v", dst.Err())
	}
}

// TestRecoverInterruptedRestore covers a crash at each step of the swap:
// a complete staged database wins, an incomplete one is discarded.
func TestRecoverInterruptedRestore(t *testing.T) {
	build := func(t *testing.T, fs vfs.FS, dir string, marker bool) {
		src := newTestFSM(t, fs, "src-"+dir)
		src.ApplyBatch([]*raft.Log{entry(7, must(KVPut([]byte("from"), []byte("snapshot"))))})
		old := newTestFSM(t, fs, dir)
		old.ApplyBatch([]*raft.Log{entry(3, must(KVPut([]byte("from"), []byte("old"))))})
		if err := old.close(); err != nil {
			t.Fatal(err)
		}
		staged := filepath.Join(dir, fsmDBName+".restore")
		if _, err := old.loadSnapshot(bytes.NewReader(snapshotBytes(t, src)), staged); err != nil {
			t.Fatal(err)
		}
		if !marker {
			if err := fs.Remove(filepath.Join(staged, restoreMarker)); err != nil {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name   string
		marker bool
		step   func(fs vfs.FS, dir string) error // what happened before the crash
		want   string
	}{
		{"staged incomplete", false, nil, "old"},
		{"staged complete", true, nil, "snapshot"},
		{"live moved aside", true, func(fs vfs.FS, dir string) error {
			live := filepath.Join(dir, fsmDBName)
			return fs.Rename(live, live+".old")
		}, "snapshot"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := vfs.NewMem()
			build(t, fs, "fsm", c.marker)
			if c.step != nil {
				if err := c.step(fs, "fsm"); err != nil {
					t.Fatal(err)
				}
			}
			f := newTestFSM(t, fs, "fsm")
			v, _, err := f.get(kvKey([]byte("from")))
			if err != nil || string(v) != c.want {
				t.Fatalf("after recovery from = %q (%v), want %q", v, err, c.want)
			}
			for _, leftover := range []string{".restore", ".old"} {
				if _, err := fs.Stat(filepath.Join("fsm", fsmDBName+leftover)); err == nil {
					t.Errorf("%s left behind", leftover)
				}
			}
		})
	}
}

func TestSnapshotHeaderRefusesOtherFormats(t *testing.T) {
	h := snapshotHeader(42)
	if got, err := readSnapshotHeader(bytes.NewReader(h)); err != nil || got != 42 {
		t.Fatalf("header round trip = %d, %v", got, err)
	}
	h[11] = 2 // format 2
	if _, err := readSnapshotHeader(bytes.NewReader(h)); err == nil || errors.Is(err, errSnapshotCorrupt) {
		t.Fatalf("format 2: err = %v, want a format error", err)
	}
}

// FuzzReadSnapshot feeds arbitrary bytes to the snapshot reader: it never
// panics, allocates in proportion to its input, and accepts only streams
// whose every block checksum and record count agree.
func FuzzReadSnapshot(f *testing.F) {
	fs := vfs.NewMem()
	src := newTestFSM(f, fs, "src")
	applyInBatches(src, randomLogs(rand.New(rand.NewPCG(7, 8)), 30), func() int { return 5 })
	f.Add(snapshotBytes(f, src))
	f.Add(append(snapshotHeader(1), 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		if _, err := readSnapshotHeader(r); err != nil {
			return
		}
		n := 0
		err := readRecords(r, func(k, v []byte) error {
			n += len(k) + len(v)
			return nil
		})
		if err == nil && n > len(data) {
			t.Fatalf("%d bytes of records from a %d-byte stream", n, len(data))
		}
	})
}
