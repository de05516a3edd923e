package raftstore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// cacheModel is what the batch cache must agree with: every batch each
// partition stored, and its log start.
type cacheModel struct {
	batches  map[partKey][]modelBatch
	logStart map[partKey]int64
}

type modelBatch struct {
	base, end int64
	data      []byte
}

// want is what a read through Pebble returns: the batches from the one
// holding offset, below hw, up to maxBytes with the first whole.
func (m *cacheModel) want(k partKey, offset, hw int64, maxBytes int) []byte {
	var out []byte
	for _, b := range m.batches[k] {
		if b.end <= offset || b.base >= hw {
			continue
		}
		if len(out) > 0 && len(out)+len(b.data) > maxBytes {
			break
		}
		out = append(out, b.data...)
	}
	return out
}

// TestBatchCacheAgreesWithTheLog appends, trims and drops at random and
// reads at random offsets: whatever the cache answers is a prefix of what
// Pebble would return, made of whole batches and starting with the same
// first batch; and the newest batch of a partition is always cached.
func TestBatchCacheAgreesWithTheLog(t *testing.T) {
	pool := make([]byte, 2<<20) // batches are random slices of it
	prng := rand.New(rand.NewPCG(0, 0))
	for i := range pool {
		pool[i] = byte(prng.Uint32())
	}
	for seed := uint64(1); seed <= 8; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			budget := int64(rng.IntN(3)+1) << 18 // 256 KiB to 768 KiB: eviction happens
			c := newBatchCache(budget)
			m := &cacheModel{batches: map[partKey][]modelBatch{}, logStart: map[partKey]int64{}}
			hw := map[partKey]int64{}
			keys := []partKey{{1, 0}, {1, 1}, {2, 0}}
			hits := 0
			for step := 0; step < 2000; step++ {
				k := keys[rng.IntN(len(keys))]
				switch r := rng.IntN(100); {
				case r < 55: // append a batch
					n := int64(rng.IntN(20) + 1)
					size := rng.IntN(30<<10) + 61
					if rng.IntN(50) == 0 {
						size = rng.IntN(int(budget)) + 1 // sometimes bigger than a chunk
					}
					from := rng.IntN(len(pool) - size)
					data := pool[from : from+size : from+size]
					base := hw[k]
					c.add(k, base, base+n, data)
					m.batches[k] = append(m.batches[k], modelBatch{base, base + n, data})
					hw[k] = base + n
					// The newest batch must be readable from its base.
					got, ok := c.read(k, base, hw[k], 1)
					if !ok || !bytes.Equal(got, data) {
						t.Fatalf("step %d: newest batch of %v at %d not cached (ok %v, %d bytes)", step, k, base, ok, len(got))
					}
				case r < 60: // retention
					bs := m.batches[k]
					if len(bs) == 0 {
						continue
					}
					cut := bs[rng.IntN(len(bs))].base
					for len(bs) > 0 && bs[0].end <= cut {
						bs = bs[1:]
					}
					m.batches[k], m.logStart[k] = bs, cut
					c.trim(k, cut)
				case r < 61: // the topic is deleted and comes back empty
					c.dropTopic(k.num)
					for _, kk := range keys {
						if kk.num == k.num {
							delete(m.batches, kk)
							delete(hw, kk)
							m.logStart[kk] = 0
						}
					}
				default: // read
					if hw[k] == m.logStart[k] {
						continue
					}
					offset := m.logStart[k] + rng.Int64N(hw[k]-m.logStart[k])
					readHW := hw[k] - rng.Int64N(hw[k]-offset) // an older high watermark
					maxBytes := rng.IntN(200 << 10)
					got, ok := c.read(k, offset, readHW, maxBytes)
					if !ok {
						continue
					}
					hits++
					want := m.want(k, offset, readHW, maxBytes)
					if !bytes.HasPrefix(want, got) {
						t.Fatalf("step %d: read %v at %d (hw %d, max %d): cache answered %d bytes that are not a prefix of the log's %d", step, k, offset, readHW, maxBytes, len(got), len(want))
					}
					if first := m.want(k, offset, readHW, 0); !bytes.HasPrefix(got, first) {
						t.Fatalf("step %d: read %v at %d: the cache's answer does not start with the whole batch holding the offset", step, k, offset)
					}
					if !wholeBatches(m.batches[k], offset, got) {
						t.Fatalf("step %d: read %v at %d: the cache's answer ends inside a batch", step, k, offset)
					}
				}
				if c.usedBytes() > budget {
					t.Fatalf("step %d: the cache holds %d bytes, budget %d", step, c.usedBytes(), budget)
				}
			}
			if hits == 0 {
				t.Fatal("no read was answered from the cache")
			}
		})
	}
}

// wholeBatches reports whether got is a run of whole batches of bs,
// starting with the one holding offset.
func wholeBatches(bs []modelBatch, offset int64, got []byte) bool {
	n := 0
	for _, b := range bs {
		if b.end <= offset {
			continue
		}
		if n == len(got) {
			return true
		}
		n += len(b.data)
		if n > len(got) {
			return false
		}
	}
	return n == len(got)
}

// TestBatchCacheDisabled: a zero budget caches nothing and answers no read.
func TestBatchCacheDisabled(t *testing.T) {
	c := newBatchCache(0)
	c.add(partKey{1, 0}, 0, 1, []byte("batch"))
	if _, ok := c.read(partKey{1, 0}, 0, 1, 100); ok {
		t.Fatal("a disabled cache answered a read")
	}
	if c.usedBytes() != 0 {
		t.Fatalf("a disabled cache holds %d bytes", c.usedBytes())
	}
}
