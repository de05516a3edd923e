package logstore

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// crashSeeds is how many seeds each crash test runs.
func crashSeeds() uint64 {
	if testing.Short() {
		return 12
	}
	return 48
}

// crashClone returns a possible state of fs after a crash now, keeping a
// seed-chosen share of the data that was never synced.
func crashClone(fs *vfs.MemFS, seed uint64) *vfs.MemFS {
	rng := rand.New(rand.NewPCG(seed, 0xc7a54))
	return fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(101), RNG: rng})
}

// TestCrashKeepsAcknowledged crashes a store between calls: everything
// acknowledged (appends, truncations, stable writes) is there after
// reopening, exactly, and the reopened store keeps working.
func TestCrashKeepsAcknowledged(t *testing.T) {
	t.Parallel()
	for seed := range crashSeeds() {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			w := newWorkload(seed, 3000)
			ops := w.ops(160)
			crashAt := 1 + int(seed*37)%(len(ops)-1)
			s, fs := openMem(t)
			applyAll(t, s, ops[:crashAt])
			// Sync-only data must be enough: the clone keeps a random share
			// of what was never synced, which must not matter.
			clone := crashClone(fs, seed)
			s2 := mustOpen(t, clone)
			if err := modelAfter(ops[:crashAt]).check(s2); err != nil {
				t.Fatalf("after a crash at op %d: %v", crashAt, err)
			}
			applyAll(t, s2, ops[crashAt:])
			if err := modelAfter(ops).check(s2); err != nil {
				t.Fatalf("writing on after recovery: %v", err)
			}
			checkLogBytes(t, s2, modelAfter(ops))
		})
	}
}

// TestCrashDuringWrites crashes a store while a writer is in the middle of
// its calls. The recovered state must be exactly the state after some
// prefix of the calls that includes every call acknowledged before the
// crash: each call is atomic, nothing acknowledged is lost, nothing deleted
// comes back, and FirstIndex..LastIndex is a contiguous readable range.
func TestCrashDuringWrites(t *testing.T) {
	t.Parallel()
	for seed := range crashSeeds() {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel()
			ops := newWorkload(seed, 2000).ops(400)
			s, fs := openMem(t)
			var acked atomic.Int64
			started, stop, done := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			target := 20 + int64(seed*13)%200
			go func() {
				done <- runUntil(s, ops, &acked, target, started, stop)
			}()
			<-started
			before := acked.Load()
			clone := crashClone(fs, seed)
			after := acked.Load()
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			s2 := mustOpen(t, clone)
			m, err := matchPrefix(s2, ops, int(before), min(int(after)+1, len(ops)))
			if err != nil {
				t.Fatalf("crash with %d calls acknowledged before and %d after: %v", before, after, err)
			}
			t.Logf("recovered the state after %d calls (%d acknowledged before the crash, %d after)", m, before, after)
		})
	}
}

// runUntil applies ops in order, counting acknowledged calls in acked. It
// closes started once target calls are acknowledged and stops at stop.
func runUntil(s *Store, ops []op, acked *atomic.Int64, target int64, started, stop chan struct{}) error {
	defer func() {
		if acked.Load() < target {
			close(started)
		}
	}()
	for i, o := range ops {
		select {
		case <-stop:
			return nil
		default:
		}
		if err := o.apply(s); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
		if acked.Add(1) == target {
			close(started)
		}
	}
	return nil
}

// matchPrefix returns the m in [lo, hi] such that s holds exactly the state
// after ops[:m], or an error listing how each candidate differs.
func matchPrefix(s raftStore, ops []op, lo, hi int) (int, error) {
	var errs []string
	for m := lo; m <= hi; m++ {
		err := modelAfter(ops[:m]).check(s)
		if err == nil {
			return m, nil
		}
		errs = append(errs, fmt.Sprintf("  after %d calls: %v", m, err))
	}
	return 0, fmt.Errorf("state matches no prefix:\n%s", strings.Join(errs, "\n"))
}

func applyAll(t *testing.T, s raftStore, ops []op) {
	t.Helper()
	for i, o := range ops {
		if err := o.apply(s); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
}

// checkLogBytes compares LogBytes with the sum of what it counts per entry:
// the workloads write as raft does, where LogBytes is exact.
func checkLogBytes(t *testing.T, s *Store, m *model) {
	t.Helper()
	var want int64
	for _, l := range m.logs {
		want += int64(accountedBytes(l))
	}
	if got := s.LogBytes(); got != want {
		t.Errorf("LogBytes = %d, want %d", got, want)
	}
}
