package groups

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Test timeouts: a session of 10s and a rebalance timeout of 20s, so the
// initial delay (3s) is what a first rebalance waits.
const (
	testSession   = 10 * time.Second
	testRebalance = 20 * time.Second
)

// newTest is a coordinator with cfg; the test closes it.
func newTest(cfg Config) *Coordinator { return New(cfg) }

// jopt changes a JoinGroup request.
type jopt func(*kmsg.JoinGroupRequest)

// withInstance makes the join static (v5+).
func withInstance(id string) jopt {
	return func(r *kmsg.JoinGroupRequest) { r.InstanceID = kmsg.StringPtr(id) }
}

// withProtocols replaces the protocols; each one's metadata is tag/name.
func withProtocols(tag string, names ...string) jopt {
	return func(r *kmsg.JoinGroupRequest) {
		r.Protocols = nil
		for _, n := range names {
			r.Protocols = append(r.Protocols, kmsg.JoinGroupRequestProtocol{Name: n, Metadata: []byte(tag + "/" + n)})
		}
	}
}

// withTimeouts sets the session and rebalance timeouts.
func withTimeouts(session, rebalance time.Duration) jopt {
	return func(r *kmsg.JoinGroupRequest) {
		r.SessionTimeoutMillis = int32(session / time.Millisecond)
		r.RebalanceTimeoutMillis = int32(rebalance / time.Millisecond)
	}
}

// joinReq is a JoinGroup at version v for group and memberID, protocol
// type "consumer" with protocol "range" (metadata "m/range").
func joinReq(v int16, group, memberID string, opts ...jopt) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.SetVersion(v)
	r.Group = group
	r.MemberID = memberID
	r.ProtocolType = "consumer"
	withTimeouts(testSession, testRebalance)(r)
	withProtocols("m", "range")(r)
	for _, o := range opts {
		o(r)
	}
	return r
}

// goJoin runs a join in its own goroutine.
func goJoin(c *Coordinator, req *kmsg.JoinGroupRequest) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() { ch <- c.JoinWithClient(context.Background(), req, "client", "/127.0.0.1") }()
	return ch
}

// goSync runs a sync in its own goroutine.
func goSync(c *Coordinator, req *kmsg.SyncGroupRequest) <-chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	go func() { ch <- c.Sync(context.Background(), req) }()
	return ch
}

// ready returns what ch holds, or nil if nothing arrived yet.
func ready[T any](ch <-chan *T) *T {
	select {
	case r := <-ch:
		return r
	default:
		return nil
	}
}

// firstJoin makes a new dynamic member at v4+: it checks the
// MEMBER_ID_REQUIRED answer and returns the rejoin under way.
func firstJoin(t *testing.T, c *Coordinator, v int16, group string, opts ...jopt) (string, <-chan *kmsg.JoinGroupResponse) {
	t.Helper()
	r := c.JoinWithClient(context.Background(), joinReq(v, group, "", opts...), "client", "/127.0.0.1")
	if r.ErrorCode != kerr.MemberIDRequired.Code || r.MemberID == "" {
		t.Fatalf("first join: error %d member %q, want MEMBER_ID_REQUIRED with an id", r.ErrorCode, r.MemberID)
	}
	ch := goJoin(c, joinReq(v, group, r.MemberID, opts...))
	synctest.Wait() // members join in call order
	return r.MemberID, ch
}

// mustJoin waits for a join response and checks it succeeded.
func mustJoin(t *testing.T, ch <-chan *kmsg.JoinGroupResponse) *kmsg.JoinGroupResponse {
	t.Helper()
	r := <-ch
	if r.ErrorCode != 0 {
		t.Fatalf("join: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	return r
}

// syncReq is a SyncGroup; assignments (member id → bytes) are sent only by
// the leader.
func syncReq(v int16, group, memberID string, gen int32, assignments map[string]string) *kmsg.SyncGroupRequest {
	r := kmsg.NewPtrSyncGroupRequest()
	r.SetVersion(v)
	r.Group = group
	r.MemberID = memberID
	r.Generation = gen
	for id, a := range assignments {
		r.GroupAssignment = append(r.GroupAssignment, kmsg.SyncGroupRequestGroupAssignment{MemberID: id, MemberAssignment: []byte(a)})
	}
	return r
}

// hb sends a heartbeat at v and returns its error code.
func hb(c *Coordinator, v int16, group, memberID string, gen int32, instanceID *string) int16 {
	r := kmsg.NewPtrHeartbeatRequest()
	r.SetVersion(v)
	r.Group = group
	r.MemberID = memberID
	r.Generation = gen
	r.InstanceID = instanceID
	return c.Heartbeat(r).ErrorCode
}

// stable builds a Stable group of n dynamic members joined at v (v4+);
// the leader assigns each member "a-<member id>". It returns the join
// responses in join order.
func stable(t *testing.T, c *Coordinator, group string, v int16, n int, opts ...jopt) []*kmsg.JoinGroupResponse {
	t.Helper()
	var chans []<-chan *kmsg.JoinGroupResponse
	for range n {
		_, ch := firstJoin(t, c, v, group, opts...)
		chans = append(chans, ch)
	}
	var resps []*kmsg.JoinGroupResponse
	for _, ch := range chans {
		resps = append(resps, mustJoin(t, ch))
	}
	syncAll(t, c, group, resps)
	return resps
}

// syncAll syncs every member of one generation; the leader assigns each
// member "a-<member id>".
func syncAll(t *testing.T, c *Coordinator, group string, resps []*kmsg.JoinGroupResponse) {
	t.Helper()
	var leader *kmsg.JoinGroupResponse
	var followers []<-chan *kmsg.SyncGroupResponse
	for _, r := range resps {
		if r.LeaderID == r.MemberID {
			leader = r
			continue
		}
		followers = append(followers, goSync(c, syncReq(3, group, r.MemberID, r.Generation, nil)))
	}
	as := make(map[string]string)
	for _, m := range leader.Members {
		as[m.MemberID] = "a-" + m.MemberID
	}
	if r := c.Sync(context.Background(), syncReq(3, group, leader.MemberID, leader.Generation, as)); r.ErrorCode != 0 {
		t.Fatalf("leader sync: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	for _, ch := range followers {
		if r := <-ch; r.ErrorCode != 0 {
			t.Fatalf("follower sync: %v", kerr.ErrorForCode(r.ErrorCode))
		}
	}
}

// describe returns one group's description at v5.
func describe(c *Coordinator, group string) kmsg.DescribeGroupsResponseGroup {
	r := kmsg.NewPtrDescribeGroupsRequest()
	r.SetVersion(5)
	r.Groups = []string{group}
	return c.Describe(r).Groups[0]
}

// leaveReq is a LeaveGroup at v3+ for the members given.
func leaveReq(v int16, group string, members ...kmsg.LeaveGroupRequestMember) *kmsg.LeaveGroupRequest {
	r := kmsg.NewPtrLeaveGroupRequest()
	r.SetVersion(v)
	r.Group = group
	r.Members = members
	return r
}
