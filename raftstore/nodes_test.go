package raftstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"tributary/kafkacodec"
)

// Node registry helpers on top of the MQTT state machine harness.

func (h *mqttFSM) register(id, raftAddr, kafkaAddr string, now int64) NodeInfo {
	h.t.Helper()
	v := h.ok(nodeRegisterCommand(&NodeRegistration{ID: id, RaftAddr: raftAddr, KafkaAddr: kafkaAddr, NowMillis: now}))
	n, err := decodeNodeRecord(id, v)
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

func (h *mqttFSM) nodeDown(id string, now int64) error {
	h.t.Helper()
	_, err := h.one(nodeCommand(CmdNodeDown, id, now))
	return err
}

func (h *mqttFSM) forget(id string, now int64) error {
	h.t.Helper()
	_, err := h.one(nodeCommand(CmdNodeForget, id, now))
	return err
}

// leaders returns the leader and epoch of every partition of a topic.
func (h *mqttFSM) leaders(topic string, partitions int32) (leaders, epochs []int32) {
	h.t.Helper()
	for p := range partitions {
		l, e, err := h.store().PartitionLeader(topic, p)
		if err != nil {
			h.t.Fatal(err)
		}
		leaders, epochs = append(leaders, l), append(epochs, e)
	}
	return leaders, epochs
}

// batchEpochs returns the leader epoch stamped on every stored batch of a
// partition, in offset order.
func batchEpochs(t testing.TB, s *Store, topic string, p int32) []int32 {
	t.Helper()
	data, _, err := s.ReadRecords(topic, p, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	var out []int32
	for len(data) > 0 {
		h, err := kafkacodec.PeekBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.PartitionLeaderEpoch)
		data = data[h.Size():]
	}
	return out
}

// changedNow reports whether ch is closed.
func changedNow(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// sameStateBut fails unless the two dumps differ at most in the applied
// index.
func sameStateBut(t testing.TB, before, after [][2][]byte) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("state changed: %d keys before, %d after", len(before), len(after))
	}
	for i := range before {
		if string(before[i][0]) != string(after[i][0]) ||
			(string(before[i][0]) != string(keyApplied) && string(before[i][1]) != string(after[i][1])) {
			t.Fatalf("state changed at key %x", before[i][0])
		}
	}
}

// nodeIndexDump renders a node index as lines.
func nodeIndexDump(x *nodeIndex) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []string
	for id, n := range x.byID {
		out = append(out, fmt.Sprintf("node %q %+v", id, n))
	}
	slices.Sort(out)
	for _, n := range x.sorted {
		if x.byID[n.ID] != n {
			out = append(out, fmt.Sprintf("BAD SORTED %+v", n))
		}
		out = append(out, fmt.Sprintf("sorted %d %q", n.BrokerID, n.ID))
	}
	return out
}

// checkNodes checks that the node index equals one rebuilt from Pebble,
// that broker ids are unique and below the counter, and that every
// partition's epoch table ends at its current epoch with start offsets
// that never go back and never pass the high watermark.
func checkNodes(t testing.TB, f *fsm) {
	t.Helper()
	fresh := newNodeIndex()
	if err := fresh.rebuild(f.db); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(nodeIndexDump(fresh), nodeIndexDump(f.nodes)); d != "" {
		t.Fatalf("in-memory node index differs from Pebble (-pebble +memory):\n%s", d)
	}
	var count uint64
	if v, closer, err := f.db.Get(keyNodeBrokerIDs); err == nil {
		count = binary.BigEndian.Uint64(v)
		closer.Close()
	}
	seen := map[int32]bool{}
	for _, n := range fresh.sorted {
		if seen[n.BrokerID] || uint64(n.BrokerID) > count {
			t.Fatalf("node %+v: broker id reused or past the counter %d", n, count)
		}
		seen[n.BrokerID] = true
	}
	if err := epochInvariants(f.db, f.kafka); err != nil {
		t.Fatal(err)
	}
}

func epochInvariants(r pebble.Reader, x *kafkaIndex) error {
	for _, t := range x.topics {
		for p := range t.Partitions {
			k, s := partKey{t.num, p}, t.parts[p]
			last, start := int32(-1), int64(0)
			err := scanPrefix(r, partPrefix(tableKafkaEpoch, k, 0), func(key, v []byte) error {
				e, off := int32(binary.BigEndian.Uint32(key[9:])), int64(binary.BigEndian.Uint64(v))
				if e <= last || off < start || off > s.hw {
					return fmt.Errorf("%s/%d: epoch %d starts at %d after epoch %d at %d (hw %d)", t.Name, p, e, off, last, start, s.hw)
				}
				last, start = e, off
				return nil
			})
			if err != nil {
				return err
			}
			if last != s.epoch {
				return fmt.Errorf("%s/%d: epoch table ends at %d, partition says %d", t.Name, p, last, s.epoch)
			}
		}
	}
	return nil
}

// TestNodeBrokerIDs: broker ids are 1, 2, 3 in order of first
// registration, kept across down and up and re-registration with new
// addresses, and never reused after a node is forgotten; Nodes lists by
// broker id with the Live flags and times of the last liveness change.
func TestNodeBrokerIDs(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	s := h.store()
	for i, id := range []string{"c", "a", "b"} {
		n := h.register(id, "raft-"+id, "kafka-"+id, int64(10+i))
		want := NodeInfo{ID: id, BrokerID: int32(i + 1), RaftAddr: "raft-" + id, KafkaAddr: "kafka-" + id, Live: true, ChangedMillis: int64(10 + i)}
		if n != want {
			t.Fatalf("register %s = %+v, want %+v", id, n, want)
		}
	}
	if n := h.register("a", "raft-a2", "", 20); n.BrokerID != 2 || n.RaftAddr != "raft-a2" || n.KafkaAddr != "" || n.ChangedMillis != 11 {
		t.Fatalf("re-register a = %+v: want broker 2, new addresses, liveness unchanged since 11", n)
	}
	ch := s.NodesChanged()
	before := dumpDB(t, h.f.db)
	h.register("a", "raft-a2", "", 21)
	sameStateBut(t, before, dumpDB(t, h.f.db))
	if changedNow(ch) {
		t.Fatal("NodesChanged closed by a registration that changed nothing")
	}
	if err := h.nodeDown("a", 30); err != nil {
		t.Fatal(err)
	}
	if !changedNow(ch) {
		t.Fatal("NodesChanged not closed by a node going down")
	}
	want := []NodeInfo{
		{ID: "c", BrokerID: 1, RaftAddr: "raft-c", KafkaAddr: "kafka-c", Live: true, ChangedMillis: 10},
		{ID: "a", BrokerID: 2, RaftAddr: "raft-a2", Live: false, ChangedMillis: 30},
		{ID: "b", BrokerID: 3, RaftAddr: "raft-b", KafkaAddr: "kafka-b", Live: true, ChangedMillis: 12},
	}
	if d := cmp.Diff(want, s.Nodes()); d != "" {
		t.Fatalf("Nodes (-want +got):\n%s", d)
	}
	if n := h.register("a", "raft-a3", "kafka-a", 40); n.BrokerID != 2 || !n.Live || n.ChangedMillis != 40 {
		t.Fatalf("a back up = %+v", n)
	}
	if err := h.forget("c", 50); err != nil {
		t.Fatal(err)
	}
	if n := h.register("d", "raft-d", "", 60); n.BrokerID != 4 {
		t.Fatalf("new node after a forget got broker id %d, want 4", n.BrokerID)
	}
	if n := h.register("c", "raft-c", "", 70); n.BrokerID != 5 {
		t.Fatalf("forgotten node registered again got broker id %d, want 5 (never reused)", n.BrokerID)
	}
	var ids []string
	for _, n := range s.Nodes() {
		ids = append(ids, fmt.Sprintf("%s=%d", n.ID, n.BrokerID))
	}
	if got := strings.Join(ids, " "); got != "a=2 b=3 d=4 c=5" {
		t.Fatalf("Nodes by broker id: %s", got)
	}
	got := s.Nodes()
	got[0].ID = "scribbled"
	if s.Nodes()[0].ID != "a" {
		t.Fatal("Nodes handed out the index's own slice")
	}
	checkNodes(t, h.f)
}

// TestNodeCommandsReject: a node that is not registered, and payloads a
// proposer would never build, are rejected without changing the state.
func TestNodeCommandsReject(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	h.register("n1", "r", "", 1)
	before := dumpDB(t, h.f.db)
	wantErr(t, h.nodeDown("ghost", 2), ErrUnknownNode)
	wantErr(t, h.forget("ghost", 2), ErrUnknownNode)
	for name, c := range map[string]Command{
		"empty id":         nodeRegisterCommand(&NodeRegistration{RaftAddr: "r"}),
		"id of 256 bytes":  nodeRegisterCommand(&NodeRegistration{ID: strings.Repeat("x", 256)}),
		"negative now":     nodeCommand(CmdNodeDown, "n1", -1),
		"forget empty id":  nodeCommand(CmdNodeForget, "", 1),
		"truncated":        {Type: CmdNodeRegister, Version: 1, Payload: nodeRegisterCommand(&NodeRegistration{ID: "n2"}).Payload[:5]},
		"trailing garbage": {Type: CmdNodeDown, Version: 1, Payload: append(nodeCommand(CmdNodeDown, "n1", 1).Payload, 0)},
	} {
		_, err := h.one(c)
		var rej *RejectedError
		if !errors.As(err, &rej) || !errors.Is(err, errMalformedPayload) {
			t.Errorf("%s: err = %v, want a RejectedError for a malformed payload", name, err)
		}
	}
	sameStateBut(t, before, dumpDB(t, h.f.db))
	if n := h.store().Nodes(); len(n) != 1 || !n[0].Live {
		t.Fatalf("nodes after rejections: %+v", n)
	}
}

// TestPartitionLeaderSpread: with no live node every partition has leader
// -1; with three live nodes the partitions of a three-partition topic are
// led one by each; and leadership follows the live set.
func TestPartitionLeaderSpread(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	s := h.store()
	topics := []string{"t", "orders", "mqtt", "a-much-longer-topic-name"}
	for _, name := range topics {
		h.mustTopic(name, 3)
	}
	if l, e, err := s.PartitionLeader("t", 0); l != -1 || e != 0 || err != nil {
		t.Fatalf("leader with no node = (%d, %d, %v), want (-1, 0)", l, e, err)
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		h.register(id, id, id+":9092", 1)
	}
	for _, name := range topics {
		leaders, _ := h.leaders(name, 3)
		if sorted := slices.Sorted(slices.Values(leaders)); !slices.Equal(sorted, []int32{1, 2, 3}) {
			t.Fatalf("%s: leaders %v, want each of 1, 2, 3 once", name, leaders)
		}
	}
	if err := h.nodeDown("n2", 2); err != nil {
		t.Fatal(err)
	}
	for _, name := range topics {
		leaders, _ := h.leaders(name, 3)
		if slices.Contains(leaders, 2) || !slices.Contains(leaders, 1) || !slices.Contains(leaders, 3) {
			t.Fatalf("%s: leaders %v with broker 2 down", name, leaders)
		}
	}
	for _, id := range []string{"n1", "n3"} {
		if err := h.nodeDown(id, 3); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range topics {
		if leaders, _ := h.leaders(name, 3); !slices.Equal(leaders, []int32{-1, -1, -1}) {
			t.Fatalf("%s: leaders %v with every node down", name, leaders)
		}
	}
	for _, c := range []struct {
		topic string
		p     int32
	}{{"t", 3}, {"t", -1}, {"nope", 0}} {
		if l, e, err := s.PartitionLeader(c.topic, c.p); !errors.Is(err, ErrUnknownTopicOrPartition) || l != -1 || e != -1 {
			t.Fatalf("%s/%d: (%d, %d, %v), want ErrUnknownTopicOrPartition", c.topic, c.p, l, e, err)
		}
	}
	checkKafka(t, h.f)
	checkNodes(t, h.f)
}

// TestLeaderEpochBumps: a change of the live set bumps the epoch of the
// partitions whose leader moved, and of no other; the new epoch starts at
// the high watermark, so EpochEndOffset ends the old one there; batches
// appended afterwards (produced, or built from MQTT publishes) carry the
// new epoch; a topic created later starts at epoch 0.
func TestLeaderEpochBumps(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	s := h.store()
	h.register("n1", "r1", "k1", 1)
	h.mustTopic("t", 4)
	if err := h.setMapping(mirrorMapping("mirror", "mqtt", 1, "", "dev/#")); err != nil {
		t.Fatal(err)
	}
	for p := range int32(4) {
		h.mustProduce("t", p, nRecords(2))
	}
	h.pub("d", "dev/1", 1, false, "before", 2)
	oldLeaders, oldEpochs := h.leaders("t", 4)
	if !slices.Equal(oldLeaders, []int32{1, 1, 1, 1}) || !slices.Equal(oldEpochs, []int32{0, 0, 0, 0}) {
		t.Fatalf("one live node: leaders %v epochs %v", oldLeaders, oldEpochs)
	}

	h.register("n2", "r2", "k2", 3)
	leaders, epochs := h.leaders("t", 4)
	moved := 0
	for p := range int32(4) {
		want := int32(0)
		if leaders[p] != oldLeaders[p] {
			want, moved = 1, moved+1
		}
		if epochs[p] != want {
			t.Fatalf("partition %d: leader %d→%d, epoch %d, want %d", p, oldLeaders[p], leaders[p], epochs[p], want)
		}
		if st := h.part("t", p); st.LeaderEpoch != want {
			t.Fatalf("partition %d: state epoch %d, want %d", p, st.LeaderEpoch, want)
		}
		e, end, err := s.EpochEndOffset("t", p, 0)
		if err != nil || e != 0 || end != 2 {
			t.Fatalf("partition %d: epoch 0 ends (%d, %d, %v), want (0, 2)", p, e, end, err)
		}
	}
	if moved != 2 {
		t.Fatalf("%d of 4 partitions moved from 1 to 2 live nodes, want 2 (leaders %v)", moved, leaders)
	}
	p := int32(slices.Index(epochs, 1))
	h.mustProduce("t", p, nRecords(3))
	if got := batchEpochs(t, s, "t", p); !slices.Equal(got, []int32{0, 1}) {
		t.Fatalf("moved partition's batches stamped %v, want [0 1]", got)
	}
	for _, c := range []struct{ ask, epoch int32 }{{0, 0}, {1, 1}, {7, 1}} {
		wantEnd := int64(5)
		if c.epoch == 0 {
			wantEnd = 2
		}
		if e, end, err := s.EpochEndOffset("t", p, c.ask); err != nil || e != c.epoch || end != wantEnd {
			t.Fatalf("epoch %d of the moved partition: (%d, %d, %v), want (%d, %d)", c.ask, e, end, err, c.epoch, wantEnd)
		}
	}

	// The mapped topic's one partition moves when the node leading it goes.
	lead, epoch, err := s.PartitionLeader("mqtt", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.nodeDown(map[int32]string{1: "n1", 2: "n2"}[lead], 4); err != nil {
		t.Fatal(err)
	}
	if l, e, _ := s.PartitionLeader("mqtt", 0); l == lead || e != epoch+1 {
		t.Fatalf("mqtt/0 after its leader %d went down: (%d, %d), want another leader at epoch %d", lead, l, e, epoch+1)
	}
	h.pub("d", "dev/2", 1, false, "after", 5)
	if got := batchEpochs(t, s, "mqtt", 0); !slices.Equal(got, []int32{0, epoch + 1}) {
		t.Fatalf("mqtt/0 batches stamped %v, want [0 %d]", got, epoch+1)
	}

	h.mustTopic("later", 2)
	if l, e, err := s.PartitionLeader("later", 1); err != nil || e != 0 || l != partitionLeader(h.f.kafka.live, topicHash("later"), 1) {
		t.Fatalf("topic created later: (%d, %d, %v)", l, e, err)
	}
	checkKafka(t, h.f)
	checkNodes(t, h.f)
}

// TestMarkNodeDownEndsSessions: the sessions connected to a node marked
// down end as their connections' abnormal close would, in client id
// order, each with an EventSessionEnded for that node: an immediate will
// is published, a delayed one waits for its delay, a session without
// persistence is gone, and a reconnect gets the queue resent with DUP.
// Sessions of other nodes are left alone, and a second MarkNodeDown
// changes nothing.
func TestMarkNodeDownEndsSessions(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	h.register("n1", "r1", "", 1)
	h.register("n2", "r2", "", 1)
	w := h.open(SessionOpen{ClientID: "w", Node: "n2", CleanStart: true, ExpirySeconds: NeverExpires, NowMillis: 1}).Generation
	h.subscribe("w", w, 1, Subscription{Filter: "will/#", QoS: 1})
	will := func(c string, delay uint32) *Will {
		return &Will{DelaySeconds: delay, Message: Message{Topic: "will/" + c, QoS: 1, Payload: []byte(c + " gone")}}
	}
	a := h.open(SessionOpen{ClientID: "a", Node: "n1", CleanStart: true, ExpirySeconds: 600, NowMillis: 1, Will: will("a", 0)})
	h.subscribe("a", a.Generation, 1, Subscription{Filter: "q", QoS: 1})
	h.pub("p", "q", 1, false, "m1", 2)
	h.pub("p", "q", 1, false, "m2", 3)
	b := h.open(SessionOpen{ClientID: "b", Node: "n1", CleanStart: true, ExpirySeconds: 600, NowMillis: 1, Will: will("b", 10)})
	z := h.open(SessionOpen{ClientID: "z", Node: "n1", CleanStart: true, NowMillis: 1})
	c := h.open(SessionOpen{ClientID: "c", Node: "n2", CleanStart: true, ExpirySeconds: 600, NowMillis: 1, Will: will("c", 0)})
	h.takeEvents()

	if err := h.nodeDown("n1", 10_000); err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{Kind: EventSessionEnded, ClientID: "a", Node: "n1", Generation: a.Generation},
		{Kind: EventSessionEnded, ClientID: "b", Node: "n1", Generation: b.Generation},
		{Kind: EventSessionEnded, ClientID: "z", Node: "n1", Generation: z.Generation},
	}
	if d := sameEvents(want, eventsOf(h.takeEvents(), EventSessionEnded)); d != "" {
		t.Fatalf("session ended events (-want +got):\n%s", d)
	}
	if got := payloads(h.queue("w")); !slices.Equal(got, []string{"a gone"}) {
		t.Fatalf("wills published at once: %v, want [a gone]", got)
	}
	for _, id := range []string{"a", "b"} {
		if info, ok := h.session(id); !ok || info.Connected {
			t.Fatalf("session %s after its node went down: %+v %v, want kept, disconnected", id, info, ok)
		}
	}
	if _, ok := h.session("z"); ok {
		t.Fatal("a session with expiry 0 outlived its node")
	}
	if info, _ := h.session("c"); !info.Connected || info.Generation != c.Generation {
		t.Fatalf("a session of another node was touched: %+v", info)
	}
	if left, err := h.store().ConnectedSessions("n1"); err != nil || len(left) != 0 {
		t.Fatalf("sessions still connected to n1: %+v %v", left, err)
	}

	h.tick(19_999)
	if got := payloads(h.queue("w")); len(got) != 1 {
		t.Fatalf("delayed will fired early: %v", got)
	}
	h.tick(20_000)
	if got := payloads(h.queue("w")); !slices.Equal(got, []string{"a gone", "b gone"}) {
		t.Fatalf("wills after b's delay: %v", got)
	}

	h.takeEvents()
	before := dumpDB(t, h.f.db)
	if err := h.nodeDown("n1", 30_000); err != nil {
		t.Fatal(err)
	}
	sameStateBut(t, before, dumpDB(t, h.f.db))
	if ev := h.takeEvents(); len(ev) != 0 {
		t.Fatalf("a second MarkNodeDown raised %+v", ev)
	}

	again := h.open(SessionOpen{ClientID: "a", Node: "n2", ExpirySeconds: 600, NowMillis: 31_000})
	if !again.Present || again.TakenOver {
		t.Fatalf("reconnect of a = %+v, want its session present, nothing taken over", again)
	}
	q := h.queue("a")
	if len(q) != 2 || !q[0].Dup || !q[1].Dup {
		t.Fatalf("queue of a after its node went down: %+v, want m1 and m2 with DUP", q)
	}
	checkMQTT(t, h.f)
	checkNodes(t, h.f)
}

// TestForgetNode: forgetting a live node takes it out of the live set
// (leadership moves, its sessions end); forgetting a node already down
// still ends sessions left connected to it; a forgotten node is unknown.
func TestForgetNode(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	s := h.store()
	h.register("n1", "r1", "", 1)
	h.register("n2", "r2", "", 1)
	h.mustTopic("t", 3)
	_, epochs := h.leaders("t", 3)
	g := h.open(SessionOpen{ClientID: "s", Node: "n2", CleanStart: true, ExpirySeconds: 60, NowMillis: 1}).Generation
	h.takeEvents()
	if err := h.forget("n2", 5); err != nil {
		t.Fatal(err)
	}
	if n := s.Nodes(); len(n) != 1 || n[0].ID != "n1" {
		t.Fatalf("nodes after forget: %+v", n)
	}
	leaders, after := h.leaders("t", 3)
	if !slices.Equal(leaders, []int32{1, 1, 1}) {
		t.Fatalf("leaders after forgetting n2: %v", leaders)
	}
	bumped := 0
	for p := range epochs {
		if after[p] != epochs[p] {
			bumped++
		}
	}
	if bumped == 0 || bumped == 3 {
		t.Fatalf("epochs %v → %v: only the partitions n2 led should bump", epochs, after)
	}
	want := []Event{{Kind: EventSessionEnded, ClientID: "s", Node: "n2", Generation: g}}
	if d := sameEvents(want, eventsOf(h.takeEvents(), EventSessionEnded)); d != "" {
		t.Fatalf("events (-want +got):\n%s", d)
	}
	wantErr(t, h.forget("n2", 6), ErrUnknownNode)

	// A node down, with a session opened on it afterwards (a node cut off
	// from the others that still accepted a connection).
	h.register("n3", "r3", "", 7)
	if err := h.nodeDown("n3", 8); err != nil {
		t.Fatal(err)
	}
	h.open(SessionOpen{ClientID: "late", Node: "n3", CleanStart: true, ExpirySeconds: 60, NowMillis: 9})
	if err := h.forget("n3", 10); err != nil {
		t.Fatal(err)
	}
	if info, ok := h.session("late"); !ok || info.Connected {
		t.Fatalf("session left on a forgotten node: %+v %v", info, ok)
	}
	if n := h.register("n2", "r2", "", 11); n.BrokerID != 4 {
		t.Fatalf("n2 registered again got broker id %d, want 4", n.BrokerID)
	}
	checkMQTT(t, h.f)
	checkKafka(t, h.f)
	checkNodes(t, h.f)
}

// TestNodeRegistrySurvivesReopenAndRestore: the registry, the broker id
// counter, the leadership and the epochs are rebuilt from Pebble when a
// state machine reopens and when it restores a snapshot, and a restore
// wakes NodesChanged.
func TestNodeRegistrySurvivesReopenAndRestore(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	src := newTestFSM(t, fs, "src")
	h := &mqttFSM{t: t, f: src}
	for _, id := range []string{"n1", "n2", "n3"} {
		h.register(id, "raft-"+id, "kafka-"+id, 1)
	}
	h.mustTopic("t", 3)
	for p := range int32(3) {
		h.mustProduce("t", p, nRecords(2))
	}
	if err := h.nodeDown("n2", 2); err != nil {
		t.Fatal(err)
	}
	if err := h.forget("n3", 3); err != nil {
		t.Fatal(err)
	}
	wantNodes := h.store().Nodes()
	wantLeaders, wantEpochs := h.leaders("t", 3)
	if slices.Max(wantEpochs) == 0 {
		t.Fatalf("no epoch moved: %v", wantEpochs)
	}
	check := func(name string, f *fsm) {
		t.Helper()
		g := &mqttFSM{t: t, f: f}
		if d := cmp.Diff(wantNodes, g.store().Nodes()); d != "" {
			t.Fatalf("%s: nodes (-want +got):\n%s", name, d)
		}
		leaders, epochs := g.leaders("t", 3)
		if !slices.Equal(leaders, wantLeaders) || !slices.Equal(epochs, wantEpochs) {
			t.Fatalf("%s: leaders %v epochs %v, want %v %v", name, leaders, epochs, wantLeaders, wantEpochs)
		}
		for p := range int32(3) {
			e, end, err := g.store().EpochEndOffset("t", p, 0)
			if err != nil || e != 0 || end != 2 {
				t.Fatalf("%s: t/%d epoch 0 ends (%d, %d, %v)", name, p, e, end, err)
			}
		}
		checkKafka(t, f)
		checkNodes(t, f)
	}

	dst := newTestFSM(t, fs, "dst")
	waiting := (&Store{fsm: dst}).NodesChanged()
	restoreFrom(t, src, dst)
	if !changedNow(waiting) {
		t.Fatal("restore did not wake NodesChanged")
	}
	check("restored", dst)
	if err := src.close(); err != nil {
		t.Fatal(err)
	}
	reopened := newTestFSM(t, fs, "src")
	check("reopened", reopened)
	h = &mqttFSM{t: t, f: reopened, index: h.index}
	if n := h.register("n4", "r4", "", 4); n.BrokerID != 4 {
		t.Fatalf("broker id after reopen = %d, want 4: the counter must survive", n.BrokerID)
	}
}

// TestNodeStoreAPI drives the registry through raft on a one-node store:
// RegisterNode, NodesChanged, MarkNodeDown (with its EventSessionEnded),
// PartitionLeader, ForgetNode and ErrUnknownNode, and a restart.
func TestNodeStoreAPI(t *testing.T) {
	dir := t.TempDir()
	events := make(eventSink, 256)
	s := mqttStore(t, dir, events, prometheus.NewPedanticRegistry())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	changed := s.NodesChanged()
	n, err := s.RegisterNode(ctx, NodeRegistration{ID: "n1", RaftAddr: "r1", KafkaAddr: "k1", NowMillis: 5})
	if err != nil || n != (NodeInfo{ID: "n1", BrokerID: 1, RaftAddr: "r1", KafkaAddr: "k1", Live: true, ChangedMillis: 5}) {
		t.Fatalf("register = %+v, %v", n, err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("NodesChanged not closed by a registration")
	}
	if _, err := s.CreateTopic(ctx, CreateTopicRequest{Name: "orders", ID: [16]byte{1}, Partitions: 2,
		RetentionMillis: -1, RetentionBytes: -1, NowMillis: 6}); err != nil {
		t.Fatal(err)
	}
	if l, e, err := s.PartitionLeader("orders", 1); l != 1 || e != 0 || err != nil {
		t.Fatalf("leader = (%d, %d, %v), want (1, 0)", l, e, err)
	}
	dev, err := s.OpenSession(ctx, SessionOpen{ClientID: "dev", Node: "n1", CleanStart: true,
		ExpirySeconds: 60, ProtocolVersion: 5, MaxQueuedMessages: 10, NowMillis: 7})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNodeDown(ctx, "n1", 8); err != nil {
		t.Fatal(err)
	}
	if ev := events.wait(t, EventSessionEnded, "dev"); ev.Node != "n1" || ev.Generation != dev.Generation {
		t.Fatalf("session ended event %+v", ev)
	}
	if l, e, err := s.PartitionLeader("orders", 1); l != -1 || e != 1 || err != nil {
		t.Fatalf("leader with n1 down = (%d, %d, %v), want (-1, 1)", l, e, err)
	}
	if err := s.MarkNodeDown(ctx, "ghost", 9); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("mark unknown node down: %v", err)
	}
	if _, err := s.RegisterNode(ctx, NodeRegistration{ID: "n2", RaftAddr: "r2", NowMillis: 10}); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetNode(ctx, "n1", 11); err != nil {
		t.Fatal(err)
	}
	if err := s.ForgetNode(ctx, "n1", 12); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("forget twice: %v", err)
	}
	wantNodes := s.Nodes()
	wantLeader, wantEpoch, _ := s.PartitionLeader("orders", 0)
	if len(wantNodes) != 1 || wantNodes[0].BrokerID != 2 || wantLeader != 2 || wantEpoch != 2 {
		t.Fatalf("before restart: nodes %+v, orders/0 led by %d at epoch %d", wantNodes, wantLeader, wantEpoch)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mqttStore(t, dir, make(eventSink, 16), nil)
	defer s.Close()
	if d := cmp.Diff(wantNodes, s.Nodes()); d != "" {
		t.Fatalf("nodes after restart (-want +got):\n%s", d)
	}
	if l, e, err := s.PartitionLeader("orders", 0); l != wantLeader || e != wantEpoch || err != nil {
		t.Fatalf("leader after restart = (%d, %d, %v)", l, e, err)
	}
}
