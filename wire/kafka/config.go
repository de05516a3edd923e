package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Handler answers decoded Kafka requests (cluster.Kafka implements it).
// Handle returns the response at the request's version, nil when none is
// sent (Produce with acks=0), or an error when the connection must close.
type Handler interface {
	Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, error)
}

// Config configures a Server. The zero value of every limit means "use
// the default"; it never means "unlimited".
type Config struct {
	// Addr is the address to listen on. Default 127.0.0.1:9092.
	Addr string
	// Handler answers every request but ApiVersions. Required.
	Handler Handler
	// MaxRequestBytes caps one request frame, checked before allocating;
	// a bigger one closes the connection. Default 100 MiB, Kafka's
	// socket.request.max.bytes.
	MaxRequestBytes int
	// MaxInflightRequestBytes caps the request bytes all connections hold
	// at once (Kafka's queued.max.request.bytes); a connection whose next
	// request does not fit waits. Default 1 GiB.
	MaxInflightRequestBytes int64
	// MaxConnections caps open connections; more are closed on accept.
	// Default 10,000.
	MaxConnections int
	// IdleTimeout closes a connection that sends no request for this long
	// (Kafka's connections.max.idle.ms). Default 10 minutes.
	IdleTimeout time.Duration
	// ReadTimeout bounds how long the rest of a request may take to arrive
	// once its size has been read. Default 30s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing one response. Default 30s.
	WriteTimeout time.Duration
	// Logger receives connection lifecycle logs (Debug) and anomalies.
	Logger *slog.Logger
	// Registerer receives the listener's metrics. Nil registers nothing.
	Registerer prometheus.Registerer
}

// Defaults.
const (
	DefaultAddr                    = "127.0.0.1:9092"
	DefaultMaxRequestBytes         = 100 << 20
	DefaultMaxInflightRequestBytes = 1 << 30
	DefaultMaxConnections          = 10_000
	DefaultIdleTimeout             = 10 * time.Minute
	DefaultReadTimeout             = 30 * time.Second
	DefaultWriteTimeout            = 30 * time.Second
)

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.MaxInflightRequestBytes == 0 {
		c.MaxInflightRequestBytes = DefaultMaxInflightRequestBytes
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// minRequestBytes is the smallest request frame: api key, version and
// correlation id (8 bytes) and a client id length (2).
const minRequestBytes = 10

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Handler == nil {
		errs = append(errs, errors.New("kafka: Config.Handler is required"))
	}
	if c.MaxRequestBytes < 0 || (c.MaxRequestBytes > 0 && c.MaxRequestBytes < minRequestBytes) {
		errs = append(errs, fmt.Errorf("kafka: MaxRequestBytes %d is below %d", c.MaxRequestBytes, minRequestBytes))
	}
	if c.MaxInflightRequestBytes < 0 {
		errs = append(errs, fmt.Errorf("kafka: MaxInflightRequestBytes %d is negative", c.MaxInflightRequestBytes))
	}
	if c.MaxInflightRequestBytes > 0 && c.MaxInflightRequestBytes < int64(c.MaxRequestBytes) {
		errs = append(errs, fmt.Errorf("kafka: MaxInflightRequestBytes %d is below MaxRequestBytes %d",
			c.MaxInflightRequestBytes, c.MaxRequestBytes))
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"MaxConnections", int64(c.MaxConnections)}, {"IdleTimeout", int64(c.IdleTimeout)},
		{"ReadTimeout", int64(c.ReadTimeout)}, {"WriteTimeout", int64(c.WriteTimeout)}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("kafka: %s is negative", f.name))
		}
	}
	return errors.Join(errs...)
}
