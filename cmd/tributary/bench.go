package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	// Named loadgen: config_test.go has a helper called load.
	loadgen "tributary/cmd/internal/load"
	"tributary/mqttcodec"
)

// benchOptions is the parsed command line of `tributary bench`.
type benchOptions struct {
	load loadgen.Config
	idle loadgen.IdleConfig // used when idle.Conns > 0
	json bool
}

// loadOnlyFlags are the flags that describe a load run and mean nothing in
// an idle one; idleOnlyFlags the reverse.
var (
	loadOnlyFlags = []string{"layout", "publishers", "subscribers", "qos", "payload-bytes", "duration",
		"warmup", "rate", "inflight", "clean", "drain-timeout"}
	idleOnlyFlags = []string{"idle-hold"}
)

// runBench runs `tributary bench`: one MQTT load run (or, with
// --idle-conns, one idle-connection run) against a broker, and prints what
// it measured as a table, or as one JSON object with --json. It returns
// the process exit code: 0, 1 when the run failed, 2 for a bad command line.
func runBench(args []string, stdout, stderr io.Writer) int {
	opts, err := parseBenchFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		var fe flagError
		if !errors.As(err, &fe) { // the flag package printed its own errors
			fmt.Fprintf(stderr, "tributary bench: %v\n", err)
		}
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if opts.idle.Conns > 0 {
		res, err := loadgen.RunIdle(ctx, opts.idle)
		if err != nil {
			fmt.Fprintf(stderr, "tributary bench: %v\n", err)
			return exitFailure
		}
		return emit(stdout, stderr, opts.json, idleJSON(res), func(w io.Writer) { printIdle(w, res) })
	}
	res, err := loadgen.Run(ctx, opts.load)
	if err != nil {
		fmt.Fprintf(stderr, "tributary bench: %v\n", err)
		return exitFailure
	}
	return emit(stdout, stderr, opts.json, loadJSON(res), func(w io.Writer) { printLoad(w, res) })
}

// emit writes v as JSON or calls table, and returns the exit code.
func emit(stdout, stderr io.Writer, asJSON bool, v any, table func(io.Writer)) int {
	if !asJSON {
		table(stdout)
		return exitOK
	}
	if err := json.NewEncoder(stdout).Encode(v); err != nil {
		fmt.Fprintf(stderr, "tributary bench: write the result: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// benchFlags holds the values of the bench flags while they are parsed.
type benchFlags struct {
	addr, layout, sources                       string
	pubs, subs, qos, payload, inflight, version int
	idleConns, pid                              int
	duration, warmup, idleHold, keepAlive       time.Duration
	drain                                       time.Duration
	rate                                        float64
	clean, json, verbose                        bool
}

// newBenchFlags returns the flag set of `tributary bench` and where its
// values land.
func newBenchFlags(out io.Writer) (*flag.FlagSet, *benchFlags) {
	f := &benchFlags{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&f.addr, "addr", loadgen.DefaultAddr, "broker `host:port`")
	fs.StringVar(&f.layout, "layout", string(loadgen.LayoutFanIn), "topic layout: fanin (every publisher to one topic), pairs (publisher i to subscriber i) or fanout (1 publisher to every subscriber)")
	fs.IntVar(&f.pubs, "publishers", 0, "publishing connections (0: 10, or 1 for fanout)")
	fs.IntVar(&f.subs, "subscribers", 0, "subscribing connections (0: 1 for fanin, 10 for fanout, --publishers for pairs)")
	fs.IntVar(&f.qos, "qos", 0, "QoS of every publish and subscription: 0, 1 or 2")
	fs.IntVar(&f.payload, "payload-bytes", loadgen.DefaultPayloadBytes, "payload size in `bytes`, at least 24 (the timestamp header)")
	fs.DurationVar(&f.duration, "duration", loadgen.DefaultDuration, "measured window")
	fs.DurationVar(&f.warmup, "warmup", time.Second, "load before the window, not measured")
	fs.Float64Var(&f.rate, "rate", 0, "messages/s per publisher; 0 sends as fast as the inflight window (QoS>0) or the socket allows")
	fs.IntVar(&f.inflight, "inflight", loadgen.DefaultInflightMsgs, "unacknowledged QoS 1/2 publishes per publisher, pipelined")
	fs.IntVar(&f.version, "mqtt-version", int(mqttcodec.V311), "protocol level: 4 (3.1.1) or 5 (5.0)")
	fs.BoolVar(&f.clean, "clean", true, "clean sessions; --clean=false gives subscribers persistent sessions, discarded after the run")
	fs.StringVar(&f.sources, "source-addrs", "auto", "local addresses to spread connections over: auto (127.0.0.2-127.0.0.17 toward a loopback broker), none, or a list such as 127.0.0.2-127.0.0.17,10.0.0.5")
	fs.IntVar(&f.idleConns, "idle-conns", 0, "open this many idle connections instead of running load, and report the broker's memory per connection")
	fs.DurationVar(&f.idleHold, "idle-hold", loadgen.DefaultIdleHold, "how long the idle connections stay open before the broker's memory is read")
	fs.DurationVar(&f.keepAlive, "keep-alive", 0, "CONNECT keep alive (0: 60s, or 300s for --idle-conns)")
	fs.DurationVar(&f.drain, "drain-timeout", loadgen.DefaultDrainTimeout, "longest wait after the window for acknowledgements and deliveries")
	fs.IntVar(&f.pid, "broker-pid", 0, "broker process id: report its CPU and memory from /proc (required for the idle memory figure)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of a table")
	fs.BoolVar(&f.verbose, "verbose", false, "log progress to stderr")
	fs.Usage = func() { printBenchUsage(out, fs) }
	return fs, f
}

// parseBenchFlags parses the bench command line into validated configs.
// Usage and flag errors go to out.
func parseBenchFlags(args []string, out io.Writer) (benchOptions, error) {
	fs, f := newBenchFlags(out)
	if err := fs.Parse(args); err != nil {
		return benchOptions{}, flagError{err}
	}
	if fs.NArg() > 0 {
		return benchOptions{}, fmt.Errorf("bench takes no arguments, got %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if err := checkModeFlags(set, f.idleConns > 0); err != nil {
		return benchOptions{}, err
	}
	srcs, err := sourceAddrs(f.sources, f.addr)
	if err != nil {
		return benchOptions{}, err
	}
	logger := slog.New(slog.DiscardHandler)
	if f.verbose {
		logger = slog.New(slog.NewTextHandler(out, nil))
	}
	if f.version < 0 || f.version > 255 {
		return benchOptions{}, fmt.Errorf("--mqtt-version %d is not 4 or 5", f.version)
	}
	opts := benchOptions{json: f.json}
	if f.idleConns > 0 {
		opts.idle = loadgen.IdleConfig{
			Addr: f.addr, Conns: f.idleConns, Version: mqttcodec.Version(f.version), KeepAlive: f.keepAlive,
			Hold: f.idleHold, BrokerPID: f.pid, SourceAddrs: srcs, Logger: logger,
		}
		return opts, opts.idle.Validate()
	}
	opts.load, err = f.loadConfig(srcs, logger)
	if err != nil {
		return benchOptions{}, err
	}
	return opts, opts.load.Validate()
}

// loadConfig builds the load run's Config from the flags.
func (f *benchFlags) loadConfig(srcs []netip.Addr, logger *slog.Logger) (loadgen.Config, error) {
	l, err := loadgen.ParseLayout(f.layout)
	if err != nil {
		return loadgen.Config{}, err
	}
	if f.qos < 0 || f.qos > 2 {
		return loadgen.Config{}, fmt.Errorf("--qos %d is not 0, 1 or 2", f.qos)
	}
	return loadgen.Config{
		Addr: f.addr, Layout: l, Publishers: f.pubs, Subscribers: f.subs, QoS: mqttcodec.QoS(f.qos),
		PayloadBytes: f.payload, Duration: f.duration, Warmup: f.warmup, Rate: f.rate, MaxInflightMsgs: f.inflight,
		Version: mqttcodec.Version(f.version), Persistent: !f.clean, SourceAddrs: srcs, BrokerPID: f.pid,
		KeepAlive: f.keepAlive, DrainTimeout: f.drain, Logger: logger,
	}, nil
}

// checkModeFlags refuses a flag set on the command line that the chosen
// mode would silently ignore.
func checkModeFlags(set map[string]bool, idle bool) error {
	ignored, mode := idleOnlyFlags, "a load run (no --idle-conns)"
	if idle {
		ignored, mode = loadOnlyFlags, "an idle run (--idle-conns)"
	}
	var errs []error
	for _, name := range ignored {
		if set[name] {
			errs = append(errs, fmt.Errorf("--%s does not apply to %s", name, mode))
		}
	}
	return errors.Join(errs...)
}

// sourceAddrs interprets --source-addrs.
func sourceAddrs(spec, addr string) ([]netip.Addr, error) {
	switch spec {
	case "auto":
		return loadgen.AutoSources(addr), nil
	case "none":
		return nil, nil
	}
	return loadgen.ParseSources(spec)
}

// printBenchUsage lists the flags with the double dash users type.
func printBenchUsage(out io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(out, `Usage: tributary bench [flags]

Runs MQTT load against a broker (Tributary or any other) and reports messages/s,
end-to-end latency, loss and duplicates; with --idle-conns, measures what an
idle connection costs the broker in memory.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(out, "  --%s %s\n    \t%s", f.Name, arg, usage)
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "false" {
			fmt.Fprintf(out, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(out)
	})
}

// benchLoadJSON is the --json output of a load run: flat, with the unit in
// every name, for scripts (.ci/bench-mqtt reads it with jq).
type benchLoadJSON struct {
	Mode            string  `json:"mode"` // "load"
	Layout          string  `json:"layout"`
	Publishers      int     `json:"publishers"`
	Subscribers     int     `json:"subscribers"`
	QoS             int     `json:"qos"`
	MQTTVersion     int     `json:"mqtt_version"`
	PayloadBytes    int     `json:"payload_bytes"`
	Rate            float64 `json:"rate_per_publisher"`
	Inflight        int     `json:"inflight"`
	Persistent      bool    `json:"persistent"`
	WindowSec       float64 `json:"window_s"`
	Published       uint64  `json:"published"`
	PublishedPerSec float64 `json:"published_per_s"`
	Received        uint64  `json:"received"`
	ReceivedPerSec  float64 `json:"received_per_s"`
	LatencySamples  uint64  `json:"latency_samples"`
	LatencyP50Us    float64 `json:"latency_p50_us"`
	LatencyP90Us    float64 `json:"latency_p90_us"`
	LatencyP99Us    float64 `json:"latency_p99_us"`
	LatencyP999Us   float64 `json:"latency_p999_us"`
	LatencyMaxUs    float64 `json:"latency_max_us"`
	LatencyMeanUs   float64 `json:"latency_mean_us"`
	Sent            uint64  `json:"sent"`
	Expected        uint64  `json:"expected"`
	Delivered       uint64  `json:"delivered"`
	Lost            uint64  `json:"lost"`
	Duplicated      uint64  `json:"duplicated"`
	Reordered       uint64  `json:"reordered"`
	Refused         uint64  `json:"refused"`
	Unacked         uint64  `json:"unacked"`
	Foreign         uint64  `json:"foreign"`
	BrokerCPUPct    float64 `json:"broker_cpu_pct"`
	ClientCPUPct    float64 `json:"client_cpu_pct"`
	BrokerRSSBytes  int64   `json:"broker_rss_bytes"`
}

func loadJSON(r loadgen.Result) benchLoadJSON {
	c := r.Config
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	return benchLoadJSON{
		Mode: "load", Layout: string(c.Layout), Publishers: c.Publishers, Subscribers: c.Subscribers,
		QoS: int(c.QoS), MQTTVersion: int(c.Version), PayloadBytes: c.PayloadBytes, Rate: c.Rate,
		Inflight: c.MaxInflightMsgs, Persistent: c.Persistent, WindowSec: r.Window.Seconds(),
		Published: r.Published, PublishedPerSec: r.PublishedPerSec,
		Received: r.Received, ReceivedPerSec: r.ReceivedPerSec,
		LatencySamples: r.Latency.Samples, LatencyP50Us: us(r.Latency.P50), LatencyP90Us: us(r.Latency.P90),
		LatencyP99Us: us(r.Latency.P99), LatencyP999Us: us(r.Latency.P999), LatencyMaxUs: us(r.Latency.Max),
		LatencyMeanUs: us(r.Latency.Mean),
		Sent:          r.Sent, Expected: r.Expected, Delivered: r.Delivered, Lost: r.Lost, Duplicated: r.Duplicated,
		Reordered: r.Reordered, Refused: r.Refused, Unacked: r.Unacked, Foreign: r.Foreign,
		BrokerCPUPct: cpuPercent(r.BrokerCPU, r.Window), ClientCPUPct: cpuPercent(r.ClientCPU, r.Window),
		BrokerRSSBytes: r.BrokerRSSBytes,
	}
}

// benchIdleJSON is the --json output of an idle run.
type benchIdleJSON struct {
	Mode           string  `json:"mode"` // "idle"
	Conns          int     `json:"conns"`
	MQTTVersion    int     `json:"mqtt_version"`
	ConnectSec     float64 `json:"connect_s"`
	HoldSec        float64 `json:"hold_s"`
	RSSBeforeBytes int64   `json:"rss_before_bytes"`
	RSSAfterBytes  int64   `json:"rss_after_bytes"`
	BytesPerConn   float64 `json:"bytes_per_conn"`
	Dropped        int     `json:"dropped"`
}

func idleJSON(r loadgen.IdleResult) benchIdleJSON {
	return benchIdleJSON{
		Mode: "idle", Conns: r.Config.Conns, MQTTVersion: int(r.Config.Version),
		ConnectSec: r.ConnectTime.Seconds(), HoldSec: r.Config.Hold.Seconds(),
		RSSBeforeBytes: r.RSSBeforeBytes, RSSAfterBytes: r.RSSAfterBytes, BytesPerConn: r.BytesPerConn,
		Dropped: r.Dropped,
	}
}

// cpuPercent returns used as a percentage of one core over window.
func cpuPercent(used, window time.Duration) float64 {
	if window <= 0 {
		return 0
	}
	return 100 * used.Seconds() / window.Seconds()
}

// printLoad writes a load run's result as a table.
func printLoad(w io.Writer, r loadgen.Result) {
	c := r.Config
	pace := "unpaced"
	if c.Rate > 0 {
		pace = fmt.Sprintf("%s msg/s per publisher", strconv.FormatFloat(c.Rate, 'f', -1, 64))
	}
	sessions := "clean sessions"
	if c.Persistent {
		sessions = "persistent subscribers"
	}
	fmt.Fprintf(w, "%s: %d publisher(s) → %d subscriber(s), QoS %d, MQTT %v, %d-byte payloads, %s, inflight %d, %s\n",
		c.Layout, c.Publishers, c.Subscribers, c.QoS, c.Version, c.PayloadBytes, pace, c.MaxInflightMsgs, sessions)
	fmt.Fprintf(w, "broker %s, window %.2fs after %v warm-up\n\n", c.Addr, r.Window.Seconds(), c.Warmup)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	published := "written"
	if c.QoS > 0 {
		published = "acknowledged"
	}
	fmt.Fprintf(tw, "published\t%s msg/s (%s %s)\n", thousands(r.PublishedPerSec), thousands(float64(r.Published)), published)
	fmt.Fprintf(tw, "received\t%s msg/s (%s)\n", thousands(r.ReceivedPerSec), thousands(float64(r.Received)))
	l := r.Latency
	fmt.Fprintf(tw, "latency\tp50 %v  p90 %v  p99 %v  p99.9 %v  max %v (mean %v, %s samples)\n",
		round(l.P50), round(l.P90), round(l.P99), round(l.P999), round(l.Max), round(l.Mean), thousands(float64(l.Samples)))
	fmt.Fprintf(tw, "delivery\tlost %s  duplicated %s  reordered %s  foreign %s (%s sent, %s deliveries expected)\n",
		thousands(float64(r.Lost)), thousands(float64(r.Duplicated)), thousands(float64(r.Reordered)),
		thousands(float64(r.Foreign)), thousands(float64(r.Sent)), thousands(float64(r.Expected)))
	if c.QoS > 0 {
		fmt.Fprintf(tw, "acks\trefused %s  unacknowledged %s\n", thousands(float64(r.Refused)), thousands(float64(r.Unacked)))
	}
	if c.BrokerPID != 0 {
		fmt.Fprintf(tw, "broker\tCPU %.0f%% of a core, RSS %.1f MiB\n", cpuPercent(r.BrokerCPU, r.Window), float64(r.BrokerRSSBytes)/(1<<20))
	}
	fmt.Fprintf(tw, "bench\tCPU %.0f%% of a core\n", cpuPercent(r.ClientCPU, r.Window))
	tw.Flush()
}

// printIdle writes an idle run's result as a table.
func printIdle(w io.Writer, r loadgen.IdleResult) {
	c := r.Config
	fmt.Fprintf(w, "%d idle connections, MQTT %v, broker %s: connected in %.2fs, held %v\n\n",
		c.Conns, c.Version, c.Addr, r.ConnectTime.Seconds(), c.Hold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if c.BrokerPID != 0 {
		fmt.Fprintf(tw, "broker RSS\t%.1f MiB → %.1f MiB\n", float64(r.RSSBeforeBytes)/(1<<20), float64(r.RSSAfterBytes)/(1<<20))
		fmt.Fprintf(tw, "per connection\t%s bytes\n", thousands(r.BytesPerConn))
	}
	fmt.Fprintf(tw, "dropped\t%d\n", r.Dropped)
	tw.Flush()
}

// round shortens a latency for reading: three significant digits or so.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= 100*time.Microsecond:
		return d.Round(time.Microsecond)
	default:
		return d.Round(100 * time.Nanosecond)
	}
}

// thousands formats v rounded to an integer, with thousands separators.
func thousands(v float64) string {
	s := strconv.FormatFloat(v, 'f', 0, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
