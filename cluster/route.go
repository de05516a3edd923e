package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/bytebufferpool"

	"tributary/cluster/peer"
	"tributary/raftstore"
)

// QoS 0 routing between nodes [DESIGN.md: "QoS 0 delivery to online
// subscribers: local delivery, or one forward to the node that holds the
// subscriber (best effort, as the spec allows)"]. Every node holds every
// subscription, so the publisher's node matches the topic itself and
// sends each other node that holds matching connected sessions one
// peer.KindDeliver request per message, naming the sessions: the receiver
// delivers without matching again. A failed send is counted and logged at
// a rate limit, never retried, and never blocks the publisher.
//
// The body of a KindDeliver request is raftstore's routed-message
// encoding (AppendRoutedMessage): the receiver's node id (a node reached
// at a stale address drops the message), the message, and the sessions.

// Reasons a routed QoS 0 message is dropped, the label of
// tributary_mqtt_qos0_route_dropped_total.
const (
	routeDropUnknownNode = "unknown_node" // no address for the node holding the sessions
	routeDropSendFailed  = "send_failed"  // the peer client refused the request
	routeDropMalformed   = "malformed"    // a received request did not parse
	routeDropWrongNode   = "wrong_node"   // a received request named another node
)

// routeMetrics count QoS 0 messages between nodes, per message and node
// (not per session).
type routeMetrics struct {
	sent     prometheus.Counter
	received prometheus.Counter
	dropped  map[string]prometheus.Counter // filled at creation, read-only after
	vecs     []prometheus.Collector
}

func newRouteMetrics(reg prometheus.Registerer) (*routeMetrics, error) {
	routed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_mqtt_qos0_routed_total",
		Help: "QoS 0 messages sent to, or received from, another node for its sessions (one per message and node).",
	}, []string{"direction"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tributary_mqtt_qos0_route_dropped_total",
		Help: "QoS 0 messages for another node's sessions that were dropped, by reason (one per message and node).",
	}, []string{"reason"})
	m := &routeMetrics{
		sent:     routed.WithLabelValues("sent"),
		received: routed.WithLabelValues("received"),
		dropped:  make(map[string]prometheus.Counter),
		vecs:     []prometheus.Collector{routed, dropped},
	}
	for _, r := range []string{routeDropUnknownNode, routeDropSendFailed, routeDropMalformed, routeDropWrongNode} {
		m.dropped[r] = dropped.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range m.vecs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("cluster: register route metrics: %w", err)
		}
	}
	return m, nil
}

// addrRefreshEvery bounds how often a lookup miss (or a failed send)
// reads the raft configuration again.
const addrRefreshEvery = time.Second

// router sends QoS 0 messages to the other nodes' sessions.
type router struct {
	n        *Node
	peers    *peer.Client
	peerAddr func(nodeID, raftAddr string) string

	// addrs maps node ids to peer addresses; replaced whole on refresh,
	// so the publish path reads it without a lock.
	addrs atomic.Pointer[map[string]string]
	stale atomic.Bool // a send failed: the next lookup may refresh

	refreshMu   sync.Mutex
	lastRefresh time.Time // guarded by refreshMu

	warnUnknown, warnSend rateLimited
}

func newRouter(n *Node) *router {
	r := &router{n: n, peers: n.cfg.Peers, peerAddr: n.cfg.PeerAddr}
	empty := map[string]string{}
	r.addrs.Store(&empty)
	return r
}

// route sends m to the nodes of remote, the connected sessions of other
// nodes that matched it (remote is reordered).
func (r *router) route(m *raftstore.Message, remote []raftstore.Route) {
	slices.SortFunc(remote, func(a, b raftstore.Route) int { return strings.Compare(a.Node, b.Node) })
	msg := bytebufferpool.Get()
	defer bytebufferpool.Put(msg)
	msg.B = raftstore.AppendMessage(msg.B, m)
	body := bytebufferpool.Get()
	defer bytebufferpool.Put(body)
	for i := 0; i < len(remote); {
		j := i + 1
		for j < len(remote) && remote[j].Node == remote[i].Node {
			j++
		}
		body.B = appendDeliver(body.B[:0], remote[i].Node, msg.B, remote[i:j])
		r.send(remote[i].Node, body.B)
		i = j
	}
}

// send hands one node its request; the client copies body.
func (r *router) send(node string, body []byte) {
	log := r.n.log
	addr, ok := r.lookup(node)
	if !ok {
		r.n.routeMetrics.dropped[routeDropUnknownNode].Inc()
		r.warnUnknown.warn(log, "QoS 0 message dropped: no address for the node holding its subscribers", "peer_node", node)
		return
	}
	if err := r.peers.Send(addr, peer.KindDeliver, body); err != nil {
		r.n.routeMetrics.dropped[routeDropSendFailed].Inc()
		if !errors.Is(err, peer.ErrQueueFull) {
			r.stale.Store(true) // the node may have moved
		}
		r.warnSend.warn(log, "QoS 0 message for another node dropped", "peer_node", node, "remote_addr", addr, "err", err)
		return
	}
	r.n.routeMetrics.sent.Inc()
}

// lookup returns the peer address of node, reading the raft configuration
// again when node is unknown or a send failed (at most once per
// addrRefreshEvery).
func (r *router) lookup(node string) (string, bool) {
	if !r.stale.Load() {
		if a, ok := (*r.addrs.Load())[node]; ok {
			return a, true
		}
	}
	r.refresh()
	a, ok := (*r.addrs.Load())[node]
	return a, ok
}

// refresh rebuilds the address map from the raft configuration, unless it
// did so less than addrRefreshEvery ago. Members does not wait on raft.
func (r *router) refresh() {
	r.refreshMu.Lock()
	defer r.refreshMu.Unlock()
	if time.Since(r.lastRefresh) < addrRefreshEvery {
		return
	}
	r.lastRefresh = time.Now()
	r.stale.Store(false)
	members, err := r.n.store.Members()
	if err != nil {
		r.warnUnknown.warn(r.n.log, "cannot read the raft configuration for QoS 0 routing", "err", err)
		return
	}
	addrs := make(map[string]string, len(members))
	for _, mb := range members {
		addrs[mb.ID] = r.peerAddr(mb.ID, mb.Address)
	}
	r.addrs.Store(&addrs)
}

// errMalformedDeliver is the root of every KindDeliver decoding failure.
var errMalformedDeliver = errors.New("cluster: malformed QoS 0 delivery")

// appendDeliver encodes a KindDeliver body for node: msg (encoded by
// raftstore.AppendMessage) and the sessions there it is for.
func appendDeliver(dst []byte, node string, msg []byte, routes []raftstore.Route) []byte {
	return raftstore.AppendRoutedMessage(dst, node, msg, routes)
}

// parseDeliver decodes a KindDeliver body; nothing it returns aliases b.
func parseDeliver(b []byte) (node string, m raftstore.Message, routes []raftstore.Route, err error) {
	node, m, routes, err = raftstore.ParseRoutedMessage(b)
	if err != nil {
		return "", m, nil, fmt.Errorf("%w: %w", errMalformedDeliver, err)
	}
	return node, m, routes, nil
}

// handleDeliver is the receiving side: it delivers a QoS 0 message routed
// by another node to the local sessions it names, as routeQoS0 does for
// the sessions of the publisher's node.
func (n *Node) handleDeliver(_ context.Context, body []byte, _ func([]byte, error)) {
	node, m, routes, err := parseDeliver(body)
	if err != nil {
		n.routeMetrics.dropped[routeDropMalformed].Inc()
		n.warnDeliver.warn(n.log, "QoS 0 message from another node dropped", "err", err)
		return
	}
	if node != n.cfg.NodeID {
		n.routeMetrics.dropped[routeDropWrongNode].Inc()
		n.warnDeliver.warn(n.log, "QoS 0 message for another node dropped", "peer_node", node)
		return
	}
	n.routeMetrics.received.Inc()
	n.deliverLocal(&m, routes)
}

// rateLimitEvery is the least time between two warnings of one kind.
const rateLimitEvery = 10 * time.Second

// rateLimited logs one warning per rateLimitEvery and counts the rest
// (nats's rateLimitFormatWarnf).
type rateLimited struct {
	last       atomic.Int64 // Unix ns of the last warning
	suppressed atomic.Int64
}

func (r *rateLimited) warn(log *slog.Logger, msg string, args ...any) {
	now := time.Now().UnixNano()
	last := r.last.Load()
	if last != 0 && now-last < int64(rateLimitEvery) || !r.last.CompareAndSwap(last, now) {
		r.suppressed.Add(1)
		return
	}
	log.Warn(msg, append(args, "suppressed", r.suppressed.Swap(0))...)
}
