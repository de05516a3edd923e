package raftstore

import (
	"slices"
	"strings"
	"sync/atomic"
)

// subTrie indexes subscriptions by topic filter, one level per node, so
// matching a topic name visits only the nodes on the paths the name can
// take: its literal levels, '+' and '#'. The cost of a match grows with the
// name's levels and the subscriptions it matches, never with the
// subscriptions it does not.
//
// A subTrie is not safe for concurrent use; mqttIndex guards it.
type subTrie struct {
	root trieNode
	n    int // subscriptions held
}

// trieNode is one level of a topic filter. The subscriptions whose
// filter ends at this node are in direct (non-shared, by client id) and
// groups (shared, by share name).
type trieNode struct {
	// filter is the topic filter that ends at this node ("a/+/#").
	filter   string
	children map[string]*trieNode
	plus     *trieNode
	hash     *trieNode
	direct   map[string]subOpts
	groups   map[string]*shareGroup
}

// shareGroup is the membership of one shared subscription
// ($share/{ShareName}/{filter}) [MQTT-4.8.2].
type shareGroup struct {
	members map[string]subOpts
	order   []string // member client ids, sorted
	// next is Match's round-robin position. It is local to this node and
	// not replicated: apply picks members with a counter in Pebble instead.
	next atomic.Uint64
}

func (n *trieNode) empty() bool {
	return len(n.children) == 0 && n.plus == nil && n.hash == nil && len(n.direct) == 0 && len(n.groups) == 0
}

func (n *trieNode) hasSubs() bool { return len(n.direct) != 0 || len(n.groups) != 0 }

// child returns the node for level below n, creating it if create is set.
func (n *trieNode) child(level, filter string, create bool) *trieNode {
	var slot **trieNode
	switch level {
	case "+":
		slot = &n.plus
	case "#":
		slot = &n.hash
	default:
		if c := n.children[level]; c != nil || !create {
			return c
		}
		c := &trieNode{filter: filter}
		if n.children == nil {
			n.children = make(map[string]*trieNode)
		}
		n.children[level] = c
		return c
	}
	if *slot == nil && create {
		*slot = &trieNode{filter: filter}
	}
	return *slot
}

// dropChild removes the empty child for level.
func (n *trieNode) dropChild(level string) {
	switch level {
	case "+":
		n.plus = nil
	case "#":
		n.hash = nil
	default:
		delete(n.children, level)
	}
}

// walk returns the node of filter, creating the path if create is set,
// and calls visit (if not nil) with each parent and the level below it.
func (t *subTrie) walk(filter string, create bool, visit func(parent *trieNode, level string)) *trieNode {
	n := &t.root
	rest, pos := filter, 0
	for {
		level, tail, more := strings.Cut(rest, "/")
		if visit != nil {
			visit(n, level)
		}
		pos += len(level)
		if n = n.child(level, filter[:pos], create); n == nil {
			return nil
		}
		if !more {
			return n
		}
		rest, pos = tail, pos+1
	}
}

// set adds or replaces the subscription of clientID to filter (share is
// the share name, "" for a non-shared subscription).
func (t *subTrie) set(filter, share, clientID string, o subOpts) {
	n := t.walk(filter, true, nil)
	if share == "" {
		if n.direct == nil {
			n.direct = make(map[string]subOpts)
		}
		if _, ok := n.direct[clientID]; !ok {
			t.n++
		}
		n.direct[clientID] = o
		return
	}
	g := n.groups[share]
	if g == nil {
		g = &shareGroup{members: make(map[string]subOpts)}
		if n.groups == nil {
			n.groups = make(map[string]*shareGroup)
		}
		n.groups[share] = g
	}
	if _, ok := g.members[clientID]; !ok {
		t.n++
		i, _ := slices.BinarySearch(g.order, clientID)
		g.order = slices.Insert(g.order, i, clientID)
	}
	g.members[clientID] = o
}

// remove deletes a subscription and prunes the nodes it leaves empty. It
// reports whether the subscription was there.
func (t *subTrie) remove(filter, share, clientID string) bool {
	type step struct {
		parent *trieNode
		level  string
	}
	var path []step
	n := t.walk(filter, false, func(p *trieNode, level string) { path = append(path, step{p, level}) })
	if n == nil || !n.removeSub(share, clientID) {
		return false
	}
	t.n--
	for i := len(path) - 1; i >= 0 && n.empty(); i-- {
		path[i].parent.dropChild(path[i].level)
		n = path[i].parent
	}
	return true
}

func (n *trieNode) removeSub(share, clientID string) bool {
	if share == "" {
		if _, ok := n.direct[clientID]; !ok {
			return false
		}
		delete(n.direct, clientID)
		return true
	}
	g := n.groups[share]
	if g == nil {
		return false
	}
	if _, ok := g.members[clientID]; !ok {
		return false
	}
	delete(g.members, clientID)
	if i, ok := slices.BinarySearch(g.order, clientID); ok {
		g.order = slices.Delete(g.order, i, i+1)
	}
	if len(g.members) == 0 {
		delete(n.groups, share)
	}
	return true
}

// lookup returns the node of filter, or nil.
func (t *subTrie) lookup(filter string) *trieNode { return t.walk(filter, false, nil) }

// match calls fn with every node holding subscriptions whose filter
// matches topic. A filter starting with a wildcard does not match a topic
// starting with '$' [MQTT-4.7.2-1].
func (t *subTrie) match(topic string, fn func(*trieNode)) {
	if t.n == 0 {
		return
	}
	matchLevel(&t.root, topic, !strings.HasPrefix(topic, "$"), fn)
}

// matchLevel matches the topic levels in rest against the children of n;
// wild says whether wildcards may match the first of them.
func matchLevel(n *trieNode, rest string, wild bool, fn func(*trieNode)) {
	level, tail, more := strings.Cut(rest, "/")
	if wild && n.hash != nil && n.hash.hasSubs() {
		fn(n.hash) // '#' matches this level and every level below
	}
	if c := n.children[level]; c != nil {
		matchBelow(c, tail, more, fn)
	}
	if wild && n.plus != nil {
		matchBelow(n.plus, tail, more, fn)
	}
}

func matchBelow(c *trieNode, tail string, more bool, fn func(*trieNode)) {
	if more {
		matchLevel(c, tail, true, fn)
		return
	}
	if c.hasSubs() {
		fn(c)
	}
	if c.hash != nil && c.hash.hasSubs() {
		fn(c.hash) // "sport/#" also matches "sport" (MQTT 5.0 section 4.7.1.2)
	}
}
