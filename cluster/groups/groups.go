package groups

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"
)

// Defaults of Config.
const (
	DefaultInitialRebalanceDelay  = 3 * time.Second
	DefaultMinSessionTimeout      = 6 * time.Second
	DefaultMaxSessionTimeout      = 30 * time.Minute
	DefaultMaxGroupSize           = 1000
	DefaultMaxGroups              = 100_000
	DefaultMaxMemberMetadataBytes = 1 << 20
	DefaultMaxHeldBytes           = 256 << 20
)

// Fixed bounds on what a request may make the coordinator keep.
const (
	// maxIDBytes bounds a group id, an instance id and a protocol type.
	maxIDBytes = 1024
	// maxClientBytes is where a client id or host is cut before it is kept
	// (and before a client id prefixes a generated member id).
	maxClientBytes = 255
	// maxProtocols bounds the protocols of one JoinGroup; real clients send
	// one to three.
	maxProtocols = 64
	// memberOverheadBytes is what one member costs besides its strings and
	// byte slices, charged against MaxHeldBytes.
	memberOverheadBytes = 512
)

// Config configures a Coordinator. Zero values mean the defaults; no zero
// value means "unlimited".
type Config struct {
	// InitialRebalanceDelay is how long the first rebalance of an empty
	// group waits for more members to join (Kafka's
	// group.initial.rebalance.delay.ms). Default 3s; negative means none.
	InitialRebalanceDelay time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound a member's session
	// timeout (group.min/max.session.timeout.ms). Defaults 6s and 30m.
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// MaxGroupSize bounds the members of one group (group.max.size).
	// Default 1000.
	MaxGroupSize int
	// MaxGroups bounds the groups held in memory; past it an Empty group
	// is forgotten, or a new group refused with COORDINATOR_NOT_AVAILABLE.
	// Default 100,000.
	MaxGroups int
	// MaxMemberMetadataBytes bounds one member's protocol names and
	// metadata in a JoinGroup, and one member's assignment in a SyncGroup
	// (INVALID_REQUEST past it). Default 1 MiB.
	MaxMemberMetadataBytes int
	// MaxHeldBytes bounds the memory held for the members of all groups
	// (COORDINATOR_NOT_AVAILABLE past it). Default 256 MiB.
	MaxHeldBytes int64
	// Now is the clock deadlines are read from; default time.Now.
	Now func() time.Time
	// Logger receives rebalances and member removals at Info; nil
	// discards.
	Logger *slog.Logger
}

// Validate reports every field that is out of range (errors.Join). New
// does not fail: it replaces a bad value by its default, so callers that
// take configuration from users call Validate first.
func (c Config) Validate() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf("groups: "+format, args...))
		}
	}
	check(c.MinSessionTimeout < 0, "MinSessionTimeout %v is negative", c.MinSessionTimeout)
	check(c.MaxSessionTimeout < 0, "MaxSessionTimeout %v is negative", c.MaxSessionTimeout)
	d := c.withDefaults()
	check(d.MinSessionTimeout > d.MaxSessionTimeout, "MinSessionTimeout %v is above MaxSessionTimeout %v",
		d.MinSessionTimeout, d.MaxSessionTimeout)
	check(c.MaxGroupSize < 0, "MaxGroupSize %d is negative", c.MaxGroupSize)
	check(c.MaxGroups < 0, "MaxGroups %d is negative", c.MaxGroups)
	check(c.MaxMemberMetadataBytes < 0, "MaxMemberMetadataBytes %d is negative", c.MaxMemberMetadataBytes)
	check(c.MaxHeldBytes < 0, "MaxHeldBytes %d is negative", c.MaxHeldBytes)
	return errors.Join(errs...)
}

// withDefaults fills zero (and out-of-range) fields with their defaults.
func (c Config) withDefaults() Config {
	if c.InitialRebalanceDelay == 0 {
		c.InitialRebalanceDelay = DefaultInitialRebalanceDelay
	}
	c.InitialRebalanceDelay = max(c.InitialRebalanceDelay, 0)
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = DefaultMinSessionTimeout
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = DefaultMaxSessionTimeout
	}
	if c.MaxGroupSize <= 0 {
		c.MaxGroupSize = DefaultMaxGroupSize
	}
	if c.MaxGroups <= 0 {
		c.MaxGroups = DefaultMaxGroups
	}
	if c.MaxMemberMetadataBytes <= 0 {
		c.MaxMemberMetadataBytes = DefaultMaxMemberMetadataBytes
	}
	if c.MaxHeldBytes <= 0 {
		c.MaxHeldBytes = DefaultMaxHeldBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Coordinator holds every group this node coordinates. Its methods are
// safe for concurrent use; see the package documentation for the locking.
type Coordinator struct {
	cfg  Config
	log  *slog.Logger
	done chan struct{} // closed by Close

	mu     sync.Mutex
	closed bool
	groups map[string]*group
	empty  map[string]*group // groups that may be forgotten at MaxGroups
	held   int64             // bytes charged for members, ≤ cfg.MaxHeldBytes
	counts counters
}

// counters are the monotonic counts Stats reports.
type counters struct {
	rebalances, expired                                  uint64
	groupFull, tooManyGroups, tooLarge, heldBytesExhaust uint64
}

// Stats is a snapshot of a coordinator's sizes and counters, for metrics.
type Stats struct {
	Groups         int   // groups in memory
	Members        int   // members of all groups
	PendingMembers int   // members handed an id by MEMBER_ID_REQUIRED, not joined yet
	HeldBytes      int64 // bytes charged against MaxHeldBytes
	// Rebalances counts rebalances started; ExpiredSessions the members
	// removed because their session, rebalance or sync timeout passed.
	Rebalances      uint64
	ExpiredSessions uint64
	// Rejections by limit: GROUP_MAX_SIZE_REACHED, a group refused at
	// MaxGroups, INVALID_REQUEST for sizes, and MaxHeldBytes exhausted.
	RejectedGroupFull     uint64
	RejectedTooManyGroups uint64
	RejectedTooLarge      uint64
	RejectedHeldBytes     uint64
}

// New starts a coordinator. It starts no goroutine: timers run on demand.
func New(cfg Config) *Coordinator {
	if err := cfg.Validate(); err != nil {
		cfg.Logger.Warn("groups: configuration out of range, defaults used", "err", err)
	}
	cfg = cfg.withDefaults()
	return &Coordinator{
		cfg:    cfg,
		log:    cfg.Logger,
		done:   make(chan struct{}),
		groups: make(map[string]*group),
		empty:  make(map[string]*group),
	}
}

// Close stops the coordinator's timers and wakes every blocked call with
// COORDINATOR_NOT_AVAILABLE; every later call gets that code too.
func (c *Coordinator) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	close(c.done)
	for _, g := range c.groups {
		c.kill(g, errCoordinatorNotAvailable)
	}
	c.groups = make(map[string]*group)
	c.empty = make(map[string]*group)
	c.log.Info("groups: coordinator closed")
}

// Stats returns the coordinator's sizes and counters.
func (c *Coordinator) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{
		Groups:                len(c.groups),
		HeldBytes:             c.held,
		Rebalances:            c.counts.rebalances,
		ExpiredSessions:       c.counts.expired,
		RejectedGroupFull:     c.counts.groupFull,
		RejectedTooManyGroups: c.counts.tooManyGroups,
		RejectedTooLarge:      c.counts.tooLarge,
		RejectedHeldBytes:     c.counts.heldBytesExhaust,
	}
	for _, g := range c.groups {
		s.Members += len(g.members)
		s.PendingMembers += len(g.pending)
	}
	return s
}

// live reports whether g is still the coordinator's group of its name:
// timers and late callers use it to ignore a group that was dropped.
func (c *Coordinator) live(g *group) bool {
	return !c.closed && c.groups[g.id] == g
}

// createGroup adds an Empty group named id, forgetting an Empty group if
// the coordinator is at MaxGroups. It returns nil when there is no room.
func (c *Coordinator) createGroup(id string) *group {
	if len(c.groups) >= c.cfg.MaxGroups && !c.evictOne() {
		c.counts.tooManyGroups++
		return nil
	}
	g := newGroup(id, c.log)
	c.groups[g.id] = g
	return g
}

// evictOne forgets one Empty group, any one, and reports whether it found
// one. An Empty group holds no member, so only its generation and protocol
// type are lost.
func (c *Coordinator) evictOne() bool {
	for _, g := range c.empty {
		g.log.Debug("groups: empty group forgotten at MaxGroups")
		c.drop(g)
		return true
	}
	return false
}

// drop removes g from the coordinator and marks it Dead.
func (c *Coordinator) drop(g *group) {
	c.kill(g, errCoordinatorNotAvailable)
	delete(c.groups, g.id)
	delete(c.empty, g.id)
}

// kill stops g's timers, answers its blocked calls with code and releases
// what its members held.
func (c *Coordinator) kill(g *group, code int16) {
	g.stopRebalanceTimer()
	g.stopSyncTimer()
	for _, m := range g.pending {
		m.stopTimer()
		c.uncharge(m)
	}
	for _, m := range g.order {
		c.failWaiters(m, code)
		m.stopTimer()
		c.uncharge(m)
	}
	g.state = stateDead
}

// settle files g after an operation: an Empty group without members may
// be forgotten at MaxGroups, and one that never had a member (a first join
// that failed, or a pending member that never came back) is dropped now.
func (c *Coordinator) settle(g *group) {
	if !c.live(g) {
		return
	}
	if g.state != stateEmpty || len(g.members) > 0 || len(g.pending) > 0 {
		delete(c.empty, g.id)
		return
	}
	if g.generation == 0 && g.protocolType == "" {
		c.drop(g)
		return
	}
	c.empty[g.id] = g
}

// sortedGroups returns the coordinator's groups ordered by id, so that
// ListGroups answers the same way twice.
func (c *Coordinator) sortedGroups() []*group {
	gs := make([]*group, 0, len(c.groups))
	for _, g := range c.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].id < gs[j].id })
	return gs
}

// cost is what m holds, charged against MaxHeldBytes.
func cost(m *member) int64 {
	n := memberOverheadBytes + len(m.id) + len(m.clientID) + len(m.clientHost) + len(m.assignment)
	if m.instanceID != nil {
		n += len(*m.instanceID)
	}
	for _, p := range m.protocols {
		n += len(p.name) + len(p.metadata)
	}
	return int64(n)
}

// fits reports whether delta more bytes fit under MaxHeldBytes, counting
// a rejection when they do not.
func (c *Coordinator) fits(delta int64) bool {
	if delta <= 0 || c.held+delta <= c.cfg.MaxHeldBytes {
		return true
	}
	c.counts.heldBytesExhaust++
	return false
}

// recharge brings m's charge up to date with what it holds now.
func (c *Coordinator) recharge(m *member) {
	n := cost(m)
	c.held += n - m.charge
	m.charge = n
}

// uncharge releases m's charge.
func (c *Coordinator) uncharge(m *member) {
	c.held -= m.charge
	m.charge = 0
}

// now is the coordinator's clock.
func (c *Coordinator) now() time.Time { return c.cfg.Now() }
