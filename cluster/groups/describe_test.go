package groups

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// threeGroups makes "stable" (two members, Stable), "preparing" (one
// member inside its initial delay) and "empty" (its only member left).
func threeGroups(t *testing.T, c *Coordinator) (stableIDs []string) {
	t.Helper()
	rs := stable(t, c, "stable", 9, 2)
	e := stable(t, c, "empty", 9, 1)
	if r := c.Leave(leaveReq(3, "empty", kmsg.LeaveGroupRequestMember{MemberID: e[0].MemberID})); r.Members[0].ErrorCode != 0 {
		t.Fatalf("leave: %d", r.Members[0].ErrorCode)
	}
	firstJoin(t, c, 9, "preparing")
	return []string{rs[0].MemberID, rs[1].MemberID}
}

// DescribeGroups gives Kafka's state names, protocol and member details
// (metadata and assignment only when Stable), and "Dead" for an unknown
// group: no error below v6, GROUP_ID_NOT_FOUND from v6.
func TestDescribe(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		ids := threeGroups(t, c)
		req := kmsg.NewPtrDescribeGroupsRequest()
		req.SetVersion(5)
		req.Groups = []string{"stable", "preparing", "empty", "missing"}
		got := c.Describe(req)
		member := func(id string, stable bool) kmsg.DescribeGroupsResponseGroupMember {
			m := kmsg.DescribeGroupsResponseGroupMember{MemberID: id, ClientID: "client", ClientHost: "/127.0.0.1"}
			if stable {
				m.ProtocolMetadata, m.MemberAssignment = []byte("m/range"), []byte("a-"+id)
			}
			return m
		}
		preparing := describe(c, "preparing").Members[0].MemberID
		const noOps = -2147483648
		want := &kmsg.DescribeGroupsResponse{Version: 5, Groups: []kmsg.DescribeGroupsResponseGroup{
			{Group: "stable", State: "Stable", ProtocolType: "consumer", Protocol: "range", AuthorizedOperations: noOps,
				Members: []kmsg.DescribeGroupsResponseGroupMember{member(ids[0], true), member(ids[1], true)}},
			{Group: "preparing", State: "PreparingRebalance", ProtocolType: "consumer", AuthorizedOperations: noOps,
				Members: []kmsg.DescribeGroupsResponseGroupMember{member(preparing, false)}},
			{Group: "empty", State: "Empty", ProtocolType: "consumer", AuthorizedOperations: noOps,
				Members: []kmsg.DescribeGroupsResponseGroupMember{}},
			{Group: "missing", State: "Dead", AuthorizedOperations: noOps},
		}}
		if diff := cmp.Diff(want, got, ignoreTags); diff != "" {
			t.Errorf("describe v5 (-want +got):\n%s", diff)
		}
		req.SetVersion(6)
		req.Groups = []string{"missing"}
		g := c.Describe(req).Groups[0]
		if g.ErrorCode != kerr.GroupIDNotFound.Code || g.ErrorMessage == nil || g.State != "Dead" {
			t.Errorf("describe v6 of an unknown group: %+v", g)
		}
	})
}

// ListGroups lists every group with its protocol type; v4+ adds the state
// and filters by state, v5+ by type, case-insensitively.
func TestList(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		threeGroups(t, c)
		list := func(v int16, states, types []string) []kmsg.ListGroupsResponseGroup {
			r := kmsg.NewPtrListGroupsRequest()
			r.SetVersion(v)
			r.StatesFilter, r.TypesFilter = states, types
			resp := c.List(r)
			if resp.ErrorCode != 0 || resp.Version != v {
				t.Fatalf("list v%d: error %d version %d", v, resp.ErrorCode, resp.Version)
			}
			return resp.Groups
		}
		group := func(id, state string) kmsg.ListGroupsResponseGroup {
			return kmsg.ListGroupsResponseGroup{Group: id, ProtocolType: "consumer", GroupState: state, GroupType: "classic"}
		}
		all := []kmsg.ListGroupsResponseGroup{
			group("empty", "Empty"), group("preparing", "PreparingRebalance"), group("stable", "Stable"),
		}
		tests := []struct {
			name          string
			v             int16
			states, types []string
			want          []kmsg.ListGroupsResponseGroup
		}{
			{"no filter", 4, nil, nil, all},
			{"state filter", 4, []string{"stable", " EMPTY"}, nil, []kmsg.ListGroupsResponseGroup{all[0], all[2]}},
			{"state filter ignored below v4", 3, []string{"Stable"}, nil, all},
			{"type classic", 5, nil, []string{"Classic"}, all},
			{"type consumer", 5, nil, []string{"consumer"}, nil},
		}
		for _, tt := range tests {
			if diff := cmp.Diff(tt.want, list(tt.v, tt.states, tt.types), ignoreTags); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tt.name, diff)
			}
		}
	})
}

// CheckCommit follows Kafka's OffsetCommit rules for classic groups.
func TestCheckCommit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		ids := threeGroups(t, c)
		ch1 := goJoin(c, joinReq(9, "static", "", withInstance("i1")))
		s1 := mustJoin(t, ch1)
		i1 := kmsg.StringPtr("i1")
		tests := []struct {
			name, group, member string
			instance            *string
			gen                 int32
			want                int16
		}{
			{"simple commit, unknown group", "nowhere", "", nil, -1, 0},
			{"generation, unknown group", "nowhere", "m", nil, 1, kerr.IllegalGeneration.Code},
			{"member of the generation", "stable", ids[1], nil, 1, 0},
			{"old generation", "stable", ids[1], nil, 0, kerr.IllegalGeneration.Code},
			{"unknown member", "stable", "nobody", nil, 1, kerr.UnknownMemberID.Code},
			{"simple commit to a group with members", "stable", "", nil, -1, kerr.UnknownMemberID.Code},
			{"member id without generation", "stable", ids[0], nil, -1, kerr.IllegalGeneration.Code},
			{"simple commit, empty group", "empty", "", nil, -1, 0},
			{"member of an empty group", "empty", "gone", nil, 1, kerr.UnknownMemberID.Code},
			{"while completing the rebalance", "static", s1.MemberID, i1, 1, kerr.RebalanceInProgress.Code},
			{"fenced instance", "static", "other", i1, 1, kerr.FencedInstanceID.Code},
			{"unknown instance", "static", s1.MemberID, kmsg.StringPtr("i2"), 1, kerr.UnknownMemberID.Code},
		}
		for _, tt := range tests {
			if got := c.CheckCommit(tt.group, tt.member, tt.instance, tt.gen); got != tt.want {
				t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
			}
		}
		// Members commit before they rejoin: allowed while preparing.
		ch := goJoin(c, joinReq(9, "stable", ids[0]))
		synctest.Wait()
		if got := c.CheckCommit("stable", ids[1], nil, 1); got != 0 {
			t.Errorf("commit while preparing a rebalance: %d, want 0", got)
		}
		mustJoin(t, goJoin(c, joinReq(9, "stable", ids[1])))
		<-ch
	})
}

// Limits: a full coordinator forgets an Empty group to make room, and
// refuses a new group when none is Empty; members past MaxHeldBytes and
// assignments past MaxMemberMetadataBytes are refused.
func TestLimits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// Room for three pending members of about 571 bytes each.
		const held = 3*memberOverheadBytes + 250
		c := newTest(Config{MaxGroups: 2, MaxHeldBytes: held, MaxMemberMetadataBytes: 64})
		defer c.Close()
		e := stable(t, c, "a", 9, 1)
		c.Leave(leaveReq(3, "a", kmsg.LeaveGroupRequestMember{MemberID: e[0].MemberID}))
		firstJoin(t, c, 9, "b")
		firstJoin(t, c, 9, "c") // forgets "a"
		if d := describe(c, "a"); d.State != "Dead" {
			t.Errorf("empty group at MaxGroups: %s, want forgotten", d.State)
		}
		if r := c.Join(context.Background(), joinReq(9, "d", "")); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			t.Errorf("group past MaxGroups: %d, want COORDINATOR_NOT_AVAILABLE", r.ErrorCode)
		}
		firstJoin(t, c, 9, "c")
		if r := c.Join(context.Background(), joinReq(9, "c", "")); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
			t.Errorf("member past MaxHeldBytes: %d, want COORDINATOR_NOT_AVAILABLE", r.ErrorCode)
		}
		s := c.Stats()
		if s.RejectedTooManyGroups != 1 || s.RejectedHeldBytes != 1 || s.HeldBytes > held {
			t.Errorf("stats %+v", s)
		}
	})
}

// A leader's assignment past MaxMemberMetadataBytes fails its sync with
// INVALID_REQUEST and restarts the rebalance; the waiting follower is told
// to rejoin.
func TestSync_AssignmentTooLarge(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{MaxMemberMetadataBytes: 64})
		defer c.Close()
		_, cha := firstJoin(t, c, 9, "g")
		_, chb := firstJoin(t, c, 9, "g")
		a, b := mustJoin(t, cha), mustJoin(t, chb)
		follower := goSync(c, syncReq(3, "g", b.MemberID, 1, nil))
		synctest.Wait()
		big := map[string]string{b.MemberID: string(make([]byte, 65))}
		if r := c.Sync(context.Background(), syncReq(3, "g", a.MemberID, 1, big)); r.ErrorCode != kerr.InvalidRequest.Code {
			t.Errorf("leader sync with a too large assignment: %d", r.ErrorCode)
		}
		if r := <-follower; r.ErrorCode != kerr.RebalanceInProgress.Code {
			t.Errorf("follower: %d, want REBALANCE_IN_PROGRESS", r.ErrorCode)
		}
		if d := describe(c, "g"); d.State != "PreparingRebalance" {
			t.Errorf("state %s, want PreparingRebalance", d.State)
		}
	})
}

// A pending member (MEMBER_ID_REQUIRED) that never comes back is forgotten
// after its session timeout, and the group it created with it.
func TestSession_PendingMemberExpires(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		r := c.Join(context.Background(), joinReq(9, "g", ""))
		if s := c.Stats(); s.PendingMembers != 1 || s.Groups != 1 {
			t.Fatalf("stats %+v", s)
		}
		time.Sleep(testSession)
		synctest.Wait()
		if s := c.Stats(); s.PendingMembers != 0 || s.Groups != 0 || s.HeldBytes != 0 {
			t.Errorf("stats after the pending member's session: %+v", s)
		}
		if got := c.Join(context.Background(), joinReq(9, "g", r.MemberID)); got.ErrorCode != kerr.UnknownMemberID.Code {
			t.Errorf("late rejoin of a pending member: %d", got.ErrorCode)
		}
	})
}
