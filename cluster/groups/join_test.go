package groups

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ignoreTags lets cmp compare kmsg types, whose UnknownTags hold
// unexported fields.
var ignoreTags = cmpopts.IgnoreTypes(kmsg.Tags{})

var memberIDPattern = regexp.MustCompile(`^client-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// A v4+ dynamic member first gets MEMBER_ID_REQUIRED with a generated id
// (KIP-394); its rejoin waits the initial rebalance delay of an empty group.
func TestJoin_MemberIDRequiredThenInitialDelay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		start := time.Now()
		id, ch := firstJoin(t, c, 9, "g")
		if !memberIDPattern.MatchString(id) {
			t.Fatalf("member id %q is not client-<uuid v4>", id)
		}
		time.Sleep(DefaultInitialRebalanceDelay - time.Millisecond)
		synctest.Wait()
		if r := ready(ch); r != nil {
			t.Fatalf("join answered before the initial delay: %+v", r)
		}
		r := mustJoin(t, ch)
		if waited := time.Since(start); waited != DefaultInitialRebalanceDelay {
			t.Errorf("join waited %v, want %v", waited, DefaultInitialRebalanceDelay)
		}
		want := &kmsg.JoinGroupResponse{
			Version: 9, Generation: 1, ProtocolType: kmsg.StringPtr("consumer"), Protocol: kmsg.StringPtr("range"),
			LeaderID: id, MemberID: id,
			Members: []kmsg.JoinGroupResponseMember{{MemberID: id, ProtocolMetadata: []byte("m/range")}},
		}
		if diff := cmp.Diff(want, r, ignoreTags); diff != "" {
			t.Errorf("join response (-want +got):\n%s", diff)
		}
	})
}

// Below v4 a first join is a member at once, with no MEMBER_ID_REQUIRED.
func TestJoin_V3JoinsWithoutMemberIDRequired(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		r := mustJoin(t, goJoin(c, joinReq(3, "g", "")))
		if r.Generation != 1 || r.LeaderID != r.MemberID || !memberIDPattern.MatchString(r.MemberID) {
			t.Fatalf("v3 join: %+v", r)
		}
		if r.Protocol == nil || *r.Protocol != "range" {
			t.Fatalf("v3 join protocol %v", r.Protocol)
		}
	})
}

// Two members joining an empty group: the initial delay is extended once
// for the second, then one leader gets both members' metadata.
func TestJoin_TwoMembersOneLeader(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		start := time.Now()
		a, cha := firstJoin(t, c, 9, "g", withProtocols("A", "range"))
		time.Sleep(time.Second)
		b, chb := firstJoin(t, c, 9, "g", withProtocols("B", "range"))
		ra, rb := mustJoin(t, cha), mustJoin(t, chb)
		if waited := time.Since(start); waited != 2*DefaultInitialRebalanceDelay {
			t.Errorf("rebalance took %v, want the delay extended once (%v)", waited, 2*DefaultInitialRebalanceDelay)
		}
		wantMembers := []kmsg.JoinGroupResponseMember{
			{MemberID: a, ProtocolMetadata: []byte("A/range")},
			{MemberID: b, ProtocolMetadata: []byte("B/range")},
		}
		if diff := cmp.Diff(wantMembers, ra.Members, ignoreTags); diff != "" {
			t.Errorf("leader's members (-want +got):\n%s", diff)
		}
		if ra.LeaderID != a || rb.LeaderID != a || len(rb.Members) != 0 {
			t.Errorf("leader %q/%q, follower members %d; want %q and none", ra.LeaderID, rb.LeaderID, len(rb.Members), a)
		}
		if ra.Generation != 1 || rb.Generation != 1 {
			t.Errorf("generations %d, %d; want 1", ra.Generation, rb.Generation)
		}
	})
}

// The initial delay is extended while members keep joining, but never
// past the rebalance timeout.
func TestJoin_InitialDelayCappedByRebalanceTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		timeouts := withTimeouts(testSession, 5*time.Second)
		start := time.Now()
		ch := goJoin(c, joinReq(3, "g", "", timeouts))
		time.Sleep(2 * time.Second)
		goJoin(c, joinReq(3, "g", "", timeouts))
		time.Sleep(2 * time.Second)
		goJoin(c, joinReq(3, "g", "", timeouts))
		r := mustJoin(t, ch)
		if waited := time.Since(start); waited != 5*time.Second {
			t.Errorf("first rebalance took %v, want the 5s rebalance timeout", waited)
		}
		if len(r.Members) != 3 {
			t.Errorf("leader got %d members, want 3", len(r.Members))
		}
	})
}

// Protocol selection: candidates are the protocols every member supports;
// each member votes for its first candidate, most votes win, ties go to
// the first member's preference.
func TestJoin_ProtocolSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		members [][]string
		want    string
	}{
		{"majority", [][]string{{"x", "y"}, {"y", "x"}, {"y", "x"}}, "y"},
		{"tie goes to the first member", [][]string{{"x", "y"}, {"y", "x"}}, "x"},
		{"only common candidates vote", [][]string{{"x", "y", "z"}, {"z", "y"}, {"y", "z"}}, "y"},
		{"one member", [][]string{{"cooperative-sticky", "range"}}, "cooperative-sticky"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := newTest(Config{})
				defer c.Close()
				var chans []<-chan *kmsg.JoinGroupResponse
				for _, ps := range tt.members {
					_, ch := firstJoin(t, c, 9, "g", withProtocols("m", ps...))
					chans = append(chans, ch)
				}
				for _, ch := range chans {
					if r := mustJoin(t, ch); *r.Protocol != tt.want {
						t.Errorf("protocol %q, want %q", *r.Protocol, tt.want)
					}
				}
			})
		})
	}
}

// A member sharing no protocol with the group, or of another protocol
// type, is refused with INCONSISTENT_GROUP_PROTOCOL; so is a first join
// with no protocols, which leaves no group behind.
func TestJoin_InconsistentProtocols(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		firstJoin(t, c, 9, "g", withProtocols("A", "range"))
		ctx := context.Background()
		code := kerr.InconsistentGroupProtocol.Code
		if r := c.Join(ctx, joinReq(9, "g", "", withProtocols("B", "roundrobin"))); r.ErrorCode != code {
			t.Errorf("no common protocol: %d, want %d", r.ErrorCode, code)
		}
		other := func(r *kmsg.JoinGroupRequest) { r.ProtocolType = "connect" }
		if r := c.Join(ctx, joinReq(9, "g", "", other)); r.ErrorCode != code {
			t.Errorf("other protocol type: %d, want %d", r.ErrorCode, code)
		}
		if r := c.Join(ctx, joinReq(9, "g", "", withProtocols("B", "roundrobin", "range"))); r.ErrorCode != kerr.MemberIDRequired.Code {
			t.Errorf("a common protocol: %d, want MEMBER_ID_REQUIRED", r.ErrorCode)
		}
		if r := c.Join(ctx, joinReq(9, "new", "", withProtocols("A"))); r.ErrorCode != code {
			t.Errorf("no protocols: %d, want %d", r.ErrorCode, code)
		}
		if d := describe(c, "new"); d.State != "Dead" {
			t.Errorf("a failed first join left group %q in state %s", d.Group, d.State)
		}
	})
}

// Requests out of bounds are refused before they touch any group.
func TestJoin_Validation(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{MaxGroupSize: 2, MaxMemberMetadataBytes: 100})
		defer c.Close()
		ctx := context.Background()
		tests := []struct {
			name string
			req  *kmsg.JoinGroupRequest
			want int16
		}{
			{"empty group id", joinReq(9, "", ""), kerr.InvalidGroupID.Code},
			{"group id too long", joinReq(9, strings.Repeat("g", maxIDBytes+1), ""), kerr.InvalidGroupID.Code},
			{"session below min", joinReq(9, "g", "", withTimeouts(time.Second, testRebalance)), kerr.InvalidSessionTimeout.Code},
			{"session above max", joinReq(9, "g", "", withTimeouts(31*time.Minute, testRebalance)), kerr.InvalidSessionTimeout.Code},
			{"metadata too large", joinReq(9, "g", "", func(r *kmsg.JoinGroupRequest) {
				r.Protocols[0].Metadata = make([]byte, 101)
			}), kerr.InvalidRequest.Code},
			{"too many protocols", joinReq(9, "g", "", func(r *kmsg.JoinGroupRequest) {
				r.Protocols = make([]kmsg.JoinGroupRequestProtocol, maxProtocols+1)
			}), kerr.InvalidRequest.Code},
			{"unknown member, unknown group", joinReq(9, "g", "nobody"), kerr.UnknownMemberID.Code},
		}
		for _, tt := range tests {
			if r := c.Join(ctx, tt.req); r.ErrorCode != tt.want || r.Version != 9 {
				t.Errorf("%s: error %d version %d, want %d at 9", tt.name, r.ErrorCode, r.Version, tt.want)
			}
		}
		firstJoin(t, c, 9, "g")
		firstJoin(t, c, 9, "g")
		if r := c.Join(ctx, joinReq(9, "g", "")); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
			t.Errorf("third member of a group of 2: %d, want GROUP_MAX_SIZE_REACHED", r.ErrorCode)
		}
		if r := c.Join(ctx, joinReq(9, "g", "nobody")); r.ErrorCode != kerr.UnknownMemberID.Code {
			t.Errorf("unknown member: %d, want UNKNOWN_MEMBER_ID", r.ErrorCode)
		}
		if s := c.Stats(); s.RejectedGroupFull != 1 || s.RejectedTooLarge != 2 {
			t.Errorf("stats %+v: want 1 group-full and 2 too-large rejections", s)
		}
	})
}

// A join whose ctx ends returns REBALANCE_IN_PROGRESS and leaves the member
// in the rebalance; a retried join of the same member answers the older
// call with REBALANCE_IN_PROGRESS and gets the result itself.
func TestJoin_CanceledAndRetried(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		id := c.Join(context.Background(), joinReq(9, "g", "")).MemberID
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		r := c.Join(ctx, joinReq(9, "g", id))
		if r.ErrorCode != kerr.RebalanceInProgress.Code || r.MemberID != id {
			t.Fatalf("canceled join: error %d member %q", r.ErrorCode, r.MemberID)
		}
		if d := describe(c, "g"); d.State != "PreparingRebalance" || len(d.Members) != 1 {
			t.Fatalf("after the canceled join: %s with %d members", d.State, len(d.Members))
		}
		first := goJoin(c, joinReq(9, "g", id))
		synctest.Wait()
		second := goJoin(c, joinReq(9, "g", id))
		if r := <-first; r.ErrorCode != kerr.RebalanceInProgress.Code {
			t.Errorf("superseded join: %d, want REBALANCE_IN_PROGRESS", r.ErrorCode)
		}
		if r := mustJoin(t, second); r.Generation != 1 || r.MemberID != id {
			t.Errorf("retried join: %+v", r)
		}
	})
}

// Static members (KIP-345) join without MEMBER_ID_REQUIRED; a rejoin under
// a known instance id replaces the member id without a rebalance and fences
// the old id; a static leader rejoining unchanged at v9 skips the
// assignment (KIP-814), below v9 it rebalances.
func TestJoin_StaticMemberRejoin(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		ch1 := goJoin(c, joinReq(9, "g", "", withInstance("i1")))
		synctest.Wait()
		ch2 := goJoin(c, joinReq(9, "g", "", withInstance("i2")))
		r1, r2 := mustJoin(t, ch1), mustJoin(t, ch2)
		if !strings.HasPrefix(r1.MemberID, "i1-") || r1.LeaderID != r1.MemberID {
			t.Fatalf("static leader: %+v", r1)
		}
		syncAll(t, c, "g", []*kmsg.JoinGroupResponse{r1, r2})

		n2 := mustJoin(t, goJoin(c, joinReq(9, "g", "", withInstance("i2"))))
		if n2.MemberID == r2.MemberID || n2.Generation != 1 || n2.SkipAssignment || len(n2.Members) != 0 {
			t.Fatalf("static follower rejoin: %+v", n2)
		}
		if code := hb(c, 4, "g", r1.MemberID, 1, kmsg.StringPtr("i1")); code != 0 {
			t.Errorf("leader heartbeat after a follower's static rejoin: %d, want no rebalance", code)
		}
		if code := hb(c, 4, "g", r2.MemberID, 1, kmsg.StringPtr("i2")); code != kerr.FencedInstanceID.Code {
			t.Errorf("old static id with its instance: %d, want FENCED_INSTANCE_ID", code)
		}
		if code := hb(c, 2, "g", r2.MemberID, 1, nil); code != kerr.UnknownMemberID.Code {
			t.Errorf("old static id without instance: %d, want UNKNOWN_MEMBER_ID", code)
		}
		sr := c.Sync(context.Background(), syncReq(3, "g", n2.MemberID, 1, nil))
		if string(sr.MemberAssignment) != "a-"+r2.MemberID {
			t.Errorf("replaced member's assignment %q, want the old one", sr.MemberAssignment)
		}

		n1 := mustJoin(t, goJoin(c, joinReq(9, "g", "", withInstance("i1"))))
		if !n1.SkipAssignment || n1.LeaderID != n1.MemberID || len(n1.Members) != 2 {
			t.Fatalf("static leader rejoin at v9: %+v", n1)
		}
		if d := describe(c, "g"); d.State != "Stable" {
			t.Fatalf("state %s after a v9 static leader rejoin, want Stable", d.State)
		}
		ch := goJoin(c, joinReq(8, "g", "", withInstance("i1")))
		synctest.Wait()
		if code := hb(c, 4, "g", n2.MemberID, 1, kmsg.StringPtr("i2")); code != kerr.RebalanceInProgress.Code {
			t.Errorf("follower heartbeat after a v8 static leader rejoin: %d, want REBALANCE_IN_PROGRESS", code)
		}
		mustJoin(t, goJoin(c, joinReq(9, "g", n2.MemberID, withInstance("i2"))))
		if r := mustJoin(t, ch); r.Generation != 2 || len(r.Members) != 2 {
			t.Errorf("rebalanced static leader: %+v", r)
		}
	})
}

// A member re-sending an unchanged JoinGroup while the group completes a
// rebalance, or as a follower of a Stable group, gets the current
// generation without a rebalance; changed metadata starts one.
func TestJoin_UnchangedRejoinKeepsGeneration(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		c := newTest(Config{})
		defer c.Close()
		_, cha := firstJoin(t, c, 9, "g")
		_, chb := firstJoin(t, c, 9, "g")
		a, b := mustJoin(t, cha), mustJoin(t, chb)
		ctx := context.Background()
		if r := c.Join(ctx, joinReq(9, "g", a.MemberID)); r.ErrorCode != 0 || r.Generation != 1 || len(r.Members) != 2 {
			t.Errorf("leader rejoin while completing: %+v", r)
		}
		syncAll(t, c, "g", []*kmsg.JoinGroupResponse{a, b})
		if r := c.Join(ctx, joinReq(9, "g", b.MemberID)); r.ErrorCode != 0 || r.Generation != 1 || len(r.Members) != 0 {
			t.Errorf("follower rejoin in Stable: %+v", r)
		}
		if d := describe(c, "g"); d.State != "Stable" {
			t.Fatalf("state %s after unchanged rejoins, want Stable", d.State)
		}
		ch := goJoin(c, joinReq(9, "g", b.MemberID, withProtocols("changed", "range")))
		synctest.Wait()
		if code := hb(c, 4, "g", a.MemberID, 1, nil); code != kerr.RebalanceInProgress.Code {
			t.Errorf("heartbeat after a changed rejoin: %d, want REBALANCE_IN_PROGRESS", code)
		}
		leader := mustJoin(t, goJoin(c, joinReq(9, "g", a.MemberID)))
		mustJoin(t, ch)
		if got := string(leader.Members[1].ProtocolMetadata); got != "changed/range" {
			t.Errorf("leader sees metadata %q, want the new one", got)
		}
	})
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	bad := Config{MinSessionTimeout: time.Hour, MaxGroupSize: -1, MaxHeldBytes: -1}
	err := bad.Validate()
	for _, want := range []string{"MinSessionTimeout", "MaxGroupSize", "MaxHeldBytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(%+v) = %v, want it to name %s", bad, err, want)
		}
	}
	d := Config{InitialRebalanceDelay: -1}.withDefaults()
	if d.InitialRebalanceDelay != 0 || d.MaxGroupSize != DefaultMaxGroupSize || d.Now == nil || d.Logger == nil {
		t.Errorf("withDefaults: %+v", d)
	}
}
