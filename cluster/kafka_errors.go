package cluster

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"tributary/raftstore"
)

// The store's errors as Kafka error codes. Every mapping keeps the
// connection usable: the client retries what is retriable.

// storeErrors maps the store's sentinel errors to Kafka errors, in order.
var storeErrors = []struct {
	err  error
	kerr *kerr.Error
}{
	{raftstore.ErrUnknownTopicOrPartition, kerr.UnknownTopicOrPartition},
	{raftstore.ErrOutOfOrderSequence, kerr.OutOfOrderSequenceNumber},
	{raftstore.ErrInvalidProducerEpoch, kerr.InvalidProducerEpoch},
	{raftstore.ErrUnknownProducerID, kerr.UnknownProducerID},
	{raftstore.ErrInvalidRecord, kerr.InvalidRecord},
	{raftstore.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
	{raftstore.ErrTopicExists, kerr.TopicAlreadyExists},
	{raftstore.ErrInvalidTopic, kerr.InvalidTopicException},
	{raftstore.ErrInvalidConfig, kerr.InvalidConfig},
	{raftstore.ErrInvalidPartitions, kerr.InvalidPartitions},
	{raftstore.ErrCommandTooLarge, kerr.MessageTooLarge},
	// No raft leader to propose through (a follower forwards to it; none
	// is reachable), or shutting down: nothing was written, and the client
	// refreshes its metadata and retries.
	{raftstore.ErrNotLeader, kerr.NotLeaderForPartition},
	{raftstore.ErrClosed, kerr.NotLeaderForPartition},
	// The outcome is unknown: the client retries (idempotent producers
	// dedupe the retry).
	{raftstore.ErrOutcomeUnknown, kerr.RequestTimedOut},
	{context.DeadlineExceeded, kerr.RequestTimedOut},
	{context.Canceled, kerr.RequestTimedOut},
}

// kafkaErr maps an error of the store (or of a wait) to a Kafka error;
// nil for nil. An error it does not know is UNKNOWN_SERVER_ERROR, logged,
// since it means something is broken here rather than in the request.
func (k *Kafka) kafkaErr(err error) *kerr.Error {
	if err == nil {
		return nil
	}
	for _, m := range storeErrors {
		if errors.Is(err, m.err) {
			return m.kerr
		}
	}
	k.log.Warn("kafka request failed", "err", err)
	return kerr.UnknownServerError
}

// errCode is kafkaErr's code (0 for nil).
func (k *Kafka) errCode(err error) int16 {
	if e := k.kafkaErr(err); e != nil {
		return e.Code
	}
	return 0
}

// adminErr maps an error of a topic command: a leadership problem is
// NOT_CONTROLLER there (the client retries on the controller), not
// NOT_LEADER_FOR_PARTITION.
func (k *Kafka) adminErr(err error) *kerr.Error {
	e := k.kafkaErr(err)
	if e == kerr.NotLeaderForPartition {
		return kerr.NotController
	}
	return e
}

// coordinatorErr maps an error of a group command: a leadership problem
// is COORDINATOR_NOT_AVAILABLE (the client looks the coordinator up again).
func (k *Kafka) coordinatorErr(err error) int16 {
	e := k.kafkaErr(err)
	if e == kerr.NotLeaderForPartition {
		return kerr.CoordinatorNotAvailable.Code
	}
	if e == nil {
		return 0
	}
	return e.Code
}

// maxTopicNameBytes is Kafka's topic name limit (249 characters).
const maxTopicNameBytes = 249

// validTopicName reports Kafka's topic name rules: 1–249 characters of
// [a-zA-Z0-9._-], and neither "." nor "..".
func validTopicName(name string) bool {
	if name == "" || len(name) > maxTopicNameBytes || name == "." || name == ".." {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// isUnknownTopic reports the store's unknown topic or partition error.
func isUnknownTopic(err error) bool { return errors.Is(err, raftstore.ErrUnknownTopicOrPartition) }

// strPtr returns a pointer to a copy of s.
func strPtr(s string) *string { return &s }

// checkLeaderEpoch answers KIP-320's fencing: a client epoch newer than
// ours is UNKNOWN_LEADER_EPOCH, an older one FENCED_LEADER_EPOCH; -1 (or
// any negative) skips the check.
func checkLeaderEpoch(client, ours int32) int16 {
	switch {
	case client < 0 || client == ours:
		return 0
	case client > ours:
		return kerr.UnknownLeaderEpoch.Code
	default:
		return kerr.FencedLeaderEpoch.Code
	}
}
