package cluster

import (
	"context"
	"encoding/binary"
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
// The body of a KindDeliver request:
//
//	+-------------+---------------+-----------------+-------------+-----------+
//	| version (1) | node (string) | message (bytes) | count (uv)  | routes... |
//	+-------------+---------------+-----------------+-------------+-----------+
//	route: client id (string) | generation (uv) | flags (1, bit 0 retain as
//	       published) | subscription id count (uv) | ids (uv each)
//
// node is the receiver's node id (a node reached at a stale address
// drops the message); message is raftstore.AppendMessage's encoding;
// strings and bytes are uvarint-length-prefixed.

const (
	deliverVersion = 1
	routeRAP       = 1 << 0 // retain as published
	// minRouteBytes is the smallest route encoding (a 1-byte client id),
	// which bounds the route count by the bytes left.
	minRouteBytes = 5
	// maxSubIDsPerRoute bounds the subscription ids of one route: one per
	// overlapping subscription of a session, far below this.
	maxSubIDsPerRoute = 1 << 16
)

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

// appendDeliver encodes a KindDeliver body for node.
func appendDeliver(dst []byte, node string, msg []byte, routes []raftstore.Route) []byte {
	dst = append(dst, deliverVersion)
	dst = appendUvString(dst, node)
	dst = binary.AppendUvarint(dst, uint64(len(msg)))
	dst = append(dst, msg...)
	dst = binary.AppendUvarint(dst, uint64(len(routes)))
	for i := range routes {
		rt := &routes[i]
		dst = appendUvString(dst, rt.ClientID)
		dst = binary.AppendUvarint(dst, rt.Generation)
		var flags byte
		if rt.RetainAsPublished {
			flags |= routeRAP
		}
		dst = append(dst, flags)
		dst = binary.AppendUvarint(dst, uint64(len(rt.SubscriptionIDs)))
		for _, id := range rt.SubscriptionIDs {
			dst = binary.AppendUvarint(dst, uint64(id))
		}
	}
	return dst
}

func appendUvString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// errMalformedDeliver is the root of every KindDeliver decoding failure.
var errMalformedDeliver = errors.New("cluster: malformed QoS 0 delivery")

// deliverReader reads a KindDeliver body; the first failure sticks.
type deliverReader struct {
	b   []byte
	err error
}

func (d *deliverReader) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", errMalformedDeliver, what)
	}
	d.b = nil
}

func (d *deliverReader) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns a view of a length-prefixed field, checked against the
// bytes left.
func (d *deliverReader) bytes(what string) []byte {
	n := d.uvarint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what + " past the end")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *deliverReader) u8(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(what + " past the end")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// count reads a number of elements of at least minBytes each.
func (d *deliverReader) count(what string, minBytes int) int {
	n := d.uvarint(what)
	if n > uint64(len(d.b)/minBytes) {
		d.fail(what + " exceeds the bytes left")
		return 0
	}
	return int(n)
}

// parseDeliver decodes a KindDeliver body. Nothing it returns aliases b:
// the message is copied once by raftstore.ParseMessage, the client ids by
// string conversion.
func parseDeliver(b []byte) (node string, m raftstore.Message, routes []raftstore.Route, err error) {
	d := deliverReader{b: b}
	if v := d.u8("version"); d.err == nil && v != deliverVersion {
		return "", m, nil, fmt.Errorf("%w: version %d unknown", errMalformedDeliver, v)
	}
	node = string(d.bytes("node"))
	raw := d.bytes("message")
	n := d.count("route count", minRouteBytes)
	if d.err == nil {
		routes = make([]raftstore.Route, 0, n)
	}
	for range n {
		rt := raftstore.Route{Node: node, Connected: true}
		rt.ClientID = string(d.bytes("client id"))
		rt.Generation = d.uvarint("generation")
		flags := d.u8("route flags")
		if flags&^routeRAP != 0 {
			d.fail(fmt.Sprintf("unknown route flags %#x", flags))
		}
		rt.RetainAsPublished = flags&routeRAP != 0
		ids := d.count("subscription id count", 1)
		if ids > maxSubIDsPerRoute {
			d.fail("too many subscription ids")
		}
		if d.err != nil {
			break
		}
		if ids > 0 {
			rt.SubscriptionIDs = make([]uint32, ids)
			for k := range rt.SubscriptionIDs {
				v := d.uvarint("subscription id")
				if v > 1<<32-1 {
					d.fail("subscription id out of range")
				}
				rt.SubscriptionIDs[k] = uint32(v)
			}
		}
		if rt.ClientID == "" {
			d.fail("empty client id")
		}
		routes = append(routes, rt)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return "", m, nil, d.err
	}
	if m, err = raftstore.ParseMessage(raw); err != nil {
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
