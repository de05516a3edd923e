package cluster

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/raftstore"
)

// The registry is plain replicated data, so one store can hold a
// three-node registry: this node is n1 (the raft leader), n2 and n3 are
// registered as the other nodes would register themselves.

// ignoreTags leaves kmsg's unknown tagged fields out of comparisons.
var ignoreTags = cmpopts.IgnoreUnexported(kmsg.Tags{})

// register registers a node in the stack's registry.
func (ks *kafkaStack) register(id, kafkaAddr string) raftstore.NodeInfo {
	ks.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := ks.store.RegisterNode(ctx, raftstore.NodeRegistration{
		ID: id, RaftAddr: id + ".raft:7946", KafkaAddr: kafkaAddr, NowMillis: ks.clock.now().UnixMilli(),
	})
	if err != nil {
		ks.t.Fatalf("register %s: %v", id, err)
	}
	return info
}

// markDown marks a node down in the stack's registry.
func (ks *kafkaStack) markDown(id string) {
	ks.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ks.store.MarkNodeDown(ctx, id, ks.clock.now().UnixMilli()); err != nil {
		ks.t.Fatalf("mark %s down: %v", id, err)
	}
}

// threeNodes registers n1 (this node), n2 and n3, each with its own
// Kafka address, and returns them by node id.
func (ks *kafkaStack) threeNodes() map[string]raftstore.NodeInfo {
	return map[string]raftstore.NodeInfo{
		"n1": ks.register("n1", "n1.example:19092"),
		"n2": ks.register("n2", "n2.example:19093"),
		"n3": ks.register("n3", "[::1]:19094"),
	}
}

// wantBrokers is what Metadata must list for nodes (by broker id).
func wantBrokers(t *testing.T, nodes ...raftstore.NodeInfo) []kmsg.MetadataResponseBroker {
	t.Helper()
	var out []kmsg.MetadataResponseBroker
	for _, n := range nodes {
		host, port, ok := splitKafkaAddr(n.KafkaAddr)
		if !ok {
			t.Fatalf("node %s: unusable kafka address %q", n.ID, n.KafkaAddr)
		}
		out = append(out, kmsg.MetadataResponseBroker{NodeID: n.BrokerID, Host: host, Port: port})
	}
	slices.SortFunc(out, func(a, b kmsg.MetadataResponseBroker) int { return int(a.NodeID - b.NodeID) })
	return out
}

// metadataAll asks Metadata v12 for every topic.
func (ks *kafkaStack) metadataAll() *kmsg.MetadataResponse {
	ks.t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.Topics = nil
	return handle[*kmsg.MetadataResponse](ks.t, ks.kafka, 12, req)
}

// partitionsOf indexes one topic's partitions in a Metadata answer.
func partitionsOf(t *testing.T, resp *kmsg.MetadataResponse, topic string) map[int32]kmsg.MetadataResponseTopicPartition {
	t.Helper()
	for _, rt := range resp.Topics {
		if rt.Topic != nil && *rt.Topic == topic {
			out := make(map[int32]kmsg.MetadataResponseTopicPartition, len(rt.Partitions))
			for _, p := range rt.Partitions {
				out[p.Partition] = p
			}
			return out
		}
	}
	t.Fatalf("metadata lacks topic %q", topic)
	return nil
}

// checkPartitions checks every partition of topic against the registry:
// leader and epoch are PartitionLeader's and the replicated
// PartitionState's, replicas and ISR are every broker with the leader
// first. It returns the leaders.
func (ks *kafkaStack) checkPartitions(resp *kmsg.MetadataResponse, topic string) map[int32]kmsg.MetadataResponseTopicPartition {
	t := ks.t
	t.Helper()
	var ids []int32
	for _, b := range resp.Brokers {
		ids = append(ids, b.NodeID)
	}
	parts := partitionsOf(t, resp, topic)
	for p, mp := range parts {
		leader, epoch, err := ks.store.PartitionLeader(topic, p)
		if err != nil {
			t.Fatalf("PartitionLeader(%s, %d): %v", topic, p, err)
		}
		state, err := ks.store.Partition(topic, p)
		if err != nil {
			t.Fatalf("Partition(%s, %d): %v", topic, p, err)
		}
		if mp.ErrorCode != 0 || mp.Leader != leader || mp.LeaderEpoch != epoch || epoch != state.LeaderEpoch {
			t.Errorf("%s/%d: error %s leader %d epoch %d; want NONE, registry's %d/%d, state's epoch %d",
				topic, p, codeName(mp.ErrorCode), mp.Leader, mp.LeaderEpoch, leader, epoch, state.LeaderEpoch)
		}
		want := append([]int32{leader}, slices.DeleteFunc(slices.Clone(ids), func(id int32) bool { return id == leader })...)
		if !cmp.Equal(mp.Replicas, want) || !cmp.Equal(mp.ISR, want) || len(mp.OfflineReplicas) != 0 {
			t.Errorf("%s/%d: replicas %v isr %v offline %v; want %v, %v, none", topic, p, mp.Replicas, mp.ISR, mp.OfflineReplicas, want, want)
		}
	}
	return parts
}

func TestKafkaClusterMetadata(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{BrokerID: 9, AdvertiseHost: "standalone.example", AdvertisePort: 1})
	ks.createTopic("spread", 6)
	nodes := ks.threeNodes()

	resp := ks.metadataAll()
	if diff := cmp.Diff(wantBrokers(t, nodes["n1"], nodes["n2"], nodes["n3"]), resp.Brokers, ignoreTags); diff != "" {
		t.Errorf("brokers (-want +got):\n%s", diff)
	}
	if resp.ControllerID != nodes["n1"].BrokerID {
		t.Errorf("controller %d, want n1's broker id %d (the raft leader)", resp.ControllerID, nodes["n1"].BrokerID)
	}
	before := ks.checkPartitions(resp, "spread")
	leaders := map[int32]bool{}
	for _, p := range before {
		leaders[p.Leader] = true
	}
	if len(leaders) != 3 {
		t.Errorf("6 partitions led by %d brokers (%v), want all 3", len(leaders), leaders)
	}

	dc := handle[*kmsg.DescribeClusterResponse](t, ks.kafka, 1, func() *kmsg.DescribeClusterRequest {
		r := kmsg.NewPtrDescribeClusterRequest()
		r.EndpointType = 1
		return r
	}())
	if len(dc.Brokers) != 3 || dc.ControllerID != resp.ControllerID {
		t.Errorf("DescribeCluster: %d brokers, controller %d; want 3, %d", len(dc.Brokers), dc.ControllerID, resp.ControllerID)
	}
	for i, b := range dc.Brokers {
		if w := resp.Brokers[i]; b.NodeID != w.NodeID || b.Host != w.Host || b.Port != w.Port {
			t.Errorf("DescribeCluster broker %d: %d %s:%d, want %d %s:%d", i, b.NodeID, b.Host, b.Port, w.NodeID, w.Host, w.Port)
		}
	}

	// A partition another broker leads is still produced and fetched
	// here: every node appends through the one log and holds every
	// partition.
	var foreign int32 = -1
	for p, mp := range before {
		if mp.Leader != nodes["n1"].BrokerID {
			foreign = p
			break
		}
	}
	if got := ks.produce("spread", foreign, batch("elsewhere")); got.ErrorCode != 0 || got.BaseOffset != 0 {
		t.Fatalf("produce to partition %d led by broker %d: %s offset %d", foreign, before[foreign].Leader, codeName(got.ErrorCode), got.BaseOffset)
	}
	fetched := handle[*kmsg.FetchResponse](t, ks.kafka, 12, fetchReq("spread", foreign, 0)).Topics[0].Partitions[0]
	if recs := records(t, fetched.RecordBatches); fetched.ErrorCode != 0 || len(recs) != 1 || recs[0].Value != "elsewhere" {
		t.Errorf("fetch of partition %d here: %s %+v", foreign, codeName(fetched.ErrorCode), recs)
	}

	// n2 goes down: leadership moves off it, and exactly the partitions
	// whose leader moved get a new epoch.
	ks.markDown("n2")
	resp = ks.metadataAll()
	if len(resp.Brokers) != 2 || slices.ContainsFunc(resp.Brokers, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == nodes["n2"].BrokerID }) {
		t.Errorf("brokers after n2 went down: %+v", resp.Brokers)
	}
	after := ks.checkPartitions(resp, "spread")
	bumped := 0
	for p, a := range after {
		b := before[p]
		switch {
		case a.Leader == nodes["n2"].BrokerID:
			t.Errorf("partition %d still led by the node that is down", p)
		case a.Leader != b.Leader && a.LeaderEpoch <= b.LeaderEpoch:
			t.Errorf("partition %d moved %d→%d but its epoch went %d→%d", p, b.Leader, a.Leader, b.LeaderEpoch, a.LeaderEpoch)
		case a.Leader == b.Leader && a.LeaderEpoch != b.LeaderEpoch:
			t.Errorf("partition %d stayed on %d but its epoch went %d→%d", p, a.Leader, b.LeaderEpoch, a.LeaderEpoch)
		case a.Leader != b.Leader:
			bumped++
			// KIP-320: the old epoch is fenced, the new one served.
			old := fetchReq("spread", p, 0)
			old.Topics[0].Partitions[0].CurrentLeaderEpoch = b.LeaderEpoch
			wantCode(t, "fetch with the old epoch", handle[*kmsg.FetchResponse](t, ks.kafka, 12, old).Topics[0].Partitions[0].ErrorCode, kerr.FencedLeaderEpoch)
			cur := fetchReq("spread", p, 0)
			cur.Topics[0].Partitions[0].CurrentLeaderEpoch = a.LeaderEpoch
			wantCode(t, "fetch with the new epoch", handle[*kmsg.FetchResponse](t, ks.kafka, 12, cur).Topics[0].Partitions[0].ErrorCode, nil)
		}
	}
	if bumped == 0 {
		t.Error("no partition moved when n2 went down")
	}

	// Nobody live: back to answering standalone.
	ks.markDown("n1")
	ks.markDown("n3")
	resp = ks.metadataAll()
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != 9 || resp.Brokers[0].Host != "standalone.example" || resp.ControllerID != 9 {
		t.Errorf("standalone again: brokers %+v controller %d", resp.Brokers, resp.ControllerID)
	}
	for p, mp := range partitionsOf(t, resp, "spread") {
		if mp.Leader != 9 || mp.ErrorCode != 0 || !cmp.Equal(mp.Replicas, []int32{9}) {
			t.Errorf("standalone partition %d: leader %d error %s replicas %v", p, mp.Leader, codeName(mp.ErrorCode), mp.Replicas)
		}
	}
}

// With an empty registry the node answers as a single node always did:
// itself as the broker (KafkaConfig's id and address), leader of every
// partition with the replicated epoch, controller and coordinator of
// every group.
func TestKafkaStandaloneFallback(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{BrokerID: 5, AdvertiseHost: "solo.example", AdvertisePort: 29092})
	ks.createTopic("solo", 3)
	resp := ks.metadataAll()
	want := []kmsg.MetadataResponseBroker{{NodeID: 5, Host: "solo.example", Port: 29092}}
	if diff := cmp.Diff(want, resp.Brokers, ignoreTags); diff != "" || resp.ControllerID != 5 {
		t.Errorf("brokers (-want +got):\n%s controller %d", diff, resp.ControllerID)
	}
	for p, mp := range partitionsOf(t, resp, "solo") {
		state, err := ks.store.Partition("solo", p)
		if err != nil {
			t.Fatal(err)
		}
		if mp.Leader != 5 || mp.LeaderEpoch != state.LeaderEpoch || !cmp.Equal(mp.ISR, []int32{5}) {
			t.Errorf("partition %d: leader %d epoch %d isr %v; want 5, %d, [5]", p, mp.Leader, mp.LeaderEpoch, mp.ISR, state.LeaderEpoch)
		}
	}
	for i := range 8 {
		c := findCoordinator(t, ks.kafka, fmt.Sprintf("any-%d", i))
		if c.ErrorCode != 0 || c.NodeID != 5 || c.Host != "solo.example" || c.Port != 29092 {
			t.Errorf("coordinator of any-%d: %+v", i, c)
		}
	}
	commit := commitReq("solo-group", -1, "", "solo", map[int32]int64{0: 1})
	wantCode(t, "commit", handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 8, commit).Topics[0].Partitions[0].ErrorCode, nil)
}

// A live node registered without a Kafka address is no broker: with only
// such a node live there is nobody to name, which the client is told with
// retriable errors (it asks again once the registry changes).
func TestKafkaLiveNodeWithoutKafkaAddress(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("t", 1)
	ks.register("n1", "")
	resp := ks.metadataAll()
	if len(resp.Brokers) != 0 || resp.ControllerID != -1 {
		t.Errorf("brokers %+v controller %d; want none, -1", resp.Brokers, resp.ControllerID)
	}
	if p := partitionsOf(t, resp, "t")[0]; p.ErrorCode != kerr.LeaderNotAvailable.Code || p.Leader != -1 {
		t.Errorf("partition: %s leader %d; want LEADER_NOT_AVAILABLE, -1", codeName(p.ErrorCode), p.Leader)
	}
	wantCode(t, "find coordinator", findCoordinator(t, ks.kafka, "g").ErrorCode, kerr.CoordinatorNotAvailable)
}

// findCoordinator asks FindCoordinator v3 for a group.
func findCoordinator(t *testing.T, k *Kafka, group string) *kmsg.FindCoordinatorResponse {
	t.Helper()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKey = group
	return handle[*kmsg.FindCoordinatorResponse](t, k, 3, req)
}

// rendezvous is the documented coordinator rule, written out again: the
// node whose fmix64(FNV-1a 64 of group, zero byte, node id) is highest.
func rendezvous(group string, nodes ...raftstore.NodeInfo) raftstore.NodeInfo {
	var best raftstore.NodeInfo
	var bestW uint64
	for i, n := range nodes {
		h := fnv.New64a()
		h.Write([]byte(group + "\x00" + n.ID))
		w := h.Sum64()
		w = (w ^ w>>33) * 0xff51afd7ed558ccd
		w = (w ^ w>>33) * 0xc4ceb9fe1a85ec53
		w ^= w >> 33
		if i == 0 || w > bestW {
			best, bestW = n, w
		}
	}
	return best
}

// Rendezvous must spread groups evenly and rank nodes independently: with
// node ids that differ in one character, every ordering of three nodes
// wins a fair share of groups (plain FNV-1a fails this).
func TestGroupWeightSpread(t *testing.T) {
	t.Parallel()
	const groups = 30000
	orders := map[string]int{}
	for i := range groups {
		g := "group-" + strconv.Itoa(i)
		ids := []string{"n1", "n2", "n3"}
		slices.SortFunc(ids, func(a, b string) int {
			wa, wb := groupWeight(g, a), groupWeight(g, b)
			switch {
			case wa > wb:
				return -1
			case wa < wb:
				return 1
			}
			return 0
		})
		orders[ids[0]+ids[1]+ids[2]]++
	}
	if len(orders) != 6 {
		t.Fatalf("%d of the 6 orderings of three nodes occur: %v", len(orders), orders)
	}
	for o, n := range orders {
		if n < groups/6*8/10 || n > groups/6*12/10 {
			t.Errorf("ordering %s wins %d of %d groups, want about %d", o, n, groups, groups/6)
		}
	}
}

// groupWhere returns the first "group-<i>" for which ok holds.
func groupWhere(t *testing.T, ok func(group string) bool) string {
	t.Helper()
	for i := range 100000 {
		if g := "group-" + strconv.Itoa(i); ok(g) {
			return g
		}
	}
	t.Fatal("no group name fits")
	return ""
}

func TestKafkaClusterCoordinator(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("c", 1)
	nodes := ks.threeNodes()
	n1, n2, n3 := nodes["n1"], nodes["n2"], nodes["n3"]

	// Rendezvous: the documented rule, the same answer every time, spread
	// over the nodes; v4's batch agrees.
	seen := map[int32]int{}
	batched := kmsg.NewPtrFindCoordinatorRequest()
	for i := range 64 {
		g := fmt.Sprintf("g-%d", i)
		want := rendezvous(g, n1, n2, n3)
		host, port, _ := splitKafkaAddr(want.KafkaAddr)
		for range 2 {
			c := findCoordinator(t, ks.kafka, g)
			if c.ErrorCode != 0 || c.NodeID != want.BrokerID || c.Host != host || c.Port != port {
				t.Fatalf("coordinator of %s: %s %d %s:%d, want %d %s:%d", g, codeName(c.ErrorCode), c.NodeID, c.Host, c.Port, want.BrokerID, host, port)
			}
		}
		seen[want.BrokerID]++
		batched.CoordinatorKeys = append(batched.CoordinatorKeys, g)
	}
	if len(seen) != 3 {
		t.Errorf("64 groups spread over %d coordinators: %v", len(seen), seen)
	}
	for i, c := range handle[*kmsg.FindCoordinatorResponse](t, ks.kafka, 4, batched).Coordinators {
		if want := rendezvous(batched.CoordinatorKeys[i], n1, n2, n3); c.Key != batched.CoordinatorKeys[i] || c.NodeID != want.BrokerID {
			t.Errorf("batched %s: %d, want %d", c.Key, c.NodeID, want.BrokerID)
		}
	}

	foreign := groupWhere(t, func(g string) bool { return rendezvous(g, n1, n2, n3).ID != "n1" })
	mine := groupWhere(t, func(g string) bool { return rendezvous(g, n1, n2, n3).ID == "n1" })
	checkNotCoordinator(t, ks, foreign, mine)

	// ListGroups lists the groups this node coordinates only, even when
	// another coordinator's group has committed offsets in the log.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ks.store.CommitOffsets(ctx, []raftstore.OffsetCommit{{Group: foreign, Topic: "c", Offset: 3, LeaderEpoch: -1}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "commit to my group", handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 8, commitReq(mine, -1, "", "c", map[int32]int64{0: 4})).Topics[0].Partitions[0].ErrorCode, nil)
	var listed []string
	for _, g := range handle[*kmsg.ListGroupsResponse](t, ks.kafka, 4, kmsg.NewPtrListGroupsRequest()).Groups {
		listed = append(listed, g.Group)
	}
	if !cmp.Equal(listed, []string{mine}) {
		t.Errorf("ListGroups: %v, want [%s]", listed, mine)
	}
}

// checkNotCoordinator sends every group request for foreign (another
// node's group) and checks NOT_COORDINATOR where each version puts it;
// mine, asked in the same DescribeGroups, is described.
func checkNotCoordinator(t *testing.T, ks *kafkaStack, foreign, mine string) {
	t.Helper()
	k := ks.kafka
	nc := kerr.NotCoordinator
	join := joinReq(foreign, "member-1")
	jr := handle[*kmsg.JoinGroupResponse](t, k, 5, join)
	if wantCode(t, "join", jr.ErrorCode, nc); jr.MemberID != "member-1" || jr.Generation != -1 {
		t.Errorf("join answer: member %q generation %d, want the request's member and -1", jr.MemberID, jr.Generation)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.MemberID, sync.Generation = foreign, "member-1", 1
	wantCode(t, "sync", handle[*kmsg.SyncGroupResponse](t, k, 3, sync).ErrorCode, nc)
	for _, v := range []int16{0, 4} {
		hb := kmsg.NewPtrHeartbeatRequest()
		hb.Group, hb.MemberID, hb.Generation = foreign, "member-1", 1
		wantCode(t, fmt.Sprintf("heartbeat v%d", v), handle[*kmsg.HeartbeatResponse](t, k, v, hb).ErrorCode, nc)
	}
	for _, v := range []int16{0, 5} {
		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Group, leave.MemberID = foreign, "member-1"
		leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "member-1"}}
		lr := handle[*kmsg.LeaveGroupResponse](t, k, v, leave)
		if wantCode(t, fmt.Sprintf("leave v%d", v), lr.ErrorCode, nc); len(lr.Members) != 0 {
			t.Errorf("leave v%d answered members %+v", v, lr.Members)
		}
	}
	for _, v := range []int16{2, 8} {
		cr := handle[*kmsg.OffsetCommitResponse](t, k, v, commitReq(foreign, -1, "", "c", map[int32]int64{0: 1}))
		wantCode(t, fmt.Sprintf("commit v%d", v), cr.Topics[0].Partitions[0].ErrorCode, nc)
	}

	of := kmsg.NewPtrOffsetFetchRequest()
	of.Group = foreign
	of.Topics = []kmsg.OffsetFetchRequestTopic{{Topic: "c", Partitions: []int32{0}}}
	r1 := handle[*kmsg.OffsetFetchResponse](t, k, 1, of) // v0-1: per partition
	if len(r1.Topics) != 1 || len(r1.Topics[0].Partitions) != 1 || r1.Topics[0].Partitions[0].ErrorCode != nc.Code {
		t.Errorf("offset fetch v1: %+v", r1.Topics)
	}
	r5 := handle[*kmsg.OffsetFetchResponse](t, k, 5, of) // v2+: top level
	if wantCode(t, "offset fetch v5", r5.ErrorCode, nc); len(r5.Topics) != 0 {
		t.Errorf("offset fetch v5 answered topics %+v", r5.Topics)
	}
	b := kmsg.NewPtrOffsetFetchRequest()
	b.Groups = []kmsg.OffsetFetchRequestGroup{
		{Group: foreign, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "c", Partitions: []int32{0}}}},
		{Group: mine, Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "c", Partitions: []int32{0}}}},
	}
	r8 := handle[*kmsg.OffsetFetchResponse](t, k, 8, b) // v8: per group
	if len(r8.Groups) != 2 || r8.Groups[0].ErrorCode != nc.Code || len(r8.Groups[0].Topics) != 0 || r8.Groups[1].ErrorCode != 0 {
		t.Errorf("offset fetch v8: %+v", r8.Groups)
	}

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{foreign, mine}
	dr := handle[*kmsg.DescribeGroupsResponse](t, k, 5, dg)
	if len(dr.Groups) != 2 || dr.Groups[0].Group != foreign || dr.Groups[0].ErrorCode != nc.Code ||
		dr.Groups[1].Group != mine || dr.Groups[1].ErrorCode != 0 {
		t.Errorf("describe: %+v", dr.Groups)
	}
	if s := k.groups.Stats(); s.Groups != 0 {
		t.Errorf("the coordinator holds %d groups after requests it refused", s.Groups)
	}
}

// joinReq is a JoinGroup v0-5 of one member with the range protocol.
func joinReq(group, memberID string) *kmsg.JoinGroupRequest {
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.MemberID, join.ProtocolType = group, memberID, "consumer"
	join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0}}}
	return join
}

// A group's coordinator moves with the live set: when its node goes down
// the group moves to the next by rendezvous (here this node, which then
// serves it); when a node joins that wins it, this node hands it over —
// drops its members, answers NOT_COORDINATOR — and its committed offsets
// stay.
func TestKafkaCoordinatorMoves(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("m", 1)
	nodes := ks.threeNodes()
	n1, n2, n3 := nodes["n1"], nodes["n2"], nodes["n3"]
	n4 := raftstore.NodeInfo{ID: "n4"}
	group := groupWhere(t, func(g string) bool {
		return rendezvous(g, n1, n2, n3).ID == "n2" && rendezvous(g, n1, n3).ID == "n1" && rendezvous(g, n1, n3, n4).ID == "n4"
	})

	if c := findCoordinator(t, ks.kafka, group); c.NodeID != n2.BrokerID {
		t.Fatalf("coordinator %d, want n2's %d", c.NodeID, n2.BrokerID)
	}
	wantCode(t, "join at the wrong node", handle[*kmsg.JoinGroupResponse](t, ks.kafka, 3, joinReq(group, "")).ErrorCode, kerr.NotCoordinator)

	ks.markDown("n2")
	if c := findCoordinator(t, ks.kafka, group); c.NodeID != n1.BrokerID || c.Host != "n1.example" {
		t.Fatalf("coordinator after n2 went down: %d %s, want n1's %d", c.NodeID, c.Host, n1.BrokerID)
	}
	jr := handle[*kmsg.JoinGroupResponse](t, ks.kafka, 3, joinReq(group, "")) // v3: no MEMBER_ID_REQUIRED round
	if jr.ErrorCode != 0 || jr.Generation < 1 {
		t.Fatalf("join at the new coordinator: %s generation %d", codeName(jr.ErrorCode), jr.Generation)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.Generation, sync.MemberID = group, jr.Generation, jr.MemberID
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte{1}}}
	wantCode(t, "sync at the new coordinator", handle[*kmsg.SyncGroupResponse](t, ks.kafka, 3, sync).ErrorCode, nil)
	commit := commitReq(group, jr.Generation, jr.MemberID, "m", map[int32]int64{0: 42})
	wantCode(t, "member commit", handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 7, commit).Topics[0].Partitions[0].ErrorCode, nil)

	n4 = ks.register("n4", "n4.example:19095")
	// The registry watch drops the group without any request for it.
	waitFor(t, "group handed over", func() bool { return ks.kafka.groups.Stats().Groups == 0 })
	if c := findCoordinator(t, ks.kafka, group); c.NodeID != n4.BrokerID {
		t.Errorf("coordinator after n4 joined: %d, want %d", c.NodeID, n4.BrokerID)
	}
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation = group, jr.MemberID, jr.Generation
	wantCode(t, "heartbeat after the handover", handle[*kmsg.HeartbeatResponse](t, ks.kafka, 3, hb).ErrorCode, kerr.NotCoordinator)
	if c, ok, err := ks.store.CommittedOffset(group, "m", 0); err != nil || !ok || c.Offset != 42 {
		t.Errorf("committed offset after the handover: %+v %v %v, want 42", c, ok, err)
	}
}

// The fetch rule: past this node's end, wait while it may lag; out of
// range once it has applied what it knew committed.
func TestFetchAt(t *testing.T) {
	t.Parallel()
	caughtUp := logProgress{applied: 100, commitAtStart: 100, ready: true}
	behind := logProgress{applied: 90, commitAtStart: 100, ready: true}
	unsettled := logProgress{applied: 100, commitAtStart: 100, ready: false}
	ahead := logProgress{applied: 120, commitAtStart: 100, ready: true} // applied more since the request came
	for _, c := range []struct {
		name                 string
		offset, logStart, hw int64
		p                    logProgress
		want                 fetchVerdict
	}{
		{"below log start", 4, 5, 10, caughtUp, fetchOutOfRange},
		{"below log start while behind", 4, 5, 10, behind, fetchOutOfRange},
		{"at log start", 5, 5, 10, behind, fetchRead},
		{"inside", 7, 5, 10, caughtUp, fetchRead},
		{"at the high watermark", 10, 5, 10, caughtUp, fetchRead},
		{"at the high watermark while behind", 10, 5, 10, behind, fetchRead},
		{"past the end while behind", 11, 5, 10, behind, fetchWait},
		{"far past the end while behind", 1 << 40, 5, 10, behind, fetchWait},
		{"past the end, not ready", 11, 5, 10, unsettled, fetchWait},
		{"past the end, caught up", 11, 5, 10, caughtUp, fetchOutOfRange},
		{"past the end, applied beyond", 11, 5, 10, ahead, fetchOutOfRange},
		{"empty partition, at 0", 0, 0, 0, behind, fetchRead},
		{"empty partition, past", 1, 0, 0, caughtUp, fetchOutOfRange},
	} {
		if got := fetchAt(c.offset, c.logStart, c.hw, c.p); got != c.want {
			t.Errorf("%s: fetchAt(%d, %d, %d, %+v) = %d, want %d", c.name, c.offset, c.logStart, c.hw, c.p, got, c.want)
		}
	}
}

// On one node (always caught up): a fetch at the log end long-polls and
// answers the record produced meanwhile; a fetch past the end is
// OFFSET_OUT_OF_RANGE at once, without waiting out MaxWait.
func TestKafkaFetchAtAndPastEnd(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("lp", 1)
	if got := ks.produce("lp", 0, batch("first")); got.ErrorCode != 0 {
		t.Fatalf("produce: %s", codeName(got.ErrorCode))
	}
	if p := ks.kafka.logProgress(ks.store.CommitIndex()); !p.ready || p.applied < p.commitAtStart {
		t.Fatalf("a one-node store is not caught up: %+v", p)
	}

	waiting := fetchReq("lp", 0, 1)
	waiting.MinBytes, waiting.MaxWaitMillis = 1, 10000
	type answer struct {
		p   kmsg.FetchResponseTopicPartition
		err error
	}
	done := make(chan answer, 1)
	go func() {
		waiting.SetVersion(12)
		r, err := ks.kafka.Handle(context.Background(), waiting)
		if err != nil {
			done <- answer{err: err}
			return
		}
		done <- answer{p: r.(*kmsg.FetchResponse).Topics[0].Partitions[0]}
	}()
	select {
	case a := <-done:
		t.Fatalf("fetch at the log end answered before anything was produced: %+v %v", a.p, a.err)
	case <-time.After(100 * time.Millisecond):
	}
	if got := ks.produce("lp", 0, batch("second")); got.ErrorCode != 0 || got.BaseOffset != 1 {
		t.Fatalf("produce: %s offset %d", codeName(got.ErrorCode), got.BaseOffset)
	}
	select {
	case a := <-done:
		if a.err != nil {
			t.Fatal(a.err)
		}
		recs := records(t, a.p.RecordBatches)
		if a.p.ErrorCode != 0 || len(recs) != 1 || recs[0].Offset != 1 || recs[0].Value != "second" || a.p.HighWatermark != 2 {
			t.Errorf("long poll answered %s hw %d %+v; want the record at offset 1", codeName(a.p.ErrorCode), a.p.HighWatermark, recs)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("long poll did not answer the record produced meanwhile")
	}

	for _, offset := range []int64{3, 1000} {
		past := fetchReq("lp", 0, offset)
		past.MinBytes, past.MaxWaitMillis = 1, 10000
		start := time.Now()
		p := handle[*kmsg.FetchResponse](t, ks.kafka, 12, past).Topics[0].Partitions[0]
		wantCode(t, fmt.Sprintf("fetch at %d past the end (hw 2)", offset), p.ErrorCode, kerr.OffsetOutOfRange)
		if waited := time.Since(start); waited > 5*time.Second {
			t.Errorf("fetch past the end waited %v of its 10s MaxWait", waited)
		}
	}
}

// Admin requests in a cluster: a replication factor up to the broker
// count is accepted (every broker holds every partition), more is not;
// DescribeConfigs answers this node's registry broker id.
func TestKafkaClusterAdmin(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{BrokerID: 9})
	nodes := ks.threeNodes()

	create := func(name string, rf int16) kmsg.CreateTopicsResponseTopic {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 2, rf
		req.Topics = []kmsg.CreateTopicsRequestTopic{rt}
		req.TimeoutMillis = 10000
		return handle[*kmsg.CreateTopicsResponse](t, ks.kafka, 7, req).Topics[0]
	}
	for _, rf := range []int16{-1, 1, 3} {
		got := create("rf"+strconv.Itoa(int(rf)+1), rf)
		if got.ErrorCode != 0 || got.ReplicationFactor != 3 {
			t.Errorf("replication factor %d: %s, reported %d; want NONE, 3", rf, codeName(got.ErrorCode), got.ReplicationFactor)
		}
	}
	wantCode(t, "replication factor 4 of 3 brokers", create("rf-too-many", 4).ErrorCode, kerr.InvalidReplicationFactor)

	describe := func(name string) int16 {
		req := kmsg.NewPtrDescribeConfigsRequest()
		rr := kmsg.NewDescribeConfigsRequestResource()
		rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeBroker, name
		req.Resources = []kmsg.DescribeConfigsRequestResource{rr}
		return handle[*kmsg.DescribeConfigsResponse](t, ks.kafka, 4, req).Resources[0].ErrorCode
	}
	wantCode(t, "describe this node's broker", describe(strconv.Itoa(int(nodes["n1"].BrokerID))), nil)
	wantCode(t, "describe the standalone id", describe("9"), kerr.InvalidRequest)
	wantCode(t, "describe another broker", describe(strconv.Itoa(int(nodes["n2"].BrokerID))), kerr.InvalidRequest)
}
