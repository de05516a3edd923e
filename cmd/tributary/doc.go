// Command tributary runs a Tributary node.
//
//	tributary serve [--config FILE] [--node-id ID] [--data-dir DIR]
//	                [--http-addr HOST:PORT] [--raft-addr HOST:PORT]
//	                [--mqtt-addr HOST:PORT] [MQTT limits] [--log-level LEVEL]
//	                [--log-format FORMAT]
//	tributary bench [--addr HOST:PORT] [--qos N] [--layout fanin|pairs|fanout] ...
//
// serve runs a node; bench drives any MQTT broker (Tributary or another,
// for comparison) with load and reports rates, latency and, given the
// broker's pid, its memory per idle connection.
//
// This package is the only place that assembles the others: it loads the
// configuration (built-in defaults, then the YAML file, then the flags set
// on the command line), builds the one slog handler of the process and
// hands child loggers to every package's Config, binds wire's listeners,
// gives raftstore its StreamLayer over wire's cluster port, and owns the
// process lifecycle: SIGTERM or SIGINT stops the node cleanly (exit 0), a
// fatal store error stops it with exit 1, and a bad command line or
// configuration exits 2 after listing every problem at once.
//
// It holds no broker logic. The flag names are a public interface that
// scripts outside the repository rely on; do not rename them.
//
// Concurrency: main runs the node on its own goroutine and blocks until a
// signal or a fatal error; the parts it starts own their goroutines and are
// stopped in reverse order (MQTT listener, broker node, HTTP endpoint, raft
// store, cluster port). The only state shared with another goroutine is the
// store pointer the readiness probe reads and the broker pointer the store's
// event callback reads, each held in an atomic.Pointer. No buffers cross this
// package.
package main
