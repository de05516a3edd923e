package cluster

import (
	"bytes"
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
	"tributary/raftstore"
)

// Produce: v3-9
//
// Behavior:
//   - Each partition's Records must be exactly one RecordBatch v2 (checked
//     with kafkacodec.ParseBatch, and a compressed one decompressed once to
//     check its records); it is copied and proposed through the log, and
//     apply assigns its offsets and checks idempotent sequences.
//   - acks -1 and 1 are answered after the commit (there is one durable
//     copy the moment raft commits); acks 0 proposes and answers nothing.
//   - The wait is bounded by TimeoutMillis (capped at 30s) and ctx; what
//     has not committed by then is answered REQUEST_TIMED_OUT (the client
//     retries, and an idempotent producer's retry is deduplicated).
//   - A transactional id is answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
//     transactions are not supported.
//   - Topics are never auto-created by Produce.
//   - Any node accepts a Produce for any partition, including one whose
//     leader (Metadata, PartitionLeader) is another broker: there is one
//     raft log, a follower forwards the proposal to the raft leader, and
//     the answer comes once this node has applied the entry, so offsets and
//     idempotent-producer checks are the same whichever node took it. The
//     partition leader only spreads clients over the nodes; answering
//     NOT_LEADER_OR_FOLLOWER here would send a client on a detour that
//     gains nothing. NOT_LEADER_OR_FOLLOWER is answered only when the store
//     could not propose at all (no raft leader reachable, shutting down),
//     which makes the client refresh its metadata and retry.
//
// Version notes:
//   - v5: LogStartOffset in the response
//   - v8: ErrorMessage per partition (KIP-467)
//   - v9: flexible versions

// producePart is one partition of a Produce: where its answer goes and,
// when it passed validation, the proposal.
type producePart struct {
	resp *kmsg.ProduceResponseTopicPartition
	req  raftstore.ProduceRequest
	ok   bool // validated: to be proposed
}

// produceAnswer is the commit (or failure) of producePart i.
type produceAnswer struct {
	i   int
	res raftstore.ProduceResult
	err error
}

func (k *Kafka) produce(ctx context.Context, req *kmsg.ProduceRequest) (kmsg.Response, error) {
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	parts := k.produceParts(req, resp)
	code := int16(0)
	switch {
	case req.Acks != -1 && req.Acks != 0 && req.Acks != 1:
		code = kerr.InvalidRequiredAcks.Code
	case req.TransactionID != nil:
		code = kerr.TransactionalIDAuthorizationFailed.Code
	}
	if code != 0 {
		for i := range parts {
			parts[i].resp.ErrorCode, parts[i].resp.BaseOffset, parts[i].ok = code, -1, false
		}
	}
	if req.Acks == 0 {
		k.proposeUnacked(parts)
		return nil, nil
	}
	k.proposeAndWait(ctx, req, parts)
	return resp, nil
}

// produceParts builds the response skeleton and validates each partition.
func (k *Kafka) produceParts(req *kmsg.ProduceRequest, resp *kmsg.ProduceResponse) []producePart {
	var parts []producePart
	now := k.node.nowMillis()
	resp.Topics = make([]kmsg.ProduceResponseTopic, len(req.Topics))
	for i := range req.Topics {
		rt := &req.Topics[i]
		st := &resp.Topics[i]
		st.Topic = rt.Topic
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for j := range rt.Partitions {
			rp := &rt.Partitions[j]
			sp := &st.Partitions[j]
			sp.Default()
			sp.Partition = rp.Partition
			p := producePart{resp: sp}
			if e, msg := k.validateBatch(rt.Topic, rp.Partition, rp.Records); e != nil {
				sp.ErrorCode, sp.BaseOffset = e.Code, -1
				if req.Version >= 8 && msg != "" {
					sp.ErrorMessage = strPtr(msg)
				}
			} else {
				// The request's buffer is reused once Handle returns (and
				// decoded strings may alias it): the proposal owns copies.
				p.req = raftstore.ProduceRequest{
					Topic: strings.Clone(rt.Topic), Partition: rp.Partition,
					Batch: bytes.Clone(rp.Records), NowMillis: now,
				}
				p.ok = true
			}
			parts = append(parts, p)
		}
	}
	return parts
}

// validateBatch checks one partition's records before they are proposed;
// it returns the error and, for the client, what is wrong.
func (k *Kafka) validateBatch(topic string, partition int32, records []byte) (*kerr.Error, string) {
	if _, err := k.store.Partition(topic, partition); err != nil {
		return k.kafkaErr(err), ""
	}
	if len(records) == 0 {
		return kerr.InvalidRecord, "no record batch"
	}
	if len(records) > k.cfg.MaxMessageBytes {
		return kerr.MessageTooLarge, ""
	}
	h, err := kafkacodec.ParseBatch(records)
	if err != nil {
		// Kafka 2.x answered CORRUPT_MESSAGE for every batch it could not
		// validate (bad CRC, magic, framing).
		return kerr.CorruptMessage, err.Error()
	}
	if h.Transactional() || h.Control() {
		return kerr.InvalidRecord, "transactional batches are not supported"
	}
	if h.Compression() != kafkacodec.CompressionNone {
		// ParseBatch checked the framing of uncompressed records only. A
		// compressed batch is decompressed once here, as Kafka's
		// LogValidator does, so its record count (which takes offsets)
		// is true before it reaches the log.
		if err := kafkacodec.ReadRecords(records, raftstore.MaxDecompressedBatchBytes, nil); err != nil {
			return kerr.CorruptMessage, err.Error()
		}
	}
	return nil, ""
}

// proposeUnacked proposes the valid partitions of an acks=0 Produce and
// does not wait: failures are only logged, as the client asked for no
// answer.
func (k *Kafka) proposeUnacked(parts []producePart) {
	for i := range parts {
		if !parts[i].ok {
			continue
		}
		ctx, cancel := k.node.proposeContext()
		err := k.store.ProduceAsync(ctx, parts[i].req, func(_ raftstore.ProduceResult, err error) {
			cancel()
			if err != nil {
				k.log.Debug("acks=0 produce not stored", "err", err)
			}
		})
		if err != nil {
			cancel()
			k.log.Debug("acks=0 produce not stored", "err", err)
		}
	}
}

// proposeAndWait proposes the valid partitions and fills their answers as
// they commit, until all have or the wait ends.
func (k *Kafka) proposeAndWait(ctx context.Context, req *kmsg.ProduceRequest, parts []producePart) {
	wctx, cancel := requestWait(ctx, req.TimeoutMillis)
	defer cancel()
	// Buffered for every partition: a callback that comes after the wait
	// ended never blocks the proposer.
	answers := make(chan produceAnswer, len(parts))
	pending := 0
	for i := range parts {
		if !parts[i].ok {
			continue
		}
		err := k.store.ProduceAsync(wctx, parts[i].req, func(res raftstore.ProduceResult, err error) {
			answers <- produceAnswer{i: i, res: res, err: err}
		})
		if err != nil {
			k.answerPart(&parts[i], raftstore.ProduceResult{}, err)
			continue
		}
		pending++
	}
	for ; pending > 0; pending-- {
		select {
		case a := <-answers:
			k.answerPart(&parts[a.i], a.res, a.err)
		case <-wctx.Done():
			for i := range parts {
				if parts[i].ok {
					k.answerPart(&parts[i], raftstore.ProduceResult{}, wctx.Err())
				}
			}
			return
		}
	}
}

// answerPart fills a partition's answer from its commit. A duplicate of a
// recent batch of the same idempotent producer is answered NONE with the
// offset it got the first time.
func (k *Kafka) answerPart(p *producePart, res raftstore.ProduceResult, err error) {
	p.ok = false
	if err != nil {
		p.resp.ErrorCode, p.resp.BaseOffset = k.errCode(err), -1
		return
	}
	p.resp.ErrorCode = 0
	p.resp.BaseOffset = res.BaseOffset
	p.resp.LogStartOffset = res.LogStartOffset
}
