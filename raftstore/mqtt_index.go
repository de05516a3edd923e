package raftstore

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"tributary/mqttcodec"
)

// mqttIndex is the in-memory view of the MQTT state that routing needs
// without reading Pebble: every subscription, in a topic trie, and every
// session's routing facts. It equals what Pebble holds as of the last
// committed batch: it is rebuilt from Pebble when the state machine opens
// or restores a snapshot, and changed only after a batch has committed
// (mqttBatch holds a batch's changes until then).
//
// Only raft's FSM goroutine writes it, taking mu for the change alone;
// readers (Match, Session) take mu.RLock. The FSM goroutine reads it
// without the lock, which is safe because it is the only writer.
type mqttIndex struct {
	mu       sync.RWMutex
	subs     subTrie
	sessions map[string]sessionView

	// Gauges, kept exact by the same commits.
	retained atomic.Int64
	queued   atomic.Int64
	count    atomic.Int64 // sessions
}

// sessionView is what routing needs of a session.
type sessionView struct {
	node       string
	generation uint64
	connected  bool
	expiry     uint32
}

func viewOf(s *sessionRecord) sessionView {
	return sessionView{node: s.node, generation: s.generation, connected: s.connected, expiry: s.expiry}
}

func (v sessionView) info(clientID string) SessionInfo {
	return SessionInfo{ClientID: clientID, Node: v.node, Generation: v.generation,
		Connected: v.connected, ExpirySeconds: v.expiry, Persistent: v.expiry > 0}
}

// subRef names one subscription: a session and a (possibly shared)
// filter, split as mqttcodec.ParseShared splits it.
type subRef struct {
	clientID string
	share    string // share name, "" for a non-shared subscription
	filter   string // the topic filter without the $share/{ShareName}/ prefix
}

// full is the filter as the client gave it.
func (r subRef) full() string {
	if r.share == "" {
		return r.filter
	}
	return mqttcodec.SharePrefix + r.share + "/" + r.filter
}

func parseSubRef(clientID, full string) (subRef, error) {
	share, filter, _, err := mqttcodec.ParseShared(full)
	if err != nil {
		return subRef{}, fmt.Errorf("%w: stored filter %q: %w", errCorruptState, full, err)
	}
	return subRef{clientID: clientID, share: share, filter: filter}, nil
}

// rebuild replaces the index with the MQTT state in r.
func (x *mqttIndex) rebuild(r pebble.Reader) error {
	var subs subTrie
	sessions := make(map[string]sessionView)
	var queued, retained int64
	err := scanPrefix(r, []byte{tableSession}, func(k, v []byte) error {
		s, err := decodeSessionRecord(v)
		if err != nil {
			return err
		}
		sessions[string(k[1:])] = viewOf(&s)
		queued += int64(s.queueLen)
		return nil
	})
	if err == nil {
		err = scanPrefix(r, []byte{tableSub}, func(k, v []byte) error {
			return indexSubscription(&subs, k, v)
		})
	}
	if err == nil {
		err = scanPrefix(r, []byte{tableRetained}, func(_, _ []byte) error { retained++; return nil })
	}
	if err != nil {
		return fmt.Errorf("raftstore: rebuild mqtt index: %w", err)
	}
	x.mu.Lock()
	x.subs, x.sessions = subs, sessions
	x.mu.Unlock()
	x.queued.Store(queued)
	x.retained.Store(retained)
	x.count.Store(int64(len(sessions)))
	return nil
}

func indexSubscription(t *subTrie, k, v []byte) error {
	if len(k) < 3 {
		return fmt.Errorf("%w: subscription key %x", errCorruptState, k)
	}
	n := int(k[1])<<8 | int(k[2])
	if len(k) < 3+n {
		return fmt.Errorf("%w: subscription key %x", errCorruptState, k)
	}
	ref, err := parseSubRef(string(k[3:3+n]), string(k[3+n:]))
	if err != nil {
		return err
	}
	o, err := decodeSubOpts(v)
	if err != nil {
		return err
	}
	t.set(ref.filter, ref.share, ref.clientID, o)
	return nil
}

// scanPrefix calls fn for every key starting with prefix, in order. The
// slices passed to fn are valid only during the call.
func scanPrefix(r pebble.Reader, prefix []byte, fn func(k, v []byte) error) error {
	return scanRange(r, prefix, prefixEnd(prefix), func(k, v []byte) (bool, error) {
		return true, fn(k, v)
	})
}

// scanRange calls fn for every key in [lower, upper), in order, until fn
// answers false or an error. The slices passed to fn are valid only
// during the call.
func scanRange(r pebble.Reader, lower, upper []byte, fn func(k, v []byte) (bool, error)) error {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("raftstore: iterator: %w", err)
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		more := false
		if err == nil {
			more, err = fn(it.Key(), v)
		}
		if err != nil || !more {
			it.Close()
			return err
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("raftstore: iterate: %w", err)
	}
	return nil
}

// match returns the routes of a message published to topic by publisher,
// as of the last committed batch (Store.Match): merged non-shared
// subscriptions by client id, then one member per shared subscription.
func (x *mqttIndex) match(topic, publisher string) []Route {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var direct []member
	var shared []Route
	x.subs.match(topic, func(n *trieNode) {
		for c, o := range n.direct {
			if !o.noLocal || c != publisher { // [MQTT-3.8.3-3]
				direct = append(direct, member{c, o})
			}
		}
		for _, g := range n.groups {
			if m, ok := x.pickShared(g, publisher); ok {
				shared = x.appendRoute(shared, m, Route{ClientID: m.clientID})
			}
		}
	})
	slices.SortFunc(direct, func(a, b member) int { return cmp.Compare(a.clientID, b.clientID) })
	routes := make([]Route, 0, len(direct)+len(shared))
	for i := 0; i < len(direct); {
		r := Route{ClientID: direct[i].clientID}
		for ; i < len(direct) && direct[i].clientID == r.ClientID; i++ {
			o := direct[i].opts
			r.QoS = max(r.QoS, o.qos)
			r.RetainAsPublished = r.RetainAsPublished || o.retainAsPub
			if o.id != 0 {
				r.SubscriptionIDs = append(r.SubscriptionIDs, o.id)
			}
		}
		slices.Sort(r.SubscriptionIDs)
		routes = x.appendRoute(routes, member{}, r)
	}
	return append(routes, shared...)
}

// appendRoute completes r with the session's facts (and, for a shared
// member m, its options) and appends it.
func (x *mqttIndex) appendRoute(routes []Route, m member, r Route) []Route {
	v, ok := x.sessions[r.ClientID]
	if !ok {
		return routes // cannot happen: subscriptions end with their session
	}
	if m.clientID != "" {
		r.QoS, r.RetainAsPublished = m.opts.qos, m.opts.retainAsPub
		if m.opts.id != 0 {
			r.SubscriptionIDs = []uint32{m.opts.id}
		}
	}
	r.Node, r.Generation, r.Connected, r.Persistent = v.node, v.generation, v.connected, v.expiry > 0
	return append(routes, r)
}

// pickShared chooses a member of a shared subscription for Match: the
// next connected member from the group's round-robin position, or the
// next member if none is connected. The position is this node's own, not
// replicated.
func (x *mqttIndex) pickShared(g *shareGroup, publisher string) (member, bool) {
	n := uint64(len(g.order))
	if n == 0 {
		return member{}, false
	}
	start := g.next.Add(1) - 1
	for _, wantConnected := range []bool{true, false} {
		for i := range n {
			c := g.order[(start+i)%n]
			o := g.members[c]
			if (o.noLocal && c == publisher) || (wantConnected && !x.sessions[c].connected) {
				continue
			}
			return member{c, o}, true
		}
	}
	return member{}, false
}
