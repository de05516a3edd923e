package groups

// SyncGroup: v0-5 (v3 InstanceID, v5 ProtocolType and Protocol checked)
// Heartbeat: v0-4 (v3 InstanceID)
// OffsetCommit membership checks: CheckCommit

import (
	"context"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Sync handles SyncGroup; a follower blocks until the leader's assignment
// arrives (or ctx ends).
func (c *Coordinator) Sync(ctx context.Context, req *kmsg.SyncGroupRequest) *kmsg.SyncGroupResponse {
	v := req.GetVersion()
	if req.Group == "" {
		return syncError(v, kerr.InvalidGroupID.Code)
	}
	c.mu.Lock()
	resp, w := c.sync(req)
	c.mu.Unlock()
	if w == nil {
		return resp
	}
	return c.waitSync(ctx, w)
}

// sync runs a SyncGroup under the lock (Java's handleSyncGroup).
func (c *Coordinator) sync(req *kmsg.SyncGroupRequest) (*kmsg.SyncGroupResponse, *syncWaiter) {
	v := req.GetVersion()
	if c.closed {
		return syncError(v, errCoordinatorNotAvailable), nil
	}
	g := c.groups[req.Group]
	if g == nil {
		return syncError(v, errUnknownMemberID), nil
	}
	if code := g.checkMember(req.MemberID, instanceIDAt(v, 3, req.InstanceID)); code != 0 {
		return syncError(v, code), nil
	}
	m := g.members[req.MemberID]
	if req.Generation != g.generation {
		return syncError(v, errIllegalGeneration), nil
	}
	if v >= 5 && (req.ProtocolType != nil && *req.ProtocolType != g.protocolType ||
		req.Protocol != nil && *req.Protocol != g.protocol) {
		return syncError(v, errInconsistentProtocol), nil
	}
	switch g.state {
	case statePreparingRebalance:
		return syncError(v, errRebalanceInProgress), nil
	case stateCompletingRebalance:
		if m.sync != nil { // a retry of a sync still waiting: only the newest is answered
			m.sync.deliver(syncError(m.sync.version, errRebalanceInProgress))
		}
		m.sync = newSyncWaiter(v)
		w := m.sync
		g.synced(m)
		if m.id == g.leader {
			c.completeSync(g, req.GroupAssignment)
		}
		return nil, w
	case stateStable:
		g.synced(m)
		c.touch(g, m)
		return g.syncResponse(m, v), nil
	}
	return syncError(v, errUnknownMemberID), nil
}

// completeSync stores the leader's assignments, hands each waiting member
// its own and makes g Stable. Assignments too large for the limits fail
// the leader's sync and restart the rebalance, as Java does when it cannot
// store the group.
func (c *Coordinator) completeSync(g *group, as []kmsg.SyncGroupRequestGroupAssignment) {
	assigned, code := c.collectAssignments(g, as)
	if code != 0 {
		leader := g.members[g.leader]
		g.log.Warn("groups: leader's assignment refused", "member_id", leader.id, "err", kerr.ErrorForCode(code))
		c.answerSync(g, leader, syncError(leader.sync.version, code))
		c.prepareRebalance(g, "assignment refused")
		return
	}
	for _, m := range g.order {
		a, ok := assigned[m.id]
		if !ok {
			a = g.emptyAssignment()
		}
		m.assignment = a
		c.recharge(m)
	}
	g.state = stateStable
	for _, m := range g.order {
		if m.sync != nil {
			c.answerSync(g, m, g.syncResponse(m, m.sync.version))
		}
	}
	g.log.Info("groups: group is stable", "generation", g.generation, "protocol", g.protocol, "members", len(g.order))
}

// collectAssignments copies the leader's assignments of current members
// (the last one wins for a member named twice), checking their sizes.
func (c *Coordinator) collectAssignments(g *group, as []kmsg.SyncGroupRequestGroupAssignment) (map[string][]byte, int16) {
	assigned := make(map[string][]byte, len(g.members))
	var delta int64
	for _, a := range as {
		if len(a.MemberAssignment) > c.cfg.MaxMemberMetadataBytes {
			c.counts.tooLarge++
			return nil, errInvalidRequest
		}
		m := g.members[a.MemberID]
		if m == nil {
			continue
		}
		if prev, ok := assigned[m.id]; ok {
			delta -= int64(len(prev))
		} else {
			delta -= int64(len(m.assignment))
		}
		assigned[m.id] = append([]byte{}, a.MemberAssignment...) // outlives the frame
		delta += int64(len(a.MemberAssignment))
	}
	if !c.fits(delta) {
		return nil, errCoordinatorNotAvailable
	}
	return assigned, 0
}

// Heartbeat handles Heartbeat.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	r := kmsg.NewPtrHeartbeatResponse()
	r.SetVersion(req.GetVersion())
	if req.Group == "" {
		r.ErrorCode = kerr.InvalidGroupID.Code
		return r
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	r.ErrorCode = c.heartbeat(req)
	return r
}

// heartbeat runs a Heartbeat under the lock (Java's handleHeartbeat): it
// extends the member's session and, while a rebalance is being prepared,
// tells the member to rejoin.
func (c *Coordinator) heartbeat(req *kmsg.HeartbeatRequest) int16 {
	if c.closed {
		return errCoordinatorNotAvailable
	}
	g := c.groups[req.Group]
	if g == nil {
		return errUnknownMemberID
	}
	if code := g.checkMember(req.MemberID, instanceIDAt(req.GetVersion(), 3, req.InstanceID)); code != 0 {
		return code
	}
	if req.Generation != g.generation {
		return errIllegalGeneration
	}
	m := g.members[req.MemberID]
	switch g.state {
	case stateCompletingRebalance, stateStable:
		c.touch(g, m)
		return 0
	case statePreparingRebalance:
		c.touch(g, m)
		return errRebalanceInProgress
	}
	return errUnknownMemberID
}

// instanceIDAt is id if the request's version v carries instance ids
// (from version since), else nil.
func instanceIDAt(v, since int16, id *string) *string {
	if v < since {
		return nil
	}
	return id
}

// Leave handles LeaveGroup (v0–v2 one member, v3+ a batch with an error
// code per member; a v3+ member may be named by its instance id alone).
func (c *Coordinator) Leave(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	v := req.GetVersion()
	r := kmsg.NewPtrLeaveGroupResponse()
	r.SetVersion(v)
	if req.Group == "" {
		r.ErrorCode = kerr.InvalidGroupID.Code
		return r
	}
	leaving := req.Members
	if v < 3 {
		leaving = []kmsg.LeaveGroupRequestMember{{MemberID: req.MemberID}}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		r.ErrorCode = errCoordinatorNotAvailable
		return r
	}
	g := c.groups[req.Group]
	for _, lm := range leaving {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID = strings.Clone(lm.MemberID)
		if lm.InstanceID != nil {
			rm.InstanceID = kmsg.StringPtr(strings.Clone(*lm.InstanceID))
		}
		rm.ErrorCode = c.leave(g, lm.MemberID, lm.InstanceID)
		r.Members = append(r.Members, rm)
	}
	if g != nil {
		c.settle(g)
	}
	c.mu.Unlock()
	if v < 3 {
		r.ErrorCode = r.Members[0].ErrorCode
		r.Members = nil
	}
	return r
}

// leave removes one member from g (Java's removeMemberAndUpdateGroup and
// removePendingMemberAndUpdateGroup).
func (c *Coordinator) leave(g *group, memberID string, instanceID *string) int16 {
	if g == nil {
		return errUnknownMemberID
	}
	if memberID == "" && instanceID != nil {
		id, ok := g.static[*instanceID]
		if !ok {
			return errUnknownMemberID
		}
		memberID = id
	}
	if p := g.pending[memberID]; p != nil {
		c.removePending(g, p)
		c.tryCompleteJoin(g)
		return 0
	}
	if instanceID != nil {
		if code := g.checkMember(memberID, instanceID); code != 0 {
			return code
		}
	}
	m := g.members[memberID]
	if m == nil {
		return errUnknownMemberID
	}
	g.log.Info("groups: member left", "member_id", m.id, "generation", g.generation)
	c.removeMember(g, m, errUnknownMemberID)
	c.rebalance(g, "member "+m.id+" left")
	return 0
}

// CheckCommit validates an OffsetCommit's member and generation and
// returns a Kafka error code (0 = allowed). A commit with generation -1
// and an empty member id is a "simple" commit, allowed only when the group
// has no members (Kafka's rule); otherwise the member must be in the
// group's current generation (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
// REBALANCE_IN_PROGRESS as Kafka answers).
//
// A simple commit to a group this coordinator does not hold is allowed
// and creates no group here: the caller that stores the offsets lists
// such groups itself. A commit with a generation ≥ 0 to an unknown group
// gets ILLEGAL_GENERATION (Kafka answers GROUP_ID_NOT_FOUND from
// OffsetCommit v9; a caller at v9+ may translate). An allowed commit from
// a member extends its session.
func (c *Coordinator) CheckCommit(group, memberID string, instanceID *string, generation int32) int16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errCoordinatorNotAvailable
	}
	g := c.groups[group]
	if g == nil {
		if generation < 0 {
			return 0
		}
		return errIllegalGeneration
	}
	if generation < 0 && g.state == stateEmpty {
		return 0
	}
	if generation >= 0 || memberID != "" || instanceID != nil {
		if code := g.checkMember(memberID, instanceID); code != 0 {
			return code
		}
		if generation != g.generation {
			return errIllegalGeneration
		}
	} else {
		return errUnknownMemberID // a simple commit while the group has members
	}
	if g.state == stateCompletingRebalance {
		return errRebalanceInProgress
	}
	if m := g.members[memberID]; m != nil {
		c.touch(g, m)
	}
	return 0
}
