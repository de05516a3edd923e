// Package cluster is the live node: it holds the sessions whose connections
// this node serves, proposes their durable changes to the replicated store
// (raftstore), and delivers messages to local connections — QoS 0 straight
// from memory, QoS 1 and 2 from the durable per-session queue or, for
// sessions without persistence, from memory after the publish commits.
//
// # What it owns
//
// Session ownership and takeover, the outbound flow of every local session
// (packet identifiers, the in-flight window set by the client's Receive
// Maximum, resends with DUP, acknowledgement batching), QoS 0 routing, and
// the timers that fire wills and expire sessions (a periodic Tick proposed
// by the raft leader). It knows nothing of listeners or wire formats:
// connections implement Conn, which this package defines.
//
// # Concurrency and lock order
//
//	Node.mu (the local session table)
//	  → Session.mu (one session's outbound state)
//	    → whatever Conn.Send takes (it never blocks and never calls back)
//
// No lock is held across a blocking call: proposals are asynchronous and
// their callbacks take Session.mu afresh. Store events arrive on raft's FSM
// goroutine and only enqueue work.
package cluster
