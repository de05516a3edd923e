package logstore

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"
)

// raftStore is what raft needs from a store; both *Store and
// *raft.InmemStore implement it.
type raftStore interface {
	raft.LogStore
	raft.StableStore
}

// logCmpOpts compares raft.Log values: times by instant (the store drops the
// monotonic reading and the zone), byte slices with bytes.Equal (so empty
// and nil are equal, and large ones compare fast).
var logCmpOpts = cmp.Options{
	cmp.Comparer(bytes.Equal),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

// testEntry returns a deterministic entry whose fields all depend on index
// and term, so a stale or misplaced entry never compares equal.
func testEntry(index, term uint64) *raft.Log {
	l := &raft.Log{
		Index: index,
		Term:  term,
		Type:  raft.LogType(index % 6),
		Data:  fmt.Appendf(nil, "entry %d of term %d", index, term),
	}
	if index%3 == 0 {
		l.Extensions = fmt.Appendf(nil, "ext-%d", index*term)
	}
	if index%4 != 0 {
		l.AppendedAt = time.Unix(1_700_000_000+int64(index), int64(index*7919%1_000_000_000))
	}
	return l
}

// testEntries returns testEntry(i, term) for i in [first, last].
func testEntries(first, last, term uint64) []*raft.Log {
	logs := make([]*raft.Log, 0, last-first+1)
	for i := first; ; i++ { // written so that last = MaxUint64 ends
		logs = append(logs, testEntry(i, term))
		if i == last {
			return logs
		}
	}
}

// openMem opens a store on a fresh crashable in-memory filesystem.
func openMem(t testing.TB) (*Store, *vfs.MemFS) {
	t.Helper()
	fs := vfs.NewCrashableMem()
	return mustOpen(t, fs), fs
}

func mustOpen(t testing.TB, fs vfs.FS) *Store {
	t.Helper()
	s, err := Open("/db", Options{FS: fs, MemTableBytes: minMemTableBytes})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// quietPebble is a Pebble logger for databases tests open directly.
func quietPebble(testing.TB) *pebbleLogger {
	return &pebbleLogger{log: slog.New(slog.DiscardHandler)}
}

func mustClose(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// stableVal is one stable-store value of either kind.
type stableVal struct {
	isUint bool
	b      []byte
	u      uint64
}

// model is the state a store must hold after a sequence of acknowledged
// operations. Workloads keep its log contiguous.
type model struct {
	logs   map[uint64]*raft.Log
	stable map[string]stableVal
}

func newModel() *model {
	return &model{logs: map[uint64]*raft.Log{}, stable: map[string]stableVal{}}
}

func (m *model) bounds() (first, last uint64) {
	for i := range m.logs {
		if first == 0 || i < first {
			first = i
		}
		last = max(last, i)
	}
	return first, last
}

// stableKeys are the keys workloads write: raft's own.
var stableKeys = []string{"CurrentTerm", "LastVoteTerm", "LastVoteCand"}

// check compares the whole content of s with m and returns the first
// difference, or nil.
func (m *model) check(s raftStore) error {
	wantFirst, wantLast := m.bounds()
	first, err := s.FirstIndex()
	if err != nil {
		return fmt.Errorf("FirstIndex: %w", err)
	}
	last, err := s.LastIndex()
	if err != nil {
		return fmt.Errorf("LastIndex: %w", err)
	}
	if first != wantFirst || last != wantLast {
		return fmt.Errorf("bounds [%d,%d], want [%d,%d]", first, last, wantFirst, wantLast)
	}
	for i := first; i <= last && last != 0; i++ {
		var got raft.Log
		if err := s.GetLog(i, &got); err != nil {
			return fmt.Errorf("GetLog(%d) inside [%d,%d]: %w", i, first, last, err)
		}
		if d := cmp.Diff(m.logs[i], &got, logCmpOpts); d != "" {
			return fmt.Errorf("GetLog(%d) (-want +got):\n%s", i, d)
		}
	}
	for _, edge := range []uint64{first - 1, last + 1} {
		var l raft.Log
		if err := s.GetLog(edge, &l); edge != 0 && !errors.Is(err, raft.ErrLogNotFound) {
			return fmt.Errorf("GetLog(%d) outside [%d,%d] = %v, want ErrLogNotFound", edge, first, last, err)
		}
	}
	return m.checkStable(s)
}

func (m *model) checkStable(s raftStore) error {
	for _, k := range stableKeys {
		want, ok := m.stable[k]
		switch {
		case !ok:
			if v, err := s.Get([]byte(k)); err == nil || err.Error() != "not found" || v != nil {
				return fmt.Errorf("Get(%q) = %q, %v; want absent", k, v, err)
			}
		case want.isUint:
			if v, err := s.GetUint64([]byte(k)); err != nil || v != want.u {
				return fmt.Errorf("GetUint64(%q) = %d, %v; want %d", k, v, err, want.u)
			}
		default:
			if v, err := s.Get([]byte(k)); err != nil || string(v) != string(want.b) {
				return fmt.Errorf("Get(%q) = %q, %v; want %q", k, v, err, want.b)
			}
		}
	}
	return nil
}
