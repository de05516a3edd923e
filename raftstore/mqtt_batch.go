package raftstore

import (
	"cmp"
	"slices"
)

// mqttBatch holds the MQTT effects of one ApplyBatch until its Pebble
// batch commits: the subscriptions and sessions it changed (applied to the
// index afterwards), the events for Config.OnEvents, and gauge deltas.
// While the batch applies, routing sees the index with these changes on
// top (match, group, sessionView): exactly what Pebble's indexed batch
// holds.
//
// Only raft's FSM goroutine uses it. It reads the index without its lock
// (the FSM goroutine is the index's only writer).
type mqttBatch struct {
	idx      *mqttIndex
	subs     map[subRef]*subOpts // nil: removed by this batch
	overlay  subTrie             // the subscriptions subs adds or replaces
	touched  map[groupKey]bool   // shared subscriptions subs changes
	sessions map[string]*sessionView
	events   []Event
	queuedAt map[string]int // client id → its EventQueued in events, this entry

	retainedDelta, queuedDelta, sessionsDelta int64
	drops                                     int64
}

// groupKey names a shared subscription: its share name and topic filter.
type groupKey struct{ share, filter string }

func newMQTTBatch(idx *mqttIndex) *mqttBatch {
	return &mqttBatch{
		idx:      idx,
		subs:     make(map[subRef]*subOpts),
		touched:  make(map[groupKey]bool),
		sessions: make(map[string]*sessionView),
		queuedAt: make(map[string]int),
	}
}

// nextEntry starts the effects of the batch's next raft entry.
func (b *mqttBatch) nextEntry() { clear(b.queuedAt) }

// reset forgets the batch's effects (applied, or abandoned by a node that
// stopped).
func (b *mqttBatch) reset() {
	clear(b.subs)
	b.overlay = subTrie{}
	clear(b.touched)
	clear(b.sessions)
	clear(b.queuedAt)
	b.events = nil
	b.retainedDelta, b.queuedDelta, b.sessionsDelta, b.drops = 0, 0, 0, 0
}

func (b *mqttBatch) setSub(r subRef, o subOpts) {
	if prev, ok := b.subs[r]; ok && prev != nil {
		b.overlay.remove(r.filter, r.share, r.clientID)
	}
	b.subs[r] = &o
	b.overlay.set(r.filter, r.share, r.clientID, o)
	if r.share != "" {
		b.touched[groupKey{r.share, r.filter}] = true
	}
}

func (b *mqttBatch) deleteSub(r subRef) {
	if prev, ok := b.subs[r]; ok && prev != nil {
		b.overlay.remove(r.filter, r.share, r.clientID)
	}
	b.subs[r] = nil
	if r.share != "" {
		b.touched[groupKey{r.share, r.filter}] = true
	}
}

func (b *mqttBatch) setSession(clientID string, s *sessionRecord) {
	v := viewOf(s)
	b.sessions[clientID] = &v
}

func (b *mqttBatch) deleteSession(clientID string) { b.sessions[clientID] = nil }

// sessionView returns what routing knows of a session as of this batch.
func (b *mqttBatch) sessionView(clientID string) (sessionView, bool) {
	if v, ok := b.sessions[clientID]; ok {
		if v == nil {
			return sessionView{}, false
		}
		return *v, true
	}
	v, ok := b.idx.sessions[clientID]
	return v, ok
}

// connectedTo returns, sorted, the client ids of the sessions whose
// connection node holds as of this batch.
func (b *mqttBatch) connectedTo(node string) []string {
	var ids []string
	for id, v := range b.idx.sessions {
		if _, changed := b.sessions[id]; !changed && v.connected && v.node == node {
			ids = append(ids, id)
		}
	}
	for id, v := range b.sessions {
		if v != nil && v.connected && v.node == node {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // the maps' order must not reach apply
	return ids
}

// masked reports whether the batch changed r, so the index's copy of it
// is out of date.
func (b *mqttBatch) masked(r subRef) bool {
	if len(b.subs) == 0 {
		return false
	}
	_, ok := b.subs[r]
	return ok
}

// member is one non-shared subscription a topic matched.
type member struct {
	clientID string
	opts     subOpts
}

// groupMatch is a shared subscription as of this batch: its members'
// client ids, sorted, and their options. For a subscription the batch did
// not change, both are the index's own (read only).
type groupMatch struct {
	groupKey
	ids  []string
	opts map[string]subOpts
}

// match returns the subscriptions matching topic as of this batch:
// non-shared ones sorted by client id (a client's overlapping filters
// adjacent), and shared ones by share name and filter. The order is a
// function of the state alone, as apply requires.
func (b *mqttBatch) match(topic string) ([]member, []groupMatch) {
	var direct []member
	var keys []groupKey
	collect := func(pending bool) func(n *trieNode) {
		return func(n *trieNode) {
			for c, o := range n.direct {
				if pending || !b.masked(subRef{c, "", n.filter}) {
					direct = append(direct, member{c, o})
				}
			}
			for share := range n.groups {
				if k := (groupKey{share, n.filter}); !slices.Contains(keys, k) {
					keys = append(keys, k)
				}
			}
		}
	}
	b.idx.subs.match(topic, collect(false))
	b.overlay.match(topic, collect(true))
	slices.SortFunc(direct, func(x, y member) int { return cmp.Compare(x.clientID, y.clientID) })
	slices.SortFunc(keys, func(x, y groupKey) int {
		return cmp.Or(cmp.Compare(x.share, y.share), cmp.Compare(x.filter, y.filter))
	})
	var groups []groupMatch
	for _, k := range keys {
		if g := b.group(k); len(g.ids) > 0 {
			groups = append(groups, g)
		}
	}
	return direct, groups
}

// group returns the members of one shared subscription as of this batch.
func (b *mqttBatch) group(k groupKey) groupMatch {
	g := groupMatch{groupKey: k}
	if n := b.idx.subs.lookup(k.filter); n != nil && n.groups[k.share] != nil {
		committed := n.groups[k.share]
		if !b.touched[k] {
			g.ids, g.opts = committed.order, committed.members
			return g
		}
		g.opts = make(map[string]subOpts, len(committed.members))
		for c, o := range committed.members {
			if !b.masked(subRef{c, k.share, k.filter}) {
				g.opts[c] = o
			}
		}
	}
	if n := b.overlay.lookup(k.filter); n != nil && n.groups[k.share] != nil {
		if g.opts == nil {
			g.opts = make(map[string]subOpts)
		}
		for c, o := range n.groups[k.share].members {
			g.opts[c] = o
		}
	}
	for c := range g.opts {
		g.ids = append(g.ids, c)
	}
	slices.Sort(g.ids)
	return g
}

func (b *mqttBatch) emit(e Event) { b.events = append(b.events, e) }

// queuedEvent announces that clientID's queue grew to seq; one event per
// session and raft entry, carrying the last seq. (Per entry, not per
// batch, so that the events do not depend on how raft batched entries.)
func (b *mqttBatch) queuedEvent(clientID string, s *sessionRecord, seq uint64) {
	if !s.connected {
		return // nobody to tell: the next connection reads the queue
	}
	if i, ok := b.queuedAt[clientID]; ok && b.events[i].Generation == s.generation {
		b.events[i].Seq = seq
		return
	}
	b.queuedAt[clientID] = len(b.events)
	b.emit(Event{Kind: EventQueued, ClientID: clientID, Node: s.node, Generation: s.generation, Seq: seq})
}

// commit applies the batch's changes to the index, once its Pebble batch
// has committed, and returns its events.
func (b *mqttBatch) commit() []Event {
	x := b.idx
	if len(b.subs) != 0 || len(b.sessions) != 0 {
		x.mu.Lock()
		for r, o := range b.subs {
			x.subs.remove(r.filter, r.share, r.clientID)
			if o != nil {
				x.subs.set(r.filter, r.share, r.clientID, *o)
			}
		}
		for id, v := range b.sessions {
			if v == nil {
				delete(x.sessions, id)
			} else {
				x.sessions[id] = *v
			}
		}
		x.mu.Unlock()
	}
	x.retained.Add(b.retainedDelta)
	x.queued.Add(b.queuedDelta)
	x.count.Add(b.sessionsDelta)
	return b.events
}
