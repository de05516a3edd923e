// Package wire owns every listener and dialer of a Tributary node.
//
// Today that is two ports:
//
//   - the HTTP endpoint (ListenHTTP): /healthz answers 200 while the process
//     runs, /readyz answers 200 when the HTTPConfig.Ready callback returns nil
//     and 503 with the callback's error as text otherwise, /metrics serves the
//     Prometheus text format from the Gatherer it is handed;
//   - the cluster port (ListenCluster): a net.Listener plus a Dial function
//     that together carry raft streams between nodes. A later change
//     demultiplexes this port by the first byte of each connection into raft
//     streams and forwarding RPC; raft's own streams begin with its RPC type
//     byte (0-3 today), which is what that split will key on.
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
// serves in one goroutine of its own plus one per connection (net/http); the
// cluster listener starts none: its caller drives Accept.
//
// Ownership: a connection returned by ClusterListener.Accept or Dial belongs
// to the caller, who must Close it; closing the listener does not close the
// connections it accepted. No buffer crosses this package's API yet.
//
// Logging: connection lifecycle at Debug; serve and scrape failures at Warn.
package wire
