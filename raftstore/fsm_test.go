package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

func results(t *testing.T, resp any) []commandResult {
	t.Helper()
	r, ok := resp.([]commandResult)
	if !ok {
		t.Fatalf("response is %T (%v), want []commandResult", resp, resp)
	}
	return r
}

func TestApplyKVCommands(t *testing.T) {
	f := newTestFSM(t, vfs.NewMem(), "fsm")
	put := must(KVPut([]byte("a"), []byte("1")))
	add := must(KVAdd([]byte("n"), 5))
	sub := must(KVAdd([]byte("n"), -2))
	del := must(KVDelete([]byte("a")))
	resps := f.ApplyBatch([]*raft.Log{entry(1, put, add, sub), entry(2, del)})
	r := results(t, resps[0])
	if got := binary.BigEndian.Uint64(r[2].value); got != 3 {
		t.Fatalf("5-2 = %d, want 3 (a command must read what the entry's earlier commands wrote)", got)
	}
	if _, ok, _ := f.get(kvKey([]byte("a"))); ok {
		t.Fatal("key a survived its delete")
	}
	if f.applied.Load() != 2 {
		t.Fatalf("applied = %d, want 2", f.applied.Load())
	}
}

func TestApplyRejectsWithoutChangingState(t *testing.T) {
	f := newTestFSM(t, vfs.NewMem(), "fsm")
	underflow := must(KVAdd([]byte("n"), -1))
	garbage := Command{Type: CmdKVPut, Version: 1, Payload: []byte{0x7f, 'x'}} // key length past the end
	resps := f.ApplyBatch([]*raft.Log{entry(1, underflow, garbage)})
	for i, r := range results(t, resps[0]) {
		var rej *RejectedError
		if !errors.As(r.err, &rej) {
			t.Fatalf("command %d: err = %v, want a RejectedError", i, r.err)
		}
	}
	if v, ok, _ := f.get(kvKey([]byte("n"))); ok {
		t.Fatalf("rejected add wrote %x", v)
	}
	if f.applied.Load() != 1 {
		t.Fatalf("applied = %d, want 1: a rejected command still consumes its entry", f.applied.Load())
	}
	if f.Err() != nil {
		t.Fatalf("a rejection must not stop the state machine: %v", f.Err())
	}
}

func TestApplyUnknownCommandStopsTheNode(t *testing.T) {
	fs := vfs.NewMem()
	fatal := make(chan error, 1)
	good := must(KVAdd([]byte("n"), 1))
	unknown := Command{Type: 999, Version: 1, Payload: []byte("from a newer binary")}
	newVersion := Command{Type: CmdKVAdd, Version: 9, Payload: []byte("x")}
	for _, bad := range []Command{unknown, newVersion} {
		t.Run(bad.Type.String(), func(t *testing.T) {
			f := newTestFSM(t, fs, fmt.Sprintf("fsm-%d", bad.Type))
			f.onFatal = func(err error) { fatal <- err }
			f.ApplyBatch([]*raft.Log{entry(1, good)})
			resps := f.ApplyBatch([]*raft.Log{entry(2, good, bad), entry(3, good)})
			for i, r := range resps {
				if r != errStopped {
					t.Fatalf("response %d = %v, want errStopped", i, r)
				}
			}
			if err := <-fatal; !errors.Is(err, ErrUnknownCommand) {
				t.Fatalf("fatal error = %v, want ErrUnknownCommand", err)
			}
			if f.applied.Load() != 1 {
				t.Fatalf("applied = %d: nothing of the bad entry or after it may be applied", f.applied.Load())
			}
			if v, _, _ := f.get(kvKey([]byte("n"))); binary.BigEndian.Uint64(v) != 1 {
				t.Fatalf("counter = %x: the good command of the bad entry was written", v)
			}
			if _, err := f.Snapshot(); err == nil {
				t.Fatal("a stopped state machine took a snapshot")
			}
		})
	}
}

func TestApplyConfigurationEntriesPassThrough(t *testing.T) {
	f := newTestFSM(t, vfs.NewMem(), "fsm")
	cfg := &raft.Log{Index: 1, Term: 1, Type: raft.LogConfiguration, Data: []byte("raft's own bytes")}
	resps := f.ApplyBatch([]*raft.Log{cfg, entry(2, must(KVAdd([]byte("n"), 1)))})
	if resps[0] != nil {
		t.Fatalf("configuration entry answered %v, want nil", resps[0])
	}
	if f.applied.Load() != 2 {
		t.Fatalf("applied = %d, want 2", f.applied.Load())
	}
}

func TestReplaySkipsAppliedEntries(t *testing.T) {
	fs := vfs.NewMem()
	f := newTestFSM(t, fs, "fsm")
	add := must(KVAdd([]byte("n"), 1))
	var logs []*raft.Log
	for i := uint64(1); i <= 20; i++ {
		logs = append(logs, entry(i, add))
	}
	f.ApplyBatch(logs[:12])
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	g := newTestFSM(t, fs, "fsm")
	if g.applied.Load() != 12 {
		t.Fatalf("reopened at %d, want 12", g.applied.Load())
	}
	g.ApplyBatch(logs) // raft replays from its last snapshot, here from 1
	v, _, _ := g.get(kvKey([]byte("n")))
	if got := binary.BigEndian.Uint64(v); got != 20 {
		t.Fatalf("counter = %d after replay, want 20: an entry was applied twice or skipped", got)
	}
}

// TestDeterministicApply is the property DESIGN.md asks for: the same random
// command stream (key/value, MQTT, Kafka and node registry commands) applied to two stores, with
// different batch boundaries, a close/reopen in the middle of one and a
// snapshot/restore in the middle of the other, leaves byte-identical
// databases, identical in-memory MQTT, Kafka and node indexes and the
// same events.
func TestDeterministicApply(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			rng := rand.New(rand.NewPCG(seed, seed*7919))
			logs := randomLogs(rng, 400)
			half := len(logs) / 2
			fs := vfs.NewMem()
			var aEvents, bEvents, dEvents []Event
			a := newTestFSM(t, fs, "a")
			a.kafka.cache = newBatchCache(256 << 10) // small: it evicts
			a.onEvents = func(ev []Event) { aEvents = append(aEvents, ev...) }
			applyInBatches(a, logs[:half], func() int { return 1 })
			split := len(aEvents)
			applyInBatches(a, logs[half:], func() int { return 1 })

			b := newTestFSM(t, fs, "b")
			b.onEvents = func(ev []Event) { bEvents = append(bEvents, ev...) }
			applyInBatches(b, logs[:half], func() int { return 1 + rng.IntN(50) })
			if err := b.close(); err != nil {
				t.Fatal(err)
			}
			b = newTestFSM(t, fs, "b")
			b.onEvents = func(ev []Event) { bEvents = append(bEvents, ev...) }
			applyInBatches(b, logs, func() int { return 1 + rng.IntN(50) }) // replays the first half

			c := newTestFSM(t, fs, "c")
			applyInBatches(c, logs[:half], func() int { return 1 + rng.IntN(50) })
			d := newTestFSM(t, fs, "d")
			d.kafka.cache = newBatchCache(4 << 20) // reset by the restore
			d.onEvents = func(ev []Event) { dEvents = append(dEvents, ev...) }
			restoreFrom(t, c, d)
			applyInBatches(d, logs[half:], func() int { return 1 + rng.IntN(50) })

			want := dumpDB(t, a.db)
			for name, other := range map[string]*fsm{"b": b, "d": d} {
				if err := sameDump(want, dumpDB(t, other.db)); err != nil {
					t.Fatalf("store %s diverged from a: %v", name, err)
				}
				if diff := sameLines(indexDump(a.mqtt), indexDump(other.mqtt)); diff != "" {
					t.Fatalf("store %s: mqtt index diverged from a: %s", name, diff)
				}
				if diff := sameLines(kafkaIndexDump(a.kafka), kafkaIndexDump(other.kafka)); diff != "" {
					t.Fatalf("store %s: kafka index diverged from a: %s", name, diff)
				}
				if diff := sameLines(nodeIndexDump(a.nodes), nodeIndexDump(other.nodes)); diff != "" {
					t.Fatalf("store %s: node index diverged from a: %s", name, diff)
				}
				checkMQTT(t, other)
				checkKafka(t, other)
				checkNodes(t, other)
			}
			checkMQTT(t, a)
			checkKafka(t, a)
			checkNodes(t, a)
			// b has no batch cache: a's and d's reads through theirs must
			// match b's through Pebble.
			sameRecordReads(t, b, a)
			sameRecordReads(t, b, d)
			if diff := sameEvents(aEvents, bEvents); diff != "" {
				t.Fatalf("events of b differ from a (-a +b):\n%s", diff)
			}
			if diff := sameEvents(aEvents[split:], dEvents); diff != "" {
				t.Fatalf("events of d differ from a (-a +d):\n%s", diff)
			}
		})
	}
}

// sameRecordReads reads every offset of every partition of want's topics
// at a few sizes from both stores: got's answer must be want's, or a
// shorter run of its whole batches when got's cache answered up to the
// end of one of its chunks, never less than the first batch.
func sameRecordReads(t *testing.T, want, got *fsm) {
	t.Helper()
	hits := got.kafka.cache.hits.Load()
	for _, tp := range want.kafka.topicsSorted() {
		for p := range tp.Partitions {
			_, s, err := want.kafka.partition(tp.Name, p)
			if err != nil {
				t.Fatal(err)
			}
			for offset := s.logStart; offset < s.hw; offset++ {
				for _, maxBytes := range []int{1, 500, 1 << 20} {
					w, _, werr := want.readRecords(tp.Name, p, offset, maxBytes)
					first, _, ferr := want.readRecords(tp.Name, p, offset, 0)
					g, _, gerr := got.readRecords(tp.Name, p, offset, maxBytes)
					if werr != nil || ferr != nil || gerr != nil || !bytes.HasPrefix(w, g) || !bytes.HasPrefix(g, first) {
						t.Fatalf("%s/%d at %d, max %d: read %d bytes (%v) with the cache, %d (%v) without",
							tp.Name, p, offset, maxBytes, len(g), gerr, len(w), werr)
					}
				}
			}
		}
	}
	if got.kafka.cache.budget > 0 && got.kafka.cache.hits.Load() == hits && want.kafka.bytes.Load() > 0 {
		t.Fatal("no read was answered from the batch cache")
	}
}

func applyInBatches(f *fsm, logs []*raft.Log, size func() int) {
	for len(logs) > 0 {
		n := min(size(), len(logs))
		f.ApplyBatch(logs[:n])
		logs = logs[n:]
	}
}

// randomLogs builds a stream of command entries (with some configuration
// entries) over a small key set, so puts, deletes and counters collide,
// mixed with MQTT commands over a few clients and topics (mqttGen), Kafka
// commands (kafkaGen) and node registry commands over the nodes the
// sessions connect to (nodeGen).
func randomLogs(rng *rand.Rand, n int) []*raft.Log {
	mqtt := newMQTTGen(rng)
	kafka := newKafkaGen(rng, mqtt)
	nodes := newNodeGen(rng, mqtt)
	logs := make([]*raft.Log, 0, n)
	for i := 1; i <= n; i++ {
		if rng.IntN(20) == 0 {
			logs = append(logs, &raft.Log{Index: uint64(i), Term: 1, Type: raft.LogConfiguration, Data: []byte{1}})
			continue
		}
		cmds := make([]Command, 1+rng.IntN(6))
		for j := range cmds {
			key := []byte(fmt.Sprintf("k%d", rng.IntN(16)))
			var c Command
			if rng.IntN(16) == 0 {
				cmds[j] = nodes.command()
				continue
			}
			switch rng.IntN(6) {
			case 0, 1:
				cmds[j] = mqtt.command()
				continue
			case 2, 3:
				cmds[j] = kafka.command()
				continue
			}
			switch rng.IntN(5) {
			case 0:
				c, _ = KVPut(key, bytes.Repeat([]byte{byte(rng.Uint32())}, rng.IntN(64)))
			case 1:
				c, _ = KVDelete(key)
			case 2:
				c = Command{Type: CmdKVPut, Version: 1, Payload: []byte{0xff}} // rejected
			default:
				c, _ = KVAdd(key, rng.Int64N(100)-40)
			}
			cmds[j] = c
		}
		logs = append(logs, &raft.Log{Index: uint64(i), Term: 1, Type: raft.LogCommand, Data: appendEntry(nil, cmds)})
	}
	return logs
}
