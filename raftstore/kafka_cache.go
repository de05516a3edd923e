package raftstore

import (
	"sort"
	"sync"
	"sync/atomic"
)

// batchCache keeps the newest stored batches of every partition in memory,
// so that a Fetch at the tail of a partition (a consumer keeping up, the
// common case) is answered with a slice of memory instead of a Pebble
// iterator and a copy; the Kafka broker's page cache plays this part.
// Reading through Pebble served a raw client at about half of what the
// same bytes reach over loopback; that copy out of the LSM was the limit.
//
// Batches are appended back to back into chunks of chunkBytes, each chunk
// belonging to one partition, so consecutive batches are one contiguous
// slice and a read returns a sub-slice of a chunk without copying. Bytes
// written into a chunk are never written again: a reader may hold a slice
// for as long as it likes, and a chunk dropped from the cache lives on
// until its last reader is done with it.
//
// The cache is local and never part of the replicated state. Apply adds a
// batch when it stores it, before its Pebble batch commits: readers only
// ever ask for offsets below the high watermark they read from the index,
// which moves after the commit, so they never see a batch early. Each
// partition's cached batches are contiguous up to the last one stored;
// reads below the first cached batch, or of partitions not cached, go to
// Pebble. The budget is kept by dropping the oldest chunks of the whole
// node first, which for one partition is always its lowest offsets.
type batchCache struct {
	budget     int64 // bytes of chunks kept; 0 disables the cache
	chunkBytes int

	mu    sync.RWMutex
	parts map[partKey]*cachedPart
	order []*cacheChunk // every chunk not yet evicted, oldest first
	used  int64         // capacity of the live chunks
	// deadInOrder counts the chunks in order dropped by trim or drop.
	deadInOrder int
	hits        atomic.Int64
	misses      atomic.Int64
}

// cachedPart is one partition's chunks, in offset order.
type cachedPart struct {
	chunks []*cacheChunk
}

// cacheChunk holds consecutive batches of one partition.
type cacheChunk struct {
	k      partKey
	buf    []byte  // the batches; cap is fixed at creation
	bases  []int64 // each batch's base offset
	starts []int   // each batch's position in buf
	end    int64   // the offset after the last batch
	dead   bool    // dropped from the cache
}

// maxCacheChunkBytes is the largest chunk: large enough that a fetch of a
// partition's default 1 MiB rarely stops at a chunk's end. Smaller
// budgets get chunks of an eighth of the budget, at least 64 KiB.
const maxCacheChunkBytes = 4 << 20

func newBatchCache(budget int64) *batchCache {
	budget = max(budget, 0)
	chunk := int(min(max(budget/8, 64<<10), maxCacheChunkBytes))
	return &batchCache{budget: budget, chunkBytes: chunk, parts: map[partKey]*cachedPart{}}
}

// add caches a stored batch of partition k holding offsets [base, end).
// The cache copies it.
func (c *batchCache) add(k partKey, base, end int64, batch []byte) {
	if c.budget == 0 {
		return
	}
	if int64(len(batch)) > c.budget {
		c.drop(k) // the partition's chain would have a gap
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[k]
	if p == nil {
		p = &cachedPart{}
		c.parts[k] = p
	}
	var last *cacheChunk
	if n := len(p.chunks); n > 0 {
		last = p.chunks[n-1]
		if last.end != base {
			// Not the next batch (nothing stored in between, but a
			// truncation or restore could get here): start over.
			c.dropPartLocked(k, p)
			p = &cachedPart{}
			c.parts[k] = p
			last = nil
		}
	}
	if last == nil || len(last.buf)+len(batch) > cap(last.buf) {
		last = &cacheChunk{k: k, buf: make([]byte, 0, max(c.chunkBytes, len(batch)))}
		p.chunks = append(p.chunks, last)
		c.order = append(c.order, last)
		c.used += int64(cap(last.buf))
	}
	last.starts = append(last.starts, len(last.buf))
	last.bases = append(last.bases, base)
	last.buf = append(last.buf, batch...) // within cap: never moves
	last.end = end
	c.evictLocked()
}

// evictLocked drops the oldest chunks while the cache is over budget.
func (c *batchCache) evictLocked() {
	for c.used > c.budget && len(c.order) > 0 {
		ch := c.order[0]
		c.order[0] = nil
		c.order = c.order[1:]
		if ch.dead {
			c.deadInOrder--
			continue
		}
		ch.dead = true
		c.used -= int64(cap(ch.buf))
		// The oldest live chunk of a partition is its first.
		if p := c.parts[ch.k]; p != nil && len(p.chunks) > 0 && p.chunks[0] == ch {
			p.chunks[0] = nil
			p.chunks = p.chunks[1:]
			if len(p.chunks) == 0 {
				delete(c.parts, ch.k)
			}
		}
	}
}

// read returns the cached batches of partition k from the one holding
// offset, below hw, up to maxBytes (the first whole), as one slice of
// cached memory the caller must not modify; ok is false when the cache
// does not hold offset.
func (c *batchCache) read(k partKey, offset, hw int64, maxBytes int) (data []byte, ok bool) {
	if c.budget == 0 {
		return nil, false
	}
	c.mu.RLock()
	data, ok = c.readLocked(k, offset, hw, maxBytes)
	c.mu.RUnlock()
	if ok {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return data, ok
}

func (c *batchCache) readLocked(k partKey, offset, hw int64, maxBytes int) ([]byte, bool) {
	p := c.parts[k]
	if p == nil || offset < p.chunks[0].bases[0] || offset >= hw {
		return nil, false
	}
	// The chunk holding offset: the last one starting at or below it.
	ci := sort.Search(len(p.chunks), func(i int) bool { return p.chunks[i].bases[0] > offset }) - 1
	ch := p.chunks[ci]
	if offset >= ch.end {
		return nil, false // not stored yet when the cache was asked
	}
	// Batch j spans [starts[j], endOf(j)); batches start below hw are
	// committed whole (the high watermark moves by whole batches).
	endOf := func(j int) int {
		if j+1 < len(ch.starts) {
			return ch.starts[j+1]
		}
		return len(ch.buf)
	}
	bi := sort.Search(len(ch.bases), func(i int) bool { return ch.bases[i] > offset }) - 1
	from, to := ch.starts[bi], endOf(bi) // the first batch whole
	for j := bi + 1; j < len(ch.bases) && ch.bases[j] < hw && endOf(j)-from <= maxBytes; j++ {
		to = endOf(j)
	}
	return ch.buf[from:to:to], true
}

// trim forgets partition k's chunks wholly below logStart (retention).
func (c *batchCache) trim(k partKey, logStart int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[k]
	if p == nil {
		return
	}
	for len(p.chunks) > 0 && p.chunks[0].end <= logStart {
		c.killLocked(p.chunks[0])
		p.chunks[0] = nil
		p.chunks = p.chunks[1:]
	}
	if len(p.chunks) == 0 {
		delete(c.parts, k)
	}
}

// drop forgets partition k.
func (c *batchCache) drop(k partKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.parts[k]; p != nil {
		c.dropPartLocked(k, p)
	}
}

// dropTopic forgets every partition of topic number num.
func (c *batchCache) dropTopic(num uint32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.parts {
		if k.num == num {
			c.dropPartLocked(k, p)
		}
	}
}

func (c *batchCache) dropPartLocked(k partKey, p *cachedPart) {
	for _, ch := range p.chunks {
		c.killLocked(ch)
	}
	delete(c.parts, k)
}

// killLocked drops a chunk that is still listed in order; order is
// compacted once it is mostly dead chunks.
func (c *batchCache) killLocked(ch *cacheChunk) {
	if ch.dead {
		return
	}
	ch.dead = true
	c.used -= int64(cap(ch.buf))
	c.deadInOrder++
	if c.deadInOrder > 64 && c.deadInOrder > len(c.order)/2 {
		live := c.order[:0]
		for _, x := range c.order {
			if !x.dead {
				live = append(live, x)
			}
		}
		clear(c.order[len(live):])
		c.order = live
		c.deadInOrder = 0
	}
}

// reset forgets everything (the state was replaced by a snapshot).
func (c *batchCache) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.order {
		ch.dead = true
	}
	c.order = nil
	c.deadInOrder = 0
	clear(c.parts)
	c.used = 0
}

// usedBytes is the memory the cache's chunks hold.
func (c *batchCache) usedBytes() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.used
}
