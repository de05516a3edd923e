package kafka

import (
	"context"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/cluster"
	"tributary/raftstore"
	"tributary/raftstore/storetest"
	"tributary/wire/mqtt"
)

// waitFor bounds every wait in these tests. It only ever fails a test that
// hangs: nothing asserts how fast something happens.
const waitFor = 20 * time.Second

// stack is one whole node as `tributary serve` runs it, on loopback ports
// chosen by the kernel: a single-voter raft store, the cluster node, its
// Kafka side with the default mirror of the MQTT namespace, and the Kafka
// and MQTT listeners.
type stack struct {
	t     testing.TB
	dir   string
	store *raftstore.Store
	node  *cluster.Node
	kafka *cluster.Kafka
	srv   *Server
	mqtt  *mqtt.Server
	reg   *prometheus.Registry
	// storeOpts adjusts the store's configuration at every open.
	storeOpts func(*raftstore.Config)
}

// stackOptions adjusts a stack before it starts.
type stackOptions struct {
	dir    string // reuse a data directory (restart); default a new one
	kafka  func(*cluster.KafkaConfig)
	server func(*Config)
	// noMirror leaves out the default two-way mirror topic "mqtt".
	noMirror bool
	// store adjusts the store's configuration.
	store func(*raftstore.Config)
}

func newStack(t testing.TB, opts stackOptions) *stack {
	t.Helper()
	st := &stack{t: t, reg: prometheus.NewRegistry(), dir: opts.dir}
	if st.dir == "" {
		st.dir = t.TempDir()
	}
	var events atomic.Pointer[cluster.Node]
	st.storeOpts = opts.store
	st.openStore(&events)
	t.Cleanup(st.close)
	node, err := cluster.New(cluster.Config{NodeID: "n1", Store: st.store, TickInterval: 20 * time.Millisecond, Logger: testLogger()})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	st.node = node
	events.Store(node)
	if !opts.noMirror {
		st.setMirror()
	}
	kcfg := cluster.KafkaConfig{AdvertiseHost: "127.0.0.1"}
	if opts.kafka != nil {
		opts.kafka(&kcfg)
	}
	st.startKafka(kcfg, opts.server)
	ms, err := mqtt.Listen(mqtt.Config{Addr: "127.0.0.1:0", Node: node, Logger: testLogger()})
	if err != nil {
		t.Fatalf("mqtt.Listen: %v", err)
	}
	st.mqtt = ms
	return st
}

// startKafka binds the Kafka listener first, so Metadata can advertise its
// port, then starts the handler behind it.
func (st *stack) startKafka(kcfg cluster.KafkaConfig, server func(*Config)) {
	t := st.t
	h := &lateHandler{}
	cfg := Config{Addr: "127.0.0.1:0", Handler: h, Registerer: st.reg, Logger: testLogger()}
	if server != nil {
		server(&cfg)
	}
	srv, err := Listen(cfg)
	if err != nil {
		t.Fatalf("kafka.Listen: %v", err)
	}
	st.srv = srv
	kcfg.AdvertisePort = int32(srv.Addr().(*net.TCPAddr).Port)
	k, err := cluster.NewKafka(st.node, kcfg)
	if err != nil {
		t.Fatalf("cluster.NewKafka: %v", err)
	}
	st.kafka = k
	h.k.Store(k)
}

// lateHandler forwards to the Kafka handler once it exists.
type lateHandler struct{ k atomic.Pointer[cluster.Kafka] }

func (h *lateHandler) Handle(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return h.k.Load().Handle(ctx, req)
}

// setMirror sets the mappings `tributary serve` sets by default.
func (st *stack) setMirror() {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for _, spec := range []cluster.MappingSpec{
		{Name: "mirror-mqtt-to-kafka", MQTTToKafka: &cluster.MQTTToKafkaSpec{Filters: []string{"#"}, KafkaTopic: "mqtt", Partitions: 4}},
		{Name: "mirror-kafka-to-mqtt", KafkaToMQTT: &cluster.KafkaToMQTTSpec{KafkaTopic: "mqtt", MQTTTopic: "{key}", QoS: 1}},
	} {
		if err := st.node.SetMapping(ctx, spec); err != nil {
			st.t.Fatalf("set mapping %s: %v", spec.Name, err)
		}
	}
}

func (st *stack) openStore(events *atomic.Pointer[cluster.Node]) {
	t := st.t
	t.Helper()
	var opts []func(*raftstore.Config)
	if st.storeOpts != nil {
		opts = append(opts, st.storeOpts)
	}
	st.store = storetest.OpenOneNode(t, st.dir, testLogger(), func(evs []raftstore.Event) {
		if n := events.Load(); n != nil {
			n.HandleEvents(evs)
		}
	}, opts...)
}

// close stops the listeners, then the node, then the store: the order
// `tributary serve` uses. It may be called more than once.
func (st *stack) close() {
	if st.store == nil {
		return
	}
	if st.srv != nil {
		if err := st.srv.Close(); err != nil {
			st.t.Errorf("close kafka listener: %v", err)
		}
	}
	if st.kafka != nil {
		st.kafka.Close()
	}
	if st.mqtt != nil {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		if err := st.mqtt.Shutdown(ctx); err != nil {
			st.t.Errorf("shutdown mqtt: %v", err)
		}
		cancel()
	}
	if st.node != nil {
		st.node.Close()
	}
	if err := st.store.Close(); err != nil {
		st.t.Errorf("close store: %v", err)
	}
	st.store = nil
}

func (st *stack) kafkaAddr() string { return st.srv.Addr().String() }
func (st *stack) mqttAddr() string  { return st.mqtt.Addr().String() }

// testLogger discards logs unless TRIBUTARY_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("TRIBUTARY_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func contextWithWait(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return ctx
}
