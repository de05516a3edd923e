package logstore

import (
	"errors"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/hashicorp/raft"
)

// faultSeeds is how many seeds each disk-fault test runs.
func faultSeeds() int64 {
	if testing.Short() {
		return 16
	}
	return 64
}

// faultyFS wraps a crashable in-memory filesystem with an error injector
// that starts switched off.
type faultyFS struct {
	mem     *vfs.MemFS
	toggle  *errorfs.Toggle
	counter *errorfs.Counter
	fs      vfs.FS
}

func newFaultyFS(pred errorfs.Predicate) *faultyFS {
	f := &faultyFS{mem: vfs.NewCrashableMem()}
	f.counter = &errorfs.Counter{Injector: errorfs.ErrInjected.If(pred)}
	f.toggle = &errorfs.Toggle{Injector: f.counter}
	f.fs = errorfs.Wrap(f.mem, f.toggle)
	return f
}

// TestDiskFaultsNeverFalseSuccess injects random I/O errors into every
// filesystem operation while a workload writes. A call that hit an injected
// error must return an error; the first such error is fatal and every later
// call fails too. After the faults stop, both the database as it stands and
// a crash clone holding only synced data reopen to exactly the acknowledged
// state, or the acknowledged state plus the one call that failed (a failed
// call may or may not have taken effect). A false success would be missing
// from the crash clone.
//
// The workload stays inside Pebble's first memtable: only the WAL sees
// faults, and no background flush can hit one (Pebble stops the process on
// a failed background MANIFEST update; see doc.go).
func TestDiskFaultsNeverFalseSuccess(t *testing.T) {
	t.Parallel()
	var faulted, ackedTotal int
	for seed := range faultSeeds() {
		f := newFaultyFS(errorfs.Randomly(0.03, seed))
		ops := newWorkload(uint64(seed), 300).ops(80)
		s := mustOpen(t, f.fs)
		f.toggle.On()
		acked, failErr := runWithFaults(t, s, ops)
		f.toggle.Off()
		ackedTotal += acked
		injected := f.counter.Load()
		if injected > 0 && failErr == nil {
			t.Fatalf("seed %d: %d errors injected and every call succeeded", seed, injected)
		}
		if failErr != nil {
			faulted++
			if !errors.Is(failErr, ErrFatal) {
				t.Fatalf("seed %d: first failure %v does not wrap ErrFatal", seed, failErr)
			}
		}
		_ = s.Close() // may report the injected error again
		hi := min(acked+1, len(ops))
		for _, fs := range []vfs.FS{f.mem.CrashClone(vfs.CrashCloneCfg{}), f.mem} {
			s2 := mustOpen(t, fs)
			if _, err := matchPrefix(s2, ops, acked, hi); err != nil {
				t.Fatalf("seed %d: %d calls acknowledged: %v", seed, acked, err)
			}
			mustClose(t, s2)
		}
	}
	t.Logf("%d of %d seeds hit a fault, after %d acknowledged calls on average",
		faulted, faultSeeds(), ackedTotal/int(faultSeeds()))
	if faulted < int(faultSeeds())/4 {
		t.Fatalf("only %d of %d seeds hit a fault; the test is not exercising failures", faulted, faultSeeds())
	}
}

// runWithFaults applies ops until one fails, checks that the store then
// refuses every call, and returns the count of acknowledged calls and the
// first error.
func runWithFaults(t *testing.T, s *Store, ops []op) (int, error) {
	t.Helper()
	m := newModel()
	for i, o := range ops {
		if err := o.apply(s); err != nil {
			checkFailedStore(t, s)
			return i, err
		}
		o.applyModel(m)
		// Reads during the fault phase are either errors or right.
		if first, last := m.bounds(); last != 0 {
			var l raft.Log
			if err := s.GetLog(last, &l); err == nil && l.Term != m.logs[last].Term {
				t.Fatalf("GetLog(%d) read term %d, want %d", last, l.Term, m.logs[last].Term)
			}
			if got, err := s.FirstIndex(); err == nil && got != first {
				t.Fatalf("FirstIndex = %d, want %d", got, first)
			}
		}
	}
	return len(ops), nil
}

// checkFailedStore checks that a store that reported a fatal error refuses
// every later call instead of using Pebble's wedged commit pipeline.
func checkFailedStore(t *testing.T, s *Store) {
	t.Helper()
	var l raft.Log
	_, errLast := s.LastIndex()
	_, errGet := s.GetUint64([]byte("CurrentTerm"))
	for name, err := range map[string]error{
		"StoreLogs": s.StoreLog(testEntry(1_000_000, 9)), "DeleteRange": s.DeleteRange(1, 2),
		"SetUint64": s.SetUint64([]byte("CurrentTerm"), 99), "GetLog": s.GetLog(1, &l),
		"LastIndex": errLast, "GetUint64": errGet,
	} {
		if !errors.Is(err, ErrFatal) {
			t.Fatalf("%s on a failed store: %v, want ErrFatal", name, err)
		}
	}
}

// TestDiskFaultsOnRead injects errors into sstable reads: GetLog returns an
// error or the right entry, never a wrong one, and nothing is lost.
func TestDiskFaultsOnRead(t *testing.T) {
	t.Parallel()
	var failedReads int
	for seed := range faultSeeds() / 4 {
		f := newFaultyFS(errorfs.And(errorfs.Reads, errorfs.PathMatch("/db/*.sst"), errorfs.Randomly(0.2, seed)))
		s := mustOpen(t, f.fs)
		// Past the 1 MiB memtable, so most entries are read from sstables.
		ops := newWorkload(uint64(seed), 4000).ops(400)
		applyAll(t, s, ops)
		mustClose(t, s)
		m := modelAfter(ops)
		s = mustOpen(t, f.fs)
		f.toggle.On()
		for i := range m.logs {
			var l raft.Log
			err := s.GetLog(i, &l)
			switch {
			case err != nil:
				failedReads++
			case l.Term != m.logs[i].Term || len(l.Data) != len(m.logs[i].Data):
				t.Fatalf("seed %d: GetLog(%d) under read faults returned a wrong entry", seed, i)
			}
		}
		f.toggle.Off()
		if err := m.check(s); err != nil {
			t.Fatalf("seed %d: after read faults: %v", seed, err)
		}
		mustClose(t, s)
	}
	if failedReads == 0 {
		t.Fatal("no read failed; the test is not exercising read faults")
	}
}

// notManifest matches operations on every file but the MANIFEST, its
// marker and the store directory (whose sync commits a MANIFEST switch).
type notManifest struct{}

func (notManifest) String() string { return "(Not MANIFEST)" }

func (notManifest) Evaluate(op errorfs.Op) bool {
	return !strings.Contains(op.Path, "MANIFEST") && op.Path != "/db"
}

// TestDiskFaultsDuringOpen injects errors while a store with data opens: Open
// either fails or returns a store holding exactly the data, and a later Open
// without faults finds the data intact.
//
// Two Pebble behaviours shape the fault plans (see doc.go). Every Open
// updates the MANIFEST from a flush goroutine, where a failure stops the
// process by design, so MANIFEST writes are spared. And in Pebble v2.1.7 an
// Open that fails after flushing replayed WAL data frees its file cache while
// a table-statistics goroutine it started still uses it, which panics; so
// with a WAL to replay only reads of the store's files fail (recovery does
// them before that flush), and the plan that fails writes too runs on a store
// whose WAL was flushed beforehand, so Open's flush writes no table.
func TestDiskFaultsDuringOpen(t *testing.T) {
	t.Parallel()
	plans := []struct {
		name  string
		clean bool // flush the WAL first, leaving nothing to replay
		pred  func(seed int64) errorfs.Predicate
	}{
		{"reads while replaying the WAL", false, func(seed int64) errorfs.Predicate {
			return errorfs.And(errorfs.Reads, errorfs.PathMatch("/db/*"), errorfs.Randomly(0.1, seed))
		}},
		{"any operation but the MANIFEST's, nothing to replay", true, func(seed int64) errorfs.Predicate {
			return errorfs.And(notManifest{}, errorfs.Randomly(0.05, seed))
		}},
	}
	for _, plan := range plans {
		t.Run(plan.name, func(t *testing.T) {
			t.Parallel()
			var failedOpens int
			for seed := range faultSeeds() {
				if openWithFaults(t, newFaultyFS(plan.pred(seed)), uint64(seed), plan.clean) {
					failedOpens++
				}
			}
			t.Logf("%d of %d opens failed under faults", failedOpens, faultSeeds())
			if failedOpens == 0 {
				t.Fatal("no Open failed; the test is not exercising faults")
			}
		})
	}
}

// openWithFaults writes a workload, opens the store with faults on and
// checks the outcome. It reports whether that Open failed.
func openWithFaults(t *testing.T, f *faultyFS, seed uint64, clean bool) bool {
	t.Helper()
	ops := newWorkload(seed, 200).ops(40)
	s := mustOpen(t, f.fs)
	applyAll(t, s, ops)
	mustClose(t, s)
	if clean {
		flushRaw(t, f.fs)
	}
	m := modelAfter(ops)
	f.toggle.On()
	s, openErr := Open("/db", Options{FS: f.fs})
	f.toggle.Off()
	if openErr == nil {
		if err := m.check(s); err != nil {
			t.Fatalf("seed %d: Open under faults succeeded with wrong content: %v", seed, err)
		}
		_ = s.Close()
	}
	s = mustOpen(t, f.mem)
	if err := m.check(s); err != nil {
		t.Fatalf("seed %d: after faults during Open (%v): %v", seed, openErr, err)
	}
	mustClose(t, s)
	return openErr != nil
}

// flushRaw opens the store's database directly and flushes its memtable, so
// the next Open has no WAL to replay and schedules no flush.
func flushRaw(t *testing.T, fs vfs.FS) {
	t.Helper()
	db, err := pebble.Open("/db", &pebble.Options{FS: fs, Logger: quietPebble(t), FormatMajorVersion: pebble.FormatTableFormatV6})
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(db.Flush(), db.Close()); err != nil {
		t.Fatal(err)
	}
}
