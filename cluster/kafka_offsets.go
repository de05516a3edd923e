package cluster

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
	"tributary/raftstore"
)

// ListOffsets: v0-7
//
// Behavior:
//   - Timestamp -1 is the high watermark, -2 the log start offset, -3
//     (v7+, KIP-734) the record with the largest timestamp of the
//     partition (its batch found in the batch index), any other the first
//     record at or after the timestamp. Other negative timestamps, and -3 below v7, are
//     UNSUPPORTED_VERSION for that partition.
//   - A partition listed twice is INVALID_REQUEST for both entries (v1+).
//   - IsolationLevel is ignored (no transactions: every offset is stable).
//   - v0 answers OldStyleOffsets with one offset (the same lookups; v0's
//     segment listing has no meaning here).
//
// Version notes:
//   - v1: one offset and its timestamp per partition
//   - v4: CurrentLeaderEpoch fencing (KIP-320), LeaderEpoch in the response
//   - v6: flexible versions
//   - v7: Timestamp -3 (KIP-734)

type topicPartition struct {
	topic     string
	partition int32
}

func (k *Kafka) listOffsets(req *kmsg.ListOffsetsRequest) *kmsg.ListOffsetsResponse {
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	seen := make(map[topicPartition]int)
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			seen[topicPartition{rt.Topic, rp.Partition}]++
		}
	}
	resp.Topics = make([]kmsg.ListOffsetsResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ListOffsetsResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			sp.Default()
			sp.Partition = rp.Partition
			if req.Version >= 1 && seen[topicPartition{rt.Topic, rp.Partition}] > 1 {
				sp.ErrorCode = kerr.InvalidRequest.Code
				continue
			}
			k.listOffset(req.Version, rt.Topic, rp, sp)
		}
	}
	return resp
}

// listOffset answers one partition of a ListOffsets.
func (k *Kafka) listOffset(version int16, topic string, rp *kmsg.ListOffsetsRequestTopicPartition, sp *kmsg.ListOffsetsResponseTopicPartition) {
	if ts := rp.Timestamp; ts < -3 || ts == -3 && version < 7 {
		sp.ErrorCode = kerr.UnsupportedVersion.Code
		return
	}
	state, err := k.store.Partition(topic, rp.Partition)
	if err != nil {
		sp.ErrorCode = k.errCode(err)
		return
	}
	if version >= 4 {
		if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, state.LeaderEpoch); code != 0 {
			sp.ErrorCode = code
			return
		}
	}
	var offset, ts int64 = -1, -1
	epoch := state.LeaderEpoch
	switch rp.Timestamp {
	case -1:
		offset = state.HighWatermark
	case -2:
		offset = state.LogStartOffset
		epoch = k.epochAt(topic, rp.Partition, offset, epoch)
	case -3:
		offset, ts, epoch, err = k.maxTimestampOffset(topic, rp.Partition, state.HighWatermark, state.LogStartOffset)
	default:
		offset, ts, err = k.store.OffsetForTimestamp(topic, rp.Partition, rp.Timestamp)
		if err == nil && offset >= 0 {
			epoch = k.epochAt(topic, rp.Partition, offset, epoch)
		}
	}
	if err != nil {
		sp.ErrorCode = k.errCode(err)
		return
	}
	if offset < 0 {
		return // no record matches: offset, timestamp and epoch stay -1
	}
	if version == 0 {
		if rp.MaxNumOffsets > 0 {
			sp.OldStyleOffsets = []int64{offset}
		}
		return
	}
	sp.Offset, sp.Timestamp, sp.LeaderEpoch = offset, ts, epoch
}

// epochAt returns the leader epoch of the batch holding offset, or
// fallback when there is none (the offset is the high watermark).
func (k *Kafka) epochAt(topic string, partition int32, offset int64, fallback int32) int32 {
	data, _, err := k.store.ReadRecords(topic, partition, offset, 1)
	if err != nil || len(data) == 0 {
		return fallback
	}
	h, err := kafkacodec.PeekBatch(data)
	if err != nil {
		return fallback
	}
	return h.PartitionLeaderEpoch
}

// maxTimestampOffset finds the record with the largest timestamp of the
// partition (the batch index names its batch): its offset, timestamp and
// the batch's epoch; -1s when the partition is empty.
func (k *Kafka) maxTimestampOffset(topic string, partition int32, hw, logStart int64) (int64, int64, int32, error) {
	if hw <= logStart {
		return -1, -1, -1, nil
	}
	base, err := k.store.MaxTimestampBatch(topic, partition)
	if err != nil || base < 0 {
		return -1, -1, -1, err
	}
	data, _, err := k.store.ReadRecords(topic, partition, base, 1)
	if err != nil {
		return -1, -1, -1, err
	}
	h, err := kafkacodec.PeekBatch(data)
	if err != nil {
		return -1, -1, -1, err
	}
	offset := h.BaseOffset
	if !h.LogAppendTime() {
		// The first record carrying the batch's max timestamp, as Kafka's
		// offsetOfMaxTimestamp keeps the first.
		errFound := errors.New("found")
		err = kafkacodec.ReadRecords(data[:h.Size()], raftstore.MaxDecompressedBatchBytes, func(r *kafkacodec.Record) error {
			if h.FirstTimestamp+r.TimestampDelta == h.MaxTimestamp {
				offset = h.BaseOffset + int64(r.OffsetDelta)
				return errFound
			}
			return nil
		})
		if err != nil && !errors.Is(err, errFound) {
			return -1, -1, -1, err
		}
	}
	return offset, h.MaxTimestamp, h.PartitionLeaderEpoch, nil
}

// OffsetForLeaderEpoch: v0-4
//
// Behavior:
//   - Answers the largest epoch ≤ the requested one and where it ended
//     (store.EpochEndOffset); -1/-1 when the epoch predates the partition.
//   - ReplicaID is ignored: only consumers ask (KIP-320).
//
// Version notes:
//   - v1: LeaderEpoch in the response
//   - v2: CurrentLeaderEpoch fencing
//   - v3: ReplicaID
//   - v4: flexible versions

func (k *Kafka) offsetForLeaderEpoch(req *kmsg.OffsetForLeaderEpochRequest) *kmsg.OffsetForLeaderEpochResponse {
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	resp.Topics = make([]kmsg.OffsetForLeaderEpochResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.OffsetForLeaderEpochResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			sp.Default()
			sp.Partition = rp.Partition
			state, err := k.store.Partition(rt.Topic, rp.Partition)
			if err != nil {
				sp.ErrorCode = k.errCode(err)
				continue
			}
			if req.Version >= 2 {
				if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, state.LeaderEpoch); code != 0 {
					sp.ErrorCode = code
					continue
				}
			}
			epoch, end, err := k.store.EpochEndOffset(rt.Topic, rp.Partition, rp.LeaderEpoch)
			if err != nil {
				sp.ErrorCode = k.errCode(err)
				continue
			}
			sp.LeaderEpoch, sp.EndOffset = epoch, end
		}
	}
	return resp
}
