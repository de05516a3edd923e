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
//   - Any node serves any partition, whoever Metadata says leads it: all
//     hold the same log. CurrentLeaderEpoch (v9+) is checked against the
//     replicated epoch of the partition as this node has applied it.
//   - Long poll: while fewer than MinBytes are gathered and MaxWaitMillis
//     (capped by KafkaConfig.MaxFetchWait) has not passed, wait for the
//     store to apply more, then read again. A partition error answers at
//     once, as Kafka's fetch purgatory does.
//   - An offset above this node's high watermark may exist on nodes that
//     are ahead (a consumer moved here from one of them): it is
//     OFFSET_OUT_OF_RANGE only once this node has applied every entry it
//     knew committed when the request arrived (fetchAt has the rule).
//     Until then the partition answers no records and no error, and a
//     fetch that has gathered nothing keeps waiting, even with MinBytes 0;
//     if MaxWaitMillis passes first, that is the answer and the client
//     asks again.
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
	pass := fetchPass{version: req.Version, commitAtStart: k.store.CommitIndex()}
	wait := time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond
	timer := time.NewTimer(min(wait, k.cfg.MaxFetchWait))
	defer timer.Stop()
	var poll <-chan time.Time
	for {
		// Taken before reading: a change after the read closes it.
		changed := k.store.KafkaChanged()
		n, errored, lagging := k.readFetch(req, resp, &pass)
		// A partition that waits for this node to catch up holds the
		// answer only while nothing else is there to return.
		if errored || n >= int(req.MinBytes) && (n > 0 || !lagging) {
			return resp
		}
		if lagging && poll == nil {
			// Catching up may apply entries that move no partition (and a
			// new leader's commit moves none): look again now and then.
			t := time.NewTicker(catchUpPoll)
			defer t.Stop()
			poll = t.C
		}
		select {
		case <-changed:
		case <-poll:
		case <-timer.C:
			return resp
		case <-ctx.Done():
			return resp
		case <-k.stop:
			return resp
		}
	}
}

// catchUpPoll is how often a fetch that waits for this node to catch up
// looks again when nothing else wakes it.
const catchUpPoll = 20 * time.Millisecond

// fetchPass is what one Fetch carries from partition to partition.
type fetchPass struct {
	version int16
	// commitAtStart is the raft commit index this node knew when the
	// request arrived.
	commitAtStart uint64
	// progress is this node's progress, read at most once per pass over
	// the partitions (only when some offset is past the high watermark).
	progress *logProgress
}

// readFetch fills resp.Topics from the store and returns the record bytes
// gathered, whether any partition answered an error, and whether any
// partition waits for this node to catch up.
func (k *Kafka) readFetch(req *kmsg.FetchRequest, resp *kmsg.FetchResponse, pass *fetchPass) (int, bool, bool) {
	budget := max(0, min(int(req.MaxBytes), k.cfg.MaxFetchBytes))
	total, errored, lagging := 0, false, false
	pass.progress = nil
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			sp := &st.Partitions[j]
			limit := max(0, min(int(rt.Partitions[j].PartitionMaxBytes), budget-total))
			n, verdict := k.readPartition(pass, rt.Topic, &rt.Partitions[j], sp, limit, total == 0)
			total += n
			errored = errored || verdict == fetchOutOfRange || verdict == fetchFailed
			lagging = lagging || verdict == fetchWait
		}
	}
	return total, errored, lagging
}

// readPartition answers one partition of a Fetch with at most limit bytes
// (or, when first, at least the whole first batch). It returns the bytes
// it added and the verdict: fetchAt's, or fetchFailed when it answered
// another partition error.
func (k *Kafka) readPartition(pass *fetchPass, topic string, rp *kmsg.FetchRequestTopicPartition,
	sp *kmsg.FetchResponseTopicPartition, limit int, first bool) (int, fetchVerdict) {
	sp.Default()
	sp.Partition = rp.Partition
	sp.HighWatermark = -1
	sp.RecordBatches = []byte{} // never null
	state, err := k.store.Partition(topic, rp.Partition)
	if err != nil {
		sp.ErrorCode = k.errCode(err)
		return 0, fetchFailed
	}
	if pass.version >= 9 {
		if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, state.LeaderEpoch); code != 0 {
			sp.ErrorCode = code
			return 0, fetchFailed
		}
	}
	if rp.FetchOffset > state.HighWatermark && pass.progress == nil {
		// Progress first, then the state again: a high watermark read
		// before the progress could predate entries the progress counts
		// as applied.
		p := k.logProgress(pass.commitAtStart)
		pass.progress = &p
		if state, err = k.store.Partition(topic, rp.Partition); err != nil {
			sp.ErrorCode = k.errCode(err)
			return 0, fetchFailed
		}
	}
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = state.HighWatermark, state.HighWatermark, state.LogStartOffset
	var p logProgress
	if pass.progress != nil {
		p = *pass.progress
	}
	switch v := fetchAt(rp.FetchOffset, state.LogStartOffset, state.HighWatermark, p); v {
	case fetchOutOfRange:
		sp.ErrorCode = kerr.OffsetOutOfRange.Code
		return 0, v
	case fetchWait:
		return 0, v
	}
	if rp.FetchOffset == state.HighWatermark || !first && limit == 0 {
		return 0, fetchRead
	}
	data, state, err := k.store.ReadRecords(topic, rp.Partition, rp.FetchOffset, limit)
	if err != nil {
		// Trimmed or deleted between the two reads.
		sp.ErrorCode = k.errCode(err)
		return 0, fetchFailed
	}
	sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = state.HighWatermark, state.HighWatermark, state.LogStartOffset
	if !first {
		data = wholeBatchesWithin(data, limit)
	}
	if len(data) > 0 {
		sp.RecordBatches = data
	}
	return len(data), fetchRead
}

// fetchVerdict is what a Fetch does with one partition.
type fetchVerdict uint8

const (
	// fetchRead: the offset is within this node's log: read from it
	// (nothing yet at the high watermark).
	fetchRead fetchVerdict = iota
	// fetchWait: the offset is past this node's end but this node may be
	// behind the cluster: no records and no error, and the fetch waits.
	fetchWait
	// fetchOutOfRange: OFFSET_OUT_OF_RANGE.
	fetchOutOfRange
	// fetchFailed: another partition error (readPartition's, never
	// fetchAt's).
	fetchFailed
)

// logProgress is what this node knows of its own progress through the raft
// log, as the fetch rule needs it.
type logProgress struct {
	// applied is the index through which this node's state is complete:
	// its applied index, or, once the store is ready, at least the commit
	// index it knew when the request arrived — raft's own entries (a new
	// leader's no-op, barriers) never reach the state, so the applied
	// index alone can stay below the commit index for good.
	applied uint64
	// commitAtStart is the commit index this node knew when the request
	// arrived.
	commitAtStart uint64
	// ready is the store's CaughtUp: a raft leader is known and an entry of
	// its term has committed, so the commit index this node knows is not a
	// stale one from before an election, and every entry up to it is
	// applied.
	ready bool
}

// logProgress reads this node's progress for a fetch that arrived when
// the commit index was commitAtStart.
func (k *Kafka) logProgress(commitAtStart uint64) logProgress {
	p := logProgress{applied: k.store.AppliedIndex(), commitAtStart: commitAtStart}
	if k.store.CaughtUp() == nil {
		// Caught up: every entry up to the current commit index (≥
		// commitAtStart, which only grows) is in the state.
		p.ready, p.applied = true, max(p.applied, commitAtStart)
	}
	return p
}

// fetchAt decides a fetch at offset from a partition whose log on this
// node spans [logStart, hw):
//
//   - below logStart: OFFSET_OUT_OF_RANGE (trimmed; a node that lags has
//     trimmed no more than the others);
//   - up to hw: read;
//   - past hw while this node has not applied everything it knew
//     committed when the request arrived (applied < commitAtStart), or
//     while it is not ready (no raft leader known, or nothing of the
//     leader's term committed: what it knows committed may be stale, and
//     the offset may exist on the nodes that are ahead): wait;
//   - past hw once it has: OFFSET_OUT_OF_RANGE.
//
// So a consumer moved from a node that is ahead to one that lags never
// resets; the price is that a truly bad offset on a node that cannot settle
// (cut off from the leader) waits out MaxWait before each empty answer.
func fetchAt(offset, logStart, hw int64, p logProgress) fetchVerdict {
	switch {
	case offset < logStart:
		return fetchOutOfRange
	case offset <= hw:
		return fetchRead
	case !p.ready || p.applied < p.commitAtStart:
		return fetchWait
	default:
		return fetchOutOfRange
	}
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
