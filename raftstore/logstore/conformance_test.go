package logstore

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"
)

// step is one action or expectation of a conformance case.
type step func(t *testing.T, s raftStore)

// subject is a store under test. between runs after every step and may
// replace the store (the reopened subject closes and reopens it).
type subject struct {
	name    string
	open    func(t *testing.T) raftStore
	between func(t *testing.T, s raftStore) raftStore
}

func subjects() []subject {
	same := func(_ *testing.T, s raftStore) raftStore { return s }
	var fs *vfs.MemFS
	return []subject{
		{name: "inmem", open: func(*testing.T) raftStore { return raft.NewInmemStore() }, between: same},
		{name: "pebble", open: func(t *testing.T) raftStore { s, _ := openMem(t); return s }, between: same},
		{
			name: "pebble-reopened",
			open: func(t *testing.T) raftStore {
				var s *Store
				s, fs = openMem(t)
				return s
			},
			between: func(t *testing.T, s raftStore) raftStore {
				mustClose(t, s.(*Store))
				return mustOpen(t, fs)
			},
		},
	}
}

// conformanceCases run against every subject: the in-memory reference store
// from hashicorp/raft, ours, and ours closed and reopened after every step.
var conformanceCases = []struct {
	name  string
	steps []step
}{
	{"empty store", []step{wantBounds(0, 0), wantMissing(0, 1, 2, math.MaxUint64)}},
	{"store one", []step{
		storeLogs(testEntry(1, 1)), wantBounds(1, 1), wantLogs(testEntry(1, 1)), wantMissing(0, 2),
	}},
	{"store one with StoreLog", []step{
		func(t *testing.T, s raftStore) {
			if err := s.StoreLog(testEntry(7, 2)); err != nil {
				t.Fatalf("StoreLog: %v", err)
			}
		},
		wantBounds(7, 7), wantLogs(testEntry(7, 2)),
	}},
	{"store batches", []step{
		storeLogs(testEntries(1, 100, 1)...), storeLogs(testEntries(101, 150, 2)...),
		wantBounds(1, 150), wantLogs(append(testEntries(1, 100, 1), testEntries(101, 150, 2)...)...), wantMissing(151),
	}},
	{"overwrite in place", []step{
		storeLogs(testEntries(1, 10, 1)...), storeLogs(testEntries(8, 10, 2)...),
		wantBounds(1, 10), wantLogs(append(testEntries(1, 7, 1), testEntries(8, 10, 2)...)...),
	}},
	{"overwrite extends the log", []step{
		storeLogs(testEntries(1, 10, 1)...), storeLogs(testEntries(9, 14, 3)...),
		wantBounds(1, 14), wantLogs(append(testEntries(1, 8, 1), testEntries(9, 14, 3)...)...),
	}},
	{"conflict: truncate the suffix, then append", []step{
		storeLogs(testEntries(1, 10, 1)...), deleteRange(6, 10), wantBounds(1, 5), wantMissing(6, 10),
		storeLogs(testEntries(6, 8, 2)...),
		wantBounds(1, 8), wantLogs(append(testEntries(1, 5, 1), testEntries(6, 8, 2)...)...), wantMissing(9, 10),
	}},
	{"compaction: delete a prefix", []step{
		storeLogs(testEntries(1, 10, 1)...), deleteRange(1, 4),
		wantBounds(5, 10), wantMissing(1, 2, 3, 4), wantLogs(testEntries(5, 10, 1)...),
		storeLogs(testEntries(11, 12, 1)...), wantBounds(5, 12), wantLogs(testEntries(5, 12, 1)...),
	}},
	{"compaction from below the first index", []step{
		storeLogs(testEntries(5, 10, 1)...), deleteRange(1, 7), wantBounds(8, 10), wantMissing(5, 6, 7),
	}},
	{"delete everything, then start past a gap", []step{
		storeLogs(testEntries(1, 10, 1)...), deleteRange(1, 10), wantBounds(0, 0), wantMissing(1, 10),
		storeLogs(testEntries(50, 60, 4)...), wantBounds(50, 60), wantLogs(testEntries(50, 60, 4)...), wantMissing(10, 49),
	}},
	{"delete past both ends", []step{
		storeLogs(testEntries(3, 9, 1)...), deleteRange(1, 100), wantBounds(0, 0), wantMissing(3, 9),
	}},
	{"delete outside the log", []step{
		storeLogs(testEntries(3, 9, 1)...), deleteRange(10, 20), deleteRange(1, 2),
		wantBounds(3, 9), wantLogs(testEntries(3, 9, 1)...),
	}},
	// InmemStore's DeleteRange loops forever when max is MaxUint64, so that
	// edge is tested on our store alone (TestDeleteRangeToMaxUint64).
	{"indexes near the top of uint64", []step{
		storeLogs(testEntries(math.MaxUint64-4, math.MaxUint64-1, 9)...), wantBounds(math.MaxUint64-4, math.MaxUint64-1),
		wantLogs(testEntries(math.MaxUint64-4, math.MaxUint64-1, 9)...),
		deleteRange(math.MaxUint64-2, math.MaxUint64-1), wantBounds(math.MaxUint64-4, math.MaxUint64-3),
		wantMissing(math.MaxUint64-2, math.MaxUint64-1, math.MaxUint64),
	}},
	{"every field round-trips", []step{storeLogs(fieldEntries()...), wantLogs(fieldEntries()...)}},
	{"stable: missing keys read as raft expects", []step{wantStableMissing("CurrentTerm", "LastVoteTerm", "LastVoteCand")}},
	{"stable: set and get", []step{
		set("LastVoteCand", []byte("node-2")), wantGet("LastVoteCand", []byte("node-2")),
		set("LastVoteCand", []byte("node-3")), wantGet("LastVoteCand", []byte("node-3")),
		wantStableMissing("CurrentTerm"),
	}},
	{"stable: uint64", []step{
		setUint64("CurrentTerm", 1), wantUint64("CurrentTerm", 1),
		setUint64("CurrentTerm", math.MaxUint64), wantUint64("CurrentTerm", math.MaxUint64),
		setUint64("LastVoteTerm", 0), wantUint64("LastVoteTerm", 0),
	}},
	{"stable: keys do not touch the log", []step{
		storeLogs(testEntries(1, 3, 1)...),
		set(string(logKey(2)), []byte("not a log entry")), set("L", []byte("x")), setUint64("", 42),
		wantBounds(1, 3), wantLogs(testEntries(1, 3, 1)...), wantUint64("", 42),
	}},
	{"raft sees no existing state in a new store", []step{wantExistingState(false)}},
	{"raft sees existing state once a term is stored", []step{setUint64("CurrentTerm", 1), wantExistingState(true)}},
	{"raft sees existing state once a log is stored", []step{storeLogs(testEntry(1, 1)), wantExistingState(true)}},
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, c := range conformanceCases {
		for _, sub := range subjects() {
			t.Run(sub.name+"/"+c.name, func(t *testing.T) {
				s := sub.open(t)
				for _, st := range c.steps {
					st(t, s)
					s = sub.between(t, s)
				}
			})
		}
	}
}

// fieldEntries covers every raft.Log field: each LogType, nil, empty and
// large Data and Extensions, zero, pre-1970 and far-future AppendedAt.
func fieldEntries() []*raft.Log {
	big := bytes.Repeat([]byte{0xA5, 0x00, 0xFF}, 100_000)
	return []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("cmd"), AppendedAt: time.Unix(1_700_000_000, 123_456_789)},
		{Index: 2, Term: 1, Type: raft.LogNoop},
		{Index: 3, Term: 2, Type: raft.LogAddPeerDeprecated, Data: []byte{}, Extensions: []byte{}},
		{Index: 4, Term: 2, Type: raft.LogRemovePeerDeprecated, Extensions: []byte("ext only")},
		{Index: 5, Term: 3, Type: raft.LogBarrier, AppendedAt: time.Unix(-86400*365*100, 1)},
		{Index: 6, Term: 1 << 40, Type: raft.LogConfiguration, Data: big, Extensions: big[:1000]},
		{Index: 7, Term: math.MaxUint64, Type: raft.LogType(255), Data: []byte{0}, AppendedAt: time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC)},
		{Index: 8, Term: 4, Type: raft.LogCommand, Data: []byte("x"), AppendedAt: time.Time{}.Add(time.Nanosecond)},
	}
}

func storeLogs(logs ...*raft.Log) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		if err := s.StoreLogs(logs); err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
	}
}

func deleteRange(min, max uint64) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		if err := s.DeleteRange(min, max); err != nil {
			t.Fatalf("DeleteRange(%d, %d): %v", min, max, err)
		}
	}
}

func wantBounds(first, last uint64) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		gotFirst, err1 := s.FirstIndex()
		gotLast, err2 := s.LastIndex()
		if err := errors.Join(err1, err2); err != nil || gotFirst != first || gotLast != last {
			t.Fatalf("bounds = [%d,%d] (%v), want [%d,%d]", gotFirst, gotLast, err, first, last)
		}
	}
}

func wantLogs(want ...*raft.Log) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		for _, w := range want {
			var got raft.Log
			if err := s.GetLog(w.Index, &got); err != nil {
				t.Fatalf("GetLog(%d): %v", w.Index, err)
			}
			if d := cmp.Diff(w, &got, logCmpOpts); d != "" {
				t.Fatalf("GetLog(%d) (-want +got):\n%s", w.Index, d)
			}
		}
	}
}

func wantMissing(indexes ...uint64) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		for _, i := range indexes {
			var got raft.Log
			// raft compares with ==, so the error must not be wrapped.
			if err := s.GetLog(i, &got); err != raft.ErrLogNotFound {
				t.Fatalf("GetLog(%d) = %v, want raft.ErrLogNotFound", i, err)
			}
		}
	}
}

func set(key string, val []byte) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		if err := s.Set([]byte(key), val); err != nil {
			t.Fatalf("Set(%q): %v", key, err)
		}
	}
}

func setUint64(key string, val uint64) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		if err := s.SetUint64([]byte(key), val); err != nil {
			t.Fatalf("SetUint64(%q): %v", key, err)
		}
	}
}

func wantGet(key string, want []byte) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		if got, err := s.Get([]byte(key)); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Get(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
}

func wantUint64(key string, want uint64) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		if got, err := s.GetUint64([]byte(key)); err != nil || got != want {
			t.Fatalf("GetUint64(%q) = %d, %v; want %d", key, got, err, want)
		}
	}
}

// wantStableMissing checks absent keys the way raft reads them (raft.go
// and api.go): Get must return a nil slice and an error whose text is
// exactly "not found"; GetUint64 must return 0 and either no error (the
// in-memory store) or exactly "not found" (raft-boltdb, and ours).
func wantStableMissing(keys ...string) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		for _, k := range keys {
			if v, err := s.Get([]byte(k)); v != nil || err == nil || err.Error() != "not found" {
				t.Fatalf("Get(%q) = %q, %v; want nil, \"not found\"", k, v, err)
			}
			if v, err := s.GetUint64([]byte(k)); v != 0 || (err != nil && err.Error() != "not found") {
				t.Fatalf("GetUint64(%q) = %d, %v; want 0 and nil or \"not found\"", k, v, err)
			}
		}
	}
}

func wantExistingState(want bool) step {
	return func(t *testing.T, s raftStore) {
		t.Helper()
		got, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore())
		if err != nil || got != want {
			t.Fatalf("raft.HasExistingState = %v, %v; want %v", got, err, want)
		}
	}
}
