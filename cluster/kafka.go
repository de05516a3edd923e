package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/cluster/groups"
	"tributary/kafkacodec"
	"tributary/raftstore"
)

// KafkaConfig configures the Kafka side of a node. Zero values mean the
// defaults; they never mean "unlimited".
type KafkaConfig struct {
	// BrokerID is this node's Kafka broker id while it answers
	// standalone, that is while the node registry has no live node (see
	// kafka_brokers.go). Once nodes are registered, every broker id —
	// this node's too — is the registry's. Default 1.
	BrokerID int32
	// AdvertiseHost and AdvertisePort are the address Metadata gives
	// clients for this broker while standalone (--advertise-kafka); in a
	// registered cluster each broker's address is the KafkaAddr its node
	// registered. Defaults 127.0.0.1 and 9092, the listener's defaults.
	AdvertiseHost string
	AdvertisePort int32
	// ClusterID is Metadata's cluster id. Default "tributary".
	ClusterID string
	// AutoCreateTopics lets Metadata create missing topics its request
	// asks to auto-create (off by default).
	AutoCreateTopics bool
	// DefaultPartitions is the partition count of a topic created with -1
	// partitions or by auto-creation. Default 1.
	DefaultPartitions int32
	// DefaultRetention and DefaultRetentionBytes are a new topic's
	// retention.ms and retention.bytes unless its request says otherwise.
	// Defaults 7 days and -1 (unlimited) as Kafka's; a negative
	// DefaultRetention keeps records forever (retention.ms -1).
	DefaultRetention      time.Duration
	DefaultRetentionBytes int64
	// MaxMessageBytes caps one produced record batch (Kafka's
	// message.max.bytes); a bigger one is answered MESSAGE_TOO_LARGE.
	// Default 1048588, Kafka's.
	MaxMessageBytes int
	// MaxFetchBytes caps the record bytes of one Fetch response whatever
	// the request's MaxBytes (Kafka's fetch.max.bytes); the first batch of
	// the first partition with data is always returned whole. Default
	// 55 MiB, Kafka's.
	MaxFetchBytes int
	// MaxFetchWait caps a Fetch's MaxWaitMillis. Default 30s.
	MaxFetchWait time.Duration
	// TrimInterval is how often the leader proposes retention trimming.
	// Default 1 minute.
	TrimInterval time.Duration
	// Groups configures the consumer-group coordinator. A nil Logger gets
	// the node's.
	Groups groups.Config
}

// Defaults and bounds of KafkaConfig.
const (
	defaultMaxMessageBytes = 1048588
	defaultMaxFetchBytes   = 55 << 20
	// maxRequestWait caps how long one Produce, CreateTopics or
	// DeleteTopics waits for its commit, whatever its TimeoutMillis.
	maxRequestWait = 30 * time.Second
)

func (c KafkaConfig) withDefaults() KafkaConfig {
	if c.BrokerID == 0 {
		c.BrokerID = 1
	}
	if c.AdvertiseHost == "" {
		c.AdvertiseHost = "127.0.0.1"
	}
	if c.AdvertisePort == 0 {
		c.AdvertisePort = 9092
	}
	if c.ClusterID == "" {
		c.ClusterID = "tributary"
	}
	if c.DefaultPartitions == 0 {
		c.DefaultPartitions = 1
	}
	if c.DefaultRetention == 0 {
		c.DefaultRetention = 7 * 24 * time.Hour
	}
	if c.DefaultRetentionBytes == 0 {
		c.DefaultRetentionBytes = -1
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = defaultMaxMessageBytes
	}
	if c.MaxFetchBytes == 0 {
		c.MaxFetchBytes = defaultMaxFetchBytes
	}
	if c.MaxFetchWait == 0 {
		c.MaxFetchWait = 30 * time.Second
	}
	if c.TrimInterval == 0 {
		c.TrimInterval = time.Minute
	}
	return c
}

// Validate reports every problem of c at once.
func (c KafkaConfig) Validate() error {
	var errs []error
	if c.BrokerID < 0 {
		errs = append(errs, fmt.Errorf("cluster: kafka BrokerID %d is negative", c.BrokerID))
	}
	if c.AdvertisePort < 0 || c.AdvertisePort > 65535 {
		errs = append(errs, fmt.Errorf("cluster: kafka AdvertisePort %d is outside [0, 65535]", c.AdvertisePort))
	}
	if c.DefaultPartitions < 0 || c.DefaultPartitions > maxPartitions {
		errs = append(errs, fmt.Errorf("cluster: kafka DefaultPartitions %d is outside [1, %d]", c.DefaultPartitions, maxPartitions))
	}
	if c.DefaultRetentionBytes < -1 {
		errs = append(errs, fmt.Errorf("cluster: kafka DefaultRetentionBytes %d is below -1", c.DefaultRetentionBytes))
	}
	if c.MaxMessageBytes < 0 || c.MaxFetchBytes < 0 {
		errs = append(errs, errors.New("cluster: kafka MaxMessageBytes and MaxFetchBytes must not be negative"))
	}
	if c.MaxFetchWait < 0 || c.TrimInterval < 0 {
		errs = append(errs, errors.New("cluster: kafka MaxFetchWait and TrimInterval must not be negative"))
	}
	return errors.Join(errs...)
}

// Kafka answers Kafka requests on top of a Node: produce through the log,
// fetch from this node's applied state, consumer groups in memory with
// committed offsets through the log. In a cluster every node is a broker
// of the same Metadata (the live nodes of the replicated node registry),
// serves Produce and Fetch for every partition, and coordinates the
// groups the rendezvous hash gives it (kafka_brokers.go).
//
// Transactions are not supported: a Produce or InitProducerId with a
// transactional id is answered TRANSACTIONAL_ID_AUTHORIZATION_FAILED, and
// FindCoordinator for a transaction coordinator COORDINATOR_NOT_AVAILABLE.
// Idempotent producers are.
type Kafka struct {
	node   *Node
	store  *raftstore.Store
	cfg    KafkaConfig
	log    *slog.Logger
	groups *groups.Coordinator

	stop      chan struct{}
	closeOnce sync.Once
	bg        sync.WaitGroup
}

// NewKafka starts the Kafka side of n: the consumer-group coordinator,
// the retention loop (the raft leader proposes a trim every TrimInterval)
// and the registry watch that hands over groups this node stops
// coordinating.
func NewKafka(n *Node, cfg KafkaConfig) (*Kafka, error) {
	if n == nil {
		return nil, errors.New("cluster: NewKafka: node is nil")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if cfg.Groups.Logger == nil {
		cfg.Groups.Logger = n.log.With("proto", "kafka")
	}
	k := &Kafka{
		node:  n,
		store: n.store,
		cfg:   cfg,
		log:   n.log.With("proto", "kafka"),
		stop:  make(chan struct{}),
	}
	k.groups = groups.New(cfg.Groups)
	k.bg.Add(2)
	go k.trimLoop()
	go k.watchRegistry()
	return k, nil
}

// ErrUnsupportedRequest is Handle's answer to a request type or version it
// does not serve: the connection must be closed.
var ErrUnsupportedRequest = errors.New("cluster: unsupported kafka request")

// servedVersions is the range of versions Handle answers, per API key:
// kafkacodec's advertised table, the one source of truth, less ApiVersions
// (which the connection answers itself).
var servedVersions = func() map[int16][2]int16 {
	m := make(map[int16][2]int16)
	for _, v := range kafkacodec.Versions() {
		if v.APIKey != kafkacodec.APIVersionsKey {
			m[v.APIKey] = [2]int16{v.Min, v.Max}
		}
	}
	return m
}()

// Handle answers one decoded request (its version set) with a response at
// the same version. It returns (nil, nil) when no response must be sent
// (Produce with acks=0), and an error only when the connection must be
// closed: a request type or version it does not serve. Every other
// problem is answered with a Kafka error code. It may block (Fetch long
// poll, JoinGroup, commits) until ctx ends.
func (k *Kafka) Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	if req == nil {
		return nil, fmt.Errorf("%w: nil request", ErrUnsupportedRequest)
	}
	key, version := req.Key(), req.GetVersion()
	if r, ok := servedVersions[key]; !ok || version < r[0] || version > r[1] {
		return nil, fmt.Errorf("%w: api key %d version %d", ErrUnsupportedRequest, key, version)
	}
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		return k.produce(ctx, r)
	case *kmsg.FetchRequest:
		return k.fetch(ctx, r), nil
	case *kmsg.ListOffsetsRequest:
		return k.listOffsets(r), nil
	case *kmsg.MetadataRequest:
		return k.metadata(ctx, r), nil
	case *kmsg.OffsetCommitRequest:
		return k.offsetCommit(ctx, r), nil
	case *kmsg.OffsetFetchRequest:
		return k.offsetFetch(r), nil
	case *kmsg.FindCoordinatorRequest:
		return k.findCoordinator(r), nil
	case *kmsg.CreateTopicsRequest:
		return k.createTopics(ctx, r), nil
	case *kmsg.DeleteTopicsRequest:
		return k.deleteTopics(ctx, r), nil
	case *kmsg.InitProducerIDRequest:
		return k.initProducerID(ctx, r), nil
	case *kmsg.OffsetForLeaderEpochRequest:
		return k.offsetForLeaderEpoch(r), nil
	case *kmsg.DescribeConfigsRequest:
		return k.describeConfigs(r), nil
	case *kmsg.DescribeClusterRequest:
		return k.describeCluster(r), nil
	}
	return k.handleGroup(ctx, req)
}

// Close stops the background loops and the coordinator, and wakes blocked
// requests (a waiting Fetch answers what it has). Idempotent.
func (k *Kafka) Close() {
	k.closeOnce.Do(func() {
		close(k.stop)
		k.bg.Wait()
		k.groups.Close()
	})
}

// trimLoop has the raft leader propose retention trimming every
// TrimInterval; apply trims by the time in the command.
func (k *Kafka) trimLoop() {
	defer k.bg.Done()
	t := time.NewTicker(k.cfg.TrimInterval)
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		if !k.store.IsLeader() {
			continue
		}
		ctx, cancel := k.node.proposeContext()
		err := k.store.TrimKafka(ctx, k.node.nowMillis())
		cancel()
		if err != nil {
			k.log.Warn("kafka retention trim failed", "err", err)
		}
	}
}

// requestWait bounds a request's wait for commits by its TimeoutMillis
// (capped; 0 or less means the cap).
func requestWait(ctx context.Context, timeoutMillis int32) (context.Context, context.CancelFunc) {
	d := maxRequestWait
	if timeoutMillis > 0 {
		d = min(d, time.Duration(timeoutMillis)*time.Millisecond)
	}
	return context.WithTimeout(ctx, d)
}
