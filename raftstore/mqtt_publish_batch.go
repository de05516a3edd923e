package raftstore

import (
	"context"
	"encoding/binary"
	"fmt"
)

// A publish batch is several publishes in one command:
//
//	+-----------------+------------------------------------------------+
//	| count (uvarint) | count × [len (uvarint) | publish payload]      |
//	+-----------------+------------------------------------------------+
//
// Each payload is a publish command's (publishCommand). It exists for the
// QoS 0 messages a node has already delivered from memory and must still
// store — their Kafka records, their retained copies — which arrive at the
// rate of QoS 0 traffic: one command each cost the proposer a queue slot
// and a completion per message.

// MaxPublishBatch bounds the publishes of one batch command.
const MaxPublishBatch = 4096

// publishBatchCommand encodes reqs as one command.
func publishBatchCommand(reqs []PublishRequest) Command {
	size := binary.MaxVarintLen64
	for i := range reqs {
		size += binary.MaxVarintLen64 + 16 + len(reqs[i].ClientID) + messageLen(&reqs[i].Message)
	}
	p := binary.AppendUvarint(make([]byte, 0, size), uint64(len(reqs)))
	for i := range reqs {
		one := publishCommand(&reqs[i]).Payload
		p = binary.AppendUvarint(p, uint64(len(one)))
		p = append(p, one...)
	}
	return Command{Type: CmdPublishBatch, Version: mqttCommandVersion, Payload: p}
}

// decodePublishBatch returns the batch's requests, whose messages alias p.
// Every request must be an already-delivered publish without a packet id.
func decodePublishBatch(p []byte) ([]PublishRequest, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 || n == 0 || n > MaxPublishBatch || n > uint64(len(p)) {
		return nil, fmt.Errorf("%w: publish batch count", errMalformedPayload)
	}
	p = p[k:]
	reqs := make([]PublishRequest, 0, n)
	for range n {
		size, k := binary.Uvarint(p)
		if k <= 0 || size > uint64(len(p)-k) {
			return nil, fmt.Errorf("%w: publish batch entry length", errMalformedPayload)
		}
		r, err := decodePublish(p[k : k+int(size)])
		if err != nil {
			return nil, err
		}
		if !r.AlreadyDelivered || r.PacketID != 0 {
			return nil, fmt.Errorf("%w: a publish batch holds only delivered publishes without packet ids", errMalformedPayload)
		}
		reqs = append(reqs, r)
		p = p[k+int(size):]
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the publish batch", errMalformedPayload, len(p))
	}
	return reqs, nil
}

// applyPublishBatch applies each publish of the batch in order; a
// malformed batch is refused whole, before anything is written.
func applyPublishBatch(a *applyContext, payload []byte) ([]byte, error) {
	reqs, err := decodePublishBatch(payload)
	if err != nil {
		return nil, rejectErr(CmdPublishBatch.String(), err)
	}
	for i := range reqs {
		if _, err := a.publishRequest(&reqs[i]); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// PublishBatchAsync queues publishes that were already delivered to the
// online subscribers (AlreadyDelivered set, no packet ids): apply stores
// their retained copies and Kafka records. done gets the outcome of the
// whole batch (see ProposeAsync).
func (s *Store) PublishBatchAsync(ctx context.Context, reqs []PublishRequest, done func(error)) error {
	if len(reqs) == 0 || len(reqs) > MaxPublishBatch {
		return fmt.Errorf("raftstore: a publish batch holds 1 to %d publishes, not %d", MaxPublishBatch, len(reqs))
	}
	for i := range reqs {
		if !reqs[i].AlreadyDelivered || reqs[i].PacketID != 0 {
			return fmt.Errorf("raftstore: publish batch entry %d is not an already-delivered publish without packet id", i)
		}
	}
	return s.ProposeAsync(ctx, publishBatchCommand(reqs), func(_ []byte, err error) { done(err) })
}
