package logstore

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// The benchmarks run on a real temporary directory (go test -bench puts it
// on the same disk as TMPDIR), so the figures include the WAL fsync.

var benchEntryBytes = []int{128, 4 << 10}

func openBench(b *testing.B) *Store {
	b.Helper()
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func benchLogs(n, size int) []*raft.Log {
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: make([]byte, size)}
	}
	return logs
}

// reportEntries adds entries/s to the benchmark's output.
func reportEntries(b *testing.B, entries int) {
	b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkStoreLogs measures one synced StoreLogs call per iteration, for
// raft's batch sizes and small and large entries.
func BenchmarkStoreLogs(b *testing.B) {
	for _, size := range benchEntryBytes {
		for _, batch := range []int{1, 16, 256} {
			b.Run(fmt.Sprintf("entry=%dB/batch=%d", size, batch), func(b *testing.B) {
				s := openBench(b)
				logs := benchLogs(batch, size)
				b.ReportAllocs()
				b.SetBytes(int64(batch * size))
				next, calls := uint64(1), 0
				for b.Loop() {
					for _, l := range logs {
						l.Index = next
						next++
					}
					if err := s.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
					calls++
				}
				reportEntries(b, calls*batch)
			})
		}
	}
}

// BenchmarkGetLog measures reading random entries of a 20,000-entry log.
func BenchmarkGetLog(b *testing.B) {
	const n = 20_000
	for _, size := range benchEntryBytes {
		b.Run(fmt.Sprintf("entry=%dB", size), func(b *testing.B) {
			s := openBench(b)
			for i := uint64(1); i <= n; i += 256 {
				logs := benchLogs(256, size)
				for j, l := range logs {
					l.Index = i + uint64(j)
				}
				if err := s.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			b.ReportAllocs()
			b.SetBytes(int64(size))
			var l raft.Log
			for b.Loop() {
				if err := s.GetLog(1+rng.Uint64N(n), &l); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPebbleSyncSet is the baseline: a plain synced Pebble Set of one
// value per iteration, default options, on the same disk.
func BenchmarkPebbleSyncSet(b *testing.B) {
	for _, size := range benchEntryBytes {
		b.Run(fmt.Sprintf("value=%dB", size), func(b *testing.B) {
			db, err := pebble.Open(b.TempDir(), &pebble.Options{Logger: quietPebble(b)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			key, val := make([]byte, 8), make([]byte, size)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			sets := 0
			for b.Loop() {
				binary.BigEndian.PutUint64(key, uint64(sets))
				if err := db.Set(key, val, pebble.Sync); err != nil {
					b.Fatal(err)
				}
				sets++
			}
			reportEntries(b, sets)
		})
	}
}
