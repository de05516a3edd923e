package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tributary/cluster"
)

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tributary.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, args ...string) (Config, error) {
	t.Helper()
	var out bytes.Buffer
	return loadServeConfig(args, &out)
}

func TestLoadServeConfig_Defaults(t *testing.T) {
	t.Parallel()
	cfg, err := load(t)
	if err != nil {
		t.Fatalf("load with no flags: %v", err)
	}
	want := Config{
		NodeID: "n1", DataDir: "./data", HTTPAddr: "127.0.0.1:8080",
		RaftAddr: "127.0.0.1:7946", LogLevel: "info", LogFormat: "text", NodeDownAfter: 5 * time.Second,
		MQTTAddr: "127.0.0.1:1883", MaxPacketBytes: 1 << 20, MaxKeepAlive: 65535 * time.Second,
		ReceiveMaximum: 1024, MaxConnections: 100_000, MaxQueuedMessages: 1000,
		MaxInflightMessages: 1024, MaxSessionExpiry: 24 * time.Hour,
		KafkaAddr: "127.0.0.1:9092", KafkaMaxRequestBytes: 100 << 20, KafkaDefaultPartitions: 1,
		KafkaMirrorTopic: "mqtt", KafkaMirrorPartitions: 4, KafkaCacheBytes: 64 << 20,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Fatalf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadServeConfig_EveryFlag(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, "--node-id", "edge-7", "--data-dir", "/var/lib/trib",
		"--http-addr", "0.0.0.0:9000", "--raft-addr", "[::1]:9001",
		"--log-level", "debug", "--log-format", "json",
		"--advertise-raft", "node-7.example:9001", "--join", "node-1.example:9001, node-2.example:9001",
		"--node-down-after", "12s", "--proxy-protocol-from", "10.0.0.0/8,192.168.1.5",
		"--mqtt-addr", "0.0.0.0:1884", "--max-packet-bytes", "4096", "--max-keep-alive", "2m",
		"--receive-maximum", "10", "--max-connections", "50", "--max-queued-messages", "7",
		"--max-inflight-messages", "3", "--max-session-expiry", "1h",
		"--kafka-addr", "0.0.0.0:19092", "--advertise-kafka", "kafka-1.example:19092",
		"--kafka-max-request-bytes", "2048", "--kafka-auto-create-topics",
		"--kafka-default-partitions", "3", "--kafka-mirror-topic", "", "--kafka-mirror-partitions", "2",
		"--kafka-cache-bytes", "0")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	want := Config{
		NodeID: "edge-7", DataDir: "/var/lib/trib", HTTPAddr: "0.0.0.0:9000",
		RaftAddr: "[::1]:9001", LogLevel: "debug", LogFormat: "json",
		AdvertiseRaft: "node-7.example:9001", Join: "node-1.example:9001, node-2.example:9001",
		NodeDownAfter: 12 * time.Second, ProxyProtocolFrom: "10.0.0.0/8,192.168.1.5",
		MQTTAddr: "0.0.0.0:1884", MaxPacketBytes: 4096, MaxKeepAlive: 2 * time.Minute,
		ReceiveMaximum: 10, MaxConnections: 50, MaxQueuedMessages: 7,
		MaxInflightMessages: 3, MaxSessionExpiry: time.Hour,
		KafkaAddr: "0.0.0.0:19092", AdvertiseKafka: "kafka-1.example:19092", KafkaMaxRequestBytes: 2048,
		KafkaAutoCreateTopics: true, KafkaDefaultPartitions: 3, KafkaMirrorTopic: "", KafkaMirrorPartitions: 2,
		KafkaCacheBytes: 0,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Fatalf("flags (-want +got):\n%s", diff)
	}
}

func TestLoadServeConfig_FileOverridesDefaultsAndFlagsOverrideFile(t *testing.T) {
	t.Parallel()
	p := writeConfig(t, `
node_id: from-file
http_addr: 127.0.0.1:18080
raft_addr: 127.0.0.1:17946
log_format: json
max_session_expiry: 90m
max_queued_messages: 5
`)
	// --log-format is given its default value explicitly: a flag the user
	// set wins even when it equals the default.
	cfg, err := load(t, "--config", p, "--http-addr", "127.0.0.1:28080", "--log-format", "text")
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	want := Config{
		NodeID:    "from-file",       // file over default
		DataDir:   "./data",          // default: neither file nor flag
		HTTPAddr:  "127.0.0.1:28080", // flag over file
		RaftAddr:  "127.0.0.1:17946", // file
		LogLevel:  "info",
		LogFormat: "text", // flag over file

		NodeDownAfter: 5 * time.Second,

		MQTTAddr: "127.0.0.1:1883", MaxPacketBytes: 1 << 20, MaxKeepAlive: 65535 * time.Second,
		ReceiveMaximum: 1024, MaxConnections: 100_000,
		MaxQueuedMessages:   5, // file
		MaxInflightMessages: 1024,
		MaxSessionExpiry:    90 * time.Minute, // file, a duration string

		KafkaAddr: "127.0.0.1:9092", KafkaMaxRequestBytes: 100 << 20, KafkaDefaultPartitions: 1,
		KafkaMirrorTopic: "mqtt", KafkaMirrorPartitions: 4, KafkaCacheBytes: 64 << 20,
	}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Fatalf("precedence (-want +got):\n%s", diff)
	}
}

func TestLoadServeConfig_FlagOrderDoesNotMatter(t *testing.T) {
	t.Parallel()
	p := writeConfig(t, "node_id: from-file\n")
	cfg, err := load(t, "--node-id", "from-flag", "--config", p)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if cfg.NodeID != "from-flag" {
		t.Fatalf("NodeID = %q, want the flag's value even when --config comes after it", cfg.NodeID)
	}
}

func TestLoadServeConfig_ReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	p := writeConfig(t, `
node_id: "bad id!"
nod_id: typo
data_dir: ""
http_addr: localhost
raft_addr: 127.0.0.1:70000
log_level: loud
log_format: xml
`)
	_, err := load(t, "--config", p)
	if err == nil {
		t.Fatal("load accepted a config with seven mistakes")
	}
	for _, want := range []string{
		`line 3: unknown key "nod_id"`,
		`node_id (--node-id): "bad id!" has the invalid byte ' '`,
		`data_dir (--data-dir): is empty`,
		`http_addr (--http-addr): "localhost" is not host:port`,
		`raft_addr (--raft-addr): "127.0.0.1:70000" has an invalid port`,
		`log_level (--log-level): "loud"`,
		`log_format (--log-format): "xml"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q; got:\n%v", want, err)
		}
	}
	if n := len(unjoin(err)); n != 7 {
		t.Errorf("got %d problems, want 7:\n%v", n, err)
	}
}

func TestLoadServeConfig_StrictUnknownKeysNameKeyAndLine(t *testing.T) {
	t.Parallel()
	p := writeConfig(t, "node_id: n2\nhttp_adr: 127.0.0.1:1\nraft:\n  addr: x\n")
	_, err := load(t, "--config", p)
	if err == nil {
		t.Fatal("unknown keys were accepted")
	}
	for _, want := range []string{p + ` line 2: unknown key "http_adr"`, p + ` line 3: unknown key "raft"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q; got:\n%v", want, err)
		}
	}
}

func TestLoadServeConfig_FileErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, want string
	}{
		{"syntax", "node_id: [unclosed\n", "yaml:"},
		{"two documents", "node_id: a\n---\nnode_id: b\n", "more than one YAML document"},
		{"list", "- n1\n- n2\n", "line 1: the file must be a mapping of keys to values, not a list"},
		{"scalar", "n1\n", "line 1: the file must be a mapping of keys to values, not a plain value"},
		{"value is a mapping", "node_id: {a: b}\n", "line 1: want a plain value, not a mapping"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, "--config", writeConfig(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("load = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	_, err := load(t, "--config", filepath.Join(t.TempDir(), "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file = %v, want os.ErrNotExist", err)
	}
}

func TestLoadServeConfig_EmptyFileKeepsDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, "--config", writeConfig(t, "# nothing set yet\n"))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if diff := cmp.Diff(defaultConfig(), cfg); diff != "" {
		t.Fatalf("empty file changed the defaults (-want +got):\n%s", diff)
	}
}

func TestLoadServeConfig_FlagErrors(t *testing.T) {
	t.Parallel()
	var fe flagError
	if _, err := load(t, "--no-such-flag"); !errors.As(err, &fe) {
		t.Errorf("unknown flag = %v, want a flagError", err)
	}
	if _, err := load(t, "-h"); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h = %v, want flag.ErrHelp", err)
	}
	if _, err := load(t, "extra"); err == nil || !strings.Contains(err.Error(), "no arguments") {
		t.Errorf("positional argument = %v, want refused", err)
	}
}

func TestConfigValidate_NodeID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id    string
		valid bool
	}{
		{"n1", true},
		{"Edge_01.eu-west", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"node 1", false},
		{"node/1", false},
		{"nœud", false},
	} {
		cfg := defaultConfig()
		cfg.NodeID = tc.id
		if err := cfg.Validate(); (err == nil) != tc.valid {
			t.Errorf("Validate(node_id=%q) = %v, want valid=%v", tc.id, err, tc.valid)
		}
	}
}

func TestConfigValidate_Addresses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr  string
		valid bool
	}{
		{"127.0.0.1:1", true},
		{":8080", true},
		{"[::1]:65535", true},
		{"node-a.internal:7946", true},
		{"127.0.0.1:0", false}, // peers and scripts need a known port
		{"127.0.0.1:65536", false},
		{"127.0.0.1:http", false},
		{"127.0.0.1", false},
		{"::1:80", false},
		{"", false},
	} {
		cfg := defaultConfig()
		cfg.HTTPAddr = tc.addr
		if err := cfg.Validate(); (err == nil) != tc.valid {
			t.Errorf("Validate(http_addr=%q) = %v, want valid=%v", tc.addr, err, tc.valid)
		}
	}
	cfg := defaultConfig()
	cfg.RaftAddr = cfg.HTTPAddr
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "same address") {
		t.Errorf("http_addr == raft_addr: Validate = %v, want refused", err)
	}
}

func TestNewLogger_LevelAndFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	cfg := defaultConfig()
	cfg.LogLevel, cfg.LogFormat = "warn", "json"
	log := newLogger(cfg, &buf)
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	got := buf.String()
	if strings.Contains(got, "hidden") {
		t.Errorf("info line logged at level warn: %s", got)
	}
	if !strings.Contains(got, `"msg":"shown"`) || !strings.Contains(got, `"node_id":"n1"`) {
		t.Errorf("warn line not JSON with node_id: %s", got)
	}
}

// Mappings are written in the config file as users read them in the
// README; unknown keys inside a mapping are refused like any other.
func TestLoadServeConfig_Mappings(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, "--config", writeConfig(t, `
kafka_mirror_topic: ""
mappings:
  - name: telemetry
    mqtt_to_kafka: {filters: ["sensors/+/temp", "sensors/+/hum"], kafka_topic: telemetry, partitions: 8, key: "{level:1}"}
  - name: commands
    kafka_to_mqtt: {kafka_topic: device-commands, mqtt_topic: "devices/{key}/cmd", qos: 1}
`))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	want := []cluster.MappingSpec{
		{Name: "telemetry", MQTTToKafka: &cluster.MQTTToKafkaSpec{Filters: []string{"sensors/+/temp", "sensors/+/hum"},
			KafkaTopic: "telemetry", Partitions: 8, Key: "{level:1}"}},
		{Name: "commands", KafkaToMQTT: &cluster.KafkaToMQTTSpec{KafkaTopic: "device-commands", MQTTTopic: "devices/{key}/cmd", QoS: 1}},
	}
	if diff := cmp.Diff(want, cfg.Mappings); diff != "" {
		t.Fatalf("mappings (-want +got):\n%s", diff)
	}
	if cfg.mirrorMappings() != nil {
		t.Errorf("an empty kafka_mirror_topic still yields the mirror mappings")
	}
	_, err = load(t, "--config", writeConfig(t, "mappings:\n  - name: x\n    mqtt_to_kafka: {filter: [a]}\n"))
	if err == nil || !strings.Contains(err.Error(), `unknown key "filter"`) {
		t.Fatalf("a misspelt mapping key: %v, want unknown key \"filter\"", err)
	}
}

func TestReportConfigError_OneProblemPerLine(t *testing.T) {
	t.Parallel()
	cfg := defaultConfig()
	cfg.NodeID, cfg.LogLevel = "", "loud"
	var buf bytes.Buffer
	reportConfigError(&buf, cfg.Validate())
	want := "tributary: invalid configuration:\n" +
		"  - node_id (--node-id): is empty\n" +
		"  - log_level (--log-level): \"loud\" is not debug, info, warn or error\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Fatalf("report (-want +got):\n%s", diff)
	}
}

func TestConfigValidate_Limits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		mut  func(*Config)
		want string
	}{
		{"packet-too-small", func(c *Config) { c.MaxPacketBytes = 10 }, "max_packet_bytes (--max-packet-bytes): 10 is outside"},
		{"receive-max-zero", func(c *Config) { c.ReceiveMaximum = 0 }, "receive_maximum (--receive-maximum): 0 is outside"},
		{"queue-too-long", func(c *Config) { c.MaxQueuedMessages = 70000 }, "max_queued_messages (--max-queued-messages): 70000 is outside"},
		{"inflight-zero", func(c *Config) { c.MaxInflightMessages = 0 }, "max_inflight_messages"},
		{"connections-zero", func(c *Config) { c.MaxConnections = 0 }, "max_connections"},
		{"keepalive-fraction", func(c *Config) { c.MaxKeepAlive = 1500 * time.Millisecond }, "max_keep_alive (--max-keep-alive): 1.5s is not a whole number"},
		{"keepalive-too-long", func(c *Config) { c.MaxKeepAlive = 70000 * time.Second }, "max_keep_alive"},
		{"expiry-negative", func(c *Config) { c.MaxSessionExpiry = -time.Second }, "max_session_expiry"},
		{"mqtt-same-as-http", func(c *Config) { c.MQTTAddr = c.HTTPAddr }, "mqtt_addr (--mqtt-addr): is the same address"},
		{"mqtt-port-zero", func(c *Config) { c.MQTTAddr = "127.0.0.1:0" }, "mqtt_addr (--mqtt-addr)"},
		{"kafka-same-as-mqtt", func(c *Config) { c.KafkaAddr = c.MQTTAddr }, "kafka_addr (--kafka-addr): is the same address"},
		{"kafka-any-unadvertised", func(c *Config) { c.KafkaAddr = "0.0.0.0:9092" }, "advertise_kafka (--advertise-kafka): \"0.0.0.0:9092\" is not an address others can connect to"},
		{"raft-any-unadvertised", func(c *Config) { c.RaftAddr = "0.0.0.0:7946" }, "advertise_raft (--advertise-raft): \"0.0.0.0:7946\" is not an address others can connect to"},
		{"join-not-host-port", func(c *Config) { c.Join = "127.0.0.1:7946,nohost" }, "join (--join): \"nohost\" is not host:port"},
		{"proxy-protocol-from-garbage", func(c *Config) { c.ProxyProtocolFrom = "10.0.0.0/8, lb.example" }, "proxy_protocol_from (--proxy-protocol-from): \"lb.example\" is neither a CIDR nor an IP address"},
		{"node-down-after-too-short", func(c *Config) { c.NodeDownAfter = 100 * time.Millisecond }, "node_down_after (--node-down-after): 100ms is shorter than 1s"},
		{"kafka-request-tiny", func(c *Config) { c.KafkaMaxRequestBytes = 10 }, "kafka_max_request_bytes"},
		{"kafka-partitions-zero", func(c *Config) { c.KafkaDefaultPartitions = 0 }, "kafka_default_partitions"},
		{"mapping-no-direction", func(c *Config) { c.Mappings = []cluster.MappingSpec{{Name: "m"}} }, "mappings[0] (m): set exactly one of"},
		{"mapping-reserved-name", func(c *Config) {
			c.Mappings = []cluster.MappingSpec{{Name: mirrorToKafka, KafkaToMQTT: &cluster.KafkaToMQTTSpec{KafkaTopic: "t"}}}
		}, "is used twice or is reserved"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			tc.mut(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := defaultConfig().Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
}
