package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestKafkaProduceThenFetch(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("events", 2)

	for i, want := range []int64{0, 2} {
		sp := ks.produce("events", 1, batch("a", "b"))
		wantCode(t, "produce", sp.ErrorCode, nil)
		if sp.BaseOffset != want || sp.LogStartOffset != 0 || sp.LogAppendTime != -1 {
			t.Errorf("produce %d: base %d log start %d append time %d, want %d 0 -1",
				i, sp.BaseOffset, sp.LogStartOffset, sp.LogAppendTime, want)
		}
	}

	resp := handle[*kmsg.FetchResponse](t, ks.kafka, 12, fetchReq("events", 1, 1))
	wantCode(t, "fetch", resp.ErrorCode, nil)
	if resp.SessionID != 0 {
		t.Errorf("session id %d, want 0 (no fetch sessions)", resp.SessionID)
	}
	sp := resp.Topics[0].Partitions[0]
	wantCode(t, "fetch partition", sp.ErrorCode, nil)
	if sp.HighWatermark != 4 || sp.LastStableOffset != 4 || sp.LogStartOffset != 0 || sp.PreferredReadReplica != -1 {
		t.Errorf("hw %d lso %d log start %d preferred %d, want 4 4 0 -1",
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset, sp.PreferredReadReplica)
	}
	// The batch holding offset 1 comes whole: the client skips offset 0.
	want := []fetchedRecord{{0, "k0", "a"}, {1, "k1", "b"}, {2, "k0", "a"}, {3, "k1", "b"}}
	if diff := cmp.Diff(want, records(t, sp.RecordBatches)); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}

	// At the high watermark, and on an empty partition: no records, but
	// never a null record set.
	for _, tc := range []struct {
		partition int32
		offset    int64
	}{{1, 4}, {0, 0}} {
		resp := handle[*kmsg.FetchResponse](t, ks.kafka, 4, fetchReq("events", tc.partition, tc.offset))
		sp := resp.Topics[0].Partitions[0]
		wantCode(t, "fetch at hw", sp.ErrorCode, nil)
		if sp.RecordBatches == nil || len(sp.RecordBatches) != 0 {
			t.Errorf("partition %d at %d: RecordBatches %v, want empty and non-nil", tc.partition, tc.offset, sp.RecordBatches)
		}
	}
}

func TestKafkaProduceErrors(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{MaxMessageBytes: 200})
	ks.createTopic("t", 1)
	good := batch("x")
	corrupt := batch("x")
	corrupt[len(corrupt)-1] ^= 0xff
	big := batch(string(make([]byte, 300)))

	for _, tc := range []struct {
		name   string
		mutate func(*kmsg.ProduceRequest)
		want   *kerr.Error
	}{
		{"unknown topic", func(r *kmsg.ProduceRequest) { r.Topics[0].Topic = "nope" }, kerr.UnknownTopicOrPartition},
		{"unknown partition", func(r *kmsg.ProduceRequest) { r.Topics[0].Partitions[0].Partition = 7 }, kerr.UnknownTopicOrPartition},
		{"acks 2", func(r *kmsg.ProduceRequest) { r.Acks = 2 }, kerr.InvalidRequiredAcks},
		{"transactional", func(r *kmsg.ProduceRequest) { r.TransactionID = kmsg.StringPtr("tx") }, kerr.TransactionalIDAuthorizationFailed},
		{"no records", func(r *kmsg.ProduceRequest) { r.Topics[0].Partitions[0].Records = nil }, kerr.InvalidRecord},
		{"corrupt", func(r *kmsg.ProduceRequest) { r.Topics[0].Partitions[0].Records = corrupt }, kerr.CorruptMessage},
		{"two batches", func(r *kmsg.ProduceRequest) {
			r.Topics[0].Partitions[0].Records = append(batch("a"), batch("b")...)
		}, kerr.CorruptMessage},
		{"too large", func(r *kmsg.ProduceRequest) { r.Topics[0].Partitions[0].Records = big }, kerr.MessageTooLarge},
	} {
		req := produceReq("t", map[int32][]byte{0: good})
		tc.mutate(req)
		resp := handle[*kmsg.ProduceResponse](t, ks.kafka, 8, req)
		sp := resp.Topics[0].Partitions[0]
		wantCode(t, tc.name, sp.ErrorCode, tc.want)
		if sp.BaseOffset != -1 {
			t.Errorf("%s: base offset %d, want -1", tc.name, sp.BaseOffset)
		}
	}
	// Nothing of the above was stored; the connection stays usable.
	if sp := ks.produce("t", 0, good); sp.ErrorCode != 0 || sp.BaseOffset != 0 {
		t.Errorf("produce after errors: %s base %d, want NONE 0", codeName(sp.ErrorCode), sp.BaseOffset)
	}
}

func TestKafkaProduceAcksZero(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("fire", 1)
	req := produceReq("fire", map[int32][]byte{0: batch("forget")})
	req.Acks = 0
	req.SetVersion(9)
	resp, err := ks.kafka.Handle(context.Background(), req)
	if resp != nil || err != nil {
		t.Fatalf("acks=0: Handle = %v, %v; want nil, nil", resp, err)
	}
	// The request's buffer is reused after Handle: the proposal owns a
	// copy, so scribbling over it changes nothing.
	clear(req.Topics[0].Partitions[0].Records)
	waitFor(t, "acks=0 record stored", func() bool {
		st, err := ks.store.Partition("fire", 0)
		return err == nil && st.HighWatermark == 1
	})
	fr := handle[*kmsg.FetchResponse](t, ks.kafka, 12, fetchReq("fire", 0, 0))
	if got := records(t, fr.Topics[0].Partitions[0].RecordBatches); len(got) != 1 || got[0].Value != "forget" {
		t.Errorf("records %+v, want one \"forget\"", got)
	}
}

func TestKafkaIdempotentProduce(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("idem", 1)
	init := handle[*kmsg.InitProducerIDResponse](t, ks.kafka, 4, kmsg.NewPtrInitProducerIDRequest())
	wantCode(t, "init producer id", init.ErrorCode, nil)
	if init.ProducerID < 0 || init.ProducerEpoch != 0 {
		t.Fatalf("producer id %d epoch %d, want ≥0 and 0", init.ProducerID, init.ProducerEpoch)
	}
	pid, epoch := init.ProducerID, init.ProducerEpoch

	first := ks.produce("idem", 0, idempotent(batch("a", "b"), pid, epoch, 0))
	wantCode(t, "first", first.ErrorCode, nil)
	second := ks.produce("idem", 0, idempotent(batch("c"), pid, epoch, 2))
	wantCode(t, "second", second.ErrorCode, nil)
	// A retry of the first batch is a duplicate: NONE with its offset.
	dup := ks.produce("idem", 0, idempotent(batch("a", "b"), pid, epoch, 0))
	wantCode(t, "duplicate", dup.ErrorCode, nil)
	if dup.BaseOffset != first.BaseOffset {
		t.Errorf("duplicate base offset %d, want %d", dup.BaseOffset, first.BaseOffset)
	}
	gap := ks.produce("idem", 0, idempotent(batch("d"), pid, epoch, 9))
	wantCode(t, "sequence gap", gap.ErrorCode, kerr.OutOfOrderSequenceNumber)
	if st, _ := ks.store.Partition("idem", 0); st.HighWatermark != 3 {
		t.Errorf("high watermark %d, want 3 (the duplicate and the gap not stored)", st.HighWatermark)
	}

	// v3+ bumps the epoch of a known producer (KIP-360).
	bumpReq := kmsg.NewPtrInitProducerIDRequest()
	bumpReq.ProducerID, bumpReq.ProducerEpoch = pid, epoch
	bump := handle[*kmsg.InitProducerIDResponse](t, ks.kafka, 3, bumpReq)
	wantCode(t, "bump", bump.ErrorCode, nil)
	if bump.ProducerID != pid || bump.ProducerEpoch != epoch+1 {
		t.Errorf("bump: id %d epoch %d, want %d %d", bump.ProducerID, bump.ProducerEpoch, pid, epoch+1)
	}
	// The partition learns the new epoch from its first batch (as Kafka's
	// does); the old epoch is fenced from then on.
	bumped := ks.produce("idem", 0, idempotent(batch("e"), pid, epoch+1, 0))
	wantCode(t, "new epoch", bumped.ErrorCode, nil)
	old := ks.produce("idem", 0, idempotent(batch("f"), pid, epoch, 3))
	wantCode(t, "old epoch", old.ErrorCode, kerr.InvalidProducerEpoch)

	tx := kmsg.NewPtrInitProducerIDRequest()
	tx.TransactionalID = kmsg.StringPtr("tx")
	txResp := handle[*kmsg.InitProducerIDResponse](t, ks.kafka, 4, tx)
	wantCode(t, "transactional", txResp.ErrorCode, kerr.TransactionalIDAuthorizationFailed)
	if txResp.ProducerID != -1 {
		t.Errorf("transactional: producer id %d, want -1", txResp.ProducerID)
	}
}

func TestKafkaFetchErrors(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("f", 1)
	ks.produce("f", 0, batch("a"))
	st, err := ks.store.Partition("f", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		version int16
		mutate  func(*kmsg.FetchRequest)
		want    *kerr.Error
	}{
		{"past hw", 12, func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].FetchOffset = 2 }, kerr.OffsetOutOfRange},
		{"negative", 12, func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].FetchOffset = -1 }, kerr.OffsetOutOfRange},
		{"unknown topic", 12, func(r *kmsg.FetchRequest) { r.Topics[0].Topic = "nope" }, kerr.UnknownTopicOrPartition},
		{"unknown partition", 12, func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].Partition = 3 }, kerr.UnknownTopicOrPartition},
		{"newer epoch", 9, func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].CurrentLeaderEpoch = st.LeaderEpoch + 1 }, kerr.UnknownLeaderEpoch},
		{"same epoch", 9, func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].CurrentLeaderEpoch = st.LeaderEpoch }, nil},
		{"epoch ignored before v9", 8, func(r *kmsg.FetchRequest) { r.Topics[0].Partitions[0].CurrentLeaderEpoch = st.LeaderEpoch + 1 }, nil},
	} {
		req := fetchReq("f", 0, 0)
		if tc.want != nil {
			// An error answers at once, whatever the request waits for.
			req.MinBytes, req.MaxWaitMillis = 1<<20, 20000
		}
		tc.mutate(req)
		resp := handle[*kmsg.FetchResponse](t, ks.kafka, tc.version, req)
		sp := resp.Topics[0].Partitions[0]
		wantCode(t, tc.name, sp.ErrorCode, tc.want)
		if sp.RecordBatches == nil {
			t.Errorf("%s: null record set", tc.name)
		}
	}

	req := fetchReq("f", 0, 0)
	req.SessionID = 5
	resp := handle[*kmsg.FetchResponse](t, ks.kafka, 7, req)
	wantCode(t, "unknown session", resp.ErrorCode, kerr.FetchSessionIDNotFound)
}

func TestCheckLeaderEpoch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		client, ours int32
		want         *kerr.Error
	}{
		{-1, 5, nil}, {5, 5, nil}, {6, 5, kerr.UnknownLeaderEpoch}, {4, 5, kerr.FencedLeaderEpoch}, {0, 5, kerr.FencedLeaderEpoch},
	} {
		wantCode(t, "checkLeaderEpoch", checkLeaderEpoch(tc.client, tc.ours), tc.want)
	}
}

func TestKafkaFetchMaxBytes(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("m", 2)
	b := batch("0123456789")
	for p := range int32(2) {
		for range 2 {
			ks.produce("m", p, b)
		}
	}
	req := fetchReq("m", 0, 0)
	rp := req.Topics[0].Partitions[0]
	rp.Partition = 1
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
	// Smaller than one batch: the first partition still gets its first
	// batch whole; the second, nothing.
	req.MaxBytes = 10
	resp := handle[*kmsg.FetchResponse](t, ks.kafka, 12, req)
	p0, p1 := resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
	if len(p0.RecordBatches) != len(b) {
		t.Errorf("first partition: %d bytes, want one batch (%d)", len(p0.RecordBatches), len(b))
	}
	if p1.RecordBatches == nil || len(p1.RecordBatches) != 0 {
		t.Errorf("second partition: %d bytes (nil %v), want none", len(p1.RecordBatches), p1.RecordBatches == nil)
	}
	// Room for three batches: two from the first, one from the second.
	req.MaxBytes = int32(3 * len(b))
	resp = handle[*kmsg.FetchResponse](t, ks.kafka, 12, req)
	p0, p1 = resp.Topics[0].Partitions[0], resp.Topics[0].Partitions[1]
	if len(p0.RecordBatches) != 2*len(b) || len(p1.RecordBatches) != len(b) {
		t.Errorf("bytes %d and %d, want %d and %d", len(p0.RecordBatches), len(p1.RecordBatches), 2*len(b), len(b))
	}
}

func TestKafkaFetchLongPoll(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("poll", 1)

	// Times out on MaxWait with nothing: no error, empty record set.
	req := fetchReq("poll", 0, 0)
	req.MinBytes, req.MaxWaitMillis = 1, 30
	resp := handle[*kmsg.FetchResponse](t, ks.kafka, 12, req)
	sp := resp.Topics[0].Partitions[0]
	wantCode(t, "timed out poll", sp.ErrorCode, nil)
	if sp.RecordBatches == nil || len(sp.RecordBatches) != 0 || sp.HighWatermark != 0 {
		t.Errorf("timed out poll: %d bytes (nil %v), hw %d; want none, 0", len(sp.RecordBatches), sp.RecordBatches == nil, sp.HighWatermark)
	}

	// Woken by a produce.
	done := make(chan *kmsg.FetchResponse, 1)
	go func() {
		req := fetchReq("poll", 0, 0)
		req.MinBytes, req.MaxWaitMillis = 1, 20000
		req.SetVersion(12)
		resp, err := ks.kafka.Handle(context.Background(), req)
		if err != nil {
			t.Errorf("fetch: %v", err)
		}
		r, _ := resp.(*kmsg.FetchResponse)
		done <- r
	}()
	time.Sleep(20 * time.Millisecond) // let it park; the test holds either way
	ks.produce("poll", 0, batch("wake"))
	select {
	case resp := <-done:
		got := records(t, resp.Topics[0].Partitions[0].RecordBatches)
		if len(got) != 1 || got[0].Value != "wake" {
			t.Errorf("woken fetch: %+v, want the produced record", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll not woken by a produce")
	}

	// Close wakes a parked fetch.
	go func() {
		req := fetchReq("poll", 0, 1)
		req.MinBytes, req.MaxWaitMillis = 1, 20000
		req.SetVersion(12)
		resp, _ := ks.kafka.Handle(context.Background(), req)
		r, _ := resp.(*kmsg.FetchResponse)
		done <- r
	}()
	time.Sleep(20 * time.Millisecond)
	ks.kafka.Close()
	select {
	case resp := <-done:
		if resp == nil || len(resp.Topics[0].Partitions[0].RecordBatches) != 0 {
			t.Errorf("fetch woken by Close: %+v", resp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll not woken by Close")
	}
}
