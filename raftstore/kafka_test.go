package raftstore

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/go-cmp/cmp"

	"tributary/kafkacodec"
)

func TestKafkaTopicCreateDelete(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	s := h.store()
	if err := h.createTopic("orders", 3, 1000, -1); err != nil {
		t.Fatal(err)
	}
	h.mustTopic("a.b_c-D9", 1)
	got, ok := s.TopicByName("orders")
	want := Topic{Name: "orders", ID: [16]byte{6, 1}, Partitions: 3, RetentionMillis: 1000, RetentionBytes: -1, CreatedMillis: 1}
	if !ok || got != want {
		t.Fatalf("topic = %+v %v, want %+v", got, ok, want)
	}
	if names := topicNames(s.Topics()); !cmp.Equal(names, []string{"a.b_c-D9", "orders"}) {
		t.Fatalf("topics %v", names)
	}
	if ps := h.part("orders", 2); ps != (PartitionState{}) {
		t.Fatalf("new partition %+v", ps)
	}
	for _, c := range []struct {
		name       string
		partitions int32
		retMs      int64
		want       error
	}{
		{"orders", 1, -1, ErrTopicExists},
		{"", 1, -1, ErrInvalidTopic},
		{".", 1, -1, ErrInvalidTopic},
		{"..", 1, -1, ErrInvalidTopic},
		{"a/b", 1, -1, ErrInvalidTopic},
		{"a b", 1, -1, ErrInvalidTopic},
		{strings.Repeat("x", 250), 1, -1, ErrInvalidTopic},
		{"p0", 0, -1, ErrInvalidPartitions},
		{"p1", MaxPartitions + 1, -1, ErrInvalidPartitions},
		{"r", 1, -2, ErrInvalidConfig},
	} {
		wantErr(t, h.createTopic(c.name, c.partitions, c.retMs, -1), c.want)
	}
	h.mustTopic(strings.Repeat("x", 249), 1)
	if _, err := s.Partition("orders", 3); err == nil {
		t.Fatal("partition 3 of 3 exists")
	}
	if _, err := s.Partition("nope", 0); err == nil {
		t.Fatal("partition of a missing topic exists")
	}

	h.mustProduce("orders", 1, nRecords(2))
	oldNum := h.f.kafka.topics["orders"].num
	if _, err := h.one(nameCommand(CmdDeleteTopic, "orders")); err != nil {
		t.Fatal(err)
	}
	_, err := h.one(nameCommand(CmdDeleteTopic, "orders"))
	wantErr(t, err, ErrUnknownTopicOrPartition)
	if _, ok := s.TopicByName("orders"); ok {
		t.Fatal("deleted topic still listed")
	}
	// Re-created, it starts empty under a new topic number.
	h.mustTopic("orders", 2)
	if ps := h.part("orders", 1); ps.HighWatermark != 0 {
		t.Fatalf("re-created partition %+v", ps)
	}
	if h.f.kafka.topics["orders"].num == oldNum {
		t.Fatal("re-created topic reuses the deleted one's number")
	}
	checkKafka(t, h.f)
}

func topicNames(ts []Topic) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestKafkaProduceAssignsOffsets(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	h.mustTopic("t", 2)
	var bases []int64
	for _, n := range []int{2, 3, 1} {
		bases = append(bases, h.mustProduce("t", 1, nRecords(n)).BaseOffset)
	}
	if !cmp.Equal(bases, []int64{0, 2, 5}) {
		t.Fatalf("base offsets %v", bases)
	}
	ps := h.part("t", 1)
	if ps.HighWatermark != 6 || ps.LogStartOffset != 0 {
		t.Fatalf("partition %+v", ps)
	}
	if other := h.part("t", 0); other.HighWatermark != 0 {
		t.Fatalf("partition 0 moved: %+v", other)
	}
	recs, stored := readAll(t, h.store(), "t", 1, 0)
	if !cmp.Equal(stored, []int64{0, 2, 5}) || len(recs) != 6 || recs[3].Offset != 3 || recs[3].Key != "k1" {
		t.Fatalf("stored bases %v, records %+v", stored, recs)
	}
	if ps.Bytes != int64(len(nRecords(2))+len(nRecords(3))+len(nRecords(1))) {
		t.Fatalf("bytes %d", ps.Bytes)
	}
	checkKafka(t, h.f)
}

func TestKafkaProduceRejects(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	h.mustTopic("t", 1)
	good := nRecords(2)
	badMagic := append([]byte(nil), good...)
	badMagic[16] = 1
	short := good[:len(good)-1]
	cases := map[string]struct {
		topic string
		p     int32
		batch []byte
		want  error
	}{
		"unknown topic":   {"u", 0, good, ErrUnknownTopicOrPartition},
		"bad partition":   {"t", 1, good, ErrUnknownTopicOrPartition},
		"neg partition":   {"t", -1, good, ErrUnknownTopicOrPartition},
		"garbage":         {"t", 0, []byte("not a batch"), ErrInvalidRecord},
		"magic":           {"t", 0, badMagic, ErrInvalidRecord},
		"truncated":       {"t", 0, short, ErrInvalidRecord},
		"transactional":   {"t", 0, withAttributes(good, 0x10), ErrInvalidRecord},
		"control":         {"t", 0, withAttributes(good, 0x20), ErrInvalidRecord},
		"pid below -1":    {"t", 0, idempotent(good, -2, 0, 0), ErrInvalidRecord},
		"negative seq":    {"t", 0, idempotent(good, 0, 0, -5), ErrInvalidRecord},
		"never handed":    {"t", 0, idempotent(good, 7, 0, 0), ErrUnknownProducerID},
		"malformed frame": {"t", 0, nil, ErrInvalidRecord},
	}
	for name, c := range cases {
		_, err := h.produce(c.topic, c.p, c.batch, 1)
		if !strings.Contains(name, "malformed") {
			wantErr(t, err, c.want)
		} else if err == nil {
			t.Fatalf("%s: accepted", name)
		}
	}
	if ps := h.part("t", 0); ps != (PartitionState{}) {
		t.Fatalf("rejected batches changed the partition: %+v", ps)
	}
	checkKafka(t, h.f)
}

func TestKafkaIdempotentProducer(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	h.mustTopic("t", 1)
	pid := h.initPID(nil)
	if pid != (ProducerID{ID: 0, Epoch: 0}) {
		t.Fatalf("first producer id %+v", pid)
	}
	if next := h.initPID(nil); next.ID != 1 {
		t.Fatalf("second producer id %+v", next)
	}
	batch := func(seq int32, epoch int16) []byte { return idempotent(nRecords(2), pid.ID, epoch, seq) }
	var offsets []int64
	for i := range int32(7) {
		offsets = append(offsets, h.mustProduce("t", 0, batch(2*i, 0)).BaseOffset)
	}
	// A duplicate of any of the last five answers its original offset and
	// writes nothing.
	for i := int32(2); i < 7; i++ {
		res := h.mustProduce("t", 0, batch(2*i, 0))
		if !res.Duplicate || res.BaseOffset != offsets[i] {
			t.Fatalf("duplicate of batch %d: %+v, want offset %d", i, res, offsets[i])
		}
	}
	if hw := h.part("t", 0).HighWatermark; hw != 14 {
		t.Fatalf("duplicates were written: hw %d", hw)
	}
	_, err := h.produce("t", 0, batch(2, 0), 1) // older than the last five
	wantErr(t, err, ErrOutOfOrderSequence)
	_, err = h.produce("t", 0, batch(16, 0), 1) // a gap
	wantErr(t, err, ErrOutOfOrderSequence)
	// A new epoch starts at 0; the old one is fenced.
	_, err = h.produce("t", 0, batch(3, 1), 1)
	wantErr(t, err, ErrOutOfOrderSequence)
	bumped := h.initPID(&pid)
	if bumped != (ProducerID{ID: pid.ID, Epoch: 1}) {
		t.Fatalf("bumped %+v", bumped)
	}
	h.mustProduce("t", 0, batch(0, 1))
	_, err = h.produce("t", 0, batch(14, 0), 1)
	wantErr(t, err, ErrInvalidProducerEpoch)
	// An unknown id as prev gets a new id.
	if fresh := h.initPID(&ProducerID{ID: 99, Epoch: 3}); fresh.ID != 2 || fresh.Epoch != 0 {
		t.Fatalf("init with unknown prev %+v", fresh)
	}
	// A producer with no batch in the partition must start at 0.
	_, err = h.produce("t", 0, idempotent(nRecords(1), 1, 0, 4), 1)
	wantErr(t, err, ErrUnknownProducerID)
	// Producer id -1: no checks at all.
	h.mustProduce("t", 0, nRecords(1))
	h.mustProduce("t", 0, nRecords(1))
	checkKafka(t, h.f)
}

func TestKafkaSequenceWraps(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	h.mustTopic("t", 1)
	pid := h.initPID(nil)
	h.mustProduce("t", 0, idempotent(nRecords(1), pid.ID, 0, 0))
	// Move the stored sequence near the top, as a long-lived producer's.
	k := partKey{h.f.kafka.topics["t"].num, 0}
	st := producerState{epoch: 0, batches: []seqBatch{{firstSeq: math.MaxInt32 - 3, lastSeq: math.MaxInt32 - 2, baseOffset: 0}}}
	b := h.f.db.NewBatch()
	if err := b.Set(producerKey(k, pid.ID), st.encode(), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	res := h.mustProduce("t", 0, idempotent(nRecords(3), pid.ID, 0, math.MaxInt32-1)) // MaxInt32-1, MaxInt32, 0
	if res.Duplicate {
		t.Fatal("duplicate")
	}
	h.mustProduce("t", 0, idempotent(nRecords(1), pid.ID, 0, 1))
	if res := h.mustProduce("t", 0, idempotent(nRecords(3), pid.ID, 0, math.MaxInt32-1)); !res.Duplicate {
		t.Fatal("wrapped batch not recognised as a duplicate")
	}
}

func TestKafkaReadRecords(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	s := h.store()
	h.mustTopic("t", 1)
	sizes := []int{}
	for _, n := range []int{3, 2, 4} {
		b := nRecords(n)
		sizes = append(sizes, len(b))
		h.mustProduce("t", 0, b)
	}
	// An offset in the middle of a batch starts at that batch.
	_, bases := readAll(t, s, "t", 0, 4)
	if !cmp.Equal(bases, []int64{3, 5}) {
		t.Fatalf("from offset 4: batches %v", bases)
	}
	// maxBytes is honoured, but the first batch is always whole.
	for _, c := range []struct {
		max  int
		want []int64
	}{{0, []int64{0}}, {sizes[0] + sizes[1] - 1, []int64{0}}, {sizes[0] + sizes[1], []int64{0, 3}}, {1 << 20, []int64{0, 3, 5}}} {
		data, ps, err := s.ReadRecords("t", 0, 1, c.max)
		if err != nil {
			t.Fatal(err)
		}
		if _, got, err := decodeBatches(data); err != nil || !cmp.Equal(got, c.want) {
			t.Fatalf("max %d: batches %v (%v), want %v", c.max, got, err, c.want)
		}
		if ps.HighWatermark != 9 {
			t.Fatalf("state %+v", ps)
		}
	}
	if data, _, err := s.ReadRecords("t", 0, 9, 100); err != nil || len(data) != 0 {
		t.Fatalf("at the high watermark: %d bytes, %v", len(data), err)
	}
	for _, off := range []int64{10, -1} {
		if _, _, err := s.ReadRecords("t", 0, off, 100); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Fatalf("offset %d: %v", off, err)
		}
	}
	if _, _, err := s.ReadRecords("t", 1, 0, 100); !errors.Is(err, ErrUnknownTopicOrPartition) {
		t.Fatalf("unknown partition: %v", err)
	}
}

func TestKafkaOffsetForTimestampAndEpochEnd(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	s := h.store()
	h.mustTopic("t", 1)
	h.mustProduce("t", 0, batchOf(rec("a", "1", 100), rec("b", "2", 300), rec("c", "3", 200)))
	h.mustProduce("t", 0, batchOf(rec("d", "4", 500), rec("e", "5", 600)))
	for _, c := range []struct{ ts, off, stamp int64 }{
		{0, 0, 100}, {100, 0, 100}, {150, 1, 300}, {300, 1, 300}, {301, 3, 500}, {600, 4, 600}, {601, -1, -1},
	} {
		off, stamp, err := s.OffsetForTimestamp("t", 0, c.ts)
		if err != nil || off != c.off || stamp != c.stamp {
			t.Fatalf("ts %d: (%d, %d, %v), want (%d, %d)", c.ts, off, stamp, err, c.off, c.stamp)
		}
	}
	for _, c := range []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{{0, 0, 5}, {3, 0, 5}, {-1, -1, -1}} {
		e, end, err := s.EpochEndOffset("t", 0, c.epoch)
		if err != nil || e != c.wantEpoch || end != c.wantEnd {
			t.Fatalf("epoch %d: (%d, %d, %v)", c.epoch, e, end, err)
		}
	}
	// A later epoch (written as a leader change would) ends epoch 0 at its
	// start offset.
	k := partKey{h.f.kafka.topics["t"].num, 0}
	b := h.f.db.NewBatch()
	_ = b.Set(epochKey(k, 2), appendI64(nil, 4), nil)
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{{0, 0, 4}, {1, 0, 4}, {2, 2, 5}, {9, 2, 5}} {
		e, end, err := s.EpochEndOffset("t", 0, c.epoch)
		if err != nil || e != c.wantEpoch || end != c.wantEnd {
			t.Fatalf("epoch %d: (%d, %d, %v), want (%d, %d)", c.epoch, e, end, err, c.wantEpoch, c.wantEnd)
		}
	}
}

func TestKafkaCommittedOffsets(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	s := h.store()
	h.mustTopic("t", 2)
	h.mustTopic("u", 1)
	md := "meta"
	commits := []OffsetCommit{
		{Group: "g1", Topic: "u", Partition: 0, Offset: 7, LeaderEpoch: 0, Metadata: &md, CommitMillis: 5},
		{Group: "g1", Topic: "t", Partition: 1, Offset: 3, LeaderEpoch: -1, CommitMillis: 5},
		{Group: "g1", Topic: "t", Partition: 2, Offset: 3},
		{Group: "g0", Topic: "t", Partition: 0, Offset: 1},
		{Group: "", Topic: "t", Partition: 0, Offset: 1},
		{Group: "g2", Topic: "t", Partition: 0, Metadata: ptr(strings.Repeat("m", MaxOffsetMetadataBytes+1))},
	}
	codes := h.ok(offsetCommitCommand(commits))
	var errs []error
	for _, c := range codes {
		errs = append(errs, commitError(c))
	}
	want := []error{nil, nil, ErrUnknownTopicOrPartition, nil, ErrInvalidGroupID, ErrOffsetMetadataTooLarge}
	if !cmp.Equal(errs, want, cmp.Comparer(func(a, b error) bool { return a == b })) {
		t.Fatalf("commit answers %v, want %v", errs, want)
	}
	got, ok, err := s.CommittedOffset("g1", "u", 0)
	if err != nil || !ok || got.Offset != 7 || got.Metadata == nil || *got.Metadata != "meta" || got.CommitMillis != 5 {
		t.Fatalf("committed %+v %v %v", got, ok, err)
	}
	if _, ok, _ := s.CommittedOffset("g1", "t", 0); ok {
		t.Fatal("offset never committed is there")
	}
	all, err := s.CommittedOffsets("g1")
	if err != nil || len(all) != 2 || all[0].Topic != "t" || all[1].Topic != "u" || all[0].Metadata != nil {
		t.Fatalf("group offsets %+v %v", all, err)
	}
	if groups, err := s.OffsetGroups(); err != nil || !cmp.Equal(groups, []string{"g0", "g1"}) {
		t.Fatalf("groups %v %v", groups, err)
	}
	// Deleting a topic deletes its offsets, in every group.
	h.ok(nameCommand(CmdDeleteTopic, "t"))
	if groups, _ := s.OffsetGroups(); !cmp.Equal(groups, []string{"g1"}) {
		t.Fatalf("groups after delete %v", groups)
	}
}

func ptr[T any](v T) *T { return &v }

func TestKafkaRetention(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	if err := h.createTopic("time", 1, 1000, -1); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []int64{100, 200, 5000} {
		h.mustProduce("time", 0, batchOf(rec("k", "v", ts), rec("k", "w", ts)))
	}
	pid := h.initPID(nil)
	h.mustProduce("time", 0, idempotent(batchOf(rec("k", "x", 50)), pid.ID, 0, 0)) // old timestamp, newest batch
	h.ok(trimCommand(1150))                                                        // deletes maxTs < 150: the first batch
	if ps := h.part("time", 0); ps.LogStartOffset != 2 || ps.HighWatermark != 7 {
		t.Fatalf("after first trim %+v", ps)
	}
	if _, _, err := h.store().ReadRecords("time", 0, 1, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below log start: %v", err)
	}
	h.ok(trimCommand(10_000)) // everything older than 9000: all of it
	ps := h.part("time", 0)
	if ps.LogStartOffset != 7 || ps.HighWatermark != 7 || ps.Bytes != 0 {
		t.Fatalf("after second trim %+v", ps)
	}
	if n := countKeys(t, h.f.db, tableKafkaProducer); n != 0 {
		t.Fatalf("%d producer states outlived their batches", n)
	}
	// Offsets continue from the high watermark.
	if res := h.mustProduce("time", 0, nRecords(1)); res.BaseOffset != 7 || res.LogStartOffset != 7 {
		t.Fatalf("after trim produce %+v", res)
	}

	size := int64(len(nRecords(2)))
	if err := h.createTopic("size", 1, -1, 2*size); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		h.mustProduce("size", 0, nRecords(2))
	}
	h.ok(trimCommand(1))
	if ps := h.part("size", 0); ps.LogStartOffset != 6 || ps.Bytes != 2*size {
		t.Fatalf("size retention %+v", ps)
	}
	// Two trims in one entry: the second sees what the first deleted.
	if err := h.createTopic("both", 1, 1000, -1); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []int64{100, 200, 300} {
		h.mustProduce("both", 0, batchOf(rec("k", "v", ts)))
	}
	h.apply(trimCommand(1150), trimCommand(1250))
	if ps := h.part("both", 0); ps.LogStartOffset != 2 || ps.Bytes != int64(len(batchOf(rec("k", "v", 300)))) {
		t.Fatalf("two trims in one entry %+v", ps)
	}
	var sum int64
	for _, name := range []string{"time", "size", "both"} {
		sum += h.part(name, 0).Bytes
	}
	if got := h.f.kafka.bytes.Load(); got != sum || sum == 0 {
		t.Fatalf("bytes gauge %d, partitions hold %d", got, sum)
	}
	checkKafka(t, h.f)
}

func TestKafkaChangedWakesWaiters(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	s := h.store()
	h.mustTopic("t", 1)
	ch := s.KafkaChanged()
	h.ok(must(KVPut([]byte("k"), nil)))
	select {
	case <-ch:
		t.Fatal("closed without a change")
	default:
	}
	h.mustProduce("t", 0, nRecords(1))
	select {
	case <-ch:
	default:
		t.Fatal("not closed after a produce")
	}
	if next := s.KafkaChanged(); next == ch {
		t.Fatal("closed channel handed out again")
	}
}

// recordsOf reads a partition's records via the store.
func recordsOf(t testing.TB, h *mqttFSM, topic string, p int32) []readRec {
	t.Helper()
	ps := h.part(topic, p)
	recs, _ := readAll(t, h.store(), topic, p, ps.LogStartOffset)
	return recs
}

// TestKafkaStateSurvivesReopenAndRestore checks that the Kafka index
// (topics, partition states, mappings) is rebuilt from Pebble when a
// state machine reopens and when it restores a snapshot, and that a
// restore wakes the fetches waiting on KafkaChanged.
func TestKafkaStateSurvivesReopenAndRestore(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	src := newTestFSM(t, fs, "src")
	h := &mqttFSM{t: t, f: src}
	if err := h.setMapping(mirrorMapping("mirror", "mqtt", 2, "{level:0}", "dev/#")); err != nil {
		t.Fatal(err)
	}
	if err := h.setMapping(Mapping{Name: "in", Direction: KafkaToMQTT, KafkaTopic: "cmd", QoS: 1}); err != nil {
		t.Fatal(err)
	}
	h.pub("d", "dev/1", 1, false, "x", 5)
	h.mustProduce("cmd", 0, batchOf(rec("dev/2", "y", 6)))
	want := kafkaIndexDump(src.kafka)

	dst := newTestFSM(t, fs, "dst")
	waiting := (&Store{fsm: dst}).KafkaChanged()
	restoreFrom(t, src, dst)
	select {
	case <-waiting:
	default:
		t.Fatal("restore did not wake KafkaChanged")
	}
	if d := cmp.Diff(want, kafkaIndexDump(dst.kafka)); d != "" {
		t.Fatalf("restored kafka index (-src +dst):\n%s", d)
	}
	if err := src.close(); err != nil {
		t.Fatal(err)
	}
	reopened := newTestFSM(t, fs, "src")
	if d := cmp.Diff(want, kafkaIndexDump(reopened.kafka)); d != "" {
		t.Fatalf("reopened kafka index (-before +after):\n%s", d)
	}
	s := &Store{fsm: reopened}
	if ms := s.Mappings(); len(ms) != 2 || !s.MappedToKafka("dev/9") || s.MappedToKafka("other") {
		t.Fatalf("mappings after reopen %+v", ms)
	}
	// dev/1 and dev/2 (published from Kafka) both reached "mqtt", key "dev".
	if recs := recordsOf(t, &mqttFSM{t: t, f: reopened}, "mqtt", kafkacodec.PartitionForKey([]byte("dev"), 2)); len(recs) != 2 {
		t.Fatalf("mirrored records after reopen %+v", recs)
	}
	checkKafka(t, reopened)
}
