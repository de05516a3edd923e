package cluster

import (
	"slices"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic and broker configs: what CreateTopics accepts and what
// DescribeConfigs (and CreateTopics v5+) report.
//
// A topic has two settable configs, retention.ms and retention.bytes;
// cleanup.policy is always delete (compaction is not supported);
// max.message.bytes and message.timestamp.type are the broker's and read
// only.

// Topic config names.
const (
	cfgRetentionMs     = "retention.ms"
	cfgRetentionBytes  = "retention.bytes"
	cfgCleanupPolicy   = "cleanup.policy"
	cfgMaxMessageBytes = "max.message.bytes"
	cfgTimestampType   = "message.timestamp.type"
)

// topicSettings are a new topic's settable configs.
type topicSettings struct {
	retentionMillis int64
	retentionBytes  int64
}

// defaultRetentionMillis is retention.ms of a topic created without one.
func (k *Kafka) defaultRetentionMillis() int64 {
	if k.cfg.DefaultRetention < 0 {
		return -1
	}
	return k.cfg.DefaultRetention.Milliseconds()
}

// parseTopicConfigs reads CreateTopics configs over the defaults; on a bad
// one it returns a message saying which.
func (k *Kafka) parseTopicConfigs(cfgs []kmsg.CreateTopicsRequestTopicConfig) (topicSettings, string) {
	s := topicSettings{retentionMillis: k.defaultRetentionMillis(), retentionBytes: k.cfg.DefaultRetentionBytes}
	for _, c := range cfgs {
		if c.Value == nil {
			continue // null: the default
		}
		v := *c.Value
		switch c.Name {
		case cfgRetentionMs, cfgRetentionBytes:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < -1 {
				return s, "invalid value " + strconv.Quote(v) + " for " + c.Name + ": want an integer ≥ -1"
			}
			if c.Name == cfgRetentionMs {
				s.retentionMillis = n
			} else {
				s.retentionBytes = n
			}
		case cfgCleanupPolicy:
			if v != "delete" {
				return s, "cleanup.policy " + strconv.Quote(v) + " is not supported: only delete"
			}
		default:
			return s, "unknown or unsupported topic config " + strconv.Quote(c.Name)
		}
	}
	return s, ""
}

// configEntry is one config as DescribeConfigs and CreateTopics report it.
type configEntry struct {
	name      string
	value     string
	typ       kmsg.ConfigType
	isDefault bool
	readOnly  bool
	source    kmsg.ConfigSource
}

// topicConfigs are the configs of a topic with the given retention.
func (k *Kafka) topicConfigs(retentionMillis, retentionBytes int64) []configEntry {
	topicOrDefault := func(name string, v, def int64) configEntry {
		e := configEntry{name: name, value: strconv.FormatInt(v, 10), typ: kmsg.ConfigTypeLong,
			isDefault: v == def, source: kmsg.ConfigSourceDefaultConfig}
		if !e.isDefault {
			e.source = kmsg.ConfigSourceDynamicTopicConfig
		}
		return e
	}
	return []configEntry{
		topicOrDefault(cfgRetentionMs, retentionMillis, k.defaultRetentionMillis()),
		topicOrDefault(cfgRetentionBytes, retentionBytes, k.cfg.DefaultRetentionBytes),
		{name: cfgCleanupPolicy, value: "delete", typ: kmsg.ConfigTypeList, isDefault: true, source: kmsg.ConfigSourceDefaultConfig},
		{name: cfgMaxMessageBytes, value: strconv.Itoa(k.cfg.MaxMessageBytes), typ: kmsg.ConfigTypeInt,
			isDefault: true, readOnly: true, source: kmsg.ConfigSourceDefaultConfig},
		{name: cfgTimestampType, value: "CreateTime", typ: kmsg.ConfigTypeString,
			isDefault: true, readOnly: true, source: kmsg.ConfigSourceDefaultConfig},
	}
}

// brokerConfigs are the read-only broker configs DescribeConfigs reports.
func (k *Kafka) brokerConfigs() []configEntry {
	static := func(name, value string, typ kmsg.ConfigType) configEntry {
		return configEntry{name: name, value: value, typ: typ, readOnly: true, source: kmsg.ConfigSourceStaticBrokerConfig}
	}
	retention := k.defaultRetentionMillis()
	return []configEntry{
		static("message.max.bytes", strconv.Itoa(k.cfg.MaxMessageBytes), kmsg.ConfigTypeInt),
		static("auto.create.topics.enable", strconv.FormatBool(k.cfg.AutoCreateTopics), kmsg.ConfigTypeBoolean),
		static("num.partitions", strconv.Itoa(int(k.cfg.DefaultPartitions)), kmsg.ConfigTypeInt),
		static("log.retention.ms", strconv.FormatInt(retention, 10), kmsg.ConfigTypeLong),
		static("fetch.max.bytes", strconv.Itoa(k.cfg.MaxFetchBytes), kmsg.ConfigTypeInt),
	}
}

// DescribeConfigs: v0-4
//
// Behavior:
//   - Topics (resource type 2): retention.ms, retention.bytes,
//     cleanup.policy, max.message.bytes, message.timestamp.type, each with
//     its source (v1+: DEFAULT_CONFIG, or DYNAMIC_TOPIC_CONFIG for a value
//     the topic set). Unknown topic: UNKNOWN_TOPIC_OR_PARTITION.
//   - Brokers (type 4, name = this node's broker id — the registry's, or
//     KafkaConfig.BrokerID standalone — or ""): read-only static configs.
//     Another broker id (clients send a broker's resource to that broker),
//     or another resource type: INVALID_REQUEST.
//   - ConfigNames filters (null: all); synonyms (v1+) list the entry
//     itself; no documentation (v3+).
//
// Version notes:
//   - v1: IncludeSynonyms, Source
//   - v3: IncludeDocumentation, ConfigType
//   - v4: flexible versions

func (k *Kafka) describeConfigs(req *kmsg.DescribeConfigsRequest) *kmsg.DescribeConfigsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeConfigsResponse)
	resp.Resources = make([]kmsg.DescribeConfigsResponseResource, 0, len(req.Resources))
	for _, rr := range req.Resources {
		sr := kmsg.NewDescribeConfigsResponseResource()
		sr.ResourceType, sr.ResourceName = rr.ResourceType, rr.ResourceName
		entries, e, msg := k.resourceConfigs(rr)
		if e != nil {
			sr.ErrorCode, sr.ErrorMessage = e.Code, strPtr(msg)
		} else {
			sr.Configs = describeEntries(entries, rr.ConfigNames, req.IncludeSynonyms)
		}
		resp.Resources = append(resp.Resources, sr)
	}
	return resp
}

// resourceConfigs returns a resource's configs, or why there are none.
func (k *Kafka) resourceConfigs(rr kmsg.DescribeConfigsRequestResource) ([]configEntry, *kerr.Error, string) {
	switch rr.ResourceType {
	case kmsg.ConfigResourceTypeTopic:
		if !validTopicName(rr.ResourceName) {
			return nil, kerr.InvalidTopicException, "invalid topic name"
		}
		t, ok := k.store.TopicByName(rr.ResourceName)
		if !ok {
			return nil, kerr.UnknownTopicOrPartition, "unknown topic"
		}
		return k.topicConfigs(t.RetentionMillis, t.RetentionBytes), nil, ""
	case kmsg.ConfigResourceTypeBroker:
		self := k.brokers().self // -1: not registered yet, only "" names it
		if rr.ResourceName != "" && (self < 0 || rr.ResourceName != strconv.Itoa(int(self))) {
			return nil, kerr.InvalidRequest, "unexpected broker id " + strconv.Quote(rr.ResourceName)
		}
		return k.brokerConfigs(), nil, ""
	}
	return nil, kerr.InvalidRequest, "unsupported resource type " + strconv.Itoa(int(rr.ResourceType))
}

// describeEntries renders entries, filtered by names when not null.
func describeEntries(entries []configEntry, names []string, synonyms bool) []kmsg.DescribeConfigsResponseResourceConfig {
	out := make([]kmsg.DescribeConfigsResponseResourceConfig, 0, len(entries))
	for _, e := range entries {
		if names != nil && !slices.Contains(names, e.name) {
			continue
		}
		c := kmsg.NewDescribeConfigsResponseResourceConfig()
		c.Name, c.Value = e.name, strPtr(e.value)
		c.ReadOnly, c.IsDefault, c.Source, c.ConfigType = e.readOnly, e.isDefault, e.source, e.typ
		if synonyms {
			s := kmsg.NewDescribeConfigsResponseResourceConfigConfigSynonym()
			s.Name, s.Value, s.Source = e.name, strPtr(e.value), e.source
			c.ConfigSynonyms = []kmsg.DescribeConfigsResponseResourceConfigConfigSynonym{s}
		}
		out = append(out, c)
	}
	return out
}

// createdConfigs renders a topic's configs for CreateTopics v5+.
func createdConfigs(entries []configEntry) []kmsg.CreateTopicsResponseTopicConfig {
	out := make([]kmsg.CreateTopicsResponseTopicConfig, 0, len(entries))
	for _, e := range entries {
		c := kmsg.NewCreateTopicsResponseTopicConfig()
		c.Name, c.Value, c.ReadOnly, c.Source = e.name, strPtr(e.value), e.readOnly, int8(e.source)
		out = append(out, c)
	}
	return out
}
