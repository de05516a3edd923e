package kafkacodec

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// randomFetchResponse fills a Fetch response at version v with what our
// handler sets, in every shape: null and empty record sets and aborted
// transactions, several topics and partitions.
func randomFetchResponse(rng *rand.Rand, v int16) *kmsg.FetchResponse {
	r := kmsg.NewPtrFetchResponse()
	r.SetVersion(v)
	r.ThrottleMillis, r.ErrorCode, r.SessionID = rng.Int32(), int16(rng.IntN(100)), rng.Int32()
	for range rng.IntN(4) {
		t := kmsg.NewFetchResponseTopic()
		t.Topic = string(bytes.Repeat([]byte{'a' + byte(rng.IntN(26))}, rng.IntN(300)))
		for range rng.IntN(5) {
			p := kmsg.NewFetchResponseTopicPartition()
			p.Partition, p.ErrorCode = rng.Int32(), int16(rng.IntN(100))
			p.HighWatermark, p.LastStableOffset, p.LogStartOffset = rng.Int64(), rng.Int64(), rng.Int64()
			p.PreferredReadReplica = rng.Int32()
			switch rng.IntN(3) {
			case 0:
				p.RecordBatches = nil
			case 1:
				p.RecordBatches = []byte{}
			default:
				p.RecordBatches = make([]byte, rng.IntN(70000))
				for i := range p.RecordBatches {
					p.RecordBatches[i] = byte(rng.Uint32())
				}
			}
			if rng.IntN(2) == 0 {
				p.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
				for range rng.IntN(3) {
					a := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					a.ProducerID, a.FirstOffset = rng.Int64(), rng.Int64()
					p.AbortedTransactions = append(p.AbortedTransactions, a)
				}
			}
			t.Partitions = append(t.Partitions, p)
		}
		r.Topics = append(r.Topics, t)
	}
	return r
}

// The writev encoding of a Fetch response is byte for byte the frame that
// kmsg's encoder gives, at every version we serve, after other bytes in
// dst too.
func TestAppendFetchResponseMatchesKmsg(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for v := int16(4); v <= 12; v++ {
		for i := range 50 {
			r := randomFetchResponse(rng, v)
			want := AppendResponse(nil, 77, r)
			f, ok := AppendFetchResponse([]byte("prefix"), 77, r)
			if !ok {
				t.Fatalf("v%d #%d: refused a plain response", v, i)
			}
			got := bytes.Join(f.Buffers(), nil)
			if !bytes.Equal(got, want) || f.Len() != len(want) {
				t.Fatalf("v%d #%d: frame differs from kmsg's (%d bytes, Len %d, want %d)", v, i, len(got), f.Len(), len(want))
			}
		}
	}
}

// A response with a tagged field this encoder does not write is left to
// AppendResponse, as are versions outside 4-12.
func TestAppendFetchResponseRefusesTags(t *testing.T) {
	r := kmsg.NewPtrFetchResponse()
	r.SetVersion(12)
	topic := kmsg.NewFetchResponseTopic()
	p := kmsg.NewFetchResponseTopicPartition()
	p.CurrentLeader.LeaderID = 3
	topic.Partitions = append(topic.Partitions, p)
	r.Topics = append(r.Topics, topic)
	if _, ok := AppendFetchResponse(nil, 1, r); ok {
		t.Fatal("encoded a response with CurrentLeader set")
	}
	r.Topics[0].Partitions[0].CurrentLeader.LeaderID = -1
	if _, ok := AppendFetchResponse(nil, 1, r); !ok {
		t.Fatal("refused a plain v12 response")
	}
	r.SetVersion(13)
	if _, ok := AppendFetchResponse(nil, 1, r); ok {
		t.Fatal("encoded v13, which addresses topics by id")
	}
}
