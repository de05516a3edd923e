package raftstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tributary/kafkacodec"
)

// A publish batch stores what each of its QoS 0 publishes needs, in order:
// the Kafka records of mapped topics (one batch per partition for the
// entry) and retained copies; it routes none of them again.
func TestPublishBatchAppendsRecordsInOrder(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	if err := h.setMapping(mirrorMapping("all", "mqtt", 2, "", "#")); err != nil {
		t.Fatal(err)
	}
	var reqs []PublishRequest
	for i := range 10 {
		reqs = append(reqs, PublishRequest{ClientID: "pub", AlreadyDelivered: true, NowMillis: 100 + int64(i),
			Message: Message{Topic: fmt.Sprintf("t/%d", i%3), Payload: []byte(fmt.Sprint(i)), Retain: i == 9}})
	}
	if _, err := h.one(publishBatchCommand(reqs)); err != nil {
		t.Fatalf("apply batch: %v", err)
	}
	s := h.store()
	want := map[int32][]string{}
	for i, r := range reqs {
		p := kafkacodec.PartitionForKey([]byte(r.Message.Topic), 2)
		want[p] = append(want[p], fmt.Sprintf("%s=%d", r.Message.Topic, i))
	}
	for p := range int32(2) {
		recs, bases := readAll(t, s, "mqtt", p, 0)
		var got []string
		for _, r := range recs {
			got = append(got, r.Key+"="+r.Value)
		}
		if !cmp.Equal(got, want[p]) || len(recs) > 0 && len(bases) != 1 {
			t.Fatalf("partition %d: records %v in %d batches, want %v in 1", p, got, len(bases), want[p])
		}
	}
	if _, ok, err := h.f.get(retainedKey("t/0")); err != nil || !ok {
		t.Fatalf("the retained publish of the batch was not stored (%v)", err)
	}
	checkKafka(t, h.f)
}

// A batch holding anything but already-delivered publishes without packet
// ids, or cut short, is refused whole.
func TestPublishBatchRefusesMalformed(t *testing.T) {
	t.Parallel()
	h := newMQTTFSM(t)
	ok := PublishRequest{ClientID: "c", AlreadyDelivered: true, Message: Message{Topic: "a", Payload: []byte("x")}}
	routed := ok
	routed.AlreadyDelivered = false
	good := publishBatchCommand([]PublishRequest{ok, ok})
	for name, c := range map[string]Command{
		"not delivered": publishBatchCommand([]PublishRequest{ok, routed}),
		"truncated":     {Type: CmdPublishBatch, Version: 1, Payload: good.Payload[:len(good.Payload)-1]},
		"trailing":      {Type: CmdPublishBatch, Version: 1, Payload: append(append([]byte{}, good.Payload...), 0)},
		"empty":         {Type: CmdPublishBatch, Version: 1, Payload: []byte{0}},
	} {
		_, err := h.one(c)
		var rej *RejectedError
		if !errors.As(err, &rej) || !errors.Is(err, errMalformedPayload) {
			t.Errorf("%s: %v, want a rejection for a malformed payload", name, err)
		}
	}
	if _, err := h.one(good); err != nil {
		t.Fatalf("a good batch: %v", err)
	}
}
