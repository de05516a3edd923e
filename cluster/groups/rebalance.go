package groups

import (
	"context"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file holds the state machine's transitions and its timers. Every
// function here runs with Coordinator.mu held.

// joinWaiter is a JoinGroup call blocked until its rebalance completes.
// The state machine delivers to it at most once, without blocking.
type joinWaiter struct {
	version  int16
	memberID string
	ch       chan *kmsg.JoinGroupResponse
}

func newJoinWaiter(version int16, memberID string) *joinWaiter {
	return &joinWaiter{version: version, memberID: memberID, ch: make(chan *kmsg.JoinGroupResponse, 1)}
}

func (w *joinWaiter) deliver(r *kmsg.JoinGroupResponse) {
	select {
	case w.ch <- r:
	default: // already answered; cannot happen, as the waiter is unhooked on delivery
	}
}

// syncWaiter is a SyncGroup call blocked until the leader's assignment.
type syncWaiter struct {
	version int16
	ch      chan *kmsg.SyncGroupResponse
}

func newSyncWaiter(version int16) *syncWaiter {
	return &syncWaiter{version: version, ch: make(chan *kmsg.SyncGroupResponse, 1)}
}

func (w *syncWaiter) deliver(r *kmsg.SyncGroupResponse) {
	select {
	case w.ch <- r:
	default:
	}
}

// waitJoin blocks, without the lock, until w is answered, ctx ends or the
// coordinator closes. On ctx end the member stays in the group (awaiting
// its join, as a Java broker keeps it); the client retries.
func (c *Coordinator) waitJoin(ctx context.Context, w *joinWaiter) *kmsg.JoinGroupResponse {
	select {
	case r := <-w.ch:
		return r
	default:
	}
	select {
	case r := <-w.ch:
		return r
	case <-ctx.Done():
		return joinError(w.version, w.memberID, errRebalanceInProgress)
	case <-c.done:
		return joinError(w.version, w.memberID, errCoordinatorNotAvailable)
	}
}

// waitSync is waitJoin for SyncGroup.
func (c *Coordinator) waitSync(ctx context.Context, w *syncWaiter) *kmsg.SyncGroupResponse {
	select {
	case r := <-w.ch:
		return r
	default:
	}
	select {
	case r := <-w.ch:
		return r
	case <-ctx.Done():
		return syncError(w.version, errRebalanceInProgress)
	case <-c.done:
		return syncError(w.version, errCoordinatorNotAvailable)
	}
}

// answerJoin hands m its join response and starts its session clock,
// which does not run while a member awaits a response.
func (c *Coordinator) answerJoin(g *group, m *member, r *kmsg.JoinGroupResponse) {
	w := m.join
	m.join = nil
	w.deliver(r)
	c.touch(g, m)
}

// answerSync hands m its sync response and starts its session clock.
func (c *Coordinator) answerSync(g *group, m *member, r *kmsg.SyncGroupResponse) {
	w := m.sync
	m.sync = nil
	w.deliver(r)
	c.touch(g, m)
}

// failWaiters answers m's blocked calls with code, as m leaves the group.
func (c *Coordinator) failWaiters(m *member, code int16) {
	if m.join != nil {
		m.join.deliver(joinError(m.join.version, m.id, code))
		m.join = nil
	}
	if m.sync != nil {
		m.sync.deliver(syncError(m.sync.version, code))
		m.sync = nil
	}
}

// touch restarts m's session: it expires sessionTimeout from now.
func (c *Coordinator) touch(g *group, m *member) {
	d := m.sessionTimeout
	m.deadline = c.now().Add(d)
	if m.timer == nil {
		m.timer = time.AfterFunc(d, func() { c.onSessionTimer(g, m) })
		return
	}
	m.timer.Reset(d)
}

// rearm restarts m's timer when its deadline is still ahead (a touch raced
// the timer) and reports whether it did.
func (c *Coordinator) rearm(m *member) bool {
	left := m.deadline.Sub(c.now())
	if left <= 0 {
		return false
	}
	m.timer.Reset(left)
	return true
}

// onSessionTimer removes a member, or pending member, whose session ended.
// A member awaiting a response is not expired: answering it restarts the
// clock (Java's hasSatisfiedHeartbeat).
func (c *Coordinator) onSessionTimer(g *group, m *member) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live(g) {
		return
	}
	defer c.settle(g)
	switch {
	case g.pending[m.id] == m:
		if c.rearm(m) {
			return
		}
		g.log.Debug("groups: pending member expired", "member_id", m.id)
		c.removePending(g, m)
		c.tryCompleteJoin(g)
	case g.members[m.id] == m && m.join == nil && m.sync == nil:
		if c.rearm(m) {
			return
		}
		g.log.Info("groups: member session expired", "member_id", m.id, "generation", g.generation)
		c.counts.expired++
		c.removeMember(g, m, errUnknownMemberID)
		c.rebalance(g, "member session expired")
	}
}

// addPending records m as a KIP-394 pending member until its session
// timeout passes.
func (c *Coordinator) addPending(g *group, m *member) {
	g.pending[m.id] = m
	c.recharge(m)
	c.touch(g, m)
}

// removePending forgets pending member m.
func (c *Coordinator) removePending(g *group, m *member) {
	delete(g.pending, m.id)
	m.stopTimer()
	c.uncharge(m)
}

// removeMember takes m out of g, answering its blocked calls with code.
// It does not start a rebalance; callers follow with rebalance.
func (c *Coordinator) removeMember(g *group, m *member, code int16) {
	c.failWaiters(m, code)
	g.countProtocols(m, -1)
	delete(g.members, m.id)
	g.order = slices.DeleteFunc(g.order, func(o *member) bool { return o == m })
	if m.instanceID != nil && g.static[*m.instanceID] == m.id {
		delete(g.static, *m.instanceID)
	}
	delete(g.pendingSync, m.id)
	m.stopTimer()
	c.uncharge(m)
	if g.leader == m.id {
		g.leader = ""
		if len(g.order) > 0 {
			g.leader = g.order[0].id
		}
	}
}

// rebalance reacts to a change of membership or metadata: it starts a
// rebalance, or, when one is under way, checks whether it may complete
// (Java's maybePrepareRebalance followed by checkAndComplete).
func (c *Coordinator) rebalance(g *group, reason string) {
	switch g.state {
	case stateEmpty, stateStable, stateCompletingRebalance:
		c.prepareRebalance(g, reason)
	case statePreparingRebalance:
		c.tryCompleteJoin(g)
	}
}

// prepareRebalance moves g to PreparingRebalance. From Empty it waits the
// initial delay (extended while members keep joining, within the rebalance
// timeout); otherwise until every member rejoined or the rebalance timeout.
func (c *Coordinator) prepareRebalance(g *group, reason string) {
	if g.state == stateCompletingRebalance {
		c.resetAssignments(g)
	}
	g.clearPendingSync()
	g.initial = g.state == stateEmpty && c.cfg.InitialRebalanceDelay > 0
	g.newMemberAdded = false
	g.state = statePreparingRebalance
	c.counts.rebalances++
	timeout := g.rebalanceTimeout()
	g.log.Info("groups: preparing rebalance", "reason", reason, "generation", g.generation, "members", len(g.order))
	if g.initial {
		delay := c.cfg.InitialRebalanceDelay
		g.remaining = max(timeout-delay, 0)
		c.armRebalance(g, delay)
		return
	}
	c.armRebalance(g, timeout)
	c.tryCompleteJoin(g)
}

// resetAssignments drops the assignments of a rebalance that will not
// complete, sending REBALANCE_IN_PROGRESS to members awaiting them.
func (c *Coordinator) resetAssignments(g *group) {
	for _, m := range g.order {
		m.assignment = nil
		c.recharge(m)
		if m.sync != nil {
			c.answerSync(g, m, syncError(m.sync.version, errRebalanceInProgress))
		}
	}
}

func (c *Coordinator) armRebalance(g *group, d time.Duration) {
	g.stopRebalanceTimer()
	tok := g.rebalanceToken
	g.rebalanceTimer = time.AfterFunc(d, func() { c.onRebalanceTimer(g, tok) })
}

// onRebalanceTimer ends a join phase: it extends the initial delay if a
// member joined during it, and otherwise completes the join.
func (c *Coordinator) onRebalanceTimer(g *group, tok uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live(g) || g.rebalanceToken != tok || g.state != statePreparingRebalance {
		return
	}
	defer c.settle(g)
	if g.initial && g.newMemberAdded && g.remaining > 0 {
		d := min(c.cfg.InitialRebalanceDelay, g.remaining)
		g.remaining -= d
		g.newMemberAdded = false
		c.armRebalance(g, d)
		return
	}
	c.completeJoin(g)
}

// tryCompleteJoin completes the join phase early once every member has
// rejoined; the initial delay is never cut short.
func (c *Coordinator) tryCompleteJoin(g *group) {
	if g.state == statePreparingRebalance && !g.initial && g.allJoined() {
		c.completeJoin(g)
	}
}

// completeJoin starts the next generation (Java's onCompleteJoin and
// initNextGeneration): members that did not rejoin are removed, the
// protocol is chosen, and every member gets its join response.
func (c *Coordinator) completeJoin(g *group) {
	g.stopRebalanceTimer()
	g.initial, g.newMemberAdded = false, false
	for _, m := range slices.Clone(g.order) {
		if m.join == nil {
			g.log.Info("groups: member removed, it did not rejoin in time", "member_id", m.id)
			c.counts.expired++
			c.removeMember(g, m, errUnknownMemberID)
		}
	}
	g.generation = nextGeneration(g.generation)
	if len(g.order) == 0 {
		g.state, g.protocol, g.leader = stateEmpty, "", ""
		g.log.Info("groups: group is empty", "generation", g.generation)
		return
	}
	g.protocol = g.selectProtocol()
	g.state = stateCompletingRebalance
	g.pendingSync = make(map[string]bool, len(g.order))
	for _, m := range g.order {
		g.pendingSync[m.id] = true
		c.answerJoin(g, m, g.joinResponse(m, m.join.version, m.id == g.leader))
	}
	c.armSync(g, g.rebalanceTimeout())
	g.log.Info("groups: awaiting assignment", "generation", g.generation, "protocol", g.protocol,
		"leader", g.leader, "members", len(g.order))
}

// synced records that m sent its SyncGroup for this generation.
func (g *group) synced(m *member) {
	delete(g.pendingSync, m.id)
	if len(g.pendingSync) == 0 {
		g.clearPendingSync()
	}
}

func (c *Coordinator) armSync(g *group, d time.Duration) {
	g.stopSyncTimer()
	tok := g.syncToken
	g.syncTimer = time.AfterFunc(d, func() { c.onSyncTimer(g, tok) })
}

// onSyncTimer removes the members that got a join response but sent no
// SyncGroup within the rebalance timeout, and rebalances without them.
func (c *Coordinator) onSyncTimer(g *group, tok uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live(g) || g.syncToken != tok || len(g.pendingSync) == 0 {
		return
	}
	if g.state != stateCompletingRebalance && g.state != stateStable {
		return
	}
	defer c.settle(g)
	for _, m := range slices.Clone(g.order) {
		if g.pendingSync[m.id] {
			g.log.Info("groups: member removed, it sent no SyncGroup in time", "member_id", m.id)
			c.counts.expired++
			c.removeMember(g, m, errUnknownMemberID)
		}
	}
	g.clearPendingSync()
	c.rebalance(g, "members did not sync in time")
}

// newJoinResponse is an empty JoinGroupResponse at version.
func newJoinResponse(version int16) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.SetVersion(version)
	return r
}

// joinError is a failed JoinGroupResponse (generation -1, no protocol).
func joinError(version int16, memberID string, code int16) *kmsg.JoinGroupResponse {
	r := newJoinResponse(version)
	r.ErrorCode = code
	r.MemberID = memberID
	return r
}

// newSyncResponse is an empty SyncGroupResponse at version.
func newSyncResponse(version int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.SetVersion(version)
	return r
}

// syncError is a failed SyncGroupResponse.
func syncError(version int16, code int16) *kmsg.SyncGroupResponse {
	r := newSyncResponse(version)
	r.ErrorCode = code
	return r
}
