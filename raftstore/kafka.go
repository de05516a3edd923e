package raftstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
)

// The Kafka state: topics (with ids, partition counts and retention), the
// partitions' record batches, idempotent-producer state, committed consumer
// group offsets and the MQTT<->Kafka mappings. Every change is a command in
// the log; offsets are assigned at apply (DESIGN.md, "The Kafka view").

// Sentinel errors of the Kafka commands and reads. Apply rejects with a
// *RejectedError that unwraps to one of them, so callers map them to Kafka
// error codes with errors.Is.
var (
	ErrUnknownTopicOrPartition = errors.New("raftstore: unknown topic or partition")
	ErrTopicExists             = errors.New("raftstore: topic already exists")
	ErrInvalidTopic            = errors.New("raftstore: invalid topic name")
	ErrInvalidConfig           = errors.New("raftstore: invalid topic config")
	ErrInvalidPartitions       = errors.New("raftstore: invalid partition count")
	ErrOffsetOutOfRange        = errors.New("raftstore: offset out of range")
	ErrInvalidRecord           = errors.New("raftstore: invalid record")
	ErrOutOfOrderSequence      = errors.New("raftstore: out of order sequence number")
	ErrInvalidProducerEpoch    = errors.New("raftstore: invalid producer epoch")
	ErrUnknownProducerID       = errors.New("raftstore: unknown producer id")
	ErrInvalidMapping          = errors.New("raftstore: invalid mapping")
	ErrUnknownMapping          = errors.New("raftstore: unknown mapping")
	// ErrOffsetMetadataTooLarge answers a commit whose metadata exceeds
	// MaxOffsetMetadataBytes (Kafka's OFFSET_METADATA_TOO_LARGE).
	ErrOffsetMetadataTooLarge = errors.New("raftstore: offset metadata too large")
	// ErrInvalidGroupID answers a commit with an empty group id (Kafka's
	// INVALID_GROUP_ID).
	ErrInvalidGroupID = errors.New("raftstore: invalid group id")
)

// Topic is one Kafka topic.
type Topic struct {
	Name string
	// ID is the topic id (a UUID chosen by the proposer, replicated).
	ID         [16]byte
	Partitions int32
	// RetentionMillis is retention.ms: batches whose max timestamp is older
	// than this are trimmed; -1 keeps them forever.
	RetentionMillis int64
	// RetentionBytes is retention.bytes per partition; -1 is unlimited.
	RetentionBytes int64
	// CreatedMillis is when the topic was created (the proposer's clock).
	CreatedMillis int64
}

// CreateTopicRequest creates a topic.
type CreateTopicRequest struct {
	Name            string
	ID              [16]byte // the proposer draws it at random
	Partitions      int32
	RetentionMillis int64
	RetentionBytes  int64
	NowMillis       int64
}

// PartitionState is a partition's offsets as this node has applied them.
type PartitionState struct {
	// LogStartOffset is the first offset still stored (after retention).
	LogStartOffset int64
	// HighWatermark is the offset the next record gets (= log end offset:
	// every applied record is committed).
	HighWatermark int64
	// LeaderEpoch is the partition's leader epoch (replicated; bumped when
	// its leader changes).
	LeaderEpoch int32
	// Bytes is the size of the stored batches.
	Bytes int64
}

// ProduceRequest appends one produced RecordBatch v2 to a partition.
type ProduceRequest struct {
	Topic     string
	Partition int32
	// Batch is one batch as the producer sent it, already validated with
	// kafkacodec.ParseBatch; apply stamps base offset and leader epoch.
	Batch     []byte
	NowMillis int64
}

// ProduceResult is apply's answer to a ProduceRequest.
type ProduceResult struct {
	// BaseOffset is the offset of the batch's first record; for a
	// duplicate of one of the producer's last five batches, the offset it
	// got the first time.
	BaseOffset     int64
	LogStartOffset int64
	Duplicate      bool
}

// ProducerID is an idempotent producer's id and epoch.
type ProducerID struct {
	ID    int64
	Epoch int16
}

// OffsetCommit is one committed consumer-group offset.
type OffsetCommit struct {
	Group       string
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    *string
	// CommitMillis is when it was committed (the proposer's clock).
	CommitMillis int64
}

// MappingDirection says which way a mapping carries messages.
type MappingDirection byte

const (
	// MQTTToKafka appends MQTT publishes matching Filters to KafkaTopic.
	MQTTToKafka MappingDirection = 1
	// KafkaToMQTT publishes records produced to KafkaTopic to MQTT.
	KafkaToMQTT MappingDirection = 2
)

// Mapping connects MQTT topics and a Kafka topic.
type Mapping struct {
	// Name identifies the mapping (set replaces one of the same name).
	Name      string
	Direction MappingDirection
	// KafkaTopic is the Kafka topic. Setting a mapping (of either
	// direction) creates it if missing, with Partitions partitions (0
	// means 1) and the retention below (0 means Kafka's defaults:
	// retention.ms 7 days, retention.bytes -1); an existing topic keeps
	// its configuration. A mapping whose topic is deleted later stays and
	// carries nothing until the topic exists again.
	KafkaTopic      string
	Partitions      int32
	RetentionMillis int64
	RetentionBytes  int64

	// MQTTToKafka: Filters are MQTT topic filters (wildcards allowed,
	// 1..MaxMappingFilters, no $share); a publish is appended once per
	// Kafka topic however many mappings match it (the first by name gives
	// the key). KeyTemplate builds the record key: "{topic}" (the default, used when
	// empty) is the MQTT topic, "{client_id}" the publisher's client id,
	// "{level:N}" the Nth topic level (0-based); other text is literal.
	Filters     []string
	KeyTemplate string

	// KafkaToMQTT: TopicTemplate builds the MQTT topic: "{key}" (the
	// default) is the record key, "{header:NAME}" the value of header NAME;
	// QoS and Retain are those of the MQTT publish. The fields of the
	// other direction are not stored.
	TopicTemplate string
	QoS           byte
	Retain        bool
}

// The Store's Kafka API. Command methods propose one command (on the
// leader); read methods read this node's applied state.

// CreateTopic creates a topic; ErrTopicExists, ErrInvalidTopic (Kafka's
// rules: 1..249 of [a-zA-Z0-9._-], not "." or ".."), ErrInvalidPartitions
// (1..MaxPartitions) or ErrInvalidConfig (retention below -1) when it
// cannot. Its partitions start at leader epoch 0.
func (s *Store) CreateTopic(ctx context.Context, r CreateTopicRequest) (Topic, error) {
	if _, err := s.Propose(ctx, createTopicCommand(&r)); err != nil {
		return Topic{}, err
	}
	return Topic{Name: r.Name, ID: r.ID, Partitions: r.Partitions, RetentionMillis: r.RetentionMillis,
		RetentionBytes: r.RetentionBytes, CreatedMillis: r.NowMillis}, nil
}

// DeleteTopic deletes a topic, its records, producer state and committed
// offsets; ErrUnknownTopicOrPartition when there is none.
func (s *Store) DeleteTopic(ctx context.Context, name string) error {
	_, err := s.Propose(ctx, nameCommand(CmdDeleteTopic, name))
	return err
}

// Topics returns every topic, sorted by name.
func (s *Store) Topics() []Topic { return s.fsm.kafka.topicsSorted() }

// TopicByName returns one topic.
func (s *Store) TopicByName(name string) (Topic, bool) {
	x := s.fsm.kafka
	x.mu.RLock()
	defer x.mu.RUnlock()
	if t := x.topics[name]; t != nil {
		return t.Topic, true
	}
	return Topic{}, false
}

// Partition returns a partition's state; ErrUnknownTopicOrPartition.
func (s *Store) Partition(topic string, partition int32) (PartitionState, error) {
	_, st, err := s.fsm.kafka.partition(topic, partition)
	return st.public(), err
}

// ProduceAsync proposes one produced batch; done gets the result after the
// commit (see ProposeAsync). Rejections unwrap to ErrUnknownTopicOrPartition,
// ErrOutOfOrderSequence, ErrInvalidProducerEpoch, ErrUnknownProducerID or
// ErrInvalidRecord (a record for a KafkaToMQTT-mapped topic with no key,
// or whose MQTT topic is not a valid topic name).
func (s *Store) ProduceAsync(ctx context.Context, r ProduceRequest, done func(ProduceResult, error)) error {
	return s.ProposeAsync(ctx, produceCommand(&r), func(v []byte, err error) {
		if err != nil {
			done(ProduceResult{}, err)
			return
		}
		res, err := decodeProduceResult(v)
		if err != nil {
			err = fmt.Errorf("raftstore: produce result: %w", err)
		}
		done(res, err)
	})
}

// InitProducerID hands out a new producer id (epoch 0), or, when prev is
// an id this store handed out, bumps its epoch.
func (s *Store) InitProducerID(ctx context.Context, prev *ProducerID) (ProducerID, error) {
	v, err := s.Propose(ctx, initProducerIDCommand(prev))
	if err != nil {
		return ProducerID{}, err
	}
	id, err := decodeProducerID(v)
	if err != nil {
		return id, fmt.Errorf("raftstore: init-producer-id result: %w", err)
	}
	return id, nil
}

// ReadRecords returns the stored batches of a partition from the one that
// holds offset, concatenated, up to maxBytes — but always the first batch
// whole, however big (Kafka's rule, so a consumer never stalls) — and the
// partition's state. ErrOffsetOutOfRange when offset < LogStartOffset or
// > HighWatermark; at HighWatermark it returns no bytes. The bytes may be
// the batch cache's own memory: callers read them and never modify them.
func (s *Store) ReadRecords(topic string, partition int32, offset int64, maxBytes int) ([]byte, PartitionState, error) {
	return s.fsm.readRecords(topic, partition, offset, maxBytes)
}

// KafkaChanged returns a channel closed the next time any partition's high
// watermark or log start moves on this node: take it before reading, wait
// on it, read again.
func (s *Store) KafkaChanged() <-chan struct{} {
	x := s.fsm.kafka
	x.mu.Lock()
	defer x.mu.Unlock()
	x.waited = true
	return x.changed
}

// OffsetForTimestamp returns the first offset whose record timestamp is at
// or after ts, with that record's timestamp; (-1, -1) when there is none.
// ListOffsets' special timestamps (-1 latest, -2 earliest) are the
// caller's: Partition answers them. It scans the partition's batch index
// (about 20 bytes per batch) and reads the batch it finds.
func (s *Store) OffsetForTimestamp(topic string, partition int32, ts int64) (offset, timestamp int64, err error) {
	return s.fsm.offsetForTimestamp(topic, partition, ts)
}

// MaxTimestampBatch returns the base offset of the partition's batch that
// holds its largest timestamp (the first such batch on a tie), or -1 when
// the partition is empty: ListOffsets -3 (KIP-734) reads that batch.
func (s *Store) MaxTimestampBatch(topic string, partition int32) (int64, error) {
	return s.fsm.maxTimestampBatch(topic, partition)
}

// EpochEndOffset answers OffsetForLeaderEpoch: the largest epoch ≤ epoch
// this partition had, and the offset where it ended (the next epoch's
// start offset, or the high watermark for the current epoch); (-1, -1)
// when epoch is older than any the partition has.
func (s *Store) EpochEndOffset(topic string, partition int32, epoch int32) (leaderEpoch int32, endOffset int64, err error) {
	return s.fsm.epochEndOffset(topic, partition, epoch)
}

// CommitOffsets stores consumer-group offsets; the i-th error answers
// commits[i] (ErrUnknownTopicOrPartition for an unknown partition,
// ErrOffsetMetadataTooLarge, ErrInvalidGroupID for an empty group).
func (s *Store) CommitOffsets(ctx context.Context, commits []OffsetCommit) ([]error, error) {
	v, err := s.Propose(ctx, offsetCommitCommand(commits))
	if err != nil {
		return nil, err
	}
	if len(v) != len(commits) {
		return nil, fmt.Errorf("raftstore: offset-commit answered %d results for %d commits", len(v), len(commits))
	}
	errs := make([]error, len(v))
	for i, code := range v {
		errs[i] = commitError(code)
	}
	return errs, nil
}

// CommittedOffset returns a group's committed offset for a partition.
func (s *Store) CommittedOffset(group, topic string, partition int32) (OffsetCommit, bool, error) {
	return s.fsm.committedOffset(group, topic, partition)
}

// CommittedOffsets returns all of a group's committed offsets, sorted by
// topic and partition.
func (s *Store) CommittedOffsets(group string) ([]OffsetCommit, error) {
	return s.fsm.committedOffsets(group)
}

// OffsetGroups returns the groups that have committed offsets, sorted.
func (s *Store) OffsetGroups() ([]string, error) { return s.fsm.offsetGroups() }

// SetMapping adds or replaces a mapping, creating its Kafka topic (with
// id idForNewTopic) when missing, for either direction (see
// Mapping.KafkaTopic); ErrInvalidMapping says why not.
func (s *Store) SetMapping(ctx context.Context, m Mapping, idForNewTopic [16]byte, nowMillis int64) error {
	_, err := s.Propose(ctx, mappingSetCommand(&m, idForNewTopic, nowMillis))
	return err
}

// DeleteMapping removes a mapping (its Kafka topic stays);
// ErrUnknownMapping when there is none.
func (s *Store) DeleteMapping(ctx context.Context, name string) error {
	_, err := s.Propose(ctx, nameCommand(CmdMappingDelete, name))
	return err
}

// Mappings returns every mapping, sorted by name.
func (s *Store) Mappings() []Mapping {
	x := s.fsm.kafka
	x.mu.RLock()
	out := make([]Mapping, 0, len(x.mappings))
	for _, m := range x.mappings {
		m.Filters = slices.Clone(m.Filters) // the index's own slice
		out = append(out, m)
	}
	x.mu.RUnlock()
	slices.SortFunc(out, func(a, b Mapping) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// MappedToKafka reports whether an MQTT publish to topic would be appended
// to a Kafka topic (cheap: an in-memory check, used by the QoS 0 path to
// decide whether the publish must ride a proposal).
func (s *Store) MappedToKafka(topic string) bool { return s.fsm.kafka.mappedToKafka(topic) }

// TrimKafka applies retention (by time, relative to nowMillis, and by
// size) to every partition.
func (s *Store) TrimKafka(ctx context.Context, nowMillis int64) error {
	_, err := s.Propose(ctx, trimCommand(nowMillis))
	return err
}
