package cluster

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
)

// Fetch: v4-12
//
// Behavior:
//   - Record batches are returned as stored (no re-encoding), from this
//     node's applied state up to its high watermark.
//   - MaxBytes (capped by KafkaConfig.MaxFetchBytes) bounds the response,
//     PartitionMaxBytes each partition, but the first batch of the first
//     partition with data is always returned whole (Kafka's rule, so a
//     consumer never stalls on a big batch); later partitions get whole
//     batches that fit only.
//   - Long poll: while fewer than MinBytes are gathered and MaxWaitMillis
//     (capped by KafkaConfig.MaxFetchWait) has not passed, wait for the
//     store to apply more, then read again. A partition error answers at
//     once, as Kafka's fetch purgatory does.
//   - RecordBatches is never null: kmsg encodes nil as a null record set,
//     which clients do not accept.
//   - Fetch sessions (KIP-227) are not kept: SessionID 0 tells the client
//     to keep sending full fetches; a request naming a session is answered
//     FETCH_SESSION_ID_NOT_FOUND. ForgottenTopics is ignored.
//   - IsolationLevel is ignored: without transactions every record is
//     stable (LastStableOffset = HighWatermark, no aborted transactions).
//
// Version notes:
//   - v5: LogStartOffset
//   - v7: fetch sessions (KIP-227)
//   - v9: CurrentLeaderEpoch (KIP-320)
//   - v11: Rack (ignored), PreferredReadReplica -1
//   - v12: flexible versions; LastFetchedEpoch ignored

func (k *Kafka) fetch(ctx context.Context, req *kmsg.FetchRequest) *kmsg.FetchResponse {
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.Version >= 7 && req.SessionID > 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp
	}
	wait := time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond
	timer := time.NewTimer(min(wait, k.cfg.MaxFetchWait))
	defer timer.Stop()
	for {
		// Taken before reading: a change after the read closes it.
		changed := k.store.KafkaChanged()
		n, errored := k.readFetch(req, resp)
		if errored || n >= int(req.MinBytes) {
			return resp
		}
		select {
		case <-changed:
		case <-timer.C:
			return resp
		case <-ctx.Done():
			return resp
		case <-k.stop:
			return resp
		}
	}
}

// readFetch fills resp.Topics from the store and returns the record bytes
// gathered and whether any partition answered an error.
func (k *Kafka) readFetch(req *kmsg.FetchRequest, resp *kmsg.FetchResponse) (int, bool) {
	budget := max(0, min(int(req.MaxBytes), k.cfg.MaxFetchBytes))
	total, errored := 0, false
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			sp := &st.Partitions[j]
			limit := max(0, min(int(rt.Partitions[j].PartitionMaxBytes), budget-total))
			n, ok := k.readPartition(req.Version, rt.Topic, &rt.Partitions[j], sp, limit, total == 0)
			total += n
			errored = errored || !ok
		}
	}
	return total, errored
}

// readPartition answers one partition of a Fetch with at most limit bytes
// (or, when first, at least the whole first batch). It returns the bytes
// it added and false when it answered an error.
func (k *Kafka) readPartition(version int16, topic string, rp *kmsg.FetchRequestTopicPartition,
	sp *kmsg.FetchResponseTopicPartition, limit int, first bool) (int, bool) {
	sp.Default()
	sp.Partition = rp.Partition
	sp.HighWatermark = -1
	sp.RecordBatches = []byte{} // never null
	state, err := k.store.Partition(topic, rp.Partition)
	if err != nil {
		sp.ErrorCode = k.errCode(err)
		return 0, false
	}
	if version >= 9 {
		if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, state.LeaderEpoch); code != 0 {
			sp.ErrorCode = code
			return 0, false
		}
	}
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = state.HighWatermark, state.HighWatermark, state.LogStartOffset
	if rp.FetchOffset < state.LogStartOffset || rp.FetchOffset > state.HighWatermark {
		sp.ErrorCode = kerr.OffsetOutOfRange.Code
		return 0, false
	}
	if rp.FetchOffset == state.HighWatermark || !first && limit == 0 {
		return 0, true
	}
	data, state, err := k.store.ReadRecords(topic, rp.Partition, rp.FetchOffset, limit)
	if err != nil {
		// Trimmed or deleted between the two reads.
		sp.ErrorCode = k.errCode(err)
		return 0, false
	}
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = state.HighWatermark, state.HighWatermark, state.LogStartOffset
	if !first {
		data = wholeBatchesWithin(data, limit)
	}
	if len(data) > 0 {
		sp.RecordBatches = data
	}
	return len(data), true
}

// wholeBatchesWithin returns the leading whole batches of b that fit in
// limit bytes.
func wholeBatchesWithin(b []byte, limit int) []byte {
	n := 0
	for n < len(b) {
		h, err := kafkacodec.PeekBatch(b[n:])
		if err != nil || n+h.Size() > limit {
			break
		}
		n += h.Size()
	}
	return b[:n:n]
}
