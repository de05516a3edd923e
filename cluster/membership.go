package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tributary/cluster/peer"
	"tributary/raftstore"
)

// MembershipConfig configures a node's part in the cluster's membership:
// joining, the leader's probes of the other nodes, promotion of caught-up
// non-voters, marking lost nodes down, and the admin requests. The zero
// value of every tuning field means "use the default".
type MembershipConfig struct {
	// RaftAddr is the address other nodes reach this node's cluster port
	// at (its advertised raft address). Required.
	RaftAddr string
	// KafkaAddr is the advertised Kafka address put in the node registry,
	// "" when the node has no Kafka listener.
	KafkaAddr string
	// Peers calls other nodes. Required.
	Peers *peer.Client
	// PeerAddr turns a member's raft address into the address its peer
	// protocol answers at. Nil: the same address (wire demultiplexes the
	// cluster port). Tests that run the peer protocol on a port of its
	// own set it.
	PeerAddr func(nodeID, raftAddr string) string
	// DownAfter is the grace period: a registered node the leader has not
	// heard from for that long is marked down, which ends its sessions
	// (their wills fire). Default 5s.
	DownAfter time.Duration
	// ProbeInterval is how often the leader asks every member for its
	// status (applied index, readiness). Default 500ms.
	ProbeInterval time.Duration
	// PromoteLag is how far behind the leader's log (in entries) a
	// non-voter may be and still be promoted to voter. Default 1024.
	PromoteLag uint64
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Registerer receives the membership metrics; nil registers none.
	Registerer prometheus.Registerer
}

func (c MembershipConfig) withDefaults() MembershipConfig {
	setDefaultDuration(&c.DownAfter, 5*time.Second)
	setDefaultDuration(&c.ProbeInterval, 500*time.Millisecond)
	if c.PromoteLag == 0 {
		c.PromoteLag = 1024
	}
	if c.PeerAddr == nil {
		c.PeerAddr = func(_, raftAddr string) string { return raftAddr }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func setDefaultDuration(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// Validate reports every problem of c at once.
func (c MembershipConfig) Validate() error {
	var errs []error
	if c.RaftAddr == "" {
		errs = append(errs, errors.New("cluster: MembershipConfig.RaftAddr is empty"))
	}
	if c.Peers == nil {
		errs = append(errs, errors.New("cluster: MembershipConfig.Peers is nil"))
	}
	if c.DownAfter < 0 || c.ProbeInterval < 0 {
		errs = append(errs, errors.New("cluster: MembershipConfig durations must not be negative"))
	}
	return errors.Join(errs...)
}

// MemberStatus is one member of the cluster as the leader sees it.
type MemberStatus struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	// Role is "leader", "voter" or "nonvoter".
	Role string `json:"role"`
	// Live is the node registry's view: false once the node was marked
	// down (or before it registered).
	Live      bool   `json:"live"`
	BrokerID  int32  `json:"broker_id,omitempty"`
	KafkaAddr string `json:"kafka_addr,omitempty"`
	// AppliedIndex is the last raft entry in the member's state, as its
	// latest answered probe said; Lag is how many entries of the
	// leader's log it lacks then.
	AppliedIndex uint64 `json:"applied_index"`
	Lag          uint64 `json:"lag"`
	// LastContactMillis is how long ago the member last answered a probe
	// (0 for the leader itself, -1 if it never did).
	LastContactMillis int64 `json:"last_contact_ms"`
	Ready             bool  `json:"ready"`
}

// Membership runs a node's part in the cluster membership (see
// MembershipConfig). Every node registers itself in the node registry
// once its store is ready (and again if it finds itself marked down); the
// raft leader probes the others, promotes caught-up non-voters and marks
// silent nodes down after the grace period.
type Membership struct {
	node    *Node
	cfg     MembershipConfig
	log     *slog.Logger
	metrics membershipMetrics

	mu          sync.Mutex
	probes      map[string]*probeState // by node id; leader only
	leaderSince time.Time              // zero while not leader
	downing     map[string]bool        // MarkNodeDown in flight
	promoting   bool
	registering bool

	stop chan struct{}
	done sync.WaitGroup
}

// probeState is what the leader last learnt of one member.
type probeState struct {
	lastSeen time.Time // zero: never answered
	status   statusReply
	inflight bool
}

// statusReply is the answer to peer.KindStatus.
type statusReply struct {
	ID           string `json:"id"`
	AppliedIndex uint64 `json:"applied_index"`
	LastIndex    uint64 `json:"last_index"`
	Ready        bool   `json:"ready"`
	LeaderID     string `json:"leader_id"`
}

// joinRequest is the body of peer.KindJoin.
type joinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
}

// memberRequest is the body of peer.KindRemove and peer.KindTransfer (an
// empty ID transfers to the most up-to-date voter).
type memberRequest struct {
	ID string `json:"id"`
}

// maxMembershipBody bounds a membership request's JSON body.
const maxMembershipBody = 64 << 10

// NewMembership starts the membership loop of node n.
func NewMembership(n *Node, cfg MembershipConfig) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := &Membership{
		node:    n,
		cfg:     cfg,
		log:     cfg.Logger,
		probes:  make(map[string]*probeState),
		downing: make(map[string]bool),
		stop:    make(chan struct{}),
	}
	if err := m.registerMetrics(cfg.Registerer); err != nil {
		return nil, err
	}
	m.done.Add(1)
	go m.loop()
	return m, nil
}

// Close stops the loop. In-flight proposals finish on their own.
func (m *Membership) Close() {
	select {
	case <-m.stop:
		return
	default:
	}
	close(m.stop)
	m.done.Wait()
}

// ServeRPC registers the membership handlers (status, join, members,
// remove, transfer) on s.
func (m *Membership) ServeRPC(s *peer.Server) {
	s.Handle(peer.KindStatus, m.handleStatus)
	s.Handle(peer.KindJoin, m.handleJoin)
	s.Handle(peer.KindMembers, m.handleMembers)
	s.Handle(peer.KindRemove, m.handleRemove)
	s.Handle(peer.KindTransfer, m.handleTransfer)
}

func (m *Membership) loop() {
	defer m.done.Done()
	t := time.NewTicker(m.cfg.ProbeInterval)
	defer t.Stop()
	for {
		m.tick()
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
	}
}

// tick runs one round: register this node if needed; on the leader, probe
// the members, promote and mark down.
func (m *Membership) tick() {
	store := m.node.store
	if store.Err() != nil {
		return
	}
	if store.Ready() == nil {
		m.registerSelf()
	}
	if !store.IsLeader() {
		m.mu.Lock()
		m.leaderSince = time.Time{}
		m.probes = make(map[string]*probeState)
		m.mu.Unlock()
		return
	}
	now := m.cfg.Now()
	m.mu.Lock()
	if m.leaderSince.IsZero() {
		// A new leader gives every node a full grace period from now: it
		// has heard from nobody yet.
		m.leaderSince = now
	}
	m.mu.Unlock()
	members, err := store.Members()
	if err != nil {
		m.log.Warn("membership: read configuration", "err", err)
		return
	}
	for _, mb := range members {
		if mb.ID != m.node.cfg.NodeID {
			m.probe(mb)
		}
	}
	m.promote(members, now)
	m.markSilentDown(members, now)
}

// registerSelf proposes this node's registration when the registry lacks
// it, says it is down, or holds other addresses.
func (m *Membership) registerSelf() {
	id := m.node.cfg.NodeID
	for _, ni := range m.node.store.Nodes() {
		if ni.ID == id && ni.Live && ni.RaftAddr == m.cfg.RaftAddr && ni.KafkaAddr == m.cfg.KafkaAddr {
			return
		}
	}
	m.mu.Lock()
	if m.registering {
		m.mu.Unlock()
		return
	}
	m.registering = true
	m.mu.Unlock()
	go func() {
		defer func() {
			m.mu.Lock()
			m.registering = false
			m.mu.Unlock()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		info, err := m.node.store.RegisterNode(ctx, raftstore.NodeRegistration{
			ID: id, RaftAddr: m.cfg.RaftAddr, KafkaAddr: m.cfg.KafkaAddr, NowMillis: m.cfg.Now().UnixMilli(),
		})
		if err != nil {
			m.log.Warn("membership: register this node", "err", err)
			return
		}
		m.log.Info("node registered", "broker_id", info.BrokerID, "raft_addr", info.RaftAddr, "kafka_addr", info.KafkaAddr)
	}()
}

// probe asks one member for its status, unless a probe is in flight.
func (m *Membership) probe(mb raftstore.Member) {
	m.mu.Lock()
	p := m.probes[mb.ID]
	if p == nil {
		p = &probeState{}
		m.probes[mb.ID] = p
	}
	if p.inflight {
		m.mu.Unlock()
		return
	}
	p.inflight = true
	m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 4*m.cfg.ProbeInterval)
	m.cfg.Peers.Call(ctx, m.cfg.PeerAddr(mb.ID, mb.Address), peer.KindStatus, nil, func(resp []byte, err error) {
		cancel()
		var st statusReply
		if err == nil {
			err = json.Unmarshal(resp, &st)
		}
		if err == nil && st.ID != mb.ID {
			err = fmt.Errorf("answered as node %q", st.ID)
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		p.inflight = false
		if err != nil {
			m.metrics.probes.WithLabelValues(probeFailed).Inc()
			m.log.Debug("membership: probe failed", "member", mb.ID, "err", err)
			return
		}
		m.metrics.probes.WithLabelValues(probeOK).Inc()
		p.lastSeen = m.cfg.Now()
		p.status = st
	})
}

// promote makes caught-up, answering non-voters voters, one at a time.
func (m *Membership) promote(members []raftstore.Member, now time.Time) {
	last := m.node.store.LastIndex()
	for _, mb := range members {
		if mb.Voter {
			continue
		}
		m.mu.Lock()
		p := m.probes[mb.ID]
		ok := !m.promoting && p != nil && !p.lastSeen.IsZero() && now.Sub(p.lastSeen) < m.cfg.DownAfter &&
			p.status.Ready && last <= p.status.AppliedIndex+m.cfg.PromoteLag
		if ok {
			m.promoting = true
		}
		m.mu.Unlock()
		if !ok {
			continue
		}
		go func(mb raftstore.Member) {
			defer func() {
				m.mu.Lock()
				m.promoting = false
				m.mu.Unlock()
			}()
			if err := m.node.store.AddVoter(mb.ID, mb.Address); err != nil {
				m.log.Warn("membership: promote to voter", "member", mb.ID, "err", err)
				return
			}
			m.log.Info("member promoted to voter", "member", mb.ID)
		}(mb)
		return
	}
}

// markSilentDown marks down the live registered nodes the leader has not
// heard from for DownAfter (counting from when it became leader), and
// forgets live nodes that left the raft configuration.
func (m *Membership) markSilentDown(members []raftstore.Member, now time.Time) {
	inConfig := make(map[string]bool, len(members))
	for _, mb := range members {
		inConfig[mb.ID] = true
	}
	self := m.node.cfg.NodeID
	for _, ni := range m.node.store.Nodes() {
		if !ni.Live || ni.ID == self {
			continue
		}
		m.mu.Lock()
		seen := m.leaderSince
		if p := m.probes[ni.ID]; p != nil && p.lastSeen.After(seen) {
			seen = p.lastSeen
		}
		due := !m.downing[ni.ID] && (!inConfig[ni.ID] || now.Sub(seen) > m.cfg.DownAfter)
		if due {
			m.downing[ni.ID] = true
		}
		m.mu.Unlock()
		if !due {
			continue
		}
		go func(id string, forget bool) {
			defer func() {
				m.mu.Lock()
				delete(m.downing, id)
				m.mu.Unlock()
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var err error
			if forget {
				err = m.node.store.ForgetNode(ctx, id, m.cfg.Now().UnixMilli())
			} else {
				err = m.node.store.MarkNodeDown(ctx, id, m.cfg.Now().UnixMilli())
			}
			if err != nil {
				m.log.Warn("membership: mark node down", "member", id, "forget", forget, "err", err)
				return
			}
			if !forget {
				m.metrics.markedDown.Inc()
			}
			m.log.Warn("node marked down: its sessions ended", "member", id, "silent_for", now.Sub(seen).Round(time.Millisecond), "left_configuration", forget)
		}(ni.ID, !inConfig[ni.ID])
	}
}

func (m *Membership) status() statusReply {
	store := m.node.store
	_, leader := store.Leader()
	return statusReply{
		ID:           m.node.cfg.NodeID,
		AppliedIndex: store.AppliedIndex(),
		LastIndex:    store.LastIndex(),
		Ready:        store.Ready() == nil,
		LeaderID:     leader,
	}
}

func (m *Membership) handleStatus(_ context.Context, _ []byte, reply func([]byte, error)) {
	reply(json.Marshal(m.status()))
}

// Join asks the cluster, through any of the given members' peer addresses
// (their cluster ports), to add this node as a non-voter; the leader
// promotes it once it has caught up. It tries the addresses in turn until
// one accepts or ctx ends. A node already in the configuration returns at
// once.
func (m *Membership) Join(ctx context.Context, addrs []string) error {
	if len(addrs) == 0 {
		return errors.New("cluster: join: no address given")
	}
	if members, err := m.node.store.Members(); err == nil {
		for _, mb := range members {
			if mb.ID == m.node.cfg.NodeID {
				return nil // restarted with its data: raft knows it already
			}
		}
	}
	body, err := json.Marshal(joinRequest{ID: m.node.cfg.NodeID, RaftAddr: m.cfg.RaftAddr})
	if err != nil {
		return fmt.Errorf("cluster: join: %w", err)
	}
	var lastErr error
	for {
		for _, addr := range addrs {
			cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			_, err := m.cfg.Peers.CallSync(cctx, addr, peer.KindJoin, body)
			cancel()
			if err == nil {
				m.log.Info("joined the cluster as a non-voter", "via", addr)
				return nil
			}
			lastErr = fmt.Errorf("via %s: %w", addr, err)
			m.log.Warn("join attempt failed", "via", addr, "err", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: join: %w (last: %w)", ctx.Err(), lastErr)
		case <-time.After(time.Second):
		}
	}
}

func (m *Membership) handleJoin(ctx context.Context, body []byte, reply func([]byte, error)) {
	var req joinRequest
	if err := decodeMembershipBody(body, &req); err != nil {
		reply(nil, err)
		return
	}
	if req.ID == "" || req.RaftAddr == "" {
		reply(nil, errors.New("join: id and raft_addr are required"))
		return
	}
	m.onLeader(ctx, peer.KindJoin, body, reply, func() error {
		members, err := m.node.store.Members()
		if err != nil {
			return err
		}
		for _, mb := range members {
			if mb.ID == req.ID && mb.Address == req.RaftAddr {
				return nil // a retried join
			}
		}
		if err := m.node.store.AddNonvoter(req.ID, req.RaftAddr); err != nil {
			return err
		}
		m.log.Info("node added as a non-voter", "member", req.ID, "raft_addr", req.RaftAddr)
		return nil
	})
}

// onLeader runs fn here when this node leads, or passes the request on to
// the leader (one hop) otherwise, and replies with the outcome.
func (m *Membership) onLeader(ctx context.Context, kind peer.Kind, body []byte, reply func([]byte, error), fn func() error) {
	if m.node.store.IsLeader() {
		if err := fn(); err != nil {
			reply(nil, err)
			return
		}
		reply(nil, nil)
		return
	}
	m.forwardToLeader(ctx, kind, body, reply)
}

// forwardToLeader passes a request on to the leader and relays its answer.
func (m *Membership) forwardToLeader(ctx context.Context, kind peer.Kind, body []byte, reply func([]byte, error)) {
	addr, id := m.node.store.Leader()
	if id == "" {
		reply(nil, errors.New("no raft leader at the moment; try again"))
		return
	}
	if id == m.node.cfg.NodeID {
		reply(nil, errors.New("leadership is changing; try again"))
		return
	}
	body = append([]byte(nil), body...) // the frame is reused once we return
	m.cfg.Peers.Call(ctx, m.cfg.PeerAddr(id, addr), kind, body, reply)
}

// Members returns every member of the raft configuration with its role,
// registry entry and replication progress, as the leader sees them.
func (m *Membership) Members(ctx context.Context) ([]MemberStatus, error) {
	if m.node.store.IsLeader() {
		return m.members()
	}
	addr, id := m.node.store.Leader()
	if id == "" {
		return nil, errors.New("cluster: members: no raft leader at the moment")
	}
	resp, err := m.cfg.Peers.CallSync(ctx, m.cfg.PeerAddr(id, addr), peer.KindMembers, nil)
	if err != nil {
		return nil, fmt.Errorf("cluster: members from the leader %s: %w", id, err)
	}
	var out []MemberStatus
	if err := json.Unmarshal(resp, &out); err != nil {
		return nil, fmt.Errorf("cluster: members from the leader %s: %w", id, err)
	}
	return out, nil
}

// members builds the member list on the leader.
func (m *Membership) members() ([]MemberStatus, error) {
	store := m.node.store
	cfgMembers, err := store.Members()
	if err != nil {
		return nil, err
	}
	registry := make(map[string]raftstore.NodeInfo)
	for _, ni := range store.Nodes() {
		registry[ni.ID] = ni
	}
	_, leaderID := store.Leader()
	last := store.LastIndex()
	now := m.cfg.Now()
	out := make([]MemberStatus, 0, len(cfgMembers))
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, mb := range cfgMembers {
		ms := MemberStatus{ID: mb.ID, RaftAddr: mb.Address, Role: "nonvoter", LastContactMillis: -1}
		if mb.Voter {
			ms.Role = "voter"
		}
		if ni, ok := registry[mb.ID]; ok {
			ms.Live, ms.BrokerID, ms.KafkaAddr = ni.Live, ni.BrokerID, ni.KafkaAddr
		}
		switch {
		case mb.ID == leaderID && mb.ID == m.node.cfg.NodeID:
			ms.Role = "leader"
			ms.AppliedIndex = store.AppliedIndex()
			ms.LastContactMillis = 0
			ms.Ready = store.Ready() == nil
		case m.probes[mb.ID] != nil && !m.probes[mb.ID].lastSeen.IsZero():
			p := m.probes[mb.ID]
			ms.AppliedIndex = p.status.AppliedIndex
			ms.LastContactMillis = now.Sub(p.lastSeen).Milliseconds()
			// A readiness older than the grace period says nothing now.
			ms.Ready = p.status.Ready && now.Sub(p.lastSeen) < m.cfg.DownAfter
		}
		if last > ms.AppliedIndex {
			ms.Lag = last - ms.AppliedIndex
		}
		out = append(out, ms)
	}
	return out, nil
}

func (m *Membership) handleMembers(ctx context.Context, body []byte, reply func([]byte, error)) {
	if !m.node.store.IsLeader() {
		m.forwardToLeader(ctx, peer.KindMembers, body, reply)
		return
	}
	out, err := m.members()
	if err != nil {
		reply(nil, err)
		return
	}
	reply(json.Marshal(out))
}

// Remove takes a node out of the cluster: out of the raft configuration,
// then out of the node registry (its sessions end as for a lost node).
func (m *Membership) Remove(ctx context.Context, id string) error {
	return m.request(ctx, peer.KindRemove, memberRequest{ID: id})
}

// TransferLeadership hands raft leadership to the node id (empty: the most
// up-to-date voter), as before a planned stop of the leader.
func (m *Membership) TransferLeadership(ctx context.Context, id string) error {
	return m.request(ctx, peer.KindTransfer, memberRequest{ID: id})
}

// request runs a membership change on the leader, through the local
// handler so a leader and a follower take the same path.
func (m *Membership) request(ctx context.Context, kind peer.Kind, req memberRequest) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	ch := make(chan error, 1)
	h := m.handleRemove
	if kind == peer.KindTransfer {
		h = m.handleTransfer
	}
	h(ctx, body, func(_ []byte, err error) { ch <- err })
	select {
	case err := <-ch:
		if err != nil {
			return fmt.Errorf("cluster: %s: %w", kindName(kind), err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: %s: %w", kindName(kind), ctx.Err())
	}
}

func kindName(k peer.Kind) string {
	if k == peer.KindTransfer {
		return "transfer leadership"
	}
	return "remove member"
}

func (m *Membership) handleRemove(ctx context.Context, body []byte, reply func([]byte, error)) {
	var req memberRequest
	if err := decodeMembershipBody(body, &req); err != nil || req.ID == "" {
		reply(nil, errors.Join(errors.New("remove: a member id is required"), err))
		return
	}
	if req.ID == m.node.cfg.NodeID && m.node.store.IsLeader() {
		// A leader that removed itself could not see the change through:
		// it would no longer hear of the next leader. Hand leadership over
		// first, then let the new leader remove this node.
		if err := m.handOver(ctx); err != nil {
			reply(nil, err)
			return
		}
		m.forwardToLeader(ctx, peer.KindRemove, body, reply)
		return
	}
	m.onLeader(ctx, peer.KindRemove, body, reply, func() error {
		found := false
		if members, err := m.node.store.Members(); err == nil {
			for _, mb := range members {
				found = found || mb.ID == req.ID
			}
		}
		if found {
			if err := m.node.store.RemoveServer(req.ID); err != nil {
				return err
			}
		}
		// Through the store's forwarding: a leader that removed itself is
		// a follower by now.
		err := m.node.store.ForgetNode(ctx, req.ID, m.cfg.Now().UnixMilli())
		if err != nil && !errors.Is(err, raftstore.ErrUnknownNode) {
			return err
		}
		if !found && errors.Is(err, raftstore.ErrUnknownNode) {
			return fmt.Errorf("no member %q", req.ID)
		}
		m.log.Info("member removed", "member", req.ID)
		return nil
	})
}

// handOver transfers leadership to another voter and waits until this
// node knows the new leader.
func (m *Membership) handOver(ctx context.Context) error {
	if err := m.node.store.TransferLeadership("", ""); err != nil {
		return err
	}
	for {
		if _, id := m.node.store.Leader(); id != "" && id != m.node.cfg.NodeID {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the next leader: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (m *Membership) handleTransfer(ctx context.Context, body []byte, reply func([]byte, error)) {
	var req memberRequest
	if err := decodeMembershipBody(body, &req); err != nil {
		reply(nil, err)
		return
	}
	m.onLeader(ctx, peer.KindTransfer, body, reply, func() error {
		addr := ""
		if req.ID != "" {
			members, err := m.node.store.Members()
			if err != nil {
				return err
			}
			for _, mb := range members {
				if mb.ID == req.ID {
					addr = mb.Address
				}
			}
			if addr == "" {
				return fmt.Errorf("no member %q", req.ID)
			}
		}
		return m.node.store.TransferLeadership(req.ID, addr)
	})
}

func decodeMembershipBody(body []byte, v any) error {
	if len(body) > maxMembershipBody {
		return fmt.Errorf("membership request of %d bytes, limit %d", len(body), maxMembershipBody)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("membership request: %w", err)
	}
	return nil
}
