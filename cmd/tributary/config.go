package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"tributary/cluster"
)

// Config is everything `tributary serve` can be told. Each field has a YAML
// key and a flag of the same meaning; see options.
type Config struct {
	NodeID    string `yaml:"node_id"`
	DataDir   string `yaml:"data_dir"`
	HTTPAddr  string `yaml:"http_addr"`
	RaftAddr  string `yaml:"raft_addr"`
	LogLevel  string `yaml:"log_level"`
	LogFormat string `yaml:"log_format"`

	// The cluster: how this node joins, and how others reach it.
	AdvertiseRaft string        `yaml:"advertise_raft"`
	Join          string        `yaml:"join"`
	NodeDownAfter time.Duration `yaml:"node_down_after"`
	// ProxyProtocolFrom lists the sources (CIDRs or addresses, comma
	// separated) whose MQTT connections may start with a PROXY protocol
	// header: the load balancer's addresses.
	ProxyProtocolFrom string `yaml:"proxy_protocol_from"`

	// The MQTT listener and its limits.
	MQTTAddr            string        `yaml:"mqtt_addr"`
	MaxPacketBytes      int           `yaml:"max_packet_bytes"`
	MaxKeepAlive        time.Duration `yaml:"max_keep_alive"`
	ReceiveMaximum      int           `yaml:"receive_maximum"`
	MaxConnections      int           `yaml:"max_connections"`
	MaxQueuedMessages   int           `yaml:"max_queued_messages"`
	MaxInflightMessages int           `yaml:"max_inflight_messages"`
	MaxSessionExpiry    time.Duration `yaml:"max_session_expiry"`

	// The Kafka listener, its limits, and the MQTT<->Kafka mappings.
	KafkaAddr              string `yaml:"kafka_addr"`
	AdvertiseKafka         string `yaml:"advertise_kafka"`
	KafkaMaxRequestBytes   int    `yaml:"kafka_max_request_bytes"`
	KafkaAutoCreateTopics  bool   `yaml:"kafka_auto_create_topics"`
	KafkaDefaultPartitions int    `yaml:"kafka_default_partitions"`
	KafkaMirrorTopic       string `yaml:"kafka_mirror_topic"`
	KafkaMirrorPartitions  int    `yaml:"kafka_mirror_partitions"`
	KafkaCacheBytes        int    `yaml:"kafka_cache_bytes"`
	// Mappings are (re)applied at every start; the config file is the only
	// place to name them (the admin endpoint changes them at runtime).
	Mappings []cluster.MappingSpec `yaml:"mappings"`
}

// maxNodeIDBytes bounds a node id: it travels in every raft configuration
// entry and in log lines, so it stays short.
const maxNodeIDBytes = 64

// maxConfigFileBytes bounds the config file read; a real one is a few
// hundred bytes, so anything near this is not a config file.
const maxConfigFileBytes = 1 << 20

// defaultConfig is what a user gets with no file and no flags: one node,
// data under ./data, every port on loopback (DESIGN.md, "Defaults").
func defaultConfig() Config {
	return Config{
		NodeID:    "n1",
		DataDir:   "./data",
		HTTPAddr:  "127.0.0.1:8080",
		RaftAddr:  "127.0.0.1:7946",
		LogLevel:  "info",
		LogFormat: "text",

		NodeDownAfter: 5 * time.Second,

		MQTTAddr:            "127.0.0.1:1883",
		MaxPacketBytes:      1 << 20,
		MaxKeepAlive:        65535 * time.Second,
		ReceiveMaximum:      1024,
		MaxConnections:      100_000,
		MaxQueuedMessages:   1000,
		MaxInflightMessages: 1024,
		MaxSessionExpiry:    24 * time.Hour,

		KafkaAddr:              "127.0.0.1:9092",
		KafkaMaxRequestBytes:   100 << 20,
		KafkaDefaultPartitions: 1,
		KafkaMirrorTopic:       "mqtt",
		KafkaMirrorPartitions:  4,
		KafkaCacheBytes:        64 << 20,
	}
}

// option ties one Config field to its flag and its YAML key, so the flag
// set, the override step and the error messages cannot drift apart.
type option struct {
	flag  string
	key   string
	usage string
	// bind registers the flag, writing into c's field.
	bind func(fs *flag.FlagSet, c *Config)
	// copy copies the field from src to dst.
	copy func(dst, src *Config)
}

// newOption builds the option of a string, int, bool or time.Duration field.
func newOption[T string | int | bool | time.Duration](name, key, usage string, field func(*Config) *T) option {
	return option{
		flag: name, key: key, usage: usage,
		bind: func(fs *flag.FlagSet, c *Config) {
			switch p := any(field(c)).(type) {
			case *string:
				fs.StringVar(p, name, *p, usage)
			case *int:
				fs.IntVar(p, name, *p, usage)
			case *bool:
				fs.BoolVar(p, name, *p, usage)
			case *time.Duration:
				fs.DurationVar(p, name, *p, usage)
			}
		},
		copy: func(dst, src *Config) { *field(dst) = *field(src) },
	}
}

var (
	optNodeID = newOption("node-id", "node_id", "this node's id: letters, digits, '.', '_' or '-', at most 64 bytes",
		func(c *Config) *string { return &c.NodeID })
	optDataDir = newOption("data-dir", "data_dir", "directory for the raft log, the state database and snapshots",
		func(c *Config) *string { return &c.DataDir })
	optHTTPAddr = newOption("http-addr", "http_addr", "host:port of the HTTP endpoint (/healthz, /readyz, /metrics)",
		func(c *Config) *string { return &c.HTTPAddr })
	optRaftAddr = newOption("raft-addr", "raft_addr", "host:port of the cluster port (raft traffic); other nodes dial it",
		func(c *Config) *string { return &c.RaftAddr })
	optAdvertiseRaft = newOption("advertise-raft", "advertise_raft",
		"host:port other nodes reach this node's cluster port at; default: raft_addr (required when that is 0.0.0.0)",
		func(c *Config) *string { return &c.AdvertiseRaft })
	optJoin = newOption("join", "join",
		"cluster ports (host:port, comma separated) of running members to join through; a node restarted on its data rejoins by itself",
		func(c *Config) *string { return &c.Join })
	optNodeDownAfter = newOption("node-down-after", "node_down_after",
		"how long the leader waits for a silent node before it marks it down, ending its sessions (wills fire)",
		func(c *Config) *time.Duration { return &c.NodeDownAfter })
	optProxyProtocolFrom = newOption("proxy-protocol-from", "proxy_protocol_from",
		"sources (CIDRs or IPs, comma separated) whose MQTT connections may begin with a PROXY v1/v2 header, e.g. the load balancer; empty: none",
		func(c *Config) *string { return &c.ProxyProtocolFrom })
	optLogLevel = newOption("log-level", "log_level", "debug, info, warn or error",
		func(c *Config) *string { return &c.LogLevel })
	optLogFormat = newOption("log-format", "log_format", "text or json",
		func(c *Config) *string { return &c.LogFormat })
	optMQTTAddr = newOption("mqtt-addr", "mqtt_addr", "host:port of the MQTT listener",
		func(c *Config) *string { return &c.MQTTAddr })
	optMaxPacketBytes = newOption("max-packet-bytes", "max_packet_bytes",
		"largest MQTT packet accepted (MQTT 5 Maximum Packet Size), 64 to 268435460",
		func(c *Config) *int { return &c.MaxPacketBytes })
	optMaxKeepAlive = newOption("max-keep-alive", "max_keep_alive",
		"longest keep alive granted; clients asking more (or 0) get it as MQTT 5 Server Keep Alive, 1s to 65535s",
		func(c *Config) *time.Duration { return &c.MaxKeepAlive })
	optReceiveMaximum = newOption("receive-maximum", "receive_maximum",
		"QoS 1 and 2 publishes a client may have unacknowledged towards the broker, 1 to 65535",
		func(c *Config) *int { return &c.ReceiveMaximum })
	optMaxConnections = newOption("max-connections", "max_connections", "MQTT connections this node accepts at once",
		func(c *Config) *int { return &c.MaxConnections })
	optMaxQueuedMessages = newOption("max-queued-messages", "max_queued_messages",
		"QoS 1 and 2 messages waiting for one session; more are dropped and counted, 1 to 65000",
		func(c *Config) *int { return &c.MaxQueuedMessages })
	optMaxInflightMessages = newOption("max-inflight-messages", "max_inflight_messages",
		"QoS 1 and 2 messages sent to one client and not yet acknowledged (below its Receive Maximum), 1 to 65535",
		func(c *Config) *int { return &c.MaxInflightMessages })
	optMaxSessionExpiry = newOption("max-session-expiry", "max_session_expiry",
		"longest a session outlives its connection; MQTT 3.1.1 persistent sessions get exactly this",
		func(c *Config) *time.Duration { return &c.MaxSessionExpiry })

	optKafkaAddr = newOption("kafka-addr", "kafka_addr", "host:port of the Kafka listener",
		func(c *Config) *string { return &c.KafkaAddr })
	optAdvertiseKafka = newOption("advertise-kafka", "advertise_kafka",
		"host:port Kafka clients are told to connect to (Metadata); default: kafka_addr",
		func(c *Config) *string { return &c.AdvertiseKafka })
	optKafkaMaxRequestBytes = newOption("kafka-max-request-bytes", "kafka_max_request_bytes",
		"largest Kafka request accepted (Kafka's socket.request.max.bytes); a bigger one closes the connection",
		func(c *Config) *int { return &c.KafkaMaxRequestBytes })
	optKafkaAutoCreateTopics = newOption("kafka-auto-create-topics", "kafka_auto_create_topics",
		"create a topic a Metadata request names and allows to create",
		func(c *Config) *bool { return &c.KafkaAutoCreateTopics })
	optKafkaDefaultPartitions = newOption("kafka-default-partitions", "kafka_default_partitions",
		"partitions of a topic created without a count (CreateTopics with -1, auto-creation), 1 to 10000",
		func(c *Config) *int { return &c.KafkaDefaultPartitions })
	optKafkaMirrorTopic = newOption("kafka-mirror-topic", "kafka_mirror_topic",
		"Kafka topic mirroring the whole MQTT namespace both ways (key = MQTT topic); empty turns the mirror off",
		func(c *Config) *string { return &c.KafkaMirrorTopic })
	optKafkaMirrorPartitions = newOption("kafka-mirror-partitions", "kafka_mirror_partitions",
		"partitions of the mirror topic when it is created, 1 to 10000",
		func(c *Config) *int { return &c.KafkaMirrorPartitions })

	optKafkaCacheBytes = newOption("kafka-cache-bytes", "kafka_cache_bytes",
		"memory keeping the newest record batches of every partition, so fetches at the tail skip the disk; 0 turns it off",
		func(c *Config) *int { return &c.KafkaCacheBytes })

	// options lists every Config field in the order usage prints them.
	options = []option{optNodeID, optDataDir, optHTTPAddr, optRaftAddr, optMQTTAddr, optLogLevel, optLogFormat,
		optAdvertiseRaft, optJoin, optNodeDownAfter, optProxyProtocolFrom,
		optMaxPacketBytes, optMaxKeepAlive, optReceiveMaximum, optMaxConnections,
		optMaxQueuedMessages, optMaxInflightMessages, optMaxSessionExpiry,
		optKafkaAddr, optAdvertiseKafka, optKafkaMaxRequestBytes, optKafkaAutoCreateTopics,
		optKafkaDefaultPartitions, optKafkaMirrorTopic, optKafkaMirrorPartitions, optKafkaCacheBytes}
)

// kafkaCacheBytes is the store's KafkaCacheBytes: 0 here turns the cache
// off, which the store spells negative.
func (c *Config) kafkaCacheBytes() int64 {
	if c.KafkaCacheBytes == 0 {
		return -1
	}
	return int64(c.KafkaCacheBytes)
}

// name is how errors refer to an option: by key and flag, because the
// value may have come from either.
func (o option) name() string { return fmt.Sprintf("%s (--%s)", o.key, o.flag) }

// newServeFlags returns the flag set of `tributary serve`. Flag values land
// in a scratch Config; loadServeConfig copies only those actually set.
func newServeFlags(out io.Writer) (*flag.FlagSet, *Config, *string) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(out)
	fromFlags := defaultConfig()
	configPath := fs.String("config", "", "YAML config `FILE`; flags set on the command line override it")
	for _, o := range options {
		o.bind(fs, &fromFlags)
	}
	fs.Usage = func() { printServeUsage(out, fs) }
	return fs, &fromFlags, configPath
}

// printServeUsage lists the flags with the double dash users type; flag's
// own PrintDefaults shows a single one.
func printServeUsage(out io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(out, "Usage: tributary serve [flags]\n\nRuns one node. Every flag can also be set in the --config file.\n\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(out, "  --%s %s\n    \t%s", f.Name, arg, usage)
		if f.DefValue != "" {
			fmt.Fprintf(out, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(out)
	})
}

// flagError is a command-line parse failure. The flag package has already
// printed it with the usage, so it is not printed again.
type flagError struct{ err error }

func (e flagError) Error() string { return "tributary: " + e.err.Error() }
func (e flagError) Unwrap() error { return e.err }

// loadServeConfig parses the serve flags and builds the Config: built-in
// defaults, then the config file, then the flags the user set. The error
// joins every problem found: unknown keys in the file and invalid values
// alike, so the user can fix them all in one go. Only an unreadable or
// unparsable file stops the search early.
func loadServeConfig(args []string, out io.Writer) (Config, error) {
	fs, fromFlags, configPath := newServeFlags(out)
	if err := fs.Parse(args); err != nil {
		return Config{}, flagError{err}
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("tributary: serve takes no arguments, got %q", fs.Args())
	}
	cfg := defaultConfig()
	var problems []error
	if *configPath != "" {
		var err error
		cfg, problems, err = loadConfigFile(*configPath, cfg)
		if err != nil {
			return Config{}, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		for _, o := range options {
			if o.flag == f.Name {
				o.copy(&cfg, fromFlags)
			}
		}
	})
	problems = append(problems, cfg.Validate())
	return cfg, errors.Join(problems...)
}

// loadConfigFile reads the YAML file at path over base: keys the file sets
// replace base's values, the others stay. Unknown keys and values of the
// wrong type are returned as problems, one per line of the file, along
// with everything else the file set; err is for a file that cannot be read
// or parsed at all.
func loadConfigFile(path string, base Config) (cfg Config, problems []error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, nil, fmt.Errorf("tributary: config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFileBytes+1))
	if err != nil {
		return Config{}, nil, fmt.Errorf("tributary: config %s: %w", path, err)
	}
	if len(data) > maxConfigFileBytes {
		return Config{}, nil, fmt.Errorf("tributary: config %s: larger than %d bytes", path, maxConfigFileBytes)
	}
	cfg, msgs, err := decodeConfig(data, base)
	if err != nil {
		return Config{}, nil, fmt.Errorf("tributary: config %s: %w", path, err)
	}
	for _, m := range msgs {
		problems = append(problems, fmt.Errorf("%s %s", path, m))
	}
	return cfg, problems, nil
}

// decodeConfig strictly decodes one YAML document over base. An empty
// document leaves base as it is. Per-key problems come back as messages
// ("line 3: unknown key ...") next to the keys that did decode.
func decodeConfig(data []byte, base Config) (Config, []string, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	cfg := base
	var msgs []string
	if err := dec.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		switch {
		case errors.Is(err, io.EOF):
			return base, nil, nil
		case !errors.As(err, &te):
			return Config{}, nil, err
		}
		msgs = explainYAML(te)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, nil, errors.New("holds more than one YAML document")
	}
	return cfg, msgs, nil
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type \S+$`)
	wrongKindRE    = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+)(?: `[^`]*`)? into (\\S+)$")
)

// explainYAML rewrites yaml's type errors in the user's terms, without Go
// type names: `line 3: unknown key "nod_id"`, `line 1: want a plain value,
// not a mapping`.
func explainYAML(te *yaml.TypeError) []string {
	msgs := make([]string, 0, len(te.Errors))
	for _, msg := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
		} else if m := wrongKindRE.FindStringSubmatch(msg); m != nil {
			if m[3] == "main.Config" {
				msg = fmt.Sprintf("line %s: the file must be a mapping of keys to values, not a %s", m[1], yamlKind(m[2]))
			} else {
				msg = fmt.Sprintf("line %s: want a plain value, not a %s", m[1], yamlKind(m[2]))
			}
		}
		msgs = append(msgs, msg)
	}
	return msgs
}

// yamlKind names a YAML tag the way a user reads the file.
func yamlKind(tag string) string {
	switch tag {
	case "seq":
		return "list"
	case "map":
		return "mapping"
	default:
		return "plain value"
	}
}

// Validate returns every problem in c, joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	add := func(o option, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", o.name(), fmt.Sprintf(format, args...)))
	}
	if msg := checkNodeID(c.NodeID); msg != "" {
		add(optNodeID, "%s", msg)
	}
	if c.DataDir == "" {
		add(optDataDir, "is empty")
	}
	if msg := checkAddr(c.HTTPAddr); msg != "" {
		add(optHTTPAddr, "%s", msg)
	}
	if msg := checkAddr(c.RaftAddr); msg != "" {
		add(optRaftAddr, "%s", msg)
	}
	if msg := checkAddr(c.MQTTAddr); msg != "" {
		add(optMQTTAddr, "%s", msg)
	}
	if msg := checkAddr(c.KafkaAddr); msg != "" {
		add(optKafkaAddr, "%s", msg)
	}
	// An empty advertised address stands for the listen address, whose
	// own mistakes are reported above already.
	if c.AdvertiseKafka != "" || checkAddr(c.KafkaAddr) == "" {
		if msg := checkAdvertise(c.AdvertiseKafka, c.KafkaAddr, optAdvertiseKafka); msg != "" {
			add(optAdvertiseKafka, "%s", msg)
		}
	}
	if c.AdvertiseRaft != "" || checkAddr(c.RaftAddr) == "" {
		if msg := checkAdvertise(c.AdvertiseRaft, c.RaftAddr, optAdvertiseRaft); msg != "" {
			add(optAdvertiseRaft, "%s", msg)
		}
	}
	for _, a := range c.joinAddrs() {
		if msg := checkAddr(a); msg != "" {
			add(optJoin, "%s", msg)
		}
	}
	if _, err := c.proxyProtocolSources(); err != nil {
		add(optProxyProtocolFrom, "%v", err)
	}
	if c.NodeDownAfter < time.Second {
		add(optNodeDownAfter, "%v is shorter than 1s: a busy node would be marked down", c.NodeDownAfter)
	}
	errs = append(errs, c.validateMappings()...)
	checkDistinct(add, c)
	c.validateLimits(add)
	if _, ok := logLevels[c.LogLevel]; !ok {
		add(optLogLevel, "%q is not debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		add(optLogFormat, "%q is not text or json", c.LogFormat)
	}
	return errors.Join(errs...)
}

// checkNodeID returns what is wrong with id, or "".
func checkNodeID(id string) string {
	switch {
	case id == "":
		return "is empty"
	case len(id) > maxNodeIDBytes:
		return fmt.Sprintf("is %d bytes long, at most %d allowed", len(id), maxNodeIDBytes)
	}
	for i := 0; i < len(id); i++ {
		if !isNodeIDByte(id[i]) {
			return fmt.Sprintf("%q has the invalid byte %q at %d (allowed: A-Z a-z 0-9 . _ -)", id, id[i], i)
		}
	}
	return ""
}

func isNodeIDByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '.' || b == '_' || b == '-'
}

// checkAddr returns what is wrong with a listen address, or "". The port
// must be a decimal in 1-65535: other nodes and scripts need to know it in
// advance, so an ephemeral port (0) or a service name is refused.
func checkAddr(addr string) string {
	if addr == "" {
		return "is empty"
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port", addr)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return fmt.Sprintf("%q has an invalid port %q (want 1-65535)", addr, port)
	}
	return ""
}

// checkDistinct reports two listeners given the same address.
func checkDistinct(add func(option, string, ...any), c Config) {
	if c.HTTPAddr != "" && c.HTTPAddr == c.RaftAddr {
		add(optRaftAddr, "is the same address as http_addr (%s)", c.HTTPAddr)
	}
	if c.MQTTAddr != "" && (c.MQTTAddr == c.HTTPAddr || c.MQTTAddr == c.RaftAddr) {
		add(optMQTTAddr, "is the same address as another listener (%s)", c.MQTTAddr)
	}
	if c.KafkaAddr != "" && (c.KafkaAddr == c.HTTPAddr || c.KafkaAddr == c.RaftAddr || c.KafkaAddr == c.MQTTAddr) {
		add(optKafkaAddr, "is the same address as another listener (%s)", c.KafkaAddr)
	}
}

// validateLimits checks the MQTT limits against the ranges the protocol
// and the packages allow.
func (c Config) validateLimits(add func(option, string, ...any)) {
	inRange := func(o option, v, lo, hi int) {
		if v < lo || v > hi {
			add(o, "%d is outside [%d, %d]", v, lo, hi)
		}
	}
	inRange(optMaxPacketBytes, c.MaxPacketBytes, 64, 268_435_460)
	inRange(optReceiveMaximum, c.ReceiveMaximum, 1, 65535)
	inRange(optMaxConnections, c.MaxConnections, 1, 10_000_000)
	inRange(optMaxQueuedMessages, c.MaxQueuedMessages, 1, 65000)
	inRange(optMaxInflightMessages, c.MaxInflightMessages, 1, 65535)
	inRange(optKafkaMaxRequestBytes, c.KafkaMaxRequestBytes, 1024, 1<<30)
	inRange(optKafkaDefaultPartitions, c.KafkaDefaultPartitions, 1, 10_000)
	inRange(optKafkaCacheBytes, c.KafkaCacheBytes, 0, 1<<40)
	inRange(optKafkaMirrorPartitions, c.KafkaMirrorPartitions, 1, 10_000)
	if c.MaxKeepAlive < time.Second || c.MaxKeepAlive > 65535*time.Second || c.MaxKeepAlive%time.Second != 0 {
		add(optMaxKeepAlive, "%v is not a whole number of seconds in [1s, 65535s]", c.MaxKeepAlive)
	}
	if c.MaxSessionExpiry < 0 || c.MaxSessionExpiry > 0xFFFFFFFE*time.Second {
		add(optMaxSessionExpiry, "%v is outside [0s, 4294967294s]", c.MaxSessionExpiry)
	}
}
