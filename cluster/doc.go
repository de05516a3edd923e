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
// The Kafka side is here too (kafka*.go): Kafka.Handle answers decoded
// kmsg requests — produce through the log, fetch from this node's applied
// state with a long poll, offsets, topics, configs — and the classic
// consumer-group coordinator lives in the sub-package groups. The mapping
// admin (mappings.go) turns user-facing MappingSpecs into replicated
// mappings. QoS 0 publishes that must be stored (mapped to Kafka, or
// retained) leave in batches through one flusher (delivered.go).
//
// # Concurrency and lock order
//
//	Node.mu (the local session table)
//	  → Session.mu (one session's outbound state)
//	    → whatever Conn.Send takes (it never blocks and never calls back)
//
// deliveredQueue.mu, router.refreshMu (the node-address cache of QoS 0
// routing) and Membership.mu are leaves (publishers wait on the delivered
// queue's condition variable holding nothing else); the groups coordinator has its own single mutex,
// never held while a Join or Sync waits. No lock is held across a blocking
// call: proposals are asynchronous and their callbacks take Session.mu
// afresh. Store events arrive on raft's FSM
// goroutine and only enqueue work.
package cluster
