package wire_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"tributary/wire"
)

// testTimeout bounds every wait in these tests so a bug fails rather than
// hangs; no assertion depends on how long anything took.
const testTimeout = 10 * time.Second

func startHTTP(t *testing.T, cfg wire.HTTPConfig) *wire.HTTPServer {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Ready == nil {
		cfg.Ready = func() error { return nil }
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.NewRegistry()
	}
	s, err := wire.ListenHTTP(cfg)
	if err != nil {
		t.Fatalf("ListenHTTP: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func request(t *testing.T, method, url string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, string(body)
}

func url(s *wire.HTTPServer, path string) string { return "http://" + s.Addr().String() + path }

func TestHTTP_Healthz(t *testing.T) {
	s := startHTTP(t, wire.HTTPConfig{Ready: func() error { return errors.New("no leader") }})
	code, h, body := request(t, http.MethodGet, url(s, "/healthz"))
	if code != http.StatusOK || body != "ok\n" {
		t.Fatalf("GET /healthz = %d %q, want 200 \"ok\\n\" even when not ready", code, body)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if code, _, _ := request(t, http.MethodHead, url(s, "/healthz")); code != http.StatusOK {
		t.Errorf("HEAD /healthz = %d, want 200", code)
	}
}

func TestHTTP_ReadyzFollowsCallback(t *testing.T) {
	var notReady atomic.Pointer[error]
	reason := errors.New("raftstore: no leader")
	notReady.Store(&reason)
	s := startHTTP(t, wire.HTTPConfig{Ready: func() error {
		if p := notReady.Load(); p != nil {
			return *p
		}
		return nil
	}})

	code, _, body := request(t, http.MethodGet, url(s, "/readyz"))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "raftstore: no leader") {
		t.Fatalf("GET /readyz while not ready = %d %q, want 503 naming the reason", code, body)
	}
	notReady.Store(nil)
	code, _, body = request(t, http.MethodGet, url(s, "/readyz"))
	if code != http.StatusOK {
		t.Fatalf("GET /readyz when ready = %d %q, want 200", code, body)
	}
}

func TestHTTP_MetricsServesGatherer(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_things_total", Help: "Things."})
	reg.MustRegister(c)
	c.Add(3)
	s := startHTTP(t, wire.HTTPConfig{Gatherer: reg})

	code, h, body := request(t, http.MethodGet, url(s, "/metrics"))
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", code)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want Prometheus text", ct)
	}
	if !strings.Contains(body, "# TYPE test_things_total counter\ntest_things_total 3\n") {
		t.Errorf("/metrics body lacks the registered counter:\n%s", body)
	}
}

func TestHTTP_RoutesAndMethods(t *testing.T) {
	s := startHTTP(t, wire.HTTPConfig{})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/readyz", http.StatusMethodNotAllowed},
		{http.MethodGet, "/", http.StatusNotFound},
		{http.MethodGet, "/healthz/extra", http.StatusNotFound},
	} {
		if code, _, _ := request(t, tc.method, url(s, tc.path)); code != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, code, tc.want)
		}
	}
}

// blockingGatherer blocks every Gather until release is closed, after
// telling entered that it started.
type blockingGatherer struct {
	entered chan struct{}
	release chan struct{}
}

func (g blockingGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.entered <- struct{}{}
	<-g.release
	return nil, nil
}

func TestHTTP_MaxInflightScrapes(t *testing.T) {
	g := blockingGatherer{entered: make(chan struct{}, 1), release: make(chan struct{})}
	s := startHTTP(t, wire.HTTPConfig{Gatherer: g, MaxInflightScrapes: 1})

	first := make(chan int, 1)
	go func() {
		resp, err := http.Get(url(s, "/metrics"))
		if err != nil {
			first <- -1
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-g.entered // the first scrape holds the only slot
	code, _, _ := request(t, http.MethodGet, url(s, "/metrics"))
	if code != http.StatusServiceUnavailable {
		t.Errorf("second concurrent scrape = %d, want 503", code)
	}
	close(g.release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first scrape = %d, want 200", code)
	}
}

func TestHTTP_ShutdownFinishesInflightRequests(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	s := startHTTP(t, wire.HTTPConfig{Ready: func() error {
		close(entered)
		<-release
		return nil
	}})
	addr := s.Addr().String()

	got := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	<-entered
	shutdownErr := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		shutdownErr <- s.Shutdown(ctx)
	}()
	waitRefused(t, addr) // Shutdown has closed the listener
	close(release)
	if code := <-got; code != http.StatusOK {
		t.Fatalf("in-flight request during Shutdown = %d, want 200", code)
	}
	if err := <-shutdownErr; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Shutdown")
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err after Shutdown = %v, want nil", err)
	}
}

func TestHTTP_ShutdownDeadline(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	s := startHTTP(t, wire.HTTPConfig{Ready: func() error {
		close(entered)
		<-release
		return nil
	}})
	go func() {
		if resp, err := http.Get(url(s, "/readyz")); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // already over: the in-flight request cannot finish in time
	err := s.Shutdown(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown with an ended context = %v, want context.Canceled", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after failed Shutdown: %v", err)
	}
}

func TestListenHTTP_BindError(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = wire.ListenHTTP(wire.HTTPConfig{
		Addr:     busy.Addr().String(),
		Ready:    func() error { return nil },
		Gatherer: prometheus.NewRegistry(),
	})
	if err == nil || !strings.Contains(err.Error(), "wire: http listen") {
		t.Fatalf("ListenHTTP on a busy port = %v, want a listen error", err)
	}
}

func TestHTTPConfig_ValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := wire.HTTPConfig{
		Addr:           "127.0.0.1:99999",
		ReadTimeout:    -time.Second,
		MaxHeaderBytes: -1,
	}.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	for _, want := range []string{"Addr", "99999", "Ready is nil", "Gatherer is nil", "ReadTimeout is negative", "MaxHeaderBytes is negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

func TestHTTPConfig_ValidateAddr(t *testing.T) {
	t.Parallel()
	ok := func() error { return nil }
	reg := prometheus.NewRegistry()
	for _, tc := range []struct {
		addr  string
		valid bool
	}{
		{"127.0.0.1:8080", true},
		{":8080", true},
		{"localhost:0", true},
		{"[::1]:65535", true},
		{"", false},
		{"127.0.0.1", false},
		{"127.0.0.1:", false},
		{"127.0.0.1:65536", false},
		{"127.0.0.1:http", false},
		{"127.0.0.1:-1", false},
	} {
		err := wire.HTTPConfig{Addr: tc.addr, Ready: ok, Gatherer: reg}.Validate()
		if (err == nil) != tc.valid {
			t.Errorf("Validate(Addr=%q) = %v, want valid=%v", tc.addr, err, tc.valid)
		}
	}
}

// waitRefused polls until a TCP connect to addr fails, which shows the
// listener is closed. Bounded by testTimeout.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s still accepts connections", addr)
}
