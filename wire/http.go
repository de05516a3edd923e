package wire

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Defaults for HTTPConfig. The endpoint serves probes and scrapes, never
// large bodies, so every limit is small.
const (
	DefaultHTTPReadHeaderTimeout = 5 * time.Second
	DefaultHTTPReadTimeout       = 10 * time.Second
	// DefaultHTTPWriteTimeout leaves room for a scrape of a busy node.
	DefaultHTTPWriteTimeout = 30 * time.Second
	DefaultHTTPIdleTimeout  = 60 * time.Second
	// DefaultHTTPMaxHeaderBytes is far above what a probe or scraper sends.
	DefaultHTTPMaxHeaderBytes = 16 << 10
	// DefaultHTTPMaxInflightScrapes bounds concurrent /metrics requests;
	// past it a scrape is answered 503 at once instead of piling up.
	DefaultHTTPMaxInflightScrapes = 8
)

// HTTPConfig configures the HTTP endpoint (/healthz, /readyz, /metrics,
// and the admin API when Mappings is set).
// The zero value of every optional field means "use the default"; it never
// means "unlimited".
type HTTPConfig struct {
	// Addr is the host:port to listen on. Required; port 0 picks a free
	// port, which Addr() then reports.
	Addr string
	// Ready reports whether the node can serve: nil means ready, an error
	// is the reason it is not, sent as the 503 body of /readyz. Required.
	// It is called once per /readyz request and must not block for long.
	Ready func() error
	// Gatherer provides the metrics served on /metrics. Required.
	Gatherer prometheus.Gatherer
	// Mappings, when set, serves the mapping admin API (/admin/mappings);
	// it returns nil while the node cannot change mappings yet (503).
	Mappings func() MappingAdmin
	// Members, when set, serves the member admin API (/admin/members,
	// /admin/leadership/transfer); it returns nil while the node cannot
	// answer yet (503).
	Members func() MemberAdmin
	// Logger receives serve errors. Nil discards them.
	Logger *slog.Logger

	// ReadHeaderTimeout bounds reading request headers. Default 5s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request. Default 10s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response. Default 30s.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long. Default 60s.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps request header size. Default 16 KiB.
	MaxHeaderBytes int
	// MaxInflightScrapes caps concurrent /metrics requests; the excess is
	// answered 503. Default 8.
	MaxInflightScrapes int
}

func (c HTTPConfig) withDefaults() HTTPConfig {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = DefaultHTTPReadHeaderTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = DefaultHTTPReadTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultHTTPWriteTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultHTTPIdleTimeout
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultHTTPMaxHeaderBytes
	}
	if c.MaxInflightScrapes == 0 {
		c.MaxInflightScrapes = DefaultHTTPMaxInflightScrapes
	}
	return c
}

// Validate reports every problem in c at once, joined with errors.Join.
func (c HTTPConfig) Validate() error {
	var errs []error
	if err := validateAddr(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("wire: HTTPConfig.Addr: %w", err))
	}
	if c.Ready == nil {
		errs = append(errs, errors.New("wire: HTTPConfig.Ready is nil"))
	}
	if c.Gatherer == nil {
		errs = append(errs, errors.New("wire: HTTPConfig.Gatherer is nil"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"ReadHeaderTimeout", c.ReadHeaderTimeout},
		{"ReadTimeout", c.ReadTimeout},
		{"WriteTimeout", c.WriteTimeout},
		{"IdleTimeout", c.IdleTimeout},
	} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("wire: HTTPConfig.%s is negative (%v)", d.name, d.v))
		}
	}
	if c.MaxHeaderBytes < 0 {
		errs = append(errs, fmt.Errorf("wire: HTTPConfig.MaxHeaderBytes is negative (%d)", c.MaxHeaderBytes))
	}
	if c.MaxInflightScrapes < 0 {
		errs = append(errs, fmt.Errorf("wire: HTTPConfig.MaxInflightScrapes is negative (%d)", c.MaxInflightScrapes))
	}
	return errors.Join(errs...)
}

// HTTPServer serves /healthz, /readyz and /metrics. It is safe for
// concurrent use; Shutdown and Close may be called more than once.
type HTTPServer struct {
	ln   net.Listener
	srv  *http.Server
	log  *slog.Logger
	done chan struct{}

	mu  sync.Mutex
	err error // why Serve stopped, if not because of Shutdown or Close
}

// ListenHTTP validates cfg, binds cfg.Addr and starts serving in a
// goroutine. A bind error is returned here, so when ListenHTTP returns nil
// the endpoint is already accepting connections at Addr().
func ListenHTTP(cfg HTTPConfig) (*HTTPServer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("wire: http listen %s: %w", cfg.Addr, err)
	}
	s := &HTTPServer{
		ln:   ln,
		log:  cfg.Logger,
		done: make(chan struct{}),
		srv: &http.Server{
			Handler:           newHTTPHandler(cfg),
			ReadHeaderTimeout: cfg.ReadHeaderTimeout,
			ReadTimeout:       cfg.ReadTimeout,
			WriteTimeout:      cfg.WriteTimeout,
			IdleTimeout:       cfg.IdleTimeout,
			MaxHeaderBytes:    cfg.MaxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
	}
	go s.serve()
	return s, nil
}

func (s *HTTPServer) serve() {
	defer close(s.done)
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return
	}
	s.mu.Lock()
	s.err = fmt.Errorf("wire: http serve: %w", err)
	s.mu.Unlock()
}

// Addr returns the address the server is bound to.
func (s *HTTPServer) Addr() net.Addr { return s.ln.Addr() }

// Done is closed when the server has stopped serving: after Shutdown or
// Close, or by itself if accepting connections failed (see Err).
func (s *HTTPServer) Done() <-chan struct{} { return s.done }

// Err returns why the server stopped by itself, or nil if it is still
// serving or was stopped by Shutdown or Close.
func (s *HTTPServer) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Shutdown stops accepting connections and waits, until ctx ends, for
// in-flight requests to finish; idle connections are closed at once.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("wire: http shutdown: %w", err)
	}
	<-s.done
	return nil
}

// Close stops the server at once, closing every connection.
func (s *HTTPServer) Close() error {
	if err := s.srv.Close(); err != nil {
		return fmt.Errorf("wire: http close: %w", err)
	}
	<-s.done
	return nil
}

// newHTTPHandler routes the three endpoints. GET patterns also match HEAD;
// other methods get 405 from the mux, unknown paths 404.
func newHTTPHandler(cfg HTTPConfig) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := cfg.Ready(); err != nil {
			writeText(w, http.StatusServiceUnavailable, err.Error()+"\n")
			return
		}
		writeText(w, http.StatusOK, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{
		ErrorLog:            promLogger{log: cfg.Logger},
		ErrorHandling:       promhttp.HTTPErrorOnError,
		MaxRequestsInFlight: cfg.MaxInflightScrapes,
	}))
	if cfg.Members != nil {
		addMemberRoutes(mux, cfg.Members)
	}
	if cfg.Mappings != nil {
		addAdminRoutes(mux, cfg.Mappings)
	}
	// Go's profiler, as etcd and Consul serve it: CPU and heap profiles of
	// a running node (the endpoint is on loopback unless moved).
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}

// writeText writes a short plain-text answer that no cache may keep: probe
// answers are only true at the instant they are made.
func writeText(w http.ResponseWriter, code int, body string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body)) // the client hanging up is not our error
}

// promLogger adapts slog to promhttp's Println-only logger.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn("metrics scrape failed", "err", fmt.Sprint(v...))
}
