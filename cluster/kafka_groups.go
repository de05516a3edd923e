package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/raftstore"
)

// The group APIs: membership and rebalances go to the coordinator
// (groups.Coordinator, in memory on this node); committed offsets go
// through the log.
//
// JoinGroup v0-9, SyncGroup v0-5, Heartbeat v0-4, LeaveGroup v0-5,
// DescribeGroups v0-5, ListGroups v0-4: answered by the coordinator; an
// empty group id is INVALID_GROUP_ID here.
//
// Each group has one coordinator node, the rendezvous hash of its id over
// the live brokers (brokerView.coordinator). A group request (these, and
// OffsetCommit and OffsetFetch) for a group another node coordinates is
// answered NOT_COORDINATOR where its version puts errors, and this node
// forgets whatever it still held of the group: the client looks the
// coordinator up again and rejoins there. ListGroups lists only the groups
// this node coordinates, as each Kafka broker lists its own.

// handleGroup dispatches the coordinator's requests; any other request is
// one Handle does not serve.
func (k *Kafka) handleGroup(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	v := k.brokers()
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		resp := r.ResponseKind().(*kmsg.JoinGroupResponse)
		if code := k.groupCheck(&v, r.Group); code != 0 {
			resp.ErrorCode, resp.MemberID = code, r.MemberID
			return resp, nil
		}
		c := KafkaClientFrom(ctx)
		return k.groups.JoinWithClient(ctx, r, c.ClientID, c.Host), nil
	case *kmsg.SyncGroupRequest:
		if code := k.groupCheck(&v, r.Group); code != 0 {
			resp := r.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = code
			return resp, nil
		}
		return k.groups.Sync(ctx, r), nil
	case *kmsg.HeartbeatRequest:
		if code := k.groupCheck(&v, r.Group); code != 0 {
			resp := r.ResponseKind().(*kmsg.HeartbeatResponse)
			resp.ErrorCode = code
			return resp, nil
		}
		return k.groups.Heartbeat(r), nil
	case *kmsg.LeaveGroupRequest:
		if code := k.groupCheck(&v, r.Group); code != 0 {
			resp := r.ResponseKind().(*kmsg.LeaveGroupResponse)
			resp.ErrorCode = code
			return resp, nil
		}
		return k.groups.Leave(r), nil
	case *kmsg.DescribeGroupsRequest:
		return k.describeGroups(&v, r), nil
	case *kmsg.ListGroupsRequest:
		return k.listGroups(&v, r), nil
	}
	return nil, fmt.Errorf("%w: api key %d version %d", ErrUnsupportedRequest, req.Key(), req.GetVersion())
}

// groupCheck answers what a group request must be refused with: 0 to
// serve it, INVALID_GROUP_ID for an empty id, NOT_COORDINATOR for a group
// another node coordinates (forgetting what this node held of it).
func (k *Kafka) groupCheck(v *brokerView, group string) int16 {
	switch {
	case group == "":
		return kerr.InvalidGroupID.Code
	case v.coordinates(group):
		return 0
	}
	if k.groups.Forget(group) {
		k.log.Info("kafka group handed over: another node coordinates it", "group_id", group)
	}
	return kerr.NotCoordinator.Code
}

// describeGroups answers DescribeGroups: the coordinator's description of
// the groups coordinated here, NOT_COORDINATOR for the others.
func (k *Kafka) describeGroups(v *brokerView, r *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := k.groups.Describe(r)
	committed := k.committedGroups()
	for i := range resp.Groups {
		g := &resp.Groups[i]
		if g.Group == "" {
			g.ErrorCode = kerr.InvalidGroupID.Code
			continue
		}
		if code := k.groupCheck(v, g.Group); code != 0 {
			name := g.Group // the coordinator's copy: r's may alias the frame
			*g = kmsg.NewDescribeGroupsResponseGroup()
			g.Group, g.ErrorCode = name, code
			continue
		}
		if committed[g.Group] && (g.State == "Dead" || g.ErrorCode == kerr.GroupIDNotFound.Code) {
			// No members here (after a restart, or a handover) but
			// committed offsets: Kafka describes such a group as Empty.
			g.State, g.ErrorCode, g.ErrorMessage = "Empty", 0, nil
		}
	}
	return resp
}

// OffsetCommit: v0-8
//
// Behavior:
//   - The coordinator checks the member and generation (CheckCommit); v0
//     carries neither and is a "simple" commit (generation -1, no member).
//   - Allowed commits go through the log in one proposal; each partition
//     answers its own error (UNKNOWN_TOPIC_OR_PARTITION,
//     OFFSET_METADATA_TOO_LARGE past 4096 bytes of metadata).
//   - A group another node coordinates is NOT_COORDINATOR for every
//     partition (before any member check).
//   - Commits are proposed from any node (a follower forwards them to the
//     raft leader); one that cannot be proposed (no leader reachable) is
//     COORDINATOR_NOT_AVAILABLE, one that does not commit in time
//     REQUEST_TIMED_OUT.
//
// Version notes:
//   - v1: Generation, MemberID, per-partition Timestamp (ignored)
//   - v2-4: RetentionTimeMillis (ignored: offsets live as long as the topic)
//   - v6: LeaderEpoch
//   - v7: InstanceID (KIP-345)
//   - v8: flexible versions

// maxOffsetMetadataBytes is Kafka's offset.metadata.max.bytes.
const maxOffsetMetadataBytes = 4096

func (k *Kafka) offsetCommit(ctx context.Context, req *kmsg.OffsetCommitRequest) *kmsg.OffsetCommitResponse {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	resp.Topics = make([]kmsg.OffsetCommitResponseTopic, len(req.Topics))
	for i, rt := range req.Topics {
		resp.Topics[i].Topic = rt.Topic
		resp.Topics[i].Partitions = make([]kmsg.OffsetCommitResponseTopicPartition, len(rt.Partitions))
		for j, rp := range rt.Partitions {
			resp.Topics[i].Partitions[j].Partition = rp.Partition
		}
	}
	v := k.brokers()
	code := k.groupCheck(&v, req.Group)
	switch {
	case code != 0:
	case req.Version == 0:
		code = k.groups.CheckCommit(req.Group, "", nil, -1)
	default:
		code = k.groups.CheckCommit(req.Group, req.MemberID, req.InstanceID, req.Generation)
	}
	if code != 0 {
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
		return resp
	}
	commits, answers := k.offsetCommits(req, resp)
	if len(commits) == 0 {
		return resp
	}
	wctx, cancel := context.WithTimeout(ctx, k.node.cfg.ProposeTimeout)
	defer cancel()
	errs, err := k.store.CommitOffsets(wctx, commits)
	for i, sp := range answers {
		switch {
		case err != nil:
			sp.ErrorCode = k.coordinatorErr(err)
		case i < len(errs):
			sp.ErrorCode = k.errCode(errs[i])
		}
	}
	return resp
}

// offsetCommits checks each partition of an allowed commit and returns the
// commits to propose with, in the same order, where each one's answer goes.
func (k *Kafka) offsetCommits(req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse) ([]raftstore.OffsetCommit, []*kmsg.OffsetCommitResponseTopicPartition) {
	var commits []raftstore.OffsetCommit
	var answers []*kmsg.OffsetCommitResponseTopicPartition
	group, now := strings.Clone(req.Group), k.node.nowMillis()
	for i, rt := range req.Topics {
		for j, rp := range rt.Partitions {
			sp := &resp.Topics[i].Partitions[j]
			if rp.Metadata != nil && len(*rp.Metadata) > maxOffsetMetadataBytes {
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			if _, err := k.store.Partition(rt.Topic, rp.Partition); err != nil {
				sp.ErrorCode = k.errCode(err)
				continue
			}
			c := raftstore.OffsetCommit{
				Group: group, Topic: strings.Clone(rt.Topic), Partition: rp.Partition,
				Offset: rp.Offset, LeaderEpoch: -1, CommitMillis: now,
			}
			if req.Version >= 6 {
				c.LeaderEpoch = rp.LeaderEpoch
			}
			if rp.Metadata != nil {
				c.Metadata = strPtr(strings.Clone(*rp.Metadata))
			}
			commits = append(commits, c)
			answers = append(answers, sp)
		}
	}
	return commits, answers
}

// OffsetFetch: v0-8
//
// Behavior:
//   - A partition without a commit (or of a group or topic that does not
//     exist) answers offset -1, leader epoch -1, metadata "" and no error:
//     consumers then apply their reset policy. GROUP_ID_NOT_FOUND is never
//     answered.
//   - Null Topics (v2+) lists every offset the group committed.
//   - RequireStable (v7+) is ignored: without transactions every commit is
//     stable.
//   - A group another node coordinates is NOT_COORDINATOR: per asked
//     partition below v2 (no top-level code), top-level from v2 on with no
//     topics (Kafka's OffsetFetchRequest.getErrorResponse), per group in
//     v8's batch.
//
// Version notes:
//   - v2: null Topics means all; top-level ErrorCode
//   - v5: LeaderEpoch
//   - v6: flexible versions
//   - v7: RequireStable
//   - v8: a batch of Groups (KIP-709)

// fetchedTopic is one topic of an OffsetFetch answer, in either form.
type fetchedTopic struct {
	topic      string
	partitions []fetchedOffset
}

type fetchedOffset struct {
	partition int32
	offset    int64
	epoch     int32
	metadata  string
	code      int16
}

func (k *Kafka) offsetFetch(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	v := k.brokers()
	if req.Version < 8 {
		var asked []kmsg.OffsetFetchRequestGroupTopic
		for _, t := range req.Topics {
			asked = append(asked, kmsg.OffsetFetchRequestGroupTopic{Topic: t.Topic, Partitions: t.Partitions})
		}
		topics, code := k.fetchOffsets(&v, req.Group, asked, req.Version >= 2 && req.Topics == nil)
		if code == kerr.NotCoordinator.Code && req.Version >= 2 {
			topics = nil // the top-level code says it all
		}
		resp.ErrorCode = code
		resp.Topics = make([]kmsg.OffsetFetchResponseTopic, 0, len(topics))
		for _, t := range topics {
			rt := kmsg.OffsetFetchResponseTopic{Topic: t.topic}
			for _, p := range t.partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetFetchResponseTopicPartition{
					Partition: p.partition, Offset: p.offset, LeaderEpoch: p.epoch,
					Metadata: strPtr(p.metadata), ErrorCode: p.code,
				})
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	resp.Groups = make([]kmsg.OffsetFetchResponseGroup, 0, len(req.Groups))
	for _, g := range req.Groups {
		topics, code := k.fetchOffsets(&v, g.Group, g.Topics, g.Topics == nil)
		if code == kerr.NotCoordinator.Code {
			topics = nil
		}
		rg := kmsg.OffsetFetchResponseGroup{Group: g.Group, ErrorCode: code}
		for _, t := range topics {
			rt := kmsg.OffsetFetchResponseGroupTopic{Topic: t.topic}
			for _, p := range t.partitions {
				rt.Partitions = append(rt.Partitions, kmsg.OffsetFetchResponseGroupTopicPartition{
					Partition: p.partition, Offset: p.offset, LeaderEpoch: p.epoch,
					Metadata: strPtr(p.metadata), ErrorCode: p.code,
				})
			}
			rg.Topics = append(rg.Topics, rt)
		}
		resp.Groups = append(resp.Groups, rg)
	}
	return resp
}

// fetchOffsets answers one group's OffsetFetch: the asked partitions, or
// every committed one when all is set; the code is the group's error.
func (k *Kafka) fetchOffsets(v *brokerView, group string, asked []kmsg.OffsetFetchRequestGroupTopic, all bool) ([]fetchedTopic, int16) {
	if code := k.groupCheck(v, group); code != 0 {
		// Every asked partition carries the error too (v0-1 have no
		// top-level code).
		var topics []fetchedTopic
		for _, t := range asked {
			ft := fetchedTopic{topic: t.Topic}
			for _, p := range t.Partitions {
				ft.partitions = append(ft.partitions, fetchedOffset{partition: p, offset: -1, epoch: -1, code: code})
			}
			topics = append(topics, ft)
		}
		return topics, code
	}
	if all {
		commits, err := k.store.CommittedOffsets(group)
		if err != nil {
			return nil, k.errCode(err)
		}
		return groupCommits(commits), 0
	}
	topics := make([]fetchedTopic, 0, len(asked))
	for _, t := range asked {
		ft := fetchedTopic{topic: t.Topic, partitions: make([]fetchedOffset, 0, len(t.Partitions))}
		for _, p := range t.Partitions {
			ft.partitions = append(ft.partitions, k.fetchOffset(group, t.Topic, p))
		}
		topics = append(topics, ft)
	}
	return topics, 0
}

// fetchOffset answers one partition: its commit, or -1 with no error.
func (k *Kafka) fetchOffset(group, topic string, partition int32) fetchedOffset {
	none := fetchedOffset{partition: partition, offset: -1, epoch: -1}
	c, ok, err := k.store.CommittedOffset(group, topic, partition)
	switch {
	case err != nil && !isUnknownTopic(err):
		none.code = k.errCode(err)
		return none
	case err != nil || !ok:
		return none
	}
	return committed(c)
}

// groupCommits turns a group's commits (sorted by topic and partition)
// into an answer.
func groupCommits(commits []raftstore.OffsetCommit) []fetchedTopic {
	var topics []fetchedTopic
	for _, c := range commits {
		if len(topics) == 0 || topics[len(topics)-1].topic != c.Topic {
			topics = append(topics, fetchedTopic{topic: c.Topic})
		}
		t := &topics[len(topics)-1]
		t.partitions = append(t.partitions, committed(c))
	}
	return topics
}

func committed(c raftstore.OffsetCommit) fetchedOffset {
	f := fetchedOffset{partition: c.Partition, offset: c.Offset, epoch: c.LeaderEpoch}
	if c.Metadata != nil {
		f.metadata = *c.Metadata
	}
	return f
}

// committedGroups is the set of groups with committed offsets.
func (k *Kafka) committedGroups() map[string]bool {
	names, err := k.store.OffsetGroups()
	if err != nil {
		k.log.Warn("list groups with committed offsets", "err", err)
		return nil
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// listGroups answers ListGroups: the groups this node coordinates that
// the coordinator holds, plus those that only have committed offsets (no
// members here since the last restart or handover), listed as Empty like
// Kafka lists them, unless a v4+ states filter leaves Empty out. A group
// the coordinator still holds but another node now coordinates is not
// listed (the registry watch forgets it).
func (k *Kafka) listGroups(v *brokerView, r *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := k.groups.List(r)
	if resp.ErrorCode != 0 {
		return resp
	}
	resp.Groups = slices.DeleteFunc(resp.Groups, func(g kmsg.ListGroupsResponseGroup) bool {
		return !v.coordinates(g.Group)
	})
	if r.Version >= 4 && len(r.StatesFilter) > 0 && !slices.Contains(r.StatesFilter, "Empty") {
		return resp
	}
	listed := make(map[string]bool, len(resp.Groups))
	for _, g := range resp.Groups {
		listed[g.Group] = true
	}
	names, err := k.store.OffsetGroups()
	if err != nil {
		k.log.Warn("list groups with committed offsets", "err", err)
		return resp
	}
	for _, name := range names {
		if !listed[name] && v.coordinates(name) {
			g := kmsg.NewListGroupsResponseGroup()
			g.Group, g.GroupState = name, "Empty"
			resp.Groups = append(resp.Groups, g)
		}
	}
	return resp
}
