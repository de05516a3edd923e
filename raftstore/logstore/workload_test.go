package logstore

import (
	"math/rand/v2"
	"time"

	"github.com/hashicorp/raft"
)

type opKind int

const (
	opAppend opKind = iota
	opDelete
	opSet
	opSetUint64
)

// op is one store call of a generated workload.
type op struct {
	kind     opKind
	logs     []*raft.Log
	min, max uint64
	key      string
	val      []byte
	u        uint64
}

func (o op) apply(s raftStore) error {
	switch o.kind {
	case opAppend:
		return s.StoreLogs(o.logs)
	case opDelete:
		return s.DeleteRange(o.min, o.max)
	case opSet:
		return s.Set([]byte(o.key), o.val)
	default:
		return s.SetUint64([]byte(o.key), o.u)
	}
}

func (o op) applyModel(m *model) {
	switch o.kind {
	case opAppend:
		for _, l := range o.logs {
			m.logs[l.Index] = l
		}
	case opDelete:
		for i := range m.logs {
			if i >= o.min && i <= o.max {
				delete(m.logs, i)
			}
		}
	case opSet:
		m.stable[o.key] = stableVal{b: o.val}
	default:
		m.stable[o.key] = stableVal{isUint: true, u: o.u}
	}
}

// modelAfter returns the model of the state after ops.
func modelAfter(ops []op) *model {
	m := newModel()
	for _, o := range ops {
		o.applyModel(m)
	}
	return m
}

// workload generates operations in the patterns raft produces: appends at
// the end, suffix truncation before an append of a newer term, prefix
// compaction, removal of the whole log after a snapshot install (the next
// append may then start past the old end), and stable-store writes.
type workload struct {
	rng          *rand.Rand
	maxDataBytes int
	first, last  uint64 // the log's bounds; 0, 0 when empty
	next         uint64 // index of the next append
	term         uint64
}

func newWorkload(seed uint64, maxDataBytes int) *workload {
	return &workload{rng: rand.New(rand.NewPCG(seed, 0x10657073)), maxDataBytes: maxDataBytes, next: 1, term: 1}
}

func (w *workload) ops(n int) []op {
	ops := make([]op, 0, n)
	for len(ops) < n {
		ops = append(ops, w.op())
	}
	return ops
}

func (w *workload) op() op {
	r := w.rng.IntN(100)
	switch {
	case r < 10 && w.last > w.first: // conflict: truncate a suffix
		c := w.first + 1 + w.rng.Uint64N(w.last-w.first)
		o := op{kind: opDelete, min: c, max: w.last}
		w.last, w.next = c-1, c
		w.term++
		return o
	case r < 20 && w.last > w.first+4: // compaction after a snapshot
		c := w.first + w.rng.Uint64N(w.last-w.first)
		o := op{kind: opDelete, min: w.first, max: c}
		w.first = c + 1
		return o
	case r < 24 && w.last != 0: // snapshot installed: the whole log goes
		o := op{kind: opDelete, min: w.first, max: w.last}
		w.next = w.last + 1 + w.rng.Uint64N(50)
		w.first, w.last = 0, 0
		return o
	case r < 32:
		return op{kind: opSetUint64, key: stableKeys[w.rng.IntN(2)], u: w.rng.Uint64()}
	case r < 38:
		return op{kind: opSet, key: stableKeys[2], val: w.bytes(1 + w.rng.IntN(32))}
	}
	return w.appendOp()
}

func (w *workload) appendOp() op {
	n := 1 + w.rng.IntN(8)
	logs := make([]*raft.Log, n)
	for i := range logs {
		logs[i] = w.entry(w.next + uint64(i))
	}
	if w.last == 0 {
		w.first = w.next
	}
	w.next += uint64(n)
	w.last = w.next - 1
	return op{kind: opAppend, logs: logs}
}

func (w *workload) entry(index uint64) *raft.Log {
	l := &raft.Log{
		Index: index,
		Term:  w.term,
		Type:  raft.LogType(w.rng.IntN(6)),
		Data:  w.bytes(w.rng.IntN(w.maxDataBytes + 1)),
	}
	if w.rng.IntN(4) == 0 {
		l.Extensions = w.bytes(1 + w.rng.IntN(16))
	}
	if w.rng.IntN(3) != 0 {
		l.AppendedAt = time.Unix(w.rng.Int64N(4_000_000_000)-1_000_000_000, w.rng.Int64N(1_000_000_000))
	}
	return l
}

func (w *workload) bytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(w.rng.Uint32())
	}
	return b
}
