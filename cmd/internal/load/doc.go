// Package load is the MQTT load generator behind `tributary bench`: a lean
// MQTT 3.1.1 / 5.0 client built directly on mqttcodec, so that on a small
// machine the broker, not the tool, is what runs out of processor.
//
// # What it owns
//
// Run drives one scenario from a Config: subscribers connect and subscribe
// first, then publishers send for Warmup+Duration on one of three topic
// layouts (fan-in, pairs, fan-out) at QoS 0, 1 or 2, paced or as fast as
// an inflight window of pipelined publishes allows. Every payload carries
// its send time, its publisher and its sequence number (payload.go), so
// subscribers measure end-to-end latency into a log-linear histogram
// (histogram.go) and check, per publisher, for lost, duplicated and
// reordered messages in fixed memory (seqtrack.go). RunIdle opens
// connections that then stay silent and reads the broker's resident memory
// from /proc before and after, to price an idle connection.
//
// Connections bind their local address to each of Config.SourceAddrs in
// turn (by default 127.0.0.2–127.0.0.17 toward a loopback broker), so the
// number of connections is not bounded by one address's ephemeral ports.
//
// # What it must never do
//
// It never runs unbounded: counts, sizes and durations are validated, each
// connection exchange has a timeout, the drain after the window has one,
// and every goroutine ends before Run returns. It imports no broker
// package: it talks to a broker only over TCP, so it measures Tributary
// and Mosquitto alike. It is not a conformance checker; it fails a run on
// anything that would make the figures wrong (a refused connection, a
// downgraded subscription, an acknowledgement for a packet not in flight)
// and leaves the rest to the broker's own tests.
//
// # Concurrency
//
// Each connection has one reader goroutine; a publisher also has one writer
// goroutine. They share only atomic counters and, for a QoS 1/2 publisher,
// its window of packet identifiers (a mutex, never held across I/O). A
// subscriber's histogram and sequence trackers belong to its reader alone
// and are merged after every goroutine has stopped. Writes to a connection
// may come from two goroutines, which net.Conn allows: each Write call is
// written whole.
//
// # Buffers
//
// A publisher encodes its PUBLISH once (mqttcodec.PublishTemplate) and, per
// batch, copies it into one reused buffer with the packet identifier and
// the payload header patched in, so a write carries many messages and
// allocates nothing. A reader decodes frames in place in its read buffer;
// nothing it decodes outlives the read.
package load
