package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/kafkacodec"
)

var testKafkaConfig = KafkaConfig{BrokerID: 3, AdvertiseHost: "kafka.example", AdvertisePort: 19092, ClusterID: "c1"}

func metadataReq(names ...string) *kmsg.MetadataRequest {
	req := kmsg.NewPtrMetadataRequest()
	for _, n := range names {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// topicNames lists a Metadata answer's topics as "name:code:partitions".
func topicSummary(resp *kmsg.MetadataResponse) map[string]int16 {
	out := make(map[string]int16)
	for _, t := range resp.Topics {
		name := "<null>"
		if t.Topic != nil {
			name = *t.Topic
		}
		out[name] = t.ErrorCode
	}
	return out
}

func TestKafkaMetadata(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, testKafkaConfig)
	created := ks.createTopic("alpha", 3)
	ks.createTopic("beta", 1)

	resp := handle[*kmsg.MetadataResponse](t, ks.kafka, 12, metadataReq("alpha"))
	want := []kmsg.MetadataResponseBroker{{NodeID: 3, Host: "kafka.example", Port: 19092}}
	if diff := cmp.Diff(want, resp.Brokers, cmpopts.IgnoreUnexported(kmsg.Tags{})); diff != "" {
		t.Errorf("brokers (-want +got):\n%s", diff)
	}
	if resp.ClusterID == nil || *resp.ClusterID != "c1" || resp.ControllerID != 3 {
		t.Errorf("cluster id %v controller %d, want c1 3", resp.ClusterID, resp.ControllerID)
	}
	if len(resp.Topics) != 1 {
		t.Fatalf("%d topics, want 1", len(resp.Topics))
	}
	tp := resp.Topics[0]
	if tp.TopicID != created.TopicID || tp.TopicID == [16]byte{} || len(tp.Partitions) != 3 {
		t.Errorf("topic id %x (created %x), %d partitions; want the created id and 3", tp.TopicID, created.TopicID, len(tp.Partitions))
	}
	if tp.AuthorizedOperations != -2147483648 {
		t.Errorf("authorized operations %d, want INT32_MIN", tp.AuthorizedOperations)
	}
	st, _ := ks.store.Partition("alpha", 2)
	p := tp.Partitions[2]
	if p.Partition != 2 || p.Leader != 3 || p.LeaderEpoch != st.LeaderEpoch ||
		!cmp.Equal(p.Replicas, []int32{3}) || !cmp.Equal(p.ISR, []int32{3}) || p.OfflineReplicas == nil {
		t.Errorf("partition %+v, want leader 3 epoch %d replicas [3]", p, st.LeaderEpoch)
	}

	all := map[string]int16{"alpha": 0, "beta": 0}
	for _, tc := range []struct {
		name    string
		version int16
		req     *kmsg.MetadataRequest
		want    map[string]int16
	}{
		{"null topics v1", 1, kmsg.NewPtrMetadataRequest(), all},
		{"empty topics v0", 0, &kmsg.MetadataRequest{Topics: []kmsg.MetadataRequestTopic{}}, all},
		{"empty topics v1", 1, &kmsg.MetadataRequest{Topics: []kmsg.MetadataRequestTopic{}}, map[string]int16{}},
		{"unknown and invalid", 9, metadataReq("beta", "nope", "bad name!"), map[string]int16{
			"beta": 0, "nope": kerr.UnknownTopicOrPartition.Code, "bad name!": kerr.InvalidTopicException.Code}},
	} {
		resp := handle[*kmsg.MetadataResponse](t, ks.kafka, tc.version, tc.req)
		if diff := cmp.Diff(tc.want, topicSummary(resp)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}

	// v10+: by id.
	byID := kmsg.NewPtrMetadataRequest()
	byID.Topics = []kmsg.MetadataRequestTopic{{TopicID: created.TopicID}, {TopicID: [16]byte{9}}}
	resp = handle[*kmsg.MetadataResponse](t, ks.kafka, 10, byID)
	if len(resp.Topics) != 2 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "alpha" ||
		resp.Topics[1].ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("by id: %+v", topicSummary(resp))
	}
}

func TestKafkaMetadataAutoCreate(t *testing.T) {
	t.Parallel()
	off := newKafkaStack(t, KafkaConfig{})
	resp := handle[*kmsg.MetadataResponse](t, off.kafka, 4, &kmsg.MetadataRequest{
		Topics: metadataReq("auto").Topics, AllowAutoTopicCreation: true})
	wantCode(t, "auto-create off", resp.Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)

	ks := newKafkaStack(t, KafkaConfig{AutoCreateTopics: true, DefaultPartitions: 2})
	resp = handle[*kmsg.MetadataResponse](t, ks.kafka, 4, metadataReq("not-asked"))
	wantCode(t, "v4 not allowed", resp.Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)
	resp = handle[*kmsg.MetadataResponse](t, ks.kafka, 4, &kmsg.MetadataRequest{
		Topics: metadataReq("asked").Topics, AllowAutoTopicCreation: true})
	wantCode(t, "v4 allowed", resp.Topics[0].ErrorCode, nil)
	if len(resp.Topics[0].Partitions) != 2 {
		t.Errorf("auto-created topic has %d partitions, want 2", len(resp.Topics[0].Partitions))
	}
	resp = handle[*kmsg.MetadataResponse](t, ks.kafka, 1, metadataReq("implicit", "bad/name"))
	if diff := cmp.Diff(map[string]int16{"implicit": 0, "bad/name": kerr.InvalidTopicException.Code}, topicSummary(resp)); diff != "" {
		t.Errorf("v1 auto-create (-want +got):\n%s", diff)
	}
	if _, ok := ks.store.TopicByName("not-asked"); ok {
		t.Error("a topic the request did not allow was created")
	}
}

func createReq(version int16, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.Topics, req.TimeoutMillis = topics, 10000
	req.SetVersion(version)
	return req
}

func newTopic(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for i := 0; i+1 < len(configs); i += 2 {
		rt.Configs = append(rt.Configs, kmsg.CreateTopicsRequestTopicConfig{Name: configs[i], Value: kmsg.StringPtr(configs[i+1])})
	}
	return rt
}

func TestKafkaCreateTopicsErrors(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{DefaultPartitions: 4})
	ks.createTopic("exists", 1)
	assigned := newTopic("assigned", -1, -1)
	assigned.ReplicaAssignment = []kmsg.CreateTopicsRequestTopicReplicaAssignment{{Partition: 0, Replicas: []int32{1}}}
	req := createReq(7,
		newTopic("bad name", 1, 1),
		newTopic("exists", 1, 1),
		newTopic("zero", 0, 1),
		newTopic("minus-two", -2, 1),
		newTopic("huge", maxPartitions+1, 1),
		newTopic("rf3", 1, 3),
		assigned,
		newTopic("dup", 1, 1), newTopic("dup", 1, 1),
		newTopic("compact", 1, 1, "cleanup.policy", "compact"),
		newTopic("unknown-config", 1, 1, "segment.bytes", "100"),
		newTopic("bad-retention", 1, 1, "retention.ms", "soon"),
		newTopic("ok", -1, -1, "retention.ms", "60000", "cleanup.policy", "delete"),
	)
	resp := handle[*kmsg.CreateTopicsResponse](t, ks.kafka, 7, req)
	want := []*kerr.Error{kerr.InvalidTopicException, kerr.TopicAlreadyExists, kerr.InvalidPartitions,
		kerr.InvalidPartitions, kerr.InvalidPartitions, kerr.InvalidReplicationFactor, kerr.InvalidRequest,
		kerr.InvalidRequest, kerr.InvalidRequest, kerr.InvalidConfig, kerr.InvalidConfig, kerr.InvalidConfig, nil}
	if len(resp.Topics) != len(want) {
		t.Fatalf("%d answers for %d topics", len(resp.Topics), len(want))
	}
	for i, w := range want {
		wantCode(t, resp.Topics[i].Topic, resp.Topics[i].ErrorCode, w)
	}
	if m := resp.Topics[10].ErrorMessage; m == nil || !strings.Contains(*m, "segment.bytes") {
		t.Errorf("unknown config message %v, want it to name segment.bytes", m)
	}
	ok := resp.Topics[len(resp.Topics)-1]
	if ok.NumPartitions != 4 || ok.ReplicationFactor != 1 || ok.TopicID == [16]byte{} {
		t.Errorf("created: partitions %d rf %d id %x; want 4 1 non-zero", ok.NumPartitions, ok.ReplicationFactor, ok.TopicID)
	}
	if ok.TopicID[6]>>4 != 4 || ok.TopicID[8]>>6 != 2 {
		t.Errorf("topic id %x is not a version 4 UUID", ok.TopicID)
	}
	configs := map[string]string{}
	for _, c := range ok.Configs {
		configs[c.Name] = *c.Value
		if c.Name == "retention.ms" && c.Source != int8(kmsg.ConfigSourceDynamicTopicConfig) {
			t.Errorf("retention.ms source %d, want DYNAMIC_TOPIC_CONFIG", c.Source)
		}
	}
	if configs["retention.ms"] != "60000" || configs["cleanup.policy"] != "delete" || configs["retention.bytes"] != "-1" {
		t.Errorf("configs %v", configs)
	}
	for _, name := range []string{"dup", "zero", "compact"} {
		if _, ok := ks.store.TopicByName(name); ok {
			t.Errorf("topic %q created despite its error", name)
		}
	}

	// ValidateOnly creates nothing.
	vreq := createReq(4, newTopic("dry", 2, 1))
	vreq.ValidateOnly = true
	vresp := handle[*kmsg.CreateTopicsResponse](t, ks.kafka, 4, vreq)
	wantCode(t, "validate only", vresp.Topics[0].ErrorCode, nil)
	if _, ok := ks.store.TopicByName("dry"); ok {
		t.Error("ValidateOnly created the topic")
	}
}

func TestKafkaDeleteTopics(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("byname", 1)
	byID := ks.createTopic("byid", 1)

	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TopicNames, req.TimeoutMillis = []string{"byname", "missing"}, 10000
	resp := handle[*kmsg.DeleteTopicsResponse](t, ks.kafka, 5, req)
	wantCode(t, "by name", resp.Topics[0].ErrorCode, nil)
	wantCode(t, "missing", resp.Topics[1].ErrorCode, kerr.UnknownTopicOrPartition)

	req = kmsg.NewPtrDeleteTopicsRequest()
	req.Topics = []kmsg.DeleteTopicsRequestTopic{{TopicID: byID.TopicID}, {TopicID: [16]byte{1}}}
	req.TimeoutMillis = 10000
	resp = handle[*kmsg.DeleteTopicsResponse](t, ks.kafka, 6, req)
	wantCode(t, "by id", resp.Topics[0].ErrorCode, nil)
	if resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != "byid" {
		t.Errorf("by id: name %v, want byid", resp.Topics[0].Topic)
	}
	wantCode(t, "unknown id", resp.Topics[1].ErrorCode, kerr.UnknownTopicID)
	if len(ks.store.Topics()) != 0 {
		t.Errorf("topics left: %v", ks.store.Topics())
	}
}

func TestKafkaDescribeConfigs(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, testKafkaConfig)
	ks.createTopic("conf", 1, "retention.bytes", "1000")

	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms = true
	req.Resources = []kmsg.DescribeConfigsRequestResource{
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "conf"},
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "conf", ConfigNames: []string{"retention.ms", "nope"}},
		{ResourceType: kmsg.ConfigResourceTypeTopic, ResourceName: "missing"},
		{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "3"},
		{ResourceType: kmsg.ConfigResourceTypeBroker, ResourceName: "4"},
	}
	resp := handle[*kmsg.DescribeConfigsResponse](t, ks.kafka, 4, req)
	type entry struct {
		Value  string
		Source kmsg.ConfigSource
	}
	entries := func(r kmsg.DescribeConfigsResponseResource) map[string]entry {
		m := map[string]entry{}
		for _, c := range r.Configs {
			m[c.Name] = entry{*c.Value, c.Source}
			if len(c.ConfigSynonyms) != 1 {
				t.Errorf("%s: %d synonyms, want 1", c.Name, len(c.ConfigSynonyms))
			}
		}
		return m
	}
	wantTopic := map[string]entry{
		"retention.ms":           {"604800000", kmsg.ConfigSourceDefaultConfig},
		"retention.bytes":        {"1000", kmsg.ConfigSourceDynamicTopicConfig},
		"cleanup.policy":         {"delete", kmsg.ConfigSourceDefaultConfig},
		"max.message.bytes":      {"1048588", kmsg.ConfigSourceDefaultConfig},
		"message.timestamp.type": {"CreateTime", kmsg.ConfigSourceDefaultConfig},
	}
	if diff := cmp.Diff(wantTopic, entries(resp.Resources[0])); diff != "" {
		t.Errorf("topic configs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]entry{"retention.ms": wantTopic["retention.ms"]}, entries(resp.Resources[1])); diff != "" {
		t.Errorf("filtered configs (-want +got):\n%s", diff)
	}
	wantCode(t, "missing topic", resp.Resources[2].ErrorCode, kerr.UnknownTopicOrPartition)
	broker := entries(resp.Resources[3])
	if broker["message.max.bytes"].Value != "1048588" || broker["auto.create.topics.enable"].Value != "false" {
		t.Errorf("broker configs %v", broker)
	}
	wantCode(t, "other broker", resp.Resources[4].ErrorCode, kerr.InvalidRequest)
}

func TestKafkaDescribeClusterAndCoordinator(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, testKafkaConfig)
	for _, v := range []int16{0, 1} {
		resp := handle[*kmsg.DescribeClusterResponse](t, ks.kafka, v, kmsg.NewPtrDescribeClusterRequest())
		wantCode(t, "describe cluster", resp.ErrorCode, nil)
		if resp.ClusterID != "c1" || resp.ControllerID != 3 || len(resp.Brokers) != 1 || resp.Brokers[0].Host != "kafka.example" {
			t.Errorf("v%d: %+v", v, resp)
		}
	}
	controllers := kmsg.NewPtrDescribeClusterRequest()
	controllers.EndpointType = 2
	resp := handle[*kmsg.DescribeClusterResponse](t, ks.kafka, 1, controllers)
	wantCode(t, "controllers endpoint", resp.ErrorCode, kerr.UnsupportedEndpointType)

	for _, v := range []int16{0, 1, 3} {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = "g"
		resp := handle[*kmsg.FindCoordinatorResponse](t, ks.kafka, v, req)
		if resp.ErrorCode != 0 || resp.NodeID != 3 || resp.Host != "kafka.example" || resp.Port != 19092 {
			t.Errorf("v%d: %+v", v, resp)
		}
		req.CoordinatorKey = ""
		resp = handle[*kmsg.FindCoordinatorResponse](t, ks.kafka, v, req)
		wantCode(t, "empty key", resp.ErrorCode, kerr.InvalidRequest)
	}
	txn := kmsg.NewPtrFindCoordinatorRequest()
	txn.CoordinatorKey, txn.CoordinatorType = "tx", 1
	wantCode(t, "transaction coordinator", handle[*kmsg.FindCoordinatorResponse](t, ks.kafka, 2, txn).ErrorCode, kerr.CoordinatorNotAvailable)

	batched := kmsg.NewPtrFindCoordinatorRequest()
	batched.CoordinatorKeys = []string{"a", "", "b"}
	fr := handle[*kmsg.FindCoordinatorResponse](t, ks.kafka, 4, batched)
	if len(fr.Coordinators) != 3 || fr.Coordinators[0].NodeID != 3 || fr.Coordinators[2].Key != "b" ||
		fr.Coordinators[1].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("batched: %+v", fr.Coordinators)
	}
}

func TestKafkaListOffsets(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("lo", 1)
	ts := []int64{1000, 5000, 3000}
	for _, v := range ts {
		b := kafkacodec.AppendBatch(nil, 0, -1, []kafkacodec.BuildRecord{
			{TimestampMillis: v, Value: []byte("a")}, {TimestampMillis: v + 1, Value: []byte("b")}})
		ks.produce("lo", 0, b)
	}
	st, _ := ks.store.Partition("lo", 0)
	list := func(version int16, timestamp int64, epoch int32) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp, rp.CurrentLeaderEpoch, rp.MaxNumOffsets = timestamp, epoch, 1
		req.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "lo", Partitions: []kmsg.ListOffsetsRequestTopicPartition{rp}}}
		return handle[*kmsg.ListOffsetsResponse](t, ks.kafka, version, req).Topics[0].Partitions[0]
	}
	for _, tc := range []struct {
		name      string
		version   int16
		timestamp int64
		epoch     int32
		offset    int64
		ts        int64
		want      *kerr.Error
	}{
		{"latest", 7, -1, -1, 6, -1, nil},
		{"earliest", 1, -2, -1, 0, -1, nil},
		{"by time", 4, 2000, -1, 2, 5000, nil},
		{"by exact time", 4, 5001, -1, 3, 5001, nil},
		{"after every record", 4, 9000, -1, -1, -1, nil},
		// The partition's largest timestamp (5001, offset 3) is not in its
		// last batch (3001).
		{"max timestamp", 7, -3, -1, 3, 5001, nil},
		{"max timestamp before v7", 6, -3, -1, -1, -1, kerr.UnsupportedVersion},
		{"newer epoch", 4, -1, st.LeaderEpoch + 1, -1, -1, kerr.UnknownLeaderEpoch},
		{"current epoch", 4, -1, st.LeaderEpoch, 6, -1, nil},
	} {
		sp := list(tc.version, tc.timestamp, tc.epoch)
		wantCode(t, tc.name, sp.ErrorCode, tc.want)
		if sp.Offset != tc.offset || sp.Timestamp != tc.ts {
			t.Errorf("%s: offset %d timestamp %d, want %d %d", tc.name, sp.Offset, sp.Timestamp, tc.offset, tc.ts)
		}
		if tc.want == nil && tc.offset >= 0 && sp.LeaderEpoch != st.LeaderEpoch {
			t.Errorf("%s: leader epoch %d, want %d", tc.name, sp.LeaderEpoch, st.LeaderEpoch)
		}
	}
	if sp := list(0, -1, -1); !cmp.Equal(sp.OldStyleOffsets, []int64{6}) {
		t.Errorf("v0 latest: %v, want [6]", sp.OldStyleOffsets)
	}

	dup := kmsg.NewPtrListOffsetsRequest()
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	dup.Topics = []kmsg.ListOffsetsRequestTopic{{Topic: "lo", Partitions: []kmsg.ListOffsetsRequestTopicPartition{rp, rp}}, {Topic: "nope", Partitions: []kmsg.ListOffsetsRequestTopicPartition{rp}}}
	resp := handle[*kmsg.ListOffsetsResponse](t, ks.kafka, 5, dup)
	wantCode(t, "duplicate", resp.Topics[0].Partitions[1].ErrorCode, kerr.InvalidRequest)
	wantCode(t, "unknown topic", resp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)

	oe := kmsg.NewPtrOffsetForLeaderEpochRequest()
	oep := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
	oep.LeaderEpoch, oep.CurrentLeaderEpoch = st.LeaderEpoch, st.LeaderEpoch
	bad := oep
	bad.CurrentLeaderEpoch = st.LeaderEpoch + 1
	oe.Topics = []kmsg.OffsetForLeaderEpochRequestTopic{{Topic: "lo", Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{oep, bad}}, {Topic: "nope", Partitions: []kmsg.OffsetForLeaderEpochRequestTopicPartition{oep}}}
	oresp := handle[*kmsg.OffsetForLeaderEpochResponse](t, ks.kafka, 4, oe)
	got := oresp.Topics[0].Partitions[0]
	if got.ErrorCode != 0 || got.LeaderEpoch != st.LeaderEpoch || got.EndOffset != 6 {
		t.Errorf("offset for current epoch: %+v, want epoch %d end 6", got, st.LeaderEpoch)
	}
	wantCode(t, "newer current epoch", oresp.Topics[0].Partitions[1].ErrorCode, kerr.UnknownLeaderEpoch)
	wantCode(t, "unknown topic", oresp.Topics[1].Partitions[0].ErrorCode, kerr.UnknownTopicOrPartition)
}

func TestKafkaUnsupportedRequests(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	for _, req := range []kmsg.Request{
		kmsg.NewPtrSASLHandshakeRequest(),
		kmsg.NewPtrApiVersionsRequest(), // wire/kafka answers it
		&kmsg.ProduceRequest{Version: 2},
		&kmsg.FetchRequest{Version: 13},
	} {
		if resp, err := ks.kafka.Handle(context.Background(), req); !errors.Is(err, ErrUnsupportedRequest) || resp != nil {
			t.Errorf("key %d v%d: %v, %v; want ErrUnsupportedRequest", req.Key(), req.GetVersion(), resp, err)
		}
	}
}

// TestHandleServesAdvertised: every request version kafkacodec advertises
// (but ApiVersions, which wire answers) has a handler: a request of each
// at its lowest and highest version is answered, not refused.
func TestHandleServesAdvertised(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	for _, v := range kafkacodec.Versions() {
		if v.APIKey == kafkacodec.APIVersionsKey {
			continue
		}
		for _, version := range []int16{v.Min, v.Max} {
			req := kmsg.RequestForKey(v.APIKey)
			req.(interface{ Default() }).Default()
			req.SetVersion(version)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := ks.kafka.Handle(ctx, req)
			cancel()
			if errors.Is(err, ErrUnsupportedRequest) || resp == nil && v.APIKey != 0 {
				t.Errorf("%s v%d: %v, %v; advertised but not served", kmsg.NameForKey(v.APIKey), version, resp, err)
			}
		}
	}
}

func TestKafkaConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (KafkaConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	bad := KafkaConfig{BrokerID: -1, AdvertisePort: 70000, DefaultPartitions: maxPartitions + 1,
		DefaultRetentionBytes: -2, MaxMessageBytes: -1, MaxFetchWait: -time.Second}
	err := bad.Validate()
	for _, field := range []string{"BrokerID", "AdvertisePort", "DefaultPartitions", "DefaultRetentionBytes", "MaxMessageBytes", "MaxFetchWait"} {
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("Validate(%+v) = %v, want it to name %s", bad, err, field)
		}
	}
	d := KafkaConfig{}.withDefaults()
	if d.BrokerID != 1 || d.ClusterID != "tributary" || d.DefaultPartitions != 1 || d.MaxMessageBytes != 1048588 ||
		d.DefaultRetention != 7*24*time.Hour || d.DefaultRetentionBytes != -1 || d.AdvertisePort != 9092 {
		t.Errorf("defaults %+v", d)
	}
	if _, err := NewKafka(nil, KafkaConfig{}); err == nil {
		t.Error("NewKafka(nil) succeeded")
	}
}

func TestValidTopicName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"a": true, "A-b_c.9": true, strings.Repeat("x", 249): true,
		"": false, ".": false, "..": false, strings.Repeat("x", 250): false, "a b": false, "a/b": false, "é": false,
	} {
		if got := validTopicName(name); got != want {
			t.Errorf("validTopicName(%q) = %v, want %v", name, got, want)
		}
	}
}
