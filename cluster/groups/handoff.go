package groups

import "github.com/twmb/franz-go/pkg/kerr"

// Handing groups over: in a cluster each group has one coordinator node
// (the caller picks it; see the package documentation). When the live
// node set changes and a group's coordinator moves, the node that no
// longer coordinates it forgets the group's state, and the members rejoin
// at the new coordinator. Their committed offsets are not held here, so
// nothing durable is lost.

// errNotCoordinator answers the blocked calls of a group handed over: the
// client looks the coordinator up again (FindCoordinator) and rejoins
// there.
var errNotCoordinator = kerr.NotCoordinator.Code

// Relinquish forgets every group for which keep returns false: their
// blocked JoinGroup and SyncGroup calls are answered NOT_COORDINATOR and
// their members' timers stop. It returns how many groups it forgot. keep
// is called with the coordinator's mutex held: it must not call back into
// the coordinator, and should be quick.
func (c *Coordinator) Relinquish(keep func(groupID string) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0
	}
	n := 0
	for id, g := range c.groups {
		if keep(id) {
			continue
		}
		c.handOver(g)
		n++
	}
	return n
}

// Forget forgets one group as Relinquish does, and reports whether the
// coordinator held it.
func (c *Coordinator) Forget(groupID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[groupID]
	if c.closed || g == nil {
		return false
	}
	c.handOver(g)
	return true
}

// handOver drops g, answering its blocked calls NOT_COORDINATOR.
func (c *Coordinator) handOver(g *group) {
	g.log.Info("groups: group handed over to another coordinator", "members", len(g.members))
	c.kill(g, errNotCoordinator)
	delete(c.groups, g.id)
	delete(c.empty, g.id)
}
