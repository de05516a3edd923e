package kafkacodec

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch responses: v4-12, encoded for writev.
//
// Version notes:
//   - v4: LastStableOffset, AbortedTransactions
//   - v5: LogStartOffset
//   - v7: top-level ErrorCode and SessionID (KIP-227)
//   - v11: PreferredReadReplica
//   - v12: flexible versions (compact strings, arrays and bytes, tag
//     sections; response header v1)
//
// A Fetch response is mostly record batches, which the store already holds
// in their wire form. AppendFetchResponse encodes everything around them
// and leaves the batches out, so a connection writes the frame with one
// writev and the batches are never copied into an output buffer.

// FetchFrame is an encoded Fetch response frame whose record batches are
// not copied: Head holds the frame's own bytes, and batch i belongs at
// offset cuts[i] of Head.
type FetchFrame struct {
	Head    []byte
	cuts    []int
	batches [][]byte
}

// Len is the frame's whole size, size prefix included.
func (f *FetchFrame) Len() int {
	n := len(f.Head)
	for _, b := range f.batches {
		n += len(b)
	}
	return n
}

// Buffers returns the frame as consecutive pieces (for net.Buffers), Head
// cut where the batches go. The pieces alias Head and the batches.
func (f *FetchFrame) Buffers() [][]byte {
	out := make([][]byte, 0, 2*len(f.batches)+1)
	prev := 0
	for i, at := range f.cuts {
		out = append(out, f.Head[prev:at], f.batches[i])
		prev = at
	}
	return append(out, f.Head[prev:])
}

// AppendFetchResponse encodes r (at its version, 4 to 12) as a frame with
// correlation id corr, appending its own bytes to dst, and reports false
// when r uses a field this encoder leaves to kmsg (the v12 partition tags
// DivergingEpoch, CurrentLeader and SnapshotID, or unknown tags): encode
// it with AppendResponse then.
func AppendFetchResponse(dst []byte, corr int32, r *kmsg.FetchResponse) (FetchFrame, bool) {
	v := r.Version
	if v < 4 || v > 12 || !plainFetchResponse(r) {
		return FetchFrame{}, false
	}
	flex := v >= 12
	f := FetchFrame{}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0) // size, patched below
	dst = binary.BigEndian.AppendUint32(dst, uint32(corr))
	if flex {
		dst = append(dst, 0) // response header v1: no tags
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.ThrottleMillis))
	if v >= 7 {
		dst = binary.BigEndian.AppendUint16(dst, uint16(r.ErrorCode))
		dst = binary.BigEndian.AppendUint32(dst, uint32(r.SessionID))
	}
	dst = appendArrayLen(dst, len(r.Topics), false, flex)
	for i := range r.Topics {
		t := &r.Topics[i]
		dst = appendString(dst, t.Topic, flex)
		dst = appendArrayLen(dst, len(t.Partitions), false, flex)
		for j := range t.Partitions {
			dst = f.appendPartition(dst, &t.Partitions[j], v, flex)
		}
		if flex {
			dst = append(dst, 0) // topic tags
		}
	}
	if flex {
		dst = append(dst, 0) // response tags
	}
	f.Head = dst
	binary.BigEndian.PutUint32(dst[start:], uint32(f.Len()-(start)-4))
	if start > 0 {
		f.Head = dst[start:]
		for i := range f.cuts {
			f.cuts[i] -= start
		}
	}
	return f, true
}

func (f *FetchFrame) appendPartition(dst []byte, p *kmsg.FetchResponseTopicPartition, v int16, flex bool) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(p.Partition))
	dst = binary.BigEndian.AppendUint16(dst, uint16(p.ErrorCode))
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.HighWatermark))
	dst = binary.BigEndian.AppendUint64(dst, uint64(p.LastStableOffset))
	if v >= 5 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(p.LogStartOffset))
	}
	dst = appendArrayLen(dst, len(p.AbortedTransactions), p.AbortedTransactions == nil, flex)
	for _, a := range p.AbortedTransactions {
		dst = binary.BigEndian.AppendUint64(dst, uint64(a.ProducerID))
		dst = binary.BigEndian.AppendUint64(dst, uint64(a.FirstOffset))
		if flex {
			dst = append(dst, 0)
		}
	}
	if v >= 11 {
		dst = binary.BigEndian.AppendUint32(dst, uint32(p.PreferredReadReplica))
	}
	b := p.RecordBatches
	switch {
	case b == nil && flex:
		dst = append(dst, 0)
	case b == nil:
		dst = binary.BigEndian.AppendUint32(dst, 0xFFFFFFFF)
	case flex:
		dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	default:
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(b)))
	}
	if len(b) > 0 {
		f.cuts = append(f.cuts, len(dst))
		f.batches = append(f.batches, b)
	}
	if flex {
		dst = append(dst, 0) // partition tags: none (plainFetchResponse)
	}
	return dst
}

// appendArrayLen writes an array length: int32 (-1 for null), or in
// flexible versions uvarint length+1 (0 for null).
func appendArrayLen(dst []byte, n int, null, flex bool) []byte {
	switch {
	case null && flex:
		return append(dst, 0)
	case null:
		return binary.BigEndian.AppendUint32(dst, 0xFFFFFFFF)
	case flex:
		return binary.AppendUvarint(dst, uint64(n)+1)
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

func appendString(dst []byte, s string, flex bool) []byte {
	if flex {
		dst = binary.AppendUvarint(dst, uint64(len(s))+1)
	} else {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	}
	return append(dst, s...)
}

// plainFetchResponse reports whether r sets none of the fields this
// encoder does not write: tagged fields other than their defaults.
func plainFetchResponse(r *kmsg.FetchResponse) bool {
	if r.UnknownTags.Len() > 0 {
		return false
	}
	for i := range r.Topics {
		t := &r.Topics[i]
		if t.UnknownTags.Len() > 0 {
			return false
		}
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if p.UnknownTags.Len() > 0 || p.DivergingEpoch.Epoch != -1 || p.DivergingEpoch.EndOffset != -1 ||
				p.CurrentLeader.LeaderID != -1 || p.CurrentLeader.LeaderEpoch != -1 ||
				p.SnapshotID.EndOffset != -1 || p.SnapshotID.Epoch != -1 ||
				p.DivergingEpoch.UnknownTags.Len() > 0 || p.CurrentLeader.UnknownTags.Len() > 0 ||
				p.SnapshotID.UnknownTags.Len() > 0 {
				return false
			}
			for _, a := range p.AbortedTransactions {
				if a.UnknownTags.Len() > 0 {
					return false
				}
			}
		}
	}
	return true
}
