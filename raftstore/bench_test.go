package raftstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	dto "github.com/prometheus/client_model/go"
)

// benchPayloadBytes is the value size of the benchmark commands: a small
// MQTT message.
const benchPayloadBytes = 128

// BenchmarkPropose measures committed proposals per second through raft on
// a real disk, at 1, 16 and 256 concurrent proposers. Compare with
// BenchmarkPebbleSyncedSet, the same disk without raft.
func BenchmarkPropose(b *testing.B) {
	for _, proposers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("proposers=%d", proposers), func(b *testing.B) {
			cfg := testConfig(b, b.TempDir())
			s := openStore(b, cfg)
			defer s.Close()
			value := make([]byte, benchPayloadBytes)
			runConcurrently(b, proposers, func(i int64) error {
				key := binary.BigEndian.AppendUint64([]byte("k"), uint64(i))
				c, err := KVPut(key, value)
				if err != nil {
					return err
				}
				_, err = s.Propose(context.Background(), c)
				return err
			})
			reportPacking(b, s)
		})
	}
}

// reportPacking reports how many commands the proposer packed per raft
// entry on average.
func reportPacking(b *testing.B, s *Store) {
	var m dto.Metric
	if err := s.metrics.entryCommands.Write(&m); err != nil {
		b.Fatal(err)
	}
	if h := m.GetHistogram(); h.GetSampleCount() > 0 {
		b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount()), "cmds/entry")
	}
}

// BenchmarkProposeThreeNodes is BenchmarkPropose on a three-node cluster
// over loopback TCP, all three on the same disk.
func BenchmarkProposeThreeNodes(b *testing.B) {
	for _, proposers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("proposers=%d", proposers), func(b *testing.B) {
			stores, _ := openCluster(b, 3, func(*Config) {})
			defer func() {
				for _, s := range stores {
					s.Close()
				}
			}()
			value := make([]byte, benchPayloadBytes)
			runConcurrently(b, proposers, func(i int64) error {
				c, err := KVPut(binary.BigEndian.AppendUint64([]byte("k"), uint64(i)), value)
				if err != nil {
					return err
				}
				_, err = stores[0].Propose(context.Background(), c)
				return err
			})
			reportPacking(b, stores[0])
		})
	}
}

// BenchmarkPebbleSyncedSet is the reference: a synced Pebble Set of the
// same size per operation, from 1, 16 and 256 writers (Pebble groups
// concurrent synced commits into one WAL sync).
func BenchmarkPebbleSyncedSet(b *testing.B) {
	for _, writers := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db, err := pebble.Open(filepath.Join(b.TempDir(), "db"), &pebble.Options{Logger: pebbleLogger{discardLogger()}})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			value := make([]byte, benchPayloadBytes)
			runConcurrently(b, writers, func(i int64) error {
				return db.Set(binary.BigEndian.AppendUint64([]byte("k"), uint64(i)), value, pebble.Sync)
			})
		})
	}
}

// runConcurrently runs op b.N times from n goroutines and reports ops/s
// and payload bytes/s.
func runConcurrently(b *testing.B, n int, op func(i int64) error) {
	b.SetBytes(benchPayloadBytes)
	b.ReportAllocs()
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	b.ResetTimer()
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := op(i); err != nil {
					firstErr.CompareAndSwap(nil, &err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := firstErr.Load(); err != nil {
		b.Fatal(*err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
