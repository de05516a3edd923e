// Package wire owns every listener and dialer of a Tributary node.
//
// Today that is two ports:
//
//   - the HTTP endpoint (ListenHTTP): /healthz answers 200 while the process
//     runs, /readyz answers 200 when the HTTPConfig.Ready callback returns nil
//     and 503 with the callback's error as text otherwise, /metrics serves the
//     Prometheus text format from the Gatherer it is handed;
//   - the cluster port (ListenCluster), demultiplexed by the first byte of
//     each inbound connection: ClusterRPCByte (0xC7) opens a forwarding-RPC
//     connection, which RPC().Accept returns and DialRPC dials; any other
//     byte is a raft stream (raft starts each with its RPC type, 0..4),
//     which Accept returns with that byte replayed, so the listener and
//     Dial together back a raft.StreamLayer.
//
// The MQTT and Kafka listeners and their connection state machines come in
// sub-packages (wire/mqtt, wire/kafka).
//
// What wire must never do: import Pebble or hashicorp/raft, or know how the
// node stores anything. Readiness reaches it through a callback and metrics
// through a prometheus.Gatherer, so raftstore stays below wire and raftstore
// adapts the cluster port into a raft.StreamLayer itself.
//
// Concurrency: every exported type is safe for concurrent use. ListenHTTP and
// ListenCluster bind synchronously, so a bind error is returned to the caller
// and Addr reports the bound address (useful with port 0). The HTTP server
// serves in one goroutine of its own plus one per connection (net/http). The
// cluster listener runs one accept goroutine, plus one per inbound
// connection from its accept until its first byte is read and an Accept of
// its side takes it (each step bounded by ClusterConfig.FirstByteTimeout and
// HandoffTimeout, and their number by MaxConns); nothing is queued.
//
// Ownership: a connection returned by ClusterListener.Accept,
// RPC().Accept, Dial or DialRPC belongs to the caller, who must Close it;
// closing the listener closes the connections not yet handed over, not
// those it handed over. No buffer crosses this package's API yet.
//
// Logging: connection lifecycle at Debug; serve and scrape failures at Warn.
package wire
