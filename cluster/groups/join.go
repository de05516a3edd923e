package groups

// JoinGroup: v0-9
//
// Version notes:
//   - v1: RebalanceTimeoutMillis (v0 uses the session timeout)
//   - v4: a dynamic member's first join gets MEMBER_ID_REQUIRED (KIP-394)
//   - v5: InstanceID, static membership (KIP-345)
//   - v7: ProtocolType in the response, Protocol nullable
//   - v9: SkipAssignment for a static leader rejoining unchanged (KIP-814)

import (
	"context"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// joinRequest is a JoinGroup copied out of its frame, with the client's
// identity from the request header.
type joinRequest struct {
	version          int16
	group            string
	memberID         string
	instanceID       *string // nil below v5
	clientID         string
	clientHost       string
	protocolType     string
	protocols        []protocol
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
}

// Join handles JoinGroup at req's version; it blocks until the group's
// rebalance completes (or ctx ends) and returns the response at req's
// version. Members joined this way have an empty client id and host in
// DescribeGroups, and generated member ids start with "-"; callers that
// know the request header use JoinWithClient.
func (c *Coordinator) Join(ctx context.Context, req *kmsg.JoinGroupRequest) *kmsg.JoinGroupResponse {
	return c.JoinWithClient(ctx, req, "", "")
}

// JoinWithClient is Join for a request whose header carried clientID and
// whose connection comes from clientHost: Kafka prefixes a dynamic
// member's id with its client id and shows both in DescribeGroups. Both are
// cut to 255 bytes.
func (c *Coordinator) JoinWithClient(ctx context.Context, req *kmsg.JoinGroupRequest, clientID, clientHost string) *kmsg.JoinGroupResponse {
	v := req.GetVersion()
	if code := c.checkJoin(req); code != 0 {
		return joinError(v, strings.Clone(req.MemberID), code)
	}
	jr := newJoinRequest(req, clientID, clientHost)
	c.mu.Lock()
	resp, w := c.join(jr)
	c.mu.Unlock()
	if w == nil {
		return resp
	}
	return c.waitJoin(ctx, w)
}

// checkJoin validates what needs no group state: the group id, the session
// timeout and the sizes of what the member would make us keep.
func (c *Coordinator) checkJoin(req *kmsg.JoinGroupRequest) int16 {
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	tooLarge := len(req.ProtocolType) > maxIDBytes || len(req.Protocols) > maxProtocols ||
		protocolBytes(req.Protocols) > c.cfg.MaxMemberMetadataBytes ||
		req.GetVersion() >= 5 && req.InstanceID != nil && len(*req.InstanceID) > maxIDBytes
	switch {
	case req.Group == "" || len(req.Group) > maxIDBytes:
		return kerr.InvalidGroupID.Code
	case session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout:
		return kerr.InvalidSessionTimeout.Code
	case tooLarge:
		c.mu.Lock()
		c.counts.tooLarge++
		c.mu.Unlock()
		return errInvalidRequest
	}
	return 0
}

// protocolBytes is what ps would hold: names and metadata.
func protocolBytes(ps []kmsg.JoinGroupRequestProtocol) int {
	n := 0
	for _, p := range ps {
		n += len(p.Name) + len(p.Metadata)
	}
	return n
}

// newJoinRequest copies what the coordinator keeps out of req (it may
// alias a pooled frame); duplicate protocol names keep their first entry.
func newJoinRequest(req *kmsg.JoinGroupRequest, clientID, clientHost string) *joinRequest {
	v := req.GetVersion()
	jr := &joinRequest{
		version:        v,
		group:          strings.Clone(req.Group),
		memberID:       strings.Clone(req.MemberID),
		clientID:       strings.Clone(clientID[:min(len(clientID), maxClientBytes)]),
		clientHost:     strings.Clone(clientHost[:min(len(clientHost), maxClientBytes)]),
		protocolType:   strings.Clone(req.ProtocolType),
		sessionTimeout: time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
	}
	jr.rebalanceTimeout = jr.sessionTimeout
	if v >= 1 && req.RebalanceTimeoutMillis > 0 {
		jr.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	}
	if v >= 5 && req.InstanceID != nil {
		id := strings.Clone(*req.InstanceID)
		jr.instanceID = &id
	}
	buf := make([]byte, 0, protocolBytes(req.Protocols))
	jr.protocols = make([]protocol, 0, len(req.Protocols))
	for _, p := range req.Protocols {
		if hasName(jr.protocols, p.Name) {
			continue
		}
		start := len(buf)
		buf = append(buf, p.Metadata...)
		jr.protocols = append(jr.protocols, protocol{name: strings.Clone(p.Name), metadata: buf[start:len(buf):len(buf)]})
	}
	return jr
}

// hasName reports whether ps holds a protocol called name.
func hasName(ps []protocol, name string) bool {
	for _, p := range ps {
		if p.name == name {
			return true
		}
	}
	return false
}

// newMember is a member made from jr under id.
func (jr *joinRequest) newMember(id string) *member {
	return &member{
		id:               id,
		instanceID:       jr.instanceID,
		clientID:         jr.clientID,
		clientHost:       jr.clientHost,
		sessionTimeout:   jr.sessionTimeout,
		rebalanceTimeout: jr.rebalanceTimeout,
		protocols:        jr.protocols,
	}
}

// join runs a JoinGroup under the lock. It returns either a response or a
// waiter to block on.
func (c *Coordinator) join(jr *joinRequest) (*kmsg.JoinGroupResponse, *joinWaiter) {
	if c.closed {
		return joinError(jr.version, jr.memberID, errCoordinatorNotAvailable), nil
	}
	g := c.groups[jr.group]
	if g == nil {
		if jr.memberID != "" {
			return joinError(jr.version, jr.memberID, errUnknownMemberID), nil
		}
		if g = c.createGroup(jr.group); g == nil {
			return joinError(jr.version, jr.memberID, errCoordinatorNotAvailable), nil
		}
	}
	defer c.settle(g)
	if jr.memberID == "" {
		return c.joinNew(g, jr)
	}
	return c.joinKnown(g, jr)
}

// joinNew handles a join without a member id: a new member, or a static
// member coming back under a new member id.
func (c *Coordinator) joinNew(g *group, jr *joinRequest) (*kmsg.JoinGroupResponse, *joinWaiter) {
	var old *member
	if jr.instanceID != nil {
		old = g.staticMember(*jr.instanceID)
	}
	if !g.supports(jr.protocolType, jr.protocols, old) {
		return joinError(jr.version, "", errInconsistentProtocol), nil
	}
	if old != nil {
		return c.joinStaticKnown(g, old, jr)
	}
	if g.full(c.cfg.MaxGroupSize) {
		c.counts.groupFull++
		return joinError(jr.version, "", kerr.GroupMaxSizeReached.Code), nil
	}
	prefix := jr.clientID
	if jr.instanceID != nil {
		prefix = *jr.instanceID
	}
	m := jr.newMember(newMemberID(prefix))
	if jr.instanceID == nil && jr.version >= 4 {
		// KIP-394: remember only the id until the member comes back.
		m.protocols = nil
		if !c.fits(cost(m)) {
			return joinError(jr.version, "", errCoordinatorNotAvailable), nil
		}
		c.addPending(g, m)
		return joinError(jr.version, m.id, kerr.MemberIDRequired.Code), nil
	}
	if !c.fits(cost(m)) {
		return joinError(jr.version, "", errCoordinatorNotAvailable), nil
	}
	return nil, c.addMemberAndRebalance(g, m, jr)
}

// joinKnown handles a join with a member id (Java's
// doCurrentMemberJoinGroup).
func (c *Coordinator) joinKnown(g *group, jr *joinRequest) (*kmsg.JoinGroupResponse, *joinWaiter) {
	m := g.members[jr.memberID]
	if !g.supports(jr.protocolType, jr.protocols, m) {
		return joinError(jr.version, jr.memberID, errInconsistentProtocol), nil
	}
	if p := g.pending[jr.memberID]; p != nil {
		if jr.instanceID != nil && g.staticMember(*jr.instanceID) != nil {
			return joinError(jr.version, jr.memberID, errFencedInstanceID), nil // the instance is someone else's
		}
		nm := jr.newMember(p.id)
		if !c.fits(cost(nm) - p.charge) {
			return joinError(jr.version, jr.memberID, errCoordinatorNotAvailable), nil
		}
		c.removePending(g, p)
		return nil, c.addMemberAndRebalance(g, nm, jr)
	}
	if jr.instanceID != nil {
		if code := g.checkMember(jr.memberID, jr.instanceID); code != 0 {
			return joinError(jr.version, jr.memberID, code), nil
		}
	}
	if m == nil {
		return joinError(jr.version, jr.memberID, errUnknownMemberID), nil
	}
	switch g.state {
	case statePreparingRebalance:
		return c.updateAndRebalance(g, m, jr)
	case stateCompletingRebalance:
		if m.matches(jr.protocols) {
			return g.joinResponse(m, jr.version, m.id == g.leader), nil
		}
		return c.updateAndRebalance(g, m, jr)
	case stateStable:
		if m.id == g.leader || !m.matches(jr.protocols) {
			return c.updateAndRebalance(g, m, jr)
		}
		return g.joinResponse(m, jr.version, false), nil
	}
	return joinError(jr.version, jr.memberID, errUnknownMemberID), nil
}

// addMemberAndRebalance adds m, which awaits its join response, and starts
// or advances the rebalance.
func (c *Coordinator) addMemberAndRebalance(g *group, m *member, jr *joinRequest) *joinWaiter {
	g.add(m, jr.protocolType)
	c.recharge(m)
	w := newJoinWaiter(jr.version, m.id)
	m.join = w
	if g.state == statePreparingRebalance && g.initial {
		g.newMemberAdded = true
	}
	g.log.Debug("groups: member joined", "member_id", m.id, "client_id", m.clientID)
	c.rebalance(g, "member "+m.id+" joined") // may answer w at once
	return w
}

// updateAndRebalance takes jr's protocols and timeouts for m, which now
// awaits its join response, and starts or advances the rebalance.
func (c *Coordinator) updateAndRebalance(g *group, m *member, jr *joinRequest) (*kmsg.JoinGroupResponse, *joinWaiter) {
	old := m.protocols
	m.protocols = jr.protocols
	delta := cost(m) - m.charge
	m.protocols = old
	if !c.fits(delta) {
		return joinError(jr.version, m.id, errCoordinatorNotAvailable), nil
	}
	g.countProtocols(m, -1)
	m.protocols = jr.protocols
	g.countProtocols(m, 1)
	m.sessionTimeout, m.rebalanceTimeout = jr.sessionTimeout, jr.rebalanceTimeout
	c.recharge(m)
	if m.join != nil { // a retry of a join still waiting: only the newest is answered
		m.join.deliver(joinError(m.join.version, m.id, errRebalanceInProgress))
	}
	m.join = newJoinWaiter(jr.version, m.id)
	w := m.join
	c.rebalance(g, "member "+m.id+" rejoined") // may answer w at once
	return nil, w
}

// joinStaticKnown handles a static member whose instance id is known
// coming back with no member id (KIP-345): it replaces the old member id,
// fencing calls still made under it, and keeps the assignment. A stable
// group does not rebalance when nothing changed, except for a leader that
// cannot skip the assignment (below v9).
func (c *Coordinator) joinStaticKnown(g *group, old *member, jr *joinRequest) (*kmsg.JoinGroupResponse, *joinWaiter) {
	m := jr.newMember(newMemberID(*jr.instanceID))
	m.protocols = old.protocols
	m.assignment = old.assignment
	if !c.fits(cost(m) - old.charge) {
		return joinError(jr.version, "", errCoordinatorNotAvailable), nil
	}
	c.replaceMember(g, old, m)
	g.log.Info("groups: static member replaced", "member_id", m.id, "old_member_id", old.id, "instance_id", *jr.instanceID)
	if g.state == stateStable && m.matches(jr.protocols) {
		leader := m.id == g.leader
		if !leader || jr.version >= 9 {
			r := g.joinResponse(m, jr.version, leader)
			r.SkipAssignment = leader
			return r, nil
		}
	}
	return c.updateAndRebalance(g, m, jr)
}

// replaceMember puts m in old's place — order, leadership, static id,
// pending sync — and fences old's blocked calls.
func (c *Coordinator) replaceMember(g *group, old, m *member) {
	c.failWaiters(old, errFencedInstanceID)
	old.stopTimer()
	c.uncharge(old)
	delete(g.members, old.id)
	g.members[m.id] = m
	for i, o := range g.order {
		if o == old {
			g.order[i] = m
		}
	}
	if g.leader == old.id {
		g.leader = m.id
	}
	if g.pendingSync[old.id] {
		delete(g.pendingSync, old.id)
		g.pendingSync[m.id] = true
	}
	g.static[*m.instanceID] = m.id
	c.recharge(m)
	c.touch(g, m)
}
