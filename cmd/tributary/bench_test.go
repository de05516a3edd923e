package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	loadgen "tributary/cmd/internal/load"
	"tributary/mqttcodec"
)

func TestParseBenchFlags_Load(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	opts, err := parseBenchFlags([]string{"--addr", "127.0.0.1:1999", "--layout", "pairs", "--publishers", "50",
		"--qos", "1", "--payload-bytes", "128", "--duration", "3s", "--warmup", "0s", "--rate", "100", "--inflight", "16",
		"--mqtt-version", "5", "--clean=false", "--broker-pid", "42", "--json"}, &out)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out.String())
	}
	c := opts.load
	if c.Addr != "127.0.0.1:1999" || c.Layout != loadgen.LayoutPairs || c.Publishers != 50 || c.Subscribers != 0 ||
		c.QoS != 1 || c.PayloadBytes != 128 || c.Duration != 3*time.Second || c.Warmup != 0 || c.Rate != 100 ||
		c.MaxInflightMsgs != 16 || c.Version != mqttcodec.V5 || !c.Persistent || c.BrokerPID != 42 || !opts.json {
		t.Errorf("flags gave %+v", c)
	}
	if len(c.SourceAddrs) != 16 {
		t.Errorf("a loopback broker gets the 16 loopback sources by default, got %v", c.SourceAddrs)
	}
	if opts.idle.Conns != 0 {
		t.Errorf("a load run set an idle config: %+v", opts.idle)
	}
}

func TestParseBenchFlags_Idle(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	opts, err := parseBenchFlags([]string{"--idle-conns", "10000", "--idle-hold", "2s", "--broker-pid", "7",
		"--source-addrs", "127.0.0.5-127.0.0.6"}, &out)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, out.String())
	}
	want := []netip.Addr{netip.MustParseAddr("127.0.0.5"), netip.MustParseAddr("127.0.0.6")}
	if c := opts.idle; c.Conns != 10000 || c.Hold != 2*time.Second || c.BrokerPID != 7 || len(c.SourceAddrs) != 2 ||
		c.SourceAddrs[0] != want[0] || c.SourceAddrs[1] != want[1] {
		t.Errorf("flags gave %+v", c)
	}
	opts, err = parseBenchFlags([]string{"--idle-conns", "5", "--source-addrs", "none"}, &out)
	if err != nil || opts.idle.SourceAddrs != nil {
		t.Errorf("--source-addrs none gave %v, %v; want no sources", opts.idle.SourceAddrs, err)
	}
}

func TestParseBenchFlags_Errors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--qos", "3"}, "--qos 3"},
		{[]string{"--layout", "ring"}, `layout "ring"`},
		{[]string{"--layout", "fanout", "--publishers", "2"}, "exactly 1 publisher"},
		{[]string{"--mqtt-version", "3"}, "mqtt version 3"},
		{[]string{"--payload-bytes", "8"}, "payload of 8 bytes"},
		{[]string{"--idle-conns", "10", "--qos", "1", "--publishers", "2"}, "--publishers does not apply to an idle run"},
		{[]string{"--idle-hold", "1s"}, "--idle-hold does not apply to a load run"},
		{[]string{"--idle-conns", "100000"}, "idle connections"},
		{[]string{"--source-addrs", "127.0.0.9-127.0.0.1"}, "ascending"},
		{[]string{"extra"}, "takes no arguments"},
		{[]string{"--nope"}, "flag provided but not defined"},
	} {
		var out bytes.Buffer
		_, err := parseBenchFlags(tc.args, &out)
		if err == nil || !strings.Contains(err.Error()+out.String(), tc.want) {
			t.Errorf("parseBenchFlags(%q) = %v (output %q), want an error containing %q", tc.args, err, out.String(), tc.want)
		}
	}
}

func TestRunBench_Usage(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := runBench([]string{"-h"}, &stdout, &stderr); code != exitOK || !strings.Contains(stderr.String(), "--idle-conns") {
		t.Errorf("bench -h = %d, output %q; want 0 and the flag list", code, stderr.String())
	}
	stderr.Reset()
	if code := runBench([]string{"--qos", "7"}, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--qos 7") {
		t.Errorf("bench --qos 7 = %d, stderr %q; want %d and the problem", code, stderr.String(), exitUsage)
	}
	if stdout.Len() != 0 {
		t.Errorf("usage errors wrote to stdout: %q", stdout.String())
	}
}

// sampleResult is a load result as a QoS 1 fan-in run would report it.
func sampleResult() loadgen.Result {
	return loadgen.Result{
		Config: loadgen.Config{Addr: "127.0.0.1:1883", Layout: loadgen.LayoutFanIn, Publishers: 10, Subscribers: 1,
			QoS: 1, PayloadBytes: 64, Duration: 10 * time.Second, Warmup: time.Second, MaxInflightMsgs: 64,
			Version: mqttcodec.V311, BrokerPID: 99},
		Window: 10 * time.Second, Published: 1_234_560, PublishedPerSec: 123_456, Received: 1_234_000, ReceivedPerSec: 123_400,
		Latency: loadgen.Latency{Samples: 1_234_000, P50: 1234567, P90: 2 * time.Millisecond, P99: 5 * time.Millisecond,
			P999: 7 * time.Millisecond, Max: 12 * time.Millisecond, Min: 80 * time.Microsecond, Mean: 1500 * time.Microsecond},
		Sent: 1_400_000, Expected: 1_400_000, Delivered: 1_399_990, Lost: 10, Duplicated: 2,
		BrokerCPU: 9 * time.Second, ClientCPU: 2 * time.Second, BrokerRSSBytes: 12 << 20,
	}
}

// TestLoadJSON_Keys pins the JSON keys .ci/bench-mqtt reads.
func TestLoadJSON_Keys(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(loadJSON(sampleResult()))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]any{
		"mode": "load", "published_per_s": 123456.0, "received_per_s": 123400.0, "latency_p50_us": 1234.567,
		"latency_p99_us": 5000.0, "lost": 10.0, "duplicated": 2.0, "broker_cpu_pct": 90.0, "client_cpu_pct": 20.0,
		"broker_rss_bytes": float64(12 << 20), "qos": 1.0, "layout": "fanin",
	} {
		if m[key] != want {
			t.Errorf("%s = %v, want %v", key, m[key], want)
		}
	}

	b, err = json.Marshal(idleJSON(loadgen.IdleResult{Config: loadgen.IdleConfig{Conns: 4}, RSSBeforeBytes: 1000,
		RSSAfterBytes: 5000, BytesPerConn: 1000}))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(b); !strings.Contains(s, `"mode":"idle"`) || !strings.Contains(s, `"bytes_per_conn":1000`) ||
		!strings.Contains(s, `"conns":4`) {
		t.Errorf("idle JSON = %s", s)
	}
}

func TestPrintLoad(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	printLoad(&b, sampleResult())
	for _, want := range []string{
		"fanin: 10 publisher(s) → 1 subscriber(s), QoS 1, MQTT 3.1.1",
		"123,456 msg/s (1,234,560 acknowledged)",
		"p50 1.235ms",
		"lost 10  duplicated 2",
		"CPU 90% of a core, RSS 12.0 MiB",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestThousandsAndRound(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 1234567.6: "1,234,568", -2500: "-2,500"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		45_321 * time.Nanosecond: "45.3µs", 1_234_567 * time.Nanosecond: "1.235ms", 2_345_678_901: "2.346s",
	} {
		if got := round(d).String(); got != want {
			t.Errorf("round(%v) = %s, want %s", d, got, want)
		}
	}
}
