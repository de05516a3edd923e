// Package mqtt is the MQTT listener of a Tributary node: it accepts client
// connections and runs, per connection, the MQTT 3.1, 3.1.1 and 5.0
// connection state machine between the socket and a cluster.Session.
//
// # What it owns
//
// The listener and its connection limit; the handshake (CONNECT, enhanced
// authentication through an Authenticator, CONNACK with every MQTT 5
// property the server sets); keep alive; the QoS 1 and 2 handshakes of
// inbound publishes, answered in order once the log commits them, and the
// server's Receive Maximum; topic aliases both ways; message expiry on the
// wire; the client's Maximum Packet Size; SUBSCRIBE, UNSUBSCRIBE,
// DISCONNECT and AUTH; and every refusal and DISCONNECT reason code. Packets
// are decoded and encoded by mqttcodec. Sessions, routing, packet ids of
// outbound messages, the in-flight window towards the client, retained
// messages and wills belong to package cluster, which this package reaches
// only through cluster.Node.Connect and the Session it returns; deliveries
// come back through cluster.Conn, which the connection implements.
//
// What it must never do: import raftstore, Pebble or raft; block in
// Conn.Send or Conn.Kick (a session calls them under its lock); let one
// connection's input, slowness or panic reach another connection.
//
// # Concurrency
//
// Each connection has one reader goroutine, which runs the state machine
// and is the only one to touch the connection's protocol state, and at
// most one writer goroutine, which exists only while packets are queued.
// When the socket has nothing more to read, the reader hands the wait over
// to a fresh goroutine and exits, so the goroutine that parks while the
// connection is idle has the smallest stack the runtime gives (see
// conn.serve); a busy connection keeps its reader.
// Everything else — Send and Kick from the session, the commit callbacks
// of publishes — only queues packets under the connection's mutex, which
// is never held across a blocking call. Calls into the cluster (Connect,
// Subscribe, Unsubscribe, Close) block the reader, so a client's packets
// are handled in order; QoS 1 and 2 publishes do not block it: their
// acknowledgements are sent, in arrival order, as the commits come in.
// Every goroutine of a connection recovers from a panic, logs it with its
// stack and closes that connection only.
//
// An idle connection holds no buffer and no writer: its reader waits for
// the socket to become readable without reading (a MSG_PEEK through
// syscall.RawConn on Linux, a one-byte read into the connection elsewhere)
// and only then takes a buffer from the pool. BenchmarkIdleConnectionBytes
// measures what remains: 3 to 3.5 KiB on the server side, of which 2 KiB
// is the parked goroutine's stack — the floor of a goroutine per
// connection, which only an event loop driving this same state machine
// would lower.
//
// # Buffer ownership
//
// Inbound frames are read into pooled buffers (bytebufferpool) and
// decoded in place; a buffer returns to the pool as soon as it holds no
// partial frame. What outlives a frame is copied once, where it is kept: a
// message's topic, payload and properties before the session takes it
// (ownMessage), a subscription's filter, a topic alias's topic, the will.
// Authenticators see views into the frame, valid during the call.
//
// Outbound messages are shared by every session they are delivered to and
// are read-only here. Each connection encodes its PUBLISH packets itself,
// into a pooled buffer, since packet id, DUP, RETAIN, subscription
// identifiers, topic alias and the expiry left differ per subscriber and
// per instant; a payload of inlinePayloadBytes or more is not copied but
// written from the message, as one vector of the writev.
//
// # PROXY protocol
//
// With Config.ProxyProtocolFrom set, a connection from one of those
// networks (the load balancers) may open with a PROXY protocol v1 or v2
// header, parsed by go-proxyproto on the connection's own goroutine before
// the state machine starts; its source address becomes the connection's
// remote address (logs, AuthRequest.RemoteAddr). A header from any other
// source closes the connection. The raw-socket readiness wait, and so the
// idle-connection property below, holds for proxied connections too; see
// proxy.go for why the header is not read through proxyproto.Listener.
//
// # Limits
//
// Every limit is a Config field with a default: packet size (checked from
// the fixed header before any allocation), keep alive, Receive Maximum,
// topic aliases both ways, connections, the time to CONNACK and to the end
// of a PROXY header, outbound bytes per connection (QoS 0 beyond it is
// dropped and counted), write and commit timeouts.
//
// Metrics: tributary_mqtt_connections (open now),
// tributary_mqtt_connections_total (accepted),
// tributary_mqtt_connections_rejected_total{reason} (max_connections,
// auth, protocol, unavailable, proxy_untrusted, proxy_invalid,
// proxy_timeout), tributary_mqtt_proxy_headers_total,
// tributary_mqtt_messages_received_total{qos},
// tributary_mqtt_messages_sent_total{qos},
// tributary_mqtt_messages_dropped_total{reason} (outbound_full, too_large,
// expired), tributary_mqtt_received_bytes_total,
// tributary_mqtt_sent_bytes_total and
// tributary_mqtt_connection_panics_total.
//
// Logging: connection lifecycle at Debug with conn_id, client_id,
// remote_addr and proto; recovered panics at Error. Packets, payloads and
// credentials are never logged.
package mqtt
