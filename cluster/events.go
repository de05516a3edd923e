package cluster

import (
	"math"
	"time"

	"tributary/raftstore"
)

// HandleEvents takes the effects of applied commands (raftstore's
// Config.OnEvents). It runs on raft's FSM goroutine, so it only hands work
// to sessions and never blocks.
func (n *Node) HandleEvents(events []raftstore.Event) {
	for i := range events {
		ev := &events[i]
		if ev.Kind == raftstore.EventTakenOver {
			if ev.Node == n.cfg.NodeID {
				if s := n.local(ev.ClientID, ev.Generation); s != nil {
					s.kick(reasonSessionTakenOver)
				}
			}
			continue
		}
		s := n.target(ev)
		if s == nil {
			continue
		}
		switch ev.Kind {
		case raftstore.EventQueued:
			s.wake()
		case raftstore.EventDeliver:
			s.deliver(ev.Delivery)
		case raftstore.EventSessionEnded:
			s.kick(reasonSessionTakenOver)
		}
	}
}

// target finds the local session an event is for, or parks the event on a
// session still opening (its generation is not known yet; promote keeps
// the events of the generation it gets).
func (n *Node) target(ev *raftstore.Event) *Session {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.sessions[ev.ClientID]; s != nil && (ev.Generation == 0 || s.gen == ev.Generation) {
		return s
	}
	for _, s := range n.opening[ev.ClientID] {
		s.park(*ev)
	}
	return nil
}

// routeQoS0 delivers a QoS 0 message from memory to the matching
// connected sessions and returns how many sessions matched. It never waits
// for the log [DESIGN.md: QoS 0 delivery]: this node's sessions get it
// here, and each other node holding matching sessions gets it in one
// best-effort request (route.go) when the node has peers.
func (n *Node) routeQoS0(m *raftstore.Message) int {
	var lbuf [16]raftstore.Route
	var rbuf [8]raftstore.Route
	local, remote := lbuf[:0], rbuf[:0]
	matched := 0
	n.store.Match(m.Topic, m.PublisherID, func(r raftstore.Route) {
		matched++
		switch {
		case !r.Connected:
		case r.Node == n.cfg.NodeID:
			local = append(local, r)
		case n.router != nil:
			remote = append(remote, r)
		}
	})
	n.deliverLocal(m, local)
	if len(remote) > 0 {
		n.router.route(m, remote)
	}
	return matched
}

// deliverLocal hands m to the local sessions of routes that still hold
// the generation the route names (a session taken over or reconnected
// meanwhile does not get it). The sessions are looked up under one
// acquisition of the node's lock, not one per subscriber.
func (n *Node) deliverLocal(m *raftstore.Message, routes []raftstore.Route) {
	if len(routes) == 0 {
		return
	}
	var sbuf [16]*Session
	sessions := sbuf[:0]
	n.mu.Lock()
	for i := range routes {
		s := n.sessions[routes[i].ClientID]
		if s != nil && s.gen != routes[i].Generation {
			s = nil
		}
		sessions = append(sessions, s)
	}
	n.mu.Unlock()
	for i, s := range sessions {
		if s == nil {
			continue
		}
		s.deliver(raftstore.Delivery{
			Retain:          m.Retain && routes[i].RetainAsPublished,
			SubscriptionIDs: routes[i].SubscriptionIDs,
			Message:         m,
		})
	}
}

// endStaleSessions closes the sessions that the replicated state says are
// connected to this node: their connections died with the previous run, so
// their wills fire [MQTT-3.1.2-8].
func (n *Node) endStaleSessions() {
	defer n.bg.Done()
	for {
		err := n.store.CaughtUp()
		if err == nil {
			break
		}
		select {
		case <-n.stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	stale, err := n.store.ConnectedSessions(n.cfg.NodeID)
	if err != nil {
		n.log.Warn("cannot list the sessions left by the previous run", "err", err)
		return
	}
	for _, info := range stale {
		if n.heldHere(info.ClientID, info.Generation) {
			continue // connected in this run already
		}
		ctx, cancel := n.proposeContext()
		err := n.store.CloseSession(ctx, raftstore.SessionClose{
			ClientID:   info.ClientID,
			Generation: info.Generation,
			Reason:     raftstore.CloseAbnormal,
			// The killed run may have sent any message of the queue: the
			// next connection must resend them all with DUP set
			// [MQTT-3.3.1-1], as a takeover of a live connection does.
			SentThroughSeq: math.MaxUint64,
			NowMillis:      n.nowMillis(),
		})
		cancel()
		if err != nil {
			n.log.Warn("cannot end a session left by the previous run", "client_id", info.ClientID, "err", err)
		}
	}
	if len(stale) > 0 {
		n.log.Info("ended sessions left connected by the previous run", "sessions", len(stale))
	}
}

// tickLoop has the raft leader propose a tick whenever a will or a session
// expiry is due; apply fires and expires what the tick's time makes due.
func (n *Node) tickLoop() {
	defer n.bg.Done()
	t := time.NewTicker(n.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if n.store.IsLeader() {
			n.tickDue()
		}
	}
}

// maxTicksPerInterval bounds the ticks one interval proposes; each fires
// at most raftstore.TickMaxSessions wills and expiries.
const maxTicksPerInterval = 16

// tickDue proposes ticks while something is due.
func (n *Node) tickDue() {
	for range maxTicksPerInterval {
		due, ok := n.store.NextDeadline()
		now := n.nowMillis()
		if !ok || due > now {
			return
		}
		ctx, cancel := n.proposeContext()
		err := n.store.Tick(ctx, now)
		cancel()
		if err != nil {
			n.log.Warn("tick failed", "err", err)
			return
		}
	}
}

// heldHere reports whether a connection of this run holds (or is opening)
// the session of clientID at generation gen: a connection whose open has
// committed but not returned yet is not stale.
func (n *Node) heldHere(clientID string, gen uint64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.sessions[clientID]; s != nil && s.gen == gen {
		return true
	}
	return len(n.opening[clientID]) > 0
}
