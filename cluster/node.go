package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tributary/cluster/peer"
	"tributary/raftstore"
)

// Config configures a Node. The zero value of every limit means "use the
// default"; it never means "unlimited".
type Config struct {
	// NodeID is this node's ID, as raftstore knows it.
	NodeID string
	// Store is the replicated store; its Config.OnEvents must reach
	// Node.HandleEvents.
	Store *raftstore.Store
	// MaxSessionExpiry caps the session expiry a client asks for. MQTT 3.1.1
	// persistent sessions, which would otherwise never expire, get exactly
	// this. Default 24h; at most raftstore.NeverExpires seconds.
	MaxSessionExpiry time.Duration
	// MaxQueuedMessages bounds the QoS 1 and 2 messages waiting for one
	// session: its durable queue when it is persistent, its memory queue
	// otherwise. A message that finds the queue full is dropped for that
	// session and counted. Default 1000 (Mosquitto's max_queued_messages);
	// at most 65000, which keeps a session's in-flight span of packet ids
	// below 65535.
	MaxQueuedMessages int
	// MaxInflightMessages caps the QoS 1 and 2 messages sent to one client
	// and not yet acknowledged, below the client's Receive Maximum.
	// Default 1024.
	MaxInflightMessages int
	// TickInterval is how often the raft leader checks for wills and
	// sessions that are due. Default 1s.
	TickInterval time.Duration
	// ProposeTimeout bounds every proposal the node makes on a session's
	// behalf. Default 30s.
	ProposeTimeout time.Duration
	// Now is the clock; nil means time.Now. Apply never reads it: the times
	// it gives go into commands.
	Now func() time.Time
	// Logger receives state transitions and anomalies; nil discards them.
	Logger *slog.Logger
	// Registerer receives the node's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Peers carries this node's requests to the other nodes: proposals
	// forwarded to the raft leader (a follower then proposes like the
	// leader does) and QoS 0 messages routed to the nodes that hold their
	// subscribers. The node uses it and never closes it. Nil: a single
	// node, which neither forwards (a follower's proposals fail with
	// raftstore.ErrNotLeader) nor routes QoS 0 messages to other nodes.
	// The other side is ServeRPC.
	Peers *peer.Client
	// PeerAddr maps a node (its raft server ID and its raft address from
	// the raft configuration) to the address its ServeRPC server listens
	// on. Nil: the raft address itself, since wire serves raft and the
	// peer protocol on the one cluster port. Tests that serve each on a
	// listener of its own map here.
	PeerAddr func(nodeID, raftAddr string) string
}

// Limits of Config.
const (
	maxQueuedLimit   = 65000
	maxInflightLimit = 65535
)

func (c Config) withDefaults() Config {
	if c.MaxSessionExpiry == 0 {
		c.MaxSessionExpiry = 24 * time.Hour
	}
	if c.MaxQueuedMessages == 0 {
		c.MaxQueuedMessages = 1000
	}
	if c.MaxInflightMessages == 0 {
		c.MaxInflightMessages = 1024
	}
	if c.TickInterval == 0 {
		c.TickInterval = time.Second
	}
	if c.ProposeTimeout == 0 {
		c.ProposeTimeout = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.PeerAddr == nil {
		c.PeerAddr = func(_, raftAddr string) string { return raftAddr }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("cluster: NodeID is empty"))
	}
	if c.Store == nil {
		errs = append(errs, errors.New("cluster: Store is nil"))
	}
	if c.MaxSessionExpiry < 0 || c.MaxSessionExpiry > time.Duration(raftstore.NeverExpires)*time.Second {
		errs = append(errs, fmt.Errorf("cluster: MaxSessionExpiry %v is outside [0, %ds]", c.MaxSessionExpiry, raftstore.NeverExpires))
	}
	if c.MaxQueuedMessages < 0 || c.MaxQueuedMessages > maxQueuedLimit {
		errs = append(errs, fmt.Errorf("cluster: MaxQueuedMessages %d is outside [1, %d]", c.MaxQueuedMessages, maxQueuedLimit))
	}
	if c.MaxInflightMessages < 0 || c.MaxInflightMessages > maxInflightLimit {
		errs = append(errs, fmt.Errorf("cluster: MaxInflightMessages %d is outside [1, %d]", c.MaxInflightMessages, maxInflightLimit))
	}
	if c.TickInterval < 0 || c.ProposeTimeout < 0 {
		errs = append(errs, errors.New("cluster: TickInterval and ProposeTimeout must not be negative"))
	}
	return errors.Join(errs...)
}

// Node is the live broker on this process: the sessions whose connections
// it holds, and the timers it runs for the cluster.
type Node struct {
	cfg     Config
	store   *raftstore.Store
	log     *slog.Logger
	metrics *metrics

	mu sync.Mutex
	// sessions maps a client identifier to the session of the connection
	// this node holds for it. opening holds connections whose OpenSession
	// has not answered yet: events for their generation wait there.
	sessions map[string]*Session
	opening  map[string][]*Session
	// closing holds sessions whose close has not committed yet: a new
	// connection of the same client waits for it, so the close (with its
	// session expiry change) cannot be overtaken and then ignored as stale.
	closing map[string]*Session
	closed  bool

	stop chan struct{}
	bg   sync.WaitGroup
	// drainBy, once Drain was called, is the deadline of every proposal.
	drainBy atomic.Pointer[time.Time]
	// life bounds background proposals (QoS 0 records, retained QoS 0
	// messages): cancelled by Close. One context for all of them, because
	// a timer per QoS 0 message was a tenth of the publish path's CPU.
	life      context.Context
	endOfLife context.CancelFunc
	// delivered gathers QoS 0 publishes to store in batches (delivered.go).
	delivered *deliveredQueue
	// router sends QoS 0 messages to other nodes' sessions (route.go);
	// nil without Config.Peers.
	router       *router
	routeMetrics *routeMetrics
	warnDeliver  rateLimited // malformed or misaddressed routed messages
}

// New starts a node: it ends the sessions a previous run of this node left
// marked connected (their wills fire, as for any connection lost), then
// runs the will and expiry timer.
func New(cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	rm, err := newRouteMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		store:    cfg.Store,
		log:      cfg.Logger.With("node_id", cfg.NodeID),
		metrics:  m,
		sessions: make(map[string]*Session),
		opening:  make(map[string][]*Session),
		closing:  make(map[string]*Session),
		stop:     make(chan struct{}),

		routeMetrics: rm,
	}
	if cfg.Peers != nil {
		n.router = newRouter(n)
		cfg.Store.SetForwarder(&forwarder{peers: cfg.Peers, addr: cfg.PeerAddr, timeout: cfg.ProposeTimeout})
	}
	n.life, n.endOfLife = context.WithCancel(context.Background())
	n.delivered = newDeliveredQueue()
	n.bg.Add(3)
	go n.endStaleSessions()
	go n.tickLoop()
	go n.flushDelivered()
	return n, nil
}

// ServeRPC registers the node's handlers of the peer protocol on s:
// proposals forwarded by followers (peer.KindForward, answered when this
// node leads) and QoS 0 messages routed by other nodes to this node's
// sessions (peer.KindDeliver). Call it before s.Serve. A single node
// needs no server.
func (n *Node) ServeRPC(s *peer.Server) {
	s.Handle(peer.KindForward, n.handleForward)
	s.Handle(peer.KindDeliver, n.handleDeliver)
}

// Close disconnects every local session (MQTT 5 clients get DISCONNECT
// 0x8B, server shutting down) and stops the timers. Sessions keep their
// durable state: a client reconnecting elsewhere, or here after a restart,
// resumes.
func (n *Node) Close() {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.closed = true
	local := make([]*Session, 0, len(n.sessions))
	for _, s := range n.sessions {
		local = append(local, s)
	}
	n.mu.Unlock()
	close(n.stop)
	n.endOfLife()
	for _, s := range local {
		s.kick(reasonServerShuttingDown)
	}
	n.bg.Wait()
}

// MQTT 5 DISCONNECT reason codes the node sends.
const (
	reasonServerShuttingDown byte = 0x8B
	reasonSessionTakenOver   byte = 0x8E
)

// ErrClosed answers a Connect on a node that is shutting down.
var ErrClosed = errors.New("cluster: node is shutting down")

// Connect opens (or resumes, or takes over) the session of req.ClientID for
// conn. Any other connection of the session, here or on another node, is
// closed with 0x8E [MQTT-3.1.4-3]. The returned Session is conn's until
// Session.Close.
func (n *Node) Connect(ctx context.Context, req ConnectRequest, conn Conn) (*Session, ConnectResult, error) {
	if err := n.waitClosing(ctx, req.ClientID); err != nil {
		return nil, ConnectResult{}, err
	}
	expiry := n.capExpiry(req.ExpirySeconds)
	s := newSession(n, req, expiry, conn)
	if err := n.addOpening(s); err != nil {
		return nil, ConnectResult{}, err
	}
	opened, err := n.store.OpenSession(ctx, raftstore.SessionOpen{
		ClientID:          req.ClientID,
		Node:              n.cfg.NodeID,
		CleanStart:        req.CleanStart,
		ExpirySeconds:     expiry,
		ProtocolVersion:   req.ProtocolVersion,
		MaxQueuedMessages: uint32(n.cfg.MaxQueuedMessages),
		Will:              req.Will,
		NowMillis:         n.nowMillis(),
	})
	if err != nil {
		n.dropOpening(s)
		return nil, ConnectResult{}, fmt.Errorf("cluster: open session %q: %w", req.ClientID, err)
	}
	old, early := n.promote(s, opened.Generation)
	if old != nil {
		old.kick(reasonSessionTakenOver)
	}
	if opened.TakenOver {
		n.log.Info("session taken over", "client_id", req.ClientID,
			"previous_node", opened.PreviousNode, "previous_generation", opened.PreviousGeneration)
	}
	s.start(early)
	return s, ConnectResult{SessionPresent: opened.Present, ExpirySeconds: expiry}, nil
}

func (n *Node) capExpiry(asked uint32) uint32 {
	limit := uint32(n.cfg.MaxSessionExpiry / time.Second)
	return min(asked, limit)
}

func (n *Node) addOpening(s *Session) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return ErrClosed
	}
	n.opening[s.clientID] = append(n.opening[s.clientID], s)
	return nil
}

func (n *Node) dropOpening(s *Session) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeOpeningLocked(s)
}

func (n *Node) removeOpeningLocked(s *Session) {
	list := n.opening[s.clientID]
	for i, o := range list {
		if o == s {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(n.opening, s.clientID)
	} else {
		n.opening[s.clientID] = list
	}
}

// promote makes s the client's local session under generation gen, and
// returns the session it replaces (to be kicked) and the events that
// arrived for gen while s was opening.
func (n *Node) promote(s *Session, gen uint64) (*Session, []raftstore.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeOpeningLocked(s)
	s.gen = gen
	early := s.takeEarly(gen)
	old := n.sessions[s.clientID]
	if old != nil && old.gen > gen {
		// A newer connection already won: s lost the race and must go.
		s.kickLater = true
		return nil, early
	}
	n.sessions[s.clientID] = s
	n.metrics.sessions.Set(float64(len(n.sessions)))
	return old, early
}

// remove forgets s if it is still the client's local session, and
// remembers it as closing until closed is called.
func (n *Node) remove(s *Session) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sessions[s.clientID] == s {
		delete(n.sessions, s.clientID)
		n.metrics.sessions.Set(float64(len(n.sessions)))
	}
	n.closing[s.clientID] = s
}

// closedDone ends s's closing state: its close committed or gave up.
func (n *Node) closedDone(s *Session) {
	n.mu.Lock()
	if n.closing[s.clientID] == s {
		delete(n.closing, s.clientID)
	}
	n.mu.Unlock()
	close(s.closeDone)
}

// waitClosing waits until no local session of clientID is closing.
func (n *Node) waitClosing(ctx context.Context, clientID string) error {
	n.mu.Lock()
	s := n.closing[clientID]
	n.mu.Unlock()
	if s == nil {
		return nil
	}
	select {
	case <-s.closeDone:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("cluster: waiting for the previous connection of %q to close: %w", clientID, ctx.Err())
	}
}

// local returns the local session of clientID at generation gen (0: any).
func (n *Node) local(clientID string, gen uint64) *Session {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := n.sessions[clientID]
	if s == nil || gen != 0 && s.gen != gen {
		return nil
	}
	return s
}

func (n *Node) nowMillis() int64 { return n.cfg.Now().UnixMilli() }

// proposeContext bounds a proposal made on a session's behalf: by
// Config.ProposeTimeout, and once Drain was called by its deadline.
func (n *Node) proposeContext() (context.Context, context.CancelFunc) {
	timeout := n.cfg.ProposeTimeout
	if d := n.drainBy.Load(); d != nil {
		timeout = min(timeout, time.Until(*d))
	}
	return context.WithTimeout(context.Background(), timeout)
}

// Drain prepares a shutdown: from now on the proposals the node makes for
// its sessions (the closes of the connections about to be cut, their
// acknowledgements) wait at most grace. A node that can no longer commit
// (cut off, or just removed from the cluster) would otherwise hold every
// closing connection for ProposeTimeout; what does not commit is settled
// later — by this node's restart, by the next connection of the client, or
// by the leader marking this node down.
func (n *Node) Drain(grace time.Duration) {
	d := time.Now().Add(grace)
	n.drainBy.Store(&d)
}
