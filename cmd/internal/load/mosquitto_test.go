package load

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"tributary/mqttcodec"
)

// lockedBuffer collects a child's output while the test may read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startMosquitto runs a real Mosquitto on a free loopback port, configured
// as .ci/bench-mqtt configures it, and returns its address and pid. The
// test is skipped when the mosquitto binary is not installed.
func startMosquitto(t *testing.T) (string, int) {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/mosquitto"); statErr != nil {
			t.Skip("mosquitto is not installed (apt-get install mosquitto)")
		}
		bin = "/usr/sbin/mosquitto"
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(t.TempDir(), "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 1000\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n", port)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto output:\n%s", logs.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr, cmd.Process.Pid
		}
		select {
		case err := <-exited:
			t.Fatalf("mosquitto exited: %v\n%s", err, logs.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s within 10s\n%s", addr, logs.String())
		}
	}
}

// TestAgainstMosquitto is the tool's smoke test: short paced runs, whose
// load a broker carries without loss, against a real broker, and an idle
// run. Rates are low so that any loss, duplicate or reordering is a bug
// of the tool, not the broker's overflow policy.
func TestAgainstMosquitto(t *testing.T) {
	addr, pid := startMosquitto(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, cfg := range []Config{
		{Layout: LayoutFanIn, Publishers: 3, QoS: 1, Rate: 300, Version: mqttcodec.V311},
		{Layout: LayoutPairs, Publishers: 2, QoS: 2, Rate: 200, Version: mqttcodec.V5, Persistent: true},
		{Layout: LayoutFanOut, Subscribers: 3, QoS: 0, Rate: 500, Version: mqttcodec.V5, PayloadBytes: 1000},
	} {
		name := fmt.Sprintf("%s/qos%d/v%d", cfg.Layout, cfg.QoS, cfg.Version)
		t.Run(name, func(t *testing.T) {
			cfg.Addr, cfg.BrokerPID, cfg.SourceAddrs = addr, pid, LoopbackSources()
			cfg.Duration, cfg.Warmup = time.Second, 200*time.Millisecond
			res, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, res)
		})
	}
	t.Run("idle", func(t *testing.T) {
		res, err := RunIdle(ctx, IdleConfig{Addr: addr, Conns: 200, Hold: 200 * time.Millisecond,
			BrokerPID: pid, SourceAddrs: LoopbackSources()})
		if err != nil {
			t.Fatal(err)
		}
		if res.Dropped != 0 || res.RSSBeforeBytes <= 0 || res.RSSAfterBytes <= 0 || res.ConnectTime <= 0 {
			t.Errorf("idle run: %+v; want every connection open and both RSS readings", res)
		}
		want := float64(res.RSSAfterBytes-res.RSSBeforeBytes) / 200
		if res.BytesPerConn != want {
			t.Errorf("BytesPerConn = %v, want (after-before)/conns = %v", res.BytesPerConn, want)
		}
	})
}

// checkClean checks a loss-free run's accounting for consistency.
func checkClean(t *testing.T, r Result) {
	t.Helper()
	if r.Sent == 0 || r.Published == 0 || r.Received == 0 || r.Latency.Samples == 0 {
		t.Fatalf("nothing measured: %+v", r)
	}
	if r.Lost != 0 || r.Duplicated != 0 || r.Reordered != 0 || r.Foreign != 0 || r.Refused != 0 || r.Unacked != 0 {
		t.Errorf("lost %d, duplicated %d, reordered %d, foreign %d, refused %d, unacked %d; want all 0",
			r.Lost, r.Duplicated, r.Reordered, r.Foreign, r.Refused, r.Unacked)
	}
	if want := r.Sent * uint64(r.Config.Subscribers); r.Config.Layout != LayoutPairs && r.Expected != want {
		t.Errorf("expected %d deliveries, want sent × subscribers = %d", r.Expected, want)
	}
	if r.Delivered != r.Expected {
		t.Errorf("delivered %d of %d expected", r.Delivered, r.Expected)
	}
	l := r.Latency
	if !(l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) {
		t.Errorf("latency percentiles out of order: %+v", l)
	}
	if r.BrokerRSSBytes <= 0 {
		t.Errorf("broker RSS = %d, want the broker's VmRSS", r.BrokerRSSBytes)
	}
	if r.PublishedPerSec <= 0 || r.ReceivedPerSec <= 0 || r.Window <= 0 {
		t.Errorf("rates %v/%v over %v", r.PublishedPerSec, r.ReceivedPerSec, r.Window)
	}
}
