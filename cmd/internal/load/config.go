package load

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"time"

	"tributary/mqttcodec"
)

// Layout says which publishers reach which subscribers.
type Layout string

// Topic layouts.
const (
	// LayoutFanIn sends every publisher to one topic, which every subscriber
	// subscribes to: N→1 with one subscriber, N→M with more.
	LayoutFanIn Layout = "fanin"
	// LayoutPairs gives publisher i its own topic, which only subscriber i
	// subscribes to; Publishers and Subscribers must be equal.
	LayoutPairs Layout = "pairs"
	// LayoutFanOut has one publisher and every subscriber on its topic.
	LayoutFanOut Layout = "fanout"
)

// ParseLayout returns the Layout a flag value names.
func ParseLayout(s string) (Layout, error) {
	switch l := Layout(s); l {
	case LayoutFanIn, LayoutPairs, LayoutFanOut:
		return l, nil
	}
	return "", fmt.Errorf("load: layout %q is not fanin, pairs or fanout", s)
}

// Defaults and bounds of Config and IdleConfig.
const (
	DefaultAddr           = "127.0.0.1:1883"
	DefaultPublishers     = 10
	DefaultPayloadBytes   = 64
	DefaultDuration       = 10 * time.Second
	DefaultInflightMsgs   = 64
	DefaultKeepAlive      = 60 * time.Second
	DefaultIdleKeepAlive  = 300 * time.Second
	DefaultIdleHold       = 5 * time.Second
	DefaultConnectTimeout = 10 * time.Second
	DefaultDrainTimeout   = 5 * time.Second

	// MaxClients bounds the connections of one load run, publishers and
	// subscribers together; MaxIdleConns bounds an idle run. Both stay below
	// the 20,000 descriptors a process may hold here, with room for the rest.
	MaxClients   = 10_000
	MaxIdleConns = 19_000
	// MaxPayloadBytes bounds one message: a load tool has no use for more.
	MaxPayloadBytes = 1 << 20
	// MaxDuration bounds the measured window, the warm-up and the idle hold,
	// so that every run stops by itself.
	MaxDuration = time.Hour
	// MinRate and MaxRate bound the messages per second of one paced
	// publisher.
	MinRate = 0.01
	MaxRate = 10_000_000
	// maxRunIDBytes keeps client identifiers within the 23 bytes every
	// broker must accept [MQTT-3.1.3-5]: "tb" + 8 + "s" + 5 digits.
	maxRunIDBytes = 8
)

// Config describes one load run. The zero value of every field means "use
// the default" unless its comment says otherwise. Run validates it.
type Config struct {
	// Addr is the broker's host:port. Default 127.0.0.1:1883.
	Addr string
	// Layout is the topic layout. Default LayoutFanIn.
	Layout Layout
	// Publishers is the number of publishing connections. Default 10, or 1
	// for LayoutFanOut, which must have exactly one.
	Publishers int
	// Subscribers is the number of subscribing connections. Default 1 for
	// LayoutFanIn, 10 for LayoutFanOut, Publishers for LayoutPairs.
	Subscribers int
	// QoS is the quality of service of every publish and subscription.
	QoS mqttcodec.QoS
	// PayloadBytes is the size of each message's payload, at least
	// HeaderBytes (the payload carries the send time and sequence). Default 64.
	PayloadBytes int
	// Duration is the measured window. Default 10s.
	Duration time.Duration
	// Warmup runs the load before the measured window starts; its messages
	// are checked for loss but not counted in rates or latency. Zero means
	// no warm-up.
	Warmup time.Duration
	// Rate paces each publisher at this many messages per second. Zero means
	// no pacing: each publisher sends as fast as its inflight window (QoS>0)
	// or its socket (QoS 0) lets it.
	Rate float64
	// MaxInflightMsgs is the number of unacknowledged QoS 1/2 publishes a
	// publisher keeps outstanding (pipelined, not stop-and-wait); an MQTT 5
	// broker's smaller Receive Maximum lowers it. Default 64.
	MaxInflightMsgs int
	// Version is the protocol level: mqttcodec.V311 or mqttcodec.V5.
	// Default V311.
	Version mqttcodec.Version
	// Persistent makes subscribers keep a session (3.1.1 Clean Session 0,
	// 5.0 Clean Start 0 with a Session Expiry), so a broker queues their
	// QoS 1/2 messages durably. The sessions are discarded after the run.
	// Publishers always use a clean session.
	Persistent bool
	// SourceAddrs are the local addresses connections bind to, in turn, to
	// spread them over more ephemeral ports than one address has. Empty lets
	// the kernel choose.
	SourceAddrs []netip.Addr
	// BrokerPID, when not zero, is the broker's process id: the run then
	// reports its CPU use and resident memory from /proc.
	BrokerPID int
	// KeepAlive is the CONNECT keep alive; idle clients send PINGREQ at half
	// of it. Default 60s.
	KeepAlive time.Duration
	// ConnectTimeout bounds each connection's CONNECT and SUBSCRIBE
	// exchanges. Default 10s.
	ConnectTimeout time.Duration
	// DrainTimeout bounds the wait, after the window, for outstanding
	// acknowledgements and deliveries. Default 5s.
	DrainTimeout time.Duration
	// RunID tags client identifiers and topics so that runs against one
	// broker never see each other's messages: up to 8 lower-case letters or
	// digits. Default random.
	RunID string
	// Logger receives progress at Info and problems at Warn. Default discard.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Layout == "" {
		c.Layout = LayoutFanIn
	}
	if c.Publishers == 0 {
		c.Publishers = DefaultPublishers
		if c.Layout == LayoutFanOut {
			c.Publishers = 1
		}
	}
	if c.Subscribers == 0 {
		switch c.Layout {
		case LayoutPairs:
			c.Subscribers = c.Publishers
		case LayoutFanOut:
			c.Subscribers = 10
		default:
			c.Subscribers = 1
		}
	}
	if c.PayloadBytes == 0 {
		c.PayloadBytes = DefaultPayloadBytes
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = DefaultInflightMsgs
	}
	if c.Version == 0 {
		c.Version = mqttcodec.V311
	}
	c.KeepAlive = orDefault(c.KeepAlive, DefaultKeepAlive)
	c.ConnectTimeout = orDefault(c.ConnectTimeout, DefaultConnectTimeout)
	c.DrainTimeout = orDefault(c.DrainTimeout, DefaultDrainTimeout)
	if c.RunID == "" {
		c.RunID = newRunID()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Validate returns every problem of c after defaults are applied, joined
// with errors.Join.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("load: "+format, args...)) }
	errs = append(errs, checkAddr(c.Addr), checkVersion(c.Version), checkRunID(c.RunID))
	if _, err := ParseLayout(string(c.Layout)); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.Publishers < 1 || c.Subscribers < 1:
		add("publishers (%d) and subscribers (%d) must be at least 1", c.Publishers, c.Subscribers)
	case c.Publishers+c.Subscribers > MaxClients:
		add("%d publishers and %d subscribers exceed %d connections", c.Publishers, c.Subscribers, MaxClients)
	case c.Layout == LayoutFanOut && c.Publishers != 1:
		add("layout fanout has exactly 1 publisher, not %d", c.Publishers)
	case c.Layout == LayoutPairs && c.Subscribers != c.Publishers:
		add("layout pairs needs as many subscribers as publishers, not %d and %d", c.Subscribers, c.Publishers)
	}
	if !c.QoS.Valid() {
		add("qos %d is not 0, 1 or 2", c.QoS)
	}
	if c.PayloadBytes < HeaderBytes || c.PayloadBytes > MaxPayloadBytes {
		add("payload of %d bytes is outside %d..%d", c.PayloadBytes, HeaderBytes, MaxPayloadBytes)
	}
	errs = append(errs, checkSpan("duration", c.Duration, 1), checkSpan("warmup", c.Warmup, 0),
		checkSpan("drain timeout", c.DrainTimeout, 1), checkSpan("connect timeout", c.ConnectTimeout, 1),
		checkKeepAlive(c.KeepAlive))
	if c.Rate != 0 && !(c.Rate >= MinRate && c.Rate <= MaxRate) {
		add("rate %g is neither 0 (unpaced) nor in %g..%d messages/s", c.Rate, MinRate, MaxRate)
	}
	if c.MaxInflightMsgs < 1 || c.MaxInflightMsgs > math.MaxUint16 {
		add("inflight %d is outside 1..%d", c.MaxInflightMsgs, math.MaxUint16)
	}
	if c.BrokerPID < 0 {
		add("broker pid %d is negative", c.BrokerPID)
	}
	return errors.Join(errs...)
}

// IdleConfig describes an idle-connection run: Conns connections that
// connect and then stay silent, to measure what the broker spends on each.
// The zero value of every field means "use the default" unless its comment
// says otherwise. RunIdle validates it.
type IdleConfig struct {
	// Addr is the broker's host:port. Default 127.0.0.1:1883.
	Addr string
	// Conns is the number of idle connections, 1..MaxIdleConns. Required.
	Conns int
	// Version is the protocol level: mqttcodec.V311 or mqttcodec.V5.
	// Default V311.
	Version mqttcodec.Version
	// KeepAlive is the CONNECT keep alive. The connections send nothing, so
	// Hold must end well within it. Default 300s.
	KeepAlive time.Duration
	// Hold is how long the connections stay open, all connected, before the
	// broker's memory is read a second time. Default 5s.
	Hold time.Duration
	// BrokerPID, when not zero, is the broker's process id, whose VmRSS is
	// read before the first connection and after Hold.
	BrokerPID int
	// SourceAddrs are the local addresses connections bind to, in turn.
	// Empty lets the kernel choose.
	SourceAddrs []netip.Addr
	// ConnectTimeout bounds each connection's CONNECT exchange. Default 10s.
	ConnectTimeout time.Duration
	// RunID tags client identifiers, as in Config. Default random.
	RunID string
	// Logger receives progress at Info. Default discard.
	Logger *slog.Logger
}

func (c IdleConfig) withDefaults() IdleConfig {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Version == 0 {
		c.Version = mqttcodec.V311
	}
	c.KeepAlive = orDefault(c.KeepAlive, DefaultIdleKeepAlive)
	c.Hold = orDefault(c.Hold, DefaultIdleHold)
	c.ConnectTimeout = orDefault(c.ConnectTimeout, DefaultConnectTimeout)
	if c.RunID == "" {
		c.RunID = newRunID()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate returns every problem of c after defaults are applied, joined
// with errors.Join.
func (c IdleConfig) Validate() error {
	c = c.withDefaults()
	errs := []error{checkAddr(c.Addr), checkVersion(c.Version), checkRunID(c.RunID),
		checkKeepAlive(c.KeepAlive), checkSpan("hold", c.Hold, 1), checkSpan("connect timeout", c.ConnectTimeout, 1)}
	if c.Conns < 1 || c.Conns > MaxIdleConns {
		errs = append(errs, fmt.Errorf("load: %d idle connections is outside 1..%d", c.Conns, MaxIdleConns))
	}
	// The broker may close a connection that sent nothing for 1.5 keep alive
	// periods [MQTT-3.1.2-24 of 3.1.1]; the hold must end well before.
	if c.Hold >= c.KeepAlive {
		errs = append(errs, fmt.Errorf("load: hold %v must be shorter than the keep alive %v", c.Hold, c.KeepAlive))
	}
	if c.BrokerPID < 0 {
		errs = append(errs, fmt.Errorf("load: broker pid %d is negative", c.BrokerPID))
	}
	return errors.Join(errs...)
}

func checkAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("load: broker address: %w", err)
	}
	return nil
}

func checkVersion(v mqttcodec.Version) error {
	if v != mqttcodec.V311 && v != mqttcodec.V5 {
		return fmt.Errorf("load: mqtt version %d is not 4 (3.1.1) or 5 (5.0)", v)
	}
	return nil
}

func checkKeepAlive(d time.Duration) error {
	if d < time.Second || d > math.MaxUint16*time.Second {
		return fmt.Errorf("load: keep alive %v is outside 1s..%ds", d, math.MaxUint16)
	}
	return nil
}

// checkSpan checks that d lies in [min, MaxDuration].
func checkSpan(name string, d, min time.Duration) error {
	if d < min || d > MaxDuration {
		return fmt.Errorf("load: %s %v is outside %v..%v", name, d, min, MaxDuration)
	}
	return nil
}

func checkRunID(id string) error {
	if len(id) == 0 || len(id) > maxRunIDBytes {
		return fmt.Errorf("load: run id %q must be 1..%d bytes", id, maxRunIDBytes)
	}
	for i := 0; i < len(id); i++ {
		if b := id[i]; (b < 'a' || b > 'z') && (b < '0' || b > '9') {
			return fmt.Errorf("load: run id %q may hold only a-z and 0-9", id)
		}
	}
	return nil
}
