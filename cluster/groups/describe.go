package groups

// DescribeGroups: v0-6
//
// Version notes:
//   - v3: AuthorizedOperations; left at -2147483648 ("not provided"), as
//     there are no ACLs on groups yet
//   - v4: member InstanceID
//   - v6: an unknown group is GROUP_ID_NOT_FOUND (KIP-1043); below, it is
//     state "Dead" with no error, as Kafka answers
//
// ListGroups: v0-5 (v4 StatesFilter and GroupState, v5 TypesFilter and
// GroupType; every group here is "classic")

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupType is the KIP-848 type of every group this coordinator holds.
const groupType = "classic"

// Describe answers DescribeGroups for the named groups. Protocol, member
// metadata and assignments are given only for a Stable group, as Kafka
// does; ClientID and ClientHost are what JoinWithClient was given.
func (c *Coordinator) Describe(req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	v := req.GetVersion()
	r := kmsg.NewPtrDescribeGroupsResponse()
	r.SetVersion(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	r.Groups = make([]kmsg.DescribeGroupsResponseGroup, 0, len(req.Groups))
	for _, id := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = strings.Clone(id)
		g := c.groups[id]
		switch {
		case c.closed:
			dg.ErrorCode = errCoordinatorNotAvailable
		case g == nil:
			dg.State = stateDead.String()
			if v >= 6 {
				dg.ErrorCode = kerr.GroupIDNotFound.Code
				dg.ErrorMessage = kmsg.StringPtr("Group " + dg.Group + " not found.")
			}
		default:
			g.describe(&dg)
		}
		r.Groups = append(r.Groups, dg)
	}
	return r
}

// describe fills dg with g's summary (Java's ClassicGroup.describe).
func (g *group) describe(dg *kmsg.DescribeGroupsResponseGroup) {
	stable := g.state == stateStable
	dg.State = g.state.String()
	dg.ProtocolType = g.protocolType
	if stable {
		dg.Protocol = g.protocol
	}
	dg.Members = make([]kmsg.DescribeGroupsResponseGroupMember, 0, len(g.order))
	for _, m := range g.order {
		dm := kmsg.NewDescribeGroupsResponseGroupMember()
		dm.MemberID = m.id
		dm.InstanceID = m.instanceID
		dm.ClientID = m.clientID
		dm.ClientHost = m.clientHost
		if stable {
			dm.ProtocolMetadata = m.metadataFor(g.protocol)
			dm.MemberAssignment = m.assignment
		}
		dg.Members = append(dg.Members, dm)
	}
}

// List answers ListGroups (states filter of v4+ and types filter of v5+
// honoured, case-insensitively as Kafka 3.7+ does), groups ordered by id.
func (c *Coordinator) List(req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	v := req.GetVersion()
	r := kmsg.NewPtrListGroupsResponse()
	r.SetVersion(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		r.ErrorCode = errCoordinatorNotAvailable
		return r
	}
	var states, types []string
	if v >= 4 {
		states = req.StatesFilter
	}
	if v >= 5 {
		types = req.TypesFilter
	}
	if len(types) > 0 && !containsFold(types, groupType) {
		return r
	}
	for _, g := range c.sortedGroups() {
		if len(states) > 0 && !containsFold(states, g.state.String()) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group = g.id
		lg.ProtocolType = g.protocolType
		lg.GroupState = g.state.String()
		lg.GroupType = groupType
		r.Groups = append(r.Groups, lg)
	}
	return r
}

// containsFold reports whether list holds s, ignoring case and spaces
// around the entries.
func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(strings.TrimSpace(e), s) {
			return true
		}
	}
	return false
}
