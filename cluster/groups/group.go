package groups

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// state is a group's state, named as Kafka names it in DescribeGroups and
// ListGroups.
type state int8

const (
	stateEmpty state = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

// String returns Kafka's name of s.
func (s state) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// Error codes this package answers with.
var (
	errCoordinatorNotAvailable = kerr.CoordinatorNotAvailable.Code
	errRebalanceInProgress     = kerr.RebalanceInProgress.Code
	errUnknownMemberID         = kerr.UnknownMemberID.Code
	errFencedInstanceID        = kerr.FencedInstanceID.Code
	errIllegalGeneration       = kerr.IllegalGeneration.Code
	errInconsistentProtocol    = kerr.InconsistentGroupProtocol.Code
	errInvalidRequest          = kerr.InvalidRequest.Code
)

// protocol is one of a member's supported protocols, copied out of its
// JoinGroup.
type protocol struct {
	name     string
	metadata []byte
}

// member is one group member, or a pending member (KIP-394: handed an id
// by MEMBER_ID_REQUIRED, not joined yet; it holds no protocols).
type member struct {
	id         string
	instanceID *string
	clientID   string
	clientHost string

	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []protocol // the member's preference order
	assignment       []byte

	join *joinWaiter // non-nil while awaiting the join response
	sync *syncWaiter // non-nil while awaiting the sync response

	deadline time.Time   // session end, unless awaiting join or sync
	timer    *time.Timer // fires at deadline
	charge   int64       // bytes charged against MaxHeldBytes
}

// metadataFor returns m's metadata for protocol name.
func (m *member) metadataFor(name string) []byte {
	for _, p := range m.protocols {
		if p.name == name {
			return p.metadata
		}
	}
	return nil
}

// matches reports whether ps is what m joined with, in the same order
// (Java's MemberMetadata.matches).
func (m *member) matches(ps []protocol) bool {
	return slices.EqualFunc(m.protocols, ps, func(a, b protocol) bool {
		return a.name == b.name && bytes.Equal(a.metadata, b.metadata)
	})
}

// stopTimer stops m's session timer.
func (m *member) stopTimer() {
	if m.timer != nil {
		m.timer.Stop()
	}
}

// group is one classic consumer group.
type group struct {
	id  string
	log *slog.Logger

	state        state
	generation   int32
	protocolType string
	protocol     string
	leader       string

	members        map[string]*member
	order          []*member          // members in join order: leader election and votes
	pending        map[string]*member // KIP-394 pending members
	static         map[string]string  // instance id → member id (KIP-345)
	protocolCounts map[string]int     // protocol name → members supporting it
	pendingSync    map[string]bool    // members sent a join response, no SyncGroup yet

	rebalanceTimer *time.Timer
	rebalanceToken uint64
	initial        bool          // the rebalance started from Empty: initial delay
	newMemberAdded bool          // a member joined during the current initial delay
	remaining      time.Duration // what the initial delay may still be extended by

	syncTimer *time.Timer
	syncToken uint64
}

func newGroup(id string, log *slog.Logger) *group {
	return &group{
		id:             id,
		log:            log.With("group_id", id),
		members:        make(map[string]*member),
		pending:        make(map[string]*member),
		static:         make(map[string]string),
		protocolCounts: make(map[string]int),
	}
}

// full reports whether one more member would pass max.
func (g *group) full(max int) bool { return len(g.members)+len(g.pending) >= max }

// add makes m a member. The first member sets the group's protocol type
// and becomes leader.
func (g *group) add(m *member, protocolType string) {
	if len(g.members) == 0 {
		g.protocolType = protocolType
	}
	g.members[m.id] = m
	g.order = append(g.order, m)
	if m.instanceID != nil {
		g.static[*m.instanceID] = m.id
	}
	g.countProtocols(m, 1)
	if g.leader == "" {
		g.leader = m.id
	}
}

// countProtocols adds delta for each protocol m supports.
func (g *group) countProtocols(m *member, delta int) {
	for _, p := range m.protocols {
		if g.protocolCounts[p.name] += delta; g.protocolCounts[p.name] <= 0 {
			delete(g.protocolCounts, p.name)
		}
	}
}

// supports reports whether a member joining with protocolType and ps may
// be in g: the type must be the group's and one of ps must be supported by
// every other member (Java's supportsProtocols). self, if not nil, is the
// joining member's current entry, which does not count.
func (g *group) supports(protocolType string, ps []protocol, self *member) bool {
	if protocolType == "" || len(ps) == 0 {
		return false
	}
	others := len(g.members)
	if self != nil {
		others--
	}
	if len(g.members) > 0 && protocolType != g.protocolType {
		return false
	}
	if others == 0 {
		return true
	}
	for _, p := range ps {
		n := g.protocolCounts[p.name]
		if self != nil && hasName(self.protocols, p.name) {
			n--
		}
		if n == others {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol of the next generation like Kafka:
// each member votes for its first protocol that every member supports;
// most votes wins, and a tie goes to the earlier one in the first member's
// preference order.
func (g *group) selectProtocol() string {
	n := len(g.members)
	votes := make(map[string]int)
	for _, m := range g.order {
		for _, p := range m.protocols {
			if g.protocolCounts[p.name] == n {
				votes[p.name]++
				break
			}
		}
	}
	best, bestVotes := "", 0
	for _, p := range g.order[0].protocols {
		if v := votes[p.name]; v > bestVotes {
			best, bestVotes = p.name, v
		}
	}
	return best
}

// staticMember returns the member registered under instance id, or nil.
func (g *group) staticMember(instanceID string) *member {
	if id, ok := g.static[instanceID]; ok {
		return g.members[id]
	}
	return nil
}

// checkMember validates a request's member (and, when given, its
// instance id) like Java's ClassicGroup.validateMember.
func (g *group) checkMember(memberID string, instanceID *string) int16 {
	if instanceID != nil {
		known, ok := g.static[*instanceID]
		if !ok {
			return errUnknownMemberID
		}
		if known != memberID {
			return errFencedInstanceID
		}
	}
	if g.members[memberID] == nil {
		return errUnknownMemberID
	}
	return 0
}

// allJoined reports whether every member awaits its join response and no
// pending member is still expected (Java's hasAllMembersJoined).
func (g *group) allJoined() bool {
	if len(g.pending) > 0 {
		return false
	}
	for _, m := range g.order {
		if m.join == nil {
			return false
		}
	}
	return true
}

// rebalanceTimeout is the longest rebalance timeout of g's members.
func (g *group) rebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.order {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

func (g *group) stopRebalanceTimer() {
	if g.rebalanceTimer != nil {
		g.rebalanceTimer.Stop()
		g.rebalanceTimer = nil
	}
	g.rebalanceToken++
}

func (g *group) stopSyncTimer() {
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	g.syncToken++
}

// clearPendingSync forgets which members still owe a SyncGroup.
func (g *group) clearPendingSync() {
	g.pendingSync = nil
	g.stopSyncTimer()
}

// joinResponse is m's successful join response at version; the leader
// (withMembers) also gets every member's metadata for the chosen protocol.
func (g *group) joinResponse(m *member, version int16, withMembers bool) *kmsg.JoinGroupResponse {
	r := newJoinResponse(version)
	r.Generation = g.generation
	r.ProtocolType = kmsg.StringPtr(g.protocolType)
	r.Protocol = kmsg.StringPtr(g.protocol)
	r.LeaderID = g.leader
	r.MemberID = m.id
	if withMembers {
		r.Members = make([]kmsg.JoinGroupResponseMember, 0, len(g.order))
		for _, o := range g.order {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID = o.id
			jm.InstanceID = o.instanceID
			jm.ProtocolMetadata = o.metadataFor(g.protocol)
			r.Members = append(r.Members, jm)
		}
	}
	return r
}

// syncResponse is m's successful sync response at version.
func (g *group) syncResponse(m *member, version int16) *kmsg.SyncGroupResponse {
	r := newSyncResponse(version)
	r.ProtocolType = kmsg.StringPtr(g.protocolType)
	r.Protocol = kmsg.StringPtr(g.protocol)
	r.MemberAssignment = m.assignment
	return r
}

// emptyConsumerAssignment is an encoded ConsumerMemberAssignment with no
// partitions. A "consumer" group member the leader left out gets it rather
// than zero bytes, which some clients fail to decode (kfake does the same).
var emptyConsumerAssignment = new(kmsg.ConsumerMemberAssignment).AppendTo(nil)

// emptyAssignment is the assignment of a member the leader left out.
func (g *group) emptyAssignment() []byte {
	if g.protocolType == "consumer" {
		return emptyConsumerAssignment
	}
	return []byte{}
}

// nextGeneration follows gen, skipping past the int32 wrap to 1.
func nextGeneration(gen int32) int32 {
	if gen == 1<<31-1 {
		return 1
	}
	return gen + 1
}

// newMemberID is prefix-<uuid v4>, as Kafka makes member ids from the
// client id (dynamic members) or the instance id (static members).
func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return prefix + "-" + string(s[:])
}
