// Package raftstore owns everything durable and replicated: raft (over a
// raft.StreamLayer it is handed), our Pebble log and stable store
// (sub-package logstore), the command set and the keyspace of the state
// machine, deterministic apply, snapshots, and the proposer that batches
// commands into raft entries.
//
// It must never know about listeners, connections or wire formats: the
// transport's listener and dialer come from package wire (NewStreamLayer),
// and what the state means to MQTT or Kafka clients is decided above it.
//
// # Layout on disk
//
//	DataDir/raft/        Pebble: raft log entries and raft's stable state (synced writes)
//	DataDir/fsm/db/      Pebble: the state machine (unsynced writes, applied index inside)
//	DataDir/snapshots/   raft's file snapshot store
//
// # Apply
//
// Every committed entry is applied in order on raft's FSM goroutine, one
// Pebble batch per ApplyBatch call, with the applied index written in the
// same batch. Apply reads only the command and the state before it, never
// a clock, randomness or map order, so every replica computes the same
// bytes. A command type or version this binary does not know stops the
// node (Store.Done, Store.Err) before anything of that entry is written,
// and a restart stops at the same entry; a replica never skips a command.
//
// # Concurrency
//
// Propose and ProposeAsync may be called from any goroutine. A proposal's
// done callback runs on the proposer's goroutine and must not block.
// Reads (KVGet, ReadQueue, Session, Match, ...) run concurrently with apply
// and see applied state only; Config.OnEvents runs on the FSM goroutine
// after each committed batch and must not block.
// Lock order: fsm.mu, then mqttIndex.mu, kafkaIndex.mu or nodeIndex.mu
// (Restore rebuilds the indexes while holding fsm.mu; no two index locks
// are ever held together); fsm.mu is the only lock held across Pebble calls; the
// index locks are held by apply only while a committed batch's changes
// are folded in; the proposer's mu is never held while fsm.mu is taken.
//
// # MQTT state
//
// Sessions, subscriptions, per-session queues, retained messages, inbound
// QoS 2 ids and will/expiry timers are replicated tables (mqtt*.go,
// DESIGN.md "MQTT state"). Subscription matching and queue fan-out happen
// at apply, against an in-memory topic trie that is rebuilt from Pebble on
// open and restore and changed only after a batch commits.
//
// # Kafka state
//
// Topics, partitions (record batches stored as produced, keyed by base
// offset), idempotent-producer state, committed offsets and the
// MQTT<->Kafka mappings are replicated tables too (kafka*.go, DESIGN.md
// "Kafka state"). Offsets are assigned at apply; MQTT publishes that a
// mapping matches become one RecordBatch per partition per raft entry, and
// records produced to a mapped topic are published through the MQTT path.
// An in-memory index of topics, partition states and mappings serves the
// reads, rebuilt on open and restore and changed only after a batch
// commits, like the MQTT one.
//
// # Node registry
//
// The nodes that serve, their Kafka broker ids and addresses, and which
// are live, are a replicated table too (node*.go, DESIGN.md "Node
// registry"). Partition leadership is a function of the live set, and a
// command that changes the live set bumps the leader epoch of the
// partitions whose leader moved; downing a node ends the sessions
// connected to it through the ordinary close path.
//
// # Buffer ownership
//
// Propose keeps cmd.Payload until the command has committed: callers must
// not modify it before done is called. Values returned by reads are copies
// the caller owns.
package raftstore
