// Package kafka is a node's Kafka listener: it accepts Kafka clients,
// reads each request frame into a pooled buffer (bounded by
// MaxRequestBytes before anything is allocated), parses and decodes it
// with kafkacodec's bounded decoders, hands it to a Handler (cluster's
// Kafka) and writes the response.
//
// Requests of one connection are answered one at a time and in order, as
// Kafka brokers do: the connection does not read its next request until
// the response to the current one is written. ApiVersions is answered here
// (including KIP-511's downgrade for versions above ours); every other
// request goes to the Handler. An unknown API key, an unsupported version
// or a malformed request closes that connection only — the same as a
// Kafka broker — and so does a panic, which is recovered and logged.
//
// Buffer ownership: the decoded request aliases the frame buffer, which
// returns to the pool once Handle returns. A Handler that keeps bytes
// past Handle (a produced batch it proposes) copies them.
//
// Concurrency: one goroutine per connection, parked in a read while the
// client is idle; Handle may block (Fetch long polls, JoinGroup) and is
// cancelled when the server is closed.
package kafka
