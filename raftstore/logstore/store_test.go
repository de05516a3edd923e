package logstore

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// TestStableMissingIsExactlyNotFound pins the strings raft compares with:
// err.Error() == "not found" for both getters, a nil slice from Get.
func TestStableMissingIsExactlyNotFound(t *testing.T) {
	t.Parallel()
	s, _ := openMem(t)
	v, err := s.Get([]byte("LastVoteCand"))
	if v != nil || err == nil || err.Error() != "not found" || !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get = %q, %v; want nil, exactly \"not found\"", v, err)
	}
	u, err := s.GetUint64([]byte("CurrentTerm"))
	if u != 0 || err == nil || err.Error() != "not found" {
		t.Fatalf("GetUint64 = %d, %v; want 0, exactly \"not found\"", u, err)
	}
}

func TestStableKindsAreChecked(t *testing.T) {
	t.Parallel()
	s, _ := openMem(t)
	if err := s.SetUint64([]byte("k"), 7); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get([]byte("k")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Get of a uint64 key: %v, want ErrInvalid", err)
	}
	if err := s.Set([]byte("k"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUint64([]byte("k")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("GetUint64 of a bytes key: %v, want ErrInvalid", err)
	}
	// A value set to nil is present and empty, unlike an absent key.
	if v, err := s.Get([]byte("k")); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get after Set(nil) = %#v, %v; want empty non-nil", v, err)
	}
}

// TestReturnedValuesAreCopies checks that nothing returned aliases Pebble's
// memory: values stay intact after the store is written, closed and after
// the caller changes them.
func TestReturnedValuesAreCopies(t *testing.T) {
	t.Parallel()
	s, _ := openMem(t)
	want := testEntry(3, 1)
	if err := s.StoreLogs([]*raft.Log{want}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("k"), []byte("value")); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := s.GetLog(3, &got); err != nil {
		t.Fatal(err)
	}
	v, err := s.Get([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(testEntries(3, 400, 2)); err != nil { // overwrite, and churn the memtable
		t.Fatal(err)
	}
	mustClose(t, s)
	if !bytes.Equal(got.Data, want.Data) || string(v) != "value" {
		t.Fatalf("returned values changed: %q, %q", got.Data, v)
	}
	got.Data[0] ^= 0xff // must not fault or reach any shared memory
}

// TestLogBytes checks LogBytes against the sum it approximates, through the
// write patterns raft uses and across a reopen.
func TestLogBytes(t *testing.T) {
	t.Parallel()
	s, fs := openMem(t)
	m := newModel()
	do := func(o op) {
		t.Helper()
		if err := o.apply(s); err != nil {
			t.Fatal(err)
		}
		o.applyModel(m)
		checkLogBytes(t, s, m)
	}
	checkLogBytes(t, s, m)
	do(op{kind: opAppend, logs: testEntries(1, 50, 1)})
	big := *fieldEntries()[5] // 301 KB of Data and Extensions
	big.Index = 51
	do(op{kind: opAppend, logs: []*raft.Log{&big}})
	do(op{kind: opAppend, logs: testEntries(52, 60, 1)})
	do(op{kind: opDelete, min: 40, max: 60})
	do(op{kind: opAppend, logs: testEntries(40, 45, 2)})
	do(op{kind: opDelete, min: 1, max: 10})
	mustClose(t, s)
	s = mustOpen(t, fs)
	checkLogBytes(t, s, m)
	do(op{kind: opAppend, logs: testEntries(46, 47, 2)})
	do(op{kind: opDelete, min: 11, max: 47})
	if s.LogBytes() != 0 {
		t.Fatalf("LogBytes of an empty log = %d", s.LogBytes())
	}
}

func TestDeleteRangeToMaxUint64(t *testing.T) {
	t.Parallel()
	s, fs := openMem(t)
	storeLogs(testEntries(math.MaxUint64-3, math.MaxUint64, 1)...)(t, s)
	wantBounds(math.MaxUint64-3, math.MaxUint64)(t, s)
	deleteRange(math.MaxUint64-1, math.MaxUint64)(t, s)
	wantBounds(math.MaxUint64-3, math.MaxUint64-2)(t, s)
	wantMissing(math.MaxUint64-1, math.MaxUint64)(t, s)
	deleteRange(0, math.MaxUint64)(t, s)
	wantBounds(0, 0)(t, s)
	mustClose(t, s)
	wantBounds(0, 0)(t, mustOpen(t, fs))
}

func TestInvalidCallsRefused(t *testing.T) {
	t.Parallel()
	s, err := Open("/db", Options{FS: vfs.NewMem(), MaxEntryBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	big := &raft.Log{Index: 1, Data: make([]byte, 999), Extensions: []byte{1, 2}}
	cases := map[string]error{
		"nil entry":      s.StoreLogs([]*raft.Log{testEntry(1, 1), nil}),
		"index 0":        s.StoreLog(&raft.Log{Index: 0}),
		"entry too big":  s.StoreLog(big),
		"nil *raft.Log":  s.GetLog(1, nil),
		"long key":       s.Set(bytes.Repeat([]byte{'k'}, maxStableKeyBytes+1), nil),
		"long value":     s.Set([]byte("k"), make([]byte, maxStableValueBytes+1)),
		"long key (get)": func() error { _, err := s.Get(bytes.Repeat([]byte{'k'}, maxStableKeyBytes+1)); return err }(),
	}
	for name, err := range cases {
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	// A refused batch writes nothing, not even its valid entries.
	wantBounds(0, 0)(t, s)

	// A batch too large for one Pebble batch is refused before encoding;
	// its entries share one Data slice, so the test allocates 1 MiB.
	s2, _ := openMem(t)
	data := make([]byte, 1<<20)
	logs := make([]*raft.Log, maxBatchBytes>>20+1)
	for i := range logs {
		logs[i] = &raft.Log{Index: uint64(i + 1), Data: data}
	}
	if err := s2.StoreLogs(logs); !errors.Is(err, ErrInvalid) {
		t.Fatalf("StoreLogs of %d MiB: %v, want ErrInvalid", len(logs), err)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	s, _ := openMem(t)
	storeLogs(testEntries(1, 5, 1)...)(t, s)
	mustClose(t, s)
	mustClose(t, s) // idempotent
	var l raft.Log
	_, errFirst := s.FirstIndex()
	_, errGet := s.Get([]byte("k"))
	for name, err := range map[string]error{
		"FirstIndex": errFirst, "GetLog": s.GetLog(1, &l), "StoreLogs": s.StoreLog(testEntry(6, 1)),
		"DeleteRange": s.DeleteRange(1, 2), "Set": s.SetUint64([]byte("k"), 1), "Get": errGet,
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	if s.LogBytes() != 0 {
		t.Errorf("LogBytes after Close = %d", s.LogBytes())
	}
}

func TestOpenRefusesForeignDatabase(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := pebble.Open("/fsm", &pebble.Options{FS: fs, Logger: quietPebble(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Set([]byte("applied"), []byte{1}, pebble.Sync), db.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("/fsm", Options{FS: fs}); !errors.Is(err, ErrNotLogStore) {
		t.Fatalf("Open of a foreign database: %v, want ErrNotLogStore", err)
	}
}

// rawPut writes key=value straight into the store's database, bypassing the
// store, to plant corruption.
func rawPut(t *testing.T, fs vfs.FS, key, value []byte) {
	t.Helper()
	db, err := pebble.Open("/db", &pebble.Options{FS: fs, Logger: quietPebble(t), FormatMajorVersion: pebble.FormatTableFormatV6})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Set(key, value, pebble.Sync), db.Close()); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptionIsReported(t *testing.T) {
	t.Parallel()
	s, fs := openMem(t)
	storeLogs(testEntries(1, 10, 1)...)(t, s)
	mustClose(t, s)
	flipped := encodeForTest(testEntry(4, 1), 0)
	flipped[len(flipped)/2] ^= 0x10
	rawPut(t, fs, logKey(4), flipped)
	rawPut(t, fs, logKey(5), encodeForTest(testEntry(6, 1), 0)) // a valid entry under the wrong key
	rawPut(t, fs, stableKey([]byte("CurrentTerm")), []byte{stableVersion, stableKindUint64, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})

	s = mustOpen(t, fs)
	var l raft.Log
	for _, i := range []uint64{4, 5} {
		if err := s.GetLog(i, &l); !errors.Is(err, ErrCorrupt) {
			t.Errorf("GetLog(%d) of a corrupt value: %v, want ErrCorrupt", i, err)
		}
	}
	if _, err := s.GetUint64([]byte("CurrentTerm")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("GetUint64 of a corrupt value: %v, want ErrCorrupt", err)
	}
	wantLogs(testEntry(3, 1), testEntry(6, 1))(t, s)
	mustClose(t, s)

	// A corrupt first or last entry makes Open fail rather than guess bounds.
	rawPut(t, fs, logKey(10), flipped)
	if _, err := Open("/db", Options{FS: fs}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with a corrupt last entry: %v, want ErrCorrupt", err)
	}
}

// TestConcurrentUse runs raft's concurrent pattern under -race: one goroutine
// appends (the main loop), one compacts (the snapshot goroutine), others read
// (replication). Readers must see only correct entries or ErrLogNotFound.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s, _ := openMem(t)
	const total = 600
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	wg.Go(func() {
		for i := uint64(1); i <= total; i += 6 {
			if err := s.StoreLogs(testEntries(i, i+5, 1)); err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Go(func() {
		for k := uint64(50); k < total; k += 50 {
			if err := s.DeleteRange(0, k-40); err != nil {
				errs <- err
				return
			}
		}
	})
	for range 3 {
		wg.Go(func() { errs <- readWhileWriting(s, total) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	last, err := s.LastIndex()
	if err != nil || last != total {
		t.Fatalf("LastIndex = %d, %v; want %d", last, err, total)
	}
}

func readWhileWriting(s *Store, total uint64) error {
	for n := 0; n < 400; n++ {
		first, err1 := s.FirstIndex()
		last, err2 := s.LastIndex()
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		_ = s.LogBytes()
		for _, i := range []uint64{first, (first + last) / 2, last} {
			var l raft.Log
			err := s.GetLog(i, &l)
			if errors.Is(err, raft.ErrLogNotFound) {
				continue // compacted, or not yet written
			}
			if err != nil {
				return err
			}
			if l.Index != i || !bytes.Equal(l.Data, testEntry(i, 1).Data) {
				return errors.New("read a wrong entry: " + string(l.Data))
			}
		}
		if last >= total {
			return nil
		}
	}
	return nil
}

func TestOptionsValidate(t *testing.T) {
	t.Parallel()
	if err := (Options{}).Validate(); err != nil {
		t.Fatalf("zero Options: %v", err)
	}
	err := Options{MaxEntryBytes: MaxMaxEntryBytes + 1, CacheBytes: -1, MemTableBytes: 10, MaxOpenFiles: 3}.Validate()
	for _, field := range []string{"MaxEntryBytes", "CacheBytes", "MemTableBytes", "MaxOpenFiles"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate did not report %s: %v", field, err)
		}
	}
	if _, err := Open("/x", Options{FS: vfs.NewMem(), MaxOpenFiles: 1}); err == nil {
		t.Fatal("Open accepted invalid Options")
	}
}

// TestGetLogAllocs pins the cost of a read: the key and one buffer holding
// Data and Extensions, copied out of Pebble.
func TestGetLogAllocs(t *testing.T) {
	s, _ := openMem(t)
	storeLogs(testEntries(1, 10, 1)...)(t, s)
	var l raft.Log
	allocs := testing.AllocsPerRun(100, func() {
		if err := s.GetLog(3, &l); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Fatalf("GetLog allocates %.1f times, want at most 2", allocs)
	}
}
