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

// Followers wait for the leader's SyncGroup; each member gets its own
// assignment, and a member the leader left out an empty consumer
// assignment.
func TestSync_HandsEachMemberItsAssignment(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		var chans []<-chan *kmsg.JoinGroupResponse
		for range 3 {
			_, ch := firstJoin(t, c, 9, "g")
			chans = append(chans, ch)
		}
		var rs []*kmsg.JoinGroupResponse
		for _, ch := range chans {
			rs = append(rs, mustJoin(t, ch))
		}
		leader, b, cc := rs[0], rs[1], rs[2]
		fb := goSync(c, syncReq(5, "g", b.MemberID, 1, nil))
		fc := goSync(c, syncReq(5, "g", cc.MemberID, 1, nil))
		synctest.Wait()
		if r := ready(fb); r != nil {
			t.Fatalf("follower answered before the leader synced: %+v", r)
		}
		if d := describe(c, "g"); d.State != "CompletingRebalance" {
			t.Fatalf("state %s, want CompletingRebalance", d.State)
		}
		as := map[string]string{leader.MemberID: "for-leader", b.MemberID: "for-b"}
		lr := c.Sync(context.Background(), syncReq(5, "g", leader.MemberID, 1, as))
		want := &kmsg.SyncGroupResponse{Version: 5, ProtocolType: kmsg.StringPtr("consumer"),
			Protocol: kmsg.StringPtr("range"), MemberAssignment: []byte("for-leader")}
		if diff := cmp.Diff(want, lr, ignoreTags); diff != "" {
			t.Errorf("leader sync (-want +got):\n%s", diff)
		}
		if r := <-fb; string(r.MemberAssignment) != "for-b" || r.ErrorCode != 0 {
			t.Errorf("follower b: error %d assignment %q", r.ErrorCode, r.MemberAssignment)
		}
		if r := <-fc; !cmp.Equal(r.MemberAssignment, emptyConsumerAssignment) || r.ErrorCode != 0 {
			t.Errorf("left-out follower: error %d assignment %x, want an empty consumer assignment", r.ErrorCode, r.MemberAssignment)
		}
		if r := c.Sync(context.Background(), syncReq(5, "g", b.MemberID, 1, nil)); string(r.MemberAssignment) != "for-b" {
			t.Errorf("sync in Stable: %q, want the stored assignment", r.MemberAssignment)
		}
	})
}

// SyncGroup's checks, in Kafka's order.
func TestSync_Errors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		r := stable(t, c, "g", 9, 1)[0]
		id := r.MemberID
		withProto := func(typ, name string) *kmsg.SyncGroupRequest {
			s := syncReq(5, "g", id, 1, nil)
			s.ProtocolType, s.Protocol = kmsg.StringPtr(typ), kmsg.StringPtr(name)
			return s
		}
		tests := []struct {
			name string
			req  *kmsg.SyncGroupRequest
			want int16
		}{
			{"empty group id", syncReq(5, "", id, 1, nil), kerr.InvalidGroupID.Code},
			{"unknown group", syncReq(5, "other", id, 1, nil), kerr.UnknownMemberID.Code},
			{"unknown member", syncReq(5, "g", "nobody", 1, nil), kerr.UnknownMemberID.Code},
			{"illegal generation", syncReq(5, "g", id, 7, nil), kerr.IllegalGeneration.Code},
			{"protocol type", withProto("connect", "range"), kerr.InconsistentGroupProtocol.Code},
			{"protocol name", withProto("consumer", "sticky"), kerr.InconsistentGroupProtocol.Code},
			{"matching protocol", withProto("consumer", "range"), 0},
		}
		for _, tt := range tests {
			if got := c.Sync(context.Background(), tt.req); got.ErrorCode != tt.want {
				t.Errorf("%s: %d, want %d", tt.name, got.ErrorCode, tt.want)
			}
		}
		// A pending member (MEMBER_ID_REQUIRED) holds the rebalance the
		// leader's rejoin starts in PreparingRebalance.
		if r := c.Join(context.Background(), joinReq(9, "g", "")); r.ErrorCode != kerr.MemberIDRequired.Code {
			t.Fatalf("second member: %d", r.ErrorCode)
		}
		ch := goJoin(c, joinReq(9, "g", id))
		synctest.Wait()
		if got := c.Sync(context.Background(), syncReq(5, "g", id, 1, nil)); got.ErrorCode != kerr.RebalanceInProgress.Code {
			t.Errorf("sync while preparing a rebalance: %d, want REBALANCE_IN_PROGRESS", got.ErrorCode)
		}
		<-ch
	})
}

// A third member's join starts a rebalance that the others learn of from
// their heartbeats; it completes as soon as all have rejoined.
func TestHeartbeat_ThirdMemberTriggersRebalance(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		rs := stable(t, c, "g", 9, 2)
		for _, r := range rs {
			if code := hb(c, 4, "g", r.MemberID, 1, nil); code != 0 {
				t.Fatalf("heartbeat in Stable: %d", code)
			}
		}
		_, ch := firstJoin(t, c, 9, "g")
		var rejoins []<-chan *kmsg.JoinGroupResponse
		for _, r := range rs {
			if code := hb(c, 4, "g", r.MemberID, 1, nil); code != kerr.RebalanceInProgress.Code {
				t.Errorf("heartbeat after a third join: %d, want REBALANCE_IN_PROGRESS", code)
			}
			rejoins = append(rejoins, goJoin(c, joinReq(9, "g", r.MemberID)))
		}
		start := time.Now()
		third := mustJoin(t, ch)
		if time.Since(start) != 0 {
			t.Errorf("rebalance of a non-empty group waited %v after everyone rejoined", time.Since(start))
		}
		leader := mustJoin(t, rejoins[0])
		if third.Generation != 2 || len(leader.Members) != 3 || leader.LeaderID != rs[0].MemberID {
			t.Errorf("generation %d, leader %q with %d members; want 2, the old leader, 3", third.Generation, leader.LeaderID, len(leader.Members))
		}
		mustJoin(t, rejoins[1])
		if code := hb(c, 4, "g", rs[1].MemberID, 1, nil); code != kerr.IllegalGeneration.Code {
			t.Errorf("heartbeat of the old generation: %d, want ILLEGAL_GENERATION", code)
		}
		if code := hb(c, 4, "g", rs[1].MemberID, 2, nil); code != 0 {
			t.Errorf("heartbeat while completing the rebalance: %d, want 0", code)
		}
		if code := hb(c, 4, "g", "nobody", 2, nil); code != kerr.UnknownMemberID.Code {
			t.Errorf("unknown member: %d", code)
		}
		if code := hb(c, 4, "", "nobody", 2, nil); code != kerr.InvalidGroupID.Code {
			t.Errorf("empty group id: %d", code)
		}
	})
}

// A member silent for its session timeout is removed and the group
// rebalances without it; heartbeats keep the other alive.
func TestSession_ExpiryRemovesMemberAndRebalances(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		rs := stable(t, c, "g", 9, 2)
		a, b := rs[0].MemberID, rs[1].MemberID
		for range 3 {
			time.Sleep(3 * time.Second)
			if code := hb(c, 4, "g", a, 1, nil); code != 0 {
				t.Fatalf("heartbeat at %v: %d", time.Since(time.Time{}), code)
			}
		}
		time.Sleep(testSession - 9*time.Second)
		synctest.Wait()
		if code := hb(c, 4, "g", a, 1, nil); code != kerr.RebalanceInProgress.Code {
			t.Fatalf("heartbeat after b's session ended: %d, want REBALANCE_IN_PROGRESS", code)
		}
		if code := hb(c, 4, "g", b, 1, nil); code != kerr.UnknownMemberID.Code {
			t.Errorf("expired member's heartbeat: %d, want UNKNOWN_MEMBER_ID", code)
		}
		r := mustJoin(t, goJoin(c, joinReq(9, "g", a)))
		if r.Generation != 2 || len(r.Members) != 1 {
			t.Errorf("after expiry: generation %d with %d members", r.Generation, len(r.Members))
		}
		if s := c.Stats(); s.ExpiredSessions != 1 || s.Members != 1 {
			t.Errorf("stats %+v", s)
		}
	})
}

// In a rebalance, a member that does not rejoin within the rebalance
// timeout is removed.
func TestSession_RebalanceTimeoutRemovesLaggard(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		timeouts := withTimeouts(30*time.Second, testRebalance)
		rs := stable(t, c, "g", 9, 2, timeouts)
		start := time.Now()
		r := mustJoin(t, goJoin(c, joinReq(9, "g", rs[0].MemberID, timeouts)))
		if waited := time.Since(start); waited != testRebalance {
			t.Errorf("rebalance waited %v, want the rebalance timeout %v", waited, testRebalance)
		}
		if r.Generation != 2 || len(r.Members) != 1 {
			t.Errorf("generation %d with %d members, want 2 with 1", r.Generation, len(r.Members))
		}
		if code := hb(c, 4, "g", rs[1].MemberID, 1, nil); code != kerr.UnknownMemberID.Code {
			t.Errorf("removed member's heartbeat: %d", code)
		}
	})
}

// A member that got its join response but sends no SyncGroup within the
// rebalance timeout is removed, and the group rebalances.
func TestSession_MissingSyncRemovesMember(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		timeouts := withTimeouts(30*time.Second, testRebalance)
		_, cha := firstJoin(t, c, 9, "g", timeouts)
		_, chb := firstJoin(t, c, 9, "g", timeouts)
		a, b := mustJoin(t, cha), mustJoin(t, chb)
		if r := c.Sync(context.Background(), syncReq(3, "g", a.MemberID, 1, nil)); r.ErrorCode != 0 {
			t.Fatalf("leader sync: %d", r.ErrorCode)
		}
		time.Sleep(testRebalance - time.Millisecond)
		if code := hb(c, 4, "g", a.MemberID, 1, nil); code != 0 {
			t.Fatalf("heartbeat before the sync timeout: %d", code)
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		if code := hb(c, 4, "g", a.MemberID, 1, nil); code != kerr.RebalanceInProgress.Code {
			t.Errorf("heartbeat after the sync timeout: %d, want REBALANCE_IN_PROGRESS", code)
		}
		if code := hb(c, 4, "g", b.MemberID, 1, nil); code != kerr.UnknownMemberID.Code {
			t.Errorf("member that never synced: %d, want UNKNOWN_MEMBER_ID", code)
		}
	})
}

// LeaveGroup v0–2 names one member; v3+ a batch with a code per member,
// by member id or instance id. The last member leaving empties the group.
func TestLeave(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		rs := stable(t, c, "g", 9, 2)
		a, b := rs[0].MemberID, rs[1].MemberID
		old := kmsg.NewPtrLeaveGroupRequest()
		old.SetVersion(1)
		old.Group, old.MemberID = "g", b
		if r := c.Leave(old); r.ErrorCode != 0 || r.Members != nil {
			t.Fatalf("v1 leave: %+v", r)
		}
		if r := c.Leave(old); r.ErrorCode != kerr.UnknownMemberID.Code {
			t.Errorf("v1 leave again: %d, want UNKNOWN_MEMBER_ID", r.ErrorCode)
		}
		if code := hb(c, 4, "g", a, 1, nil); code != kerr.RebalanceInProgress.Code {
			t.Errorf("heartbeat after a leave: %d, want REBALANCE_IN_PROGRESS", code)
		}
		if r := mustJoin(t, goJoin(c, joinReq(9, "g", a))); r.Generation != 2 || len(r.Members) != 1 {
			t.Fatalf("rejoin after a leave: %+v", r)
		}
		r := c.Leave(leaveReq(5, "g",
			kmsg.LeaveGroupRequestMember{MemberID: a},
			kmsg.LeaveGroupRequestMember{MemberID: "nobody"},
			kmsg.LeaveGroupRequestMember{InstanceID: kmsg.StringPtr("i9")},
		))
		want := []kmsg.LeaveGroupResponseMember{
			{MemberID: a},
			{MemberID: "nobody", ErrorCode: kerr.UnknownMemberID.Code},
			{InstanceID: kmsg.StringPtr("i9"), ErrorCode: kerr.UnknownMemberID.Code},
		}
		if diff := cmp.Diff(want, r.Members, ignoreTags); diff != "" || r.ErrorCode != 0 {
			t.Errorf("v5 batch leave, error %d (-want +got):\n%s", r.ErrorCode, diff)
		}
		d := describe(c, "g")
		if d.State != "Empty" || len(d.Members) != 0 || d.ProtocolType != "consumer" {
			t.Errorf("after the last leave: %+v", d)
		}
		if code := c.CheckCommit("g", "", nil, -1); code != 0 {
			t.Errorf("simple commit to the emptied group: %d", code)
		}
		if r := c.Leave(leaveReq(3, "missing", kmsg.LeaveGroupRequestMember{MemberID: a})); r.Members[0].ErrorCode != kerr.UnknownMemberID.Code {
			t.Errorf("leave of an unknown group: %+v", r)
		}
	})
}

// A static member may leave by instance id; a wrong member id for a known
// instance is fenced.
func TestLeave_StaticByInstanceID(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		ch1 := goJoin(c, joinReq(9, "g", "", withInstance("i1")))
		synctest.Wait()
		ch2 := goJoin(c, joinReq(9, "g", "", withInstance("i2")))
		r1, r2 := mustJoin(t, ch1), mustJoin(t, ch2)
		syncAll(t, c, "g", []*kmsg.JoinGroupResponse{r1, r2})
		r := c.Leave(leaveReq(4, "g",
			kmsg.LeaveGroupRequestMember{MemberID: r1.MemberID, InstanceID: kmsg.StringPtr("i2")},
			kmsg.LeaveGroupRequestMember{InstanceID: kmsg.StringPtr("i2")},
		))
		if r.Members[0].ErrorCode != kerr.FencedInstanceID.Code || r.Members[1].ErrorCode != 0 {
			t.Errorf("static leave codes %d, %d; want FENCED_INSTANCE_ID, 0", r.Members[0].ErrorCode, r.Members[1].ErrorCode)
		}
		if d := describe(c, "g"); len(d.Members) != 1 || d.State != "PreparingRebalance" {
			t.Errorf("after a static leave: %s with %d members", d.State, len(d.Members))
		}
	})
}

// Close wakes blocked joins and syncs with COORDINATOR_NOT_AVAILABLE and
// answers every later call with it.
func TestClose_WakesBlockedCalls(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		rs := stable(t, c, "g", 9, 1)
		_, joining := firstJoin(t, c, 9, "h")
		follower := goJoin(c, joinReq(9, "g", rs[0].MemberID))
		_, second := firstJoin(t, c, 9, "g")
		mustJoin(t, follower)
		r2 := mustJoin(t, second)
		syncing := goSync(c, syncReq(3, "g", r2.MemberID, r2.Generation, nil))
		synctest.Wait()
		c.Close()
		cna := kerr.CoordinatorNotAvailable.Code
		if r := <-joining; r.ErrorCode != cna {
			t.Errorf("blocked join: %d", r.ErrorCode)
		}
		if r := <-syncing; r.ErrorCode != cna {
			t.Errorf("blocked sync: %d", r.ErrorCode)
		}
		if code := hb(c, 4, "g", rs[0].MemberID, 1, nil); code != cna {
			t.Errorf("heartbeat after Close: %d", code)
		}
		if r := c.Join(context.Background(), joinReq(9, "g", "")); r.ErrorCode != cna {
			t.Errorf("join after Close: %d", r.ErrorCode)
		}
		if code := c.CheckCommit("g", "", nil, -1); code != cna {
			t.Errorf("commit check after Close: %d", code)
		}
		c.Close() // idempotent
	})
}
