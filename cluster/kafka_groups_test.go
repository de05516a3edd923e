package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func commitReq(group string, generation int32, member string, topic string, offsets map[int32]int64) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.Generation, req.MemberID = group, generation, member
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	for p := int32(0); p < 16; p++ {
		if o, ok := offsets[p]; ok {
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, o, 0, kmsg.StringPtr("m")
			rt.Partitions = append(rt.Partitions, rp)
		}
	}
	req.Topics = []kmsg.OffsetCommitRequestTopic{rt}
	return req
}

// offsetsOf flattens an OffsetFetch answer (v0-7) to topic/partition →
// offset, error code and metadata.
type fetched struct {
	Offset   int64
	Epoch    int32
	Metadata string
	Code     int16
}

func offsetsOf(t *testing.T, resp *kmsg.OffsetFetchResponse) map[topicPartition]fetched {
	t.Helper()
	out := map[topicPartition]fetched{}
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if p.Metadata == nil {
				t.Errorf("%s/%d: null metadata", rt.Topic, p.Partition)
				continue
			}
			out[topicPartition{rt.Topic, p.Partition}] = fetched{p.Offset, p.LeaderEpoch, *p.Metadata, p.ErrorCode}
		}
	}
	return out
}

func TestKafkaOffsetCommitFetch(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("o", 3)

	// A simple commit (no member, generation -1) to a group with no members.
	resp := handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 8, commitReq("g", -1, "", "o", map[int32]int64{0: 10, 1: 20, 9: 1}))
	codes := map[int32]int16{}
	for _, p := range resp.Topics[0].Partitions {
		codes[p.Partition] = p.ErrorCode
	}
	if diff := cmp.Diff(map[int32]int16{0: 0, 1: 0, 9: kerr.UnknownTopicOrPartition.Code}, codes); diff != "" {
		t.Errorf("commit codes (-want +got):\n%s", diff)
	}
	// v0: no generation.
	v0 := commitReq("g", 0, "", "o", map[int32]int64{2: 30})
	wantCode(t, "v0 commit", handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 0, v0).Topics[0].Partitions[0].ErrorCode, nil)

	big := commitReq("g", -1, "", "o", map[int32]int64{0: 11})
	big.Topics[0].Partitions[0].Metadata = kmsg.StringPtr(string(make([]byte, 4097)))
	wantCode(t, "big metadata", handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 2, big).Topics[0].Partitions[0].ErrorCode, kerr.OffsetMetadataTooLarge)
	wantCode(t, "empty group", handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 2, commitReq("", -1, "", "o", map[int32]int64{0: 1})).Topics[0].Partitions[0].ErrorCode, kerr.InvalidGroupID)

	// Asked partitions: committed ones, and -1/""/NONE for the others,
	// unknown topics and unknown groups alike.
	fetchReq := func(group string, topics ...kmsg.OffsetFetchRequestTopic) *kmsg.OffsetFetchRequest {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group, req.Topics = group, topics
		return req
	}
	asked := []kmsg.OffsetFetchRequestTopic{{Topic: "o", Partitions: []int32{0, 1, 2}}, {Topic: "nope", Partitions: []int32{0}}}
	none := fetched{-1, -1, "", 0}
	want := map[topicPartition]fetched{
		{"o", 0}: {10, 0, "m", 0}, {"o", 1}: {20, 0, "m", 0}, {"o", 2}: {30, -1, "m", 0}, {"nope", 0}: none,
	}
	if diff := cmp.Diff(want, offsetsOf(t, handle[*kmsg.OffsetFetchResponse](t, ks.kafka, 7, fetchReq("g", asked...)))); diff != "" {
		t.Errorf("fetch v7 (-want +got):\n%s", diff)
	}
	unknown := offsetsOf(t, handle[*kmsg.OffsetFetchResponse](t, ks.kafka, 1, fetchReq("no-such-group", asked...)))
	for tp, f := range unknown {
		if f != none {
			t.Errorf("unknown group %v: %+v, want -1/-1/\"\"/NONE", tp, f)
		}
	}
	// Null topics (v2+): everything the group committed.
	all := offsetsOf(t, handle[*kmsg.OffsetFetchResponse](t, ks.kafka, 5, fetchReq("g")))
	delete(want, topicPartition{"nope", 0})
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("fetch all (-want +got):\n%s", diff)
	}

	// v8: a batch of groups.
	batched := kmsg.NewPtrOffsetFetchRequest()
	batched.Groups = []kmsg.OffsetFetchRequestGroup{
		{Group: "g", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "o", Partitions: []int32{1}}}},
		{Group: "other", Topics: []kmsg.OffsetFetchRequestGroupTopic{{Topic: "o", Partitions: []int32{1}}}},
		{Group: "g"}, // null topics: all
	}
	br := handle[*kmsg.OffsetFetchResponse](t, ks.kafka, 8, batched)
	if len(br.Groups) != 3 {
		t.Fatalf("%d groups answered, want 3", len(br.Groups))
	}
	if p := br.Groups[0].Topics[0].Partitions[0]; p.Offset != 20 || p.ErrorCode != 0 {
		t.Errorf("v8 group g: %+v", p)
	}
	if p := br.Groups[1].Topics[0].Partitions[0]; p.Offset != -1 || p.ErrorCode != 0 || p.Metadata == nil || *p.Metadata != "" {
		t.Errorf("v8 group other: %+v", p)
	}
	if n := len(br.Groups[2].Topics[0].Partitions); br.Groups[2].ErrorCode != 0 || n != 3 {
		t.Errorf("v8 all of g: %d partitions, error %s", n, codeName(br.Groups[2].ErrorCode))
	}
}

func TestKafkaGroupMembership(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("gm", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	empty := kmsg.NewPtrJoinGroupRequest()
	wantCode(t, "join empty group", handle[*kmsg.JoinGroupResponse](t, ks.kafka, 5, empty).ErrorCode, kerr.InvalidGroupID)
	wantCode(t, "heartbeat empty group", handle[*kmsg.HeartbeatResponse](t, ks.kafka, 4, kmsg.NewPtrHeartbeatRequest()).ErrorCode, kerr.InvalidGroupID)
	wantCode(t, "sync empty group", handle[*kmsg.SyncGroupResponse](t, ks.kafka, 5, kmsg.NewPtrSyncGroupRequest()).ErrorCode, kerr.InvalidGroupID)
	wantCode(t, "leave empty group", handle[*kmsg.LeaveGroupResponse](t, ks.kafka, 5, kmsg.NewPtrLeaveGroupRequest()).ErrorCode, kerr.InvalidGroupID)

	// One member: join (v4+ asks for a member id first), sync, commit
	// with its generation, heartbeat, leave.
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.ProtocolType = "grp", "consumer"
	join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0}}}
	join.SetVersion(5)
	r, err := ks.kafka.Handle(ctx, join)
	if err != nil {
		t.Fatal(err)
	}
	jr := r.(*kmsg.JoinGroupResponse)
	if jr.ErrorCode == kerr.MemberIDRequired.Code {
		join.MemberID = jr.MemberID
		r, err = ks.kafka.Handle(ctx, join)
		if err != nil {
			t.Fatal(err)
		}
		jr = r.(*kmsg.JoinGroupResponse)
	}
	wantCode(t, "join", jr.ErrorCode, nil)
	if jr.Generation < 1 || jr.LeaderID != jr.MemberID {
		t.Fatalf("join: generation %d leader %q member %q", jr.Generation, jr.LeaderID, jr.MemberID)
	}
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group, sync.Generation, sync.MemberID = "grp", jr.Generation, jr.MemberID
	sync.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{{MemberID: jr.MemberID, MemberAssignment: []byte{1, 2}}}
	sync.SetVersion(3)
	r, err = ks.kafka.Handle(ctx, sync)
	if err != nil {
		t.Fatal(err)
	}
	if sr := r.(*kmsg.SyncGroupResponse); sr.ErrorCode != 0 || !cmp.Equal(sr.MemberAssignment, []byte{1, 2}) {
		t.Errorf("sync: %s %v", codeName(sr.ErrorCode), sr.MemberAssignment)
	}

	member := commitReq("grp", jr.Generation, jr.MemberID, "gm", map[int32]int64{0: 5})
	wantCode(t, "member commit", handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 7, member).Topics[0].Partitions[0].ErrorCode, nil)
	stale := commitReq("grp", jr.Generation+1, jr.MemberID, "gm", map[int32]int64{0: 6})
	wantCode(t, "wrong generation", handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 7, stale).Topics[0].Partitions[0].ErrorCode, kerr.IllegalGeneration)
	simple := commitReq("grp", -1, "", "gm", map[int32]int64{0: 7})
	if code := handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 7, simple).Topics[0].Partitions[0].ErrorCode; code == 0 {
		t.Error("a simple commit to a group with members was allowed")
	}
	if c, ok, _ := ks.store.CommittedOffset("grp", "gm", 0); !ok || c.Offset != 5 {
		t.Errorf("committed %+v (found %v), want offset 5", c, ok)
	}

	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.Generation, hb.MemberID = "grp", jr.Generation, jr.MemberID
	wantCode(t, "heartbeat", handle[*kmsg.HeartbeatResponse](t, ks.kafka, 4, hb).ErrorCode, nil)

	dg := kmsg.NewPtrDescribeGroupsRequest()
	dg.Groups = []string{"grp", ""}
	dr := handle[*kmsg.DescribeGroupsResponse](t, ks.kafka, 5, dg)
	if len(dr.Groups) != 2 || len(dr.Groups[0].Members) != 1 {
		t.Errorf("describe: %+v", dr.Groups)
	} else {
		wantCode(t, "describe empty id", dr.Groups[1].ErrorCode, kerr.InvalidGroupID)
	}
	lr := handle[*kmsg.ListGroupsResponse](t, ks.kafka, 4, kmsg.NewPtrListGroupsRequest())
	if len(lr.Groups) != 1 || lr.Groups[0].Group != "grp" {
		t.Errorf("list: %+v", lr.Groups)
	}

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "grp"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: jr.MemberID}}
	wantCode(t, "leave", handle[*kmsg.LeaveGroupResponse](t, ks.kafka, 5, leave).ErrorCode, nil)
	wantCode(t, "simple commit after leave", handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 7, simple).Topics[0].Partitions[0].ErrorCode, nil)
}

// TestKafkaGroupsWithOnlyCommittedOffsets: a group without members but
// with committed offsets (after a restart, or a group of simple commits)
// is listed and described as Empty, as Kafka shows it; a states filter
// without Empty leaves it out.
func TestKafkaGroupsWithOnlyCommittedOffsets(t *testing.T) {
	t.Parallel()
	ks := newKafkaStack(t, KafkaConfig{})
	ks.createTopic("o", 1)
	handle[*kmsg.OffsetCommitResponse](t, ks.kafka, 8, commitReq("offsets-only", -1, "", "o", map[int32]int64{0: 5}))

	list := handle[*kmsg.ListGroupsResponse](t, ks.kafka, 4, kmsg.NewPtrListGroupsRequest())
	found := false
	for _, g := range list.Groups {
		found = found || g.Group == "offsets-only" && g.GroupState == "Empty"
	}
	if !found {
		t.Fatalf("ListGroups %+v lacks offsets-only (Empty)", list.Groups)
	}
	stable := kmsg.NewPtrListGroupsRequest()
	stable.StatesFilter = []string{"Stable"}
	for _, g := range handle[*kmsg.ListGroupsResponse](t, ks.kafka, 4, stable).Groups {
		if g.Group == "offsets-only" {
			t.Fatal("a Stable filter listed a group that only has offsets")
		}
	}
	describe := kmsg.NewPtrDescribeGroupsRequest()
	describe.Groups = []string{"offsets-only", "nothing"}
	resp := handle[*kmsg.DescribeGroupsResponse](t, ks.kafka, 5, describe)
	if g := resp.Groups[0]; g.State != "Empty" || g.ErrorCode != 0 {
		t.Errorf("offsets-only described as %q (error %d), want Empty", g.State, g.ErrorCode)
	}
	if g := resp.Groups[1]; g.State != "Dead" {
		t.Errorf("a group with nothing described as %q, want Dead", g.State)
	}
}
