package mqtt

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tributary/cluster"
	"tributary/mqttcodec"
)

// Defaults for Config.
const (
	// DefaultAddr listens on loopback only, like Mosquitto 2, until the
	// operator chooses an address (DESIGN.md, "Defaults").
	DefaultAddr = "127.0.0.1:1883"
	// DefaultMaxPacketBytes is EMQX's default (1 MiB). Mosquitto and HiveMQ
	// accept up to the protocol's 256 MiB, but every inbound PUBLISH
	// becomes a raft command, and raftstore packs entries of 1 MiB: a
	// larger message is an entry of its own and stalls the log behind it.
	DefaultMaxPacketBytes = 1 << 20
	// DefaultMaxKeepAlive accepts every keep alive a client asks for.
	DefaultMaxKeepAlive = 65535 * time.Second
	// DefaultReceiveMaximum lets one client keep 1024 QoS 1 and 2
	// publishes in flight: enough to fill a raft entry from a single fast
	// publisher, whose acknowledgements wait for the commit.
	DefaultReceiveMaximum = 1024
	// DefaultTopicAliasMaximum bounds the inbound alias table. 64 aliases
	// of topics up to MaxPacketBytes cost a connection at most 64 MiB in
	// the worst case and a few KiB in practice; Mosquitto allows 10,
	// HiveMQ 5.
	DefaultTopicAliasMaximum = 64
	// DefaultOutboundTopicAliasMaximum bounds the aliases the server
	// assigns towards one client (below the client's own maximum). The
	// table holds references to topics already in memory, not copies.
	DefaultOutboundTopicAliasMaximum = 64
	// DefaultMaxConnections bounds open client connections per node.
	DefaultMaxConnections = 100_000
	// DefaultConnectTimeout closes a connection that sends no CONNECT (and
	// finishes no enhanced authentication) in time.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultMaxOutboundBytes bounds the bytes queued for one connection's
	// writer; past it QoS 0 messages for the connection are dropped.
	DefaultMaxOutboundBytes = 1 << 20
	// DefaultWriteTimeout closes a connection whose socket accepts no
	// bytes for this long.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultCommitTimeout matches cluster's ProposeTimeout default.
	DefaultCommitTimeout = 30 * time.Second
)

// Bounds checked by Validate.
const (
	minPacketBytes = 128 // room for any CONNECT a real client sends
	maxKeepAlive   = 65535 * time.Second
)

// Config configures a Server. The zero value of every optional field means
// "use the default"; it never means "unlimited".
type Config struct {
	// Addr is the host:port to listen on. Default 127.0.0.1:1883; port 0
	// picks a free port, which Server.Addr reports.
	Addr string
	// Node is the live broker node the connections' sessions belong to.
	// Required.
	Node *cluster.Node
	// Authenticator decides who may connect. Nil accepts every client that
	// does not ask for enhanced authentication (see AllowAll).
	Authenticator Authenticator

	// MaxPacketBytes caps one inbound packet, checked from its fixed header
	// before any buffer is taken; MQTT 5 clients are told in CONNACK
	// (Maximum Packet Size). Default 1 MiB.
	MaxPacketBytes int
	// MaxKeepAlive caps the keep alive a client may ask for. An MQTT 5
	// client asking more, or 0, is given MaxKeepAlive in CONNACK (Server
	// Keep Alive); an MQTT 3 client, which cannot be told, is refused with
	// return code 2, as Mosquitto does. Default 65535s: every request is
	// accepted. Whole seconds, 1s to 65535s.
	MaxKeepAlive time.Duration
	// ReceiveMaximum is how many QoS 1 and 2 publishes one client may have
	// unacknowledged; MQTT 5 clients are told in CONNACK, and one sending
	// more is disconnected (0x93); MQTT 3 connections stop being read until
	// a commit frees a slot. Default 1024, at most 65535.
	ReceiveMaximum int
	// TopicAliasMaximum is how many topic aliases an MQTT 5 client may
	// define towards the server (CONNACK's Topic Alias Maximum). Default 64,
	// at most 65535.
	TopicAliasMaximum int
	// OutboundTopicAliasMaximum caps the aliases the server assigns towards
	// one client, below the client's own Topic Alias Maximum; it reuses the
	// least recently used alias once all are taken. Default 64, at most
	// 65535.
	OutboundTopicAliasMaximum int
	// MaxConnections caps open client connections. A CONNECT past it is
	// refused with CONNACK 0x97 Quota exceeded (MQTT 3: 3 Server
	// unavailable) and the connection closed. Default 100,000.
	MaxConnections int
	// ConnectTimeout bounds the time from accept to CONNACK: the CONNECT
	// and any enhanced-authentication rounds. Default 10s.
	ConnectTimeout time.Duration
	// MaxOutboundBytes caps the bytes queued for one connection's writer.
	// Past it QoS 0 messages for the connection are dropped and counted in
	// tributary_mqtt_messages_dropped_total{reason="outbound_full"}; QoS 1
	// and 2 messages are bounded by the session's in-flight window instead.
	// Default 1 MiB.
	MaxOutboundBytes int
	// WriteTimeout closes a connection whose socket accepts no bytes for
	// this long, so a stalled client cannot hold its queue. Default 10s.
	WriteTimeout time.Duration
	// CommitTimeout bounds how long a connection waits for the commit of a
	// SUBSCRIBE or UNSUBSCRIBE before it answers with a failure code (MQTT
	// 3: closes). QoS 1 and 2 publishes are not waited for: their
	// acknowledgements follow the commits. Default 30s.
	CommitTimeout time.Duration

	// ProxyProtocolFrom lists the networks of the load balancers in front
	// of this listener (HAProxy's send-proxy or send-proxy-v2). A
	// connection from one of them may open with a PROXY protocol v1 or v2
	// header, whose source address then stands for the client everywhere
	// the connection reports one: the remote_addr of its logs and
	// AuthRequest.RemoteAddr. The header is optional, so a client on such
	// an address may also connect directly. A connection from any other
	// address that opens with a header is closed and counted in
	// tributary_mqtt_connections_rejected_total{reason="proxy_untrusted"}
	// (go-proxyproto's REJECT policy), so an untrusted client cannot
	// choose its address. Empty (the default): no PROXY protocol.
	// Addresses are compared as IPv4 when IPv4-mapped; prefixes must have
	// no host bits set (10.1.0.0/16, not 10.1.2.3/16).
	ProxyProtocolFrom []netip.Prefix
	// ProxyHeaderTimeout bounds the time from accept to the end of a
	// PROXY header (or ConnectTimeout, if shorter). A header that starts
	// and does not complete in time closes the connection
	// (reason="proxy_timeout"). A direct client's CONNECT is bounded by
	// ConnectTimeout alone. Default 5s.
	ProxyHeaderTimeout time.Duration

	// Logger receives connection lifecycle events at Debug and recovered
	// panics at Error. Nil discards them.
	Logger *slog.Logger
	// Registerer receives the server's metrics. Nil registers none.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Authenticator == nil {
		c.Authenticator = AllowAll{}
	}
	setDefault(&c.MaxPacketBytes, DefaultMaxPacketBytes)
	setDefault(&c.MaxKeepAlive, DefaultMaxKeepAlive)
	setDefault(&c.ReceiveMaximum, DefaultReceiveMaximum)
	setDefault(&c.TopicAliasMaximum, DefaultTopicAliasMaximum)
	setDefault(&c.OutboundTopicAliasMaximum, DefaultOutboundTopicAliasMaximum)
	setDefault(&c.MaxConnections, DefaultMaxConnections)
	setDefault(&c.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&c.MaxOutboundBytes, DefaultMaxOutboundBytes)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.CommitTimeout, DefaultCommitTimeout)
	setDefault(&c.ProxyHeaderTimeout, DefaultProxyHeaderTimeout)
	c.ProxyProtocolFrom = slices.Clone(c.ProxyProtocolFrom) // the caller's slice may change; the Config may not
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// Validate reports every problem in c at once, joined with errors.Join.
// Zero values are valid: they stand for the defaults.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("mqtt: Config."+format, args...))
	}
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			bad("Addr %q is not host:port: %w", c.Addr, err)
		}
	}
	if c.Node == nil {
		errs = append(errs, errors.New("mqtt: Config.Node is nil"))
	}
	if c.MaxPacketBytes != 0 && (c.MaxPacketBytes < minPacketBytes || c.MaxPacketBytes > mqttcodec.MaxFrameBytes) {
		bad("MaxPacketBytes %d is outside [%d, %d]", c.MaxPacketBytes, minPacketBytes, mqttcodec.MaxFrameBytes)
	}
	if c.MaxKeepAlive != 0 && (c.MaxKeepAlive < time.Second || c.MaxKeepAlive > maxKeepAlive) {
		bad("MaxKeepAlive %v is outside [1s, %v]", c.MaxKeepAlive, maxKeepAlive)
	}
	for _, f := range []struct {
		name string
		v    int
	}{
		{"ReceiveMaximum", c.ReceiveMaximum},
		{"TopicAliasMaximum", c.TopicAliasMaximum},
		{"OutboundTopicAliasMaximum", c.OutboundTopicAliasMaximum},
	} {
		if f.v < 0 || f.v > 65535 {
			bad("%s %d is outside [1, 65535]", f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxConnections", c.MaxConnections}, {"MaxOutboundBytes", c.MaxOutboundBytes}} {
		if f.v < 0 {
			bad("%s is negative (%d)", f.name, f.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ConnectTimeout", c.ConnectTimeout}, {"WriteTimeout", c.WriteTimeout}, {"CommitTimeout", c.CommitTimeout},
		{"ProxyHeaderTimeout", c.ProxyHeaderTimeout}} {
		if d.v < 0 {
			bad("%s is negative (%v)", d.name, d.v)
		}
	}
	errs = append(errs, validateProxyFrom(c.ProxyProtocolFrom)...)
	return errors.Join(errs...)
}
