package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds for the end-to-end test. They only turn a hang into a failure; no
// assertion depends on how fast anything happens.
const (
	readyWithin = 20 * time.Second
	exitWithin  = 20 * time.Second
)

// TestEndToEnd runs the real binary as a separate process, as `make run`
// and the scripts outside the repository do. The binary is built once for
// all subtests; they run one after another because each owns real ports.
func TestEndToEnd(t *testing.T) {
	bin := buildBinary(t)
	t.Run("serve, probes, SIGTERM, restart on the same data", func(t *testing.T) { testLifecycle(t, bin) })
	t.Run("config mistakes are all reported", func(t *testing.T) { testConfigMistakes(t, bin) })
	t.Run("config file with a flag override", func(t *testing.T) { testConfigFileAndFlag(t, bin) })
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tributary")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func testLifecycle(t *testing.T, bin string) {
	dataDir := filepath.Join(t.TempDir(), "data") // serve must create it
	httpAddr, raftAddr := freeAddr(t), freeAddr(t)
	args := []string{"serve", "--data-dir", dataDir, "--http-addr", httpAddr, "--raft-addr", raftAddr,
		"--mqtt-addr", freeAddr(t), "--kafka-addr", freeAddr(t)}

	p := startProcess(t, bin, args...)
	code, body := waitStatus(t, p, "http://"+httpAddr+"/healthz", http.StatusOK)
	if body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 \"ok\\n\"", code, body)
	}
	waitStatus(t, p, "http://"+httpAddr+"/readyz", http.StatusOK)
	checkMetrics(t, "http://"+httpAddr+"/metrics")
	p.stop(t)
	for _, want := range []string{"shutting down", "http endpoint stopped", "raft store closed", "cluster listener closed", "shutdown complete"} {
		if !strings.Contains(p.stderr(), want) {
			t.Errorf("shutdown log lacks %q:\n%s", want, p.stderr())
		}
	}

	// The same data directory again: the node reopens its raft state and
	// becomes ready again.
	p = startProcess(t, bin, args...)
	waitStatus(t, p, "http://"+httpAddr+"/readyz", http.StatusOK)
	p.stop(t)
}

func checkMetrics(t *testing.T, url string) {
	t.Helper()
	resp, err := httpClient.Get(url)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics = %d %s, want 200 Prometheus text", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		"# TYPE go_goroutines gauge\ngo_goroutines ",
		"\ngo_memstats_alloc_bytes ",
		"\nprocess_start_time_seconds ",
		"\ntributary_cluster_conns_open ",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func testConfigMistakes(t *testing.T, bin string) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "tributary.yaml")
	writeFile(t, cfgPath, "node_id: \"has space\"\nhttp_addr: nowhere\n")
	dataDir := filepath.Join(dir, "data")

	p := startProcess(t, bin, "serve", "--config", cfgPath, "--data-dir", dataDir)
	code := p.wait(t)
	if code == 0 {
		t.Fatalf("serve with a broken config exited 0; stderr:\n%s", p.stderr())
	}
	for _, want := range []string{"node_id (--node-id)", "has space", "http_addr (--http-addr)", "nowhere"} {
		if !strings.Contains(p.stderr(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.stderr())
		}
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused config still touched the data dir (stat: %v)", err)
	}
}

func testConfigFileAndFlag(t *testing.T, bin string) {
	dir := t.TempDir()
	fileHTTP, flagHTTP, raftAddr, mqttAddr, kafkaAddr := freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t), freeAddr(t)
	cfgPath := filepath.Join(dir, "tributary.yaml")
	writeFile(t, cfgPath, "node_id: e2e-node\n"+
		"data_dir: "+filepath.Join(dir, "data")+"\n"+
		"http_addr: "+fileHTTP+"\n"+
		"raft_addr: "+raftAddr+"\n"+
		"mqtt_addr: "+mqttAddr+"\n"+
		"kafka_addr: "+kafkaAddr+"\n"+
		"log_format: json\n")

	p := startProcess(t, bin, "serve", "--config", cfgPath, "--http-addr", flagHTTP)
	waitStatus(t, p, "http://"+flagHTTP+"/readyz", http.StatusOK)
	if c, err := net.DialTimeout("tcp", raftAddr, exitWithin); err != nil {
		t.Errorf("raft_addr from the file is not listening: %v", err)
	} else {
		c.Close()
	}
	if c, err := net.DialTimeout("tcp", mqttAddr, exitWithin); err != nil {
		t.Errorf("mqtt_addr from the file is not listening: %v", err)
	} else {
		c.Close()
	}
	if c, err := net.DialTimeout("tcp", kafkaAddr, exitWithin); err != nil {
		t.Errorf("kafka_addr from the file is not listening: %v", err)
	} else {
		c.Close()
	}
	if c, err := net.DialTimeout("tcp", fileHTTP, exitWithin); err == nil {
		c.Close()
		t.Errorf("http_addr from the file (%s) is listening although --http-addr overrode it", fileHTTP)
	}
	stderr := p.stderr()
	if !strings.Contains(stderr, `"node_id":"e2e-node"`) {
		t.Errorf("log_format json and node_id from the file not applied; stderr:\n%s", stderr)
	}
	p.stop(t)
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// process is a running `tributary` child with its stderr captured.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // from Wait, read after done is closed
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	p.cmd.Dir = t.TempDir() // a stray relative path lands here, not in the repository
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *process) stderr() string { return p.out.String() }

// wait returns the exit code, failing the test if the process runs on.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(exitWithin):
		t.Fatalf("process still running after %v; output:\n%s", exitWithin, p.stderr())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait: %v", p.err)
	}
	return 0
}

// stop sends SIGTERM and requires a clean exit (code 0).
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0; output:\n%s", code, p.stderr())
	}
}

// waitStatus polls url until it answers want, the process exits, or
// readyWithin passes; it returns the last answer.
func waitStatus(t *testing.T, p *process, url string, want int) (int, string) {
	t.Helper()
	deadline := time.Now().Add(readyWithin)
	code, body := 0, ""
	for {
		resp, err := httpClient.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code, body = resp.StatusCode, string(b)
			if code == want {
				return code, body
			}
		} else {
			body = err.Error()
		}
		select {
		case <-p.done:
			t.Fatalf("process exited while waiting for %s; output:\n%s", url, p.stderr())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d within %v; last: %d %q; output:\n%s", url, want, readyWithin, code, body, p.stderr())
		}
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago. The binary refuses port 0 (peers need a known port), so the test
// picks one; another process taking it in between would fail the bind
// loudly, not silently.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the child's writes and our reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
