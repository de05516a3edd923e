package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"tributary/cluster"
	"tributary/cluster/peer"
	"tributary/raftstore"
	"tributary/wire"
	"tributary/wire/kafka"
	"tributary/wire/mqtt"
)

// drainGrace bounds each proposal the node makes while it shuts down (the
// closes of its sessions): see cluster.Node.Drain.
const drainGrace = 3 * time.Second

// httpShutdownTimeout bounds how long in-flight HTTP requests (a scrape, a
// probe) may take to finish at shutdown before their connections are cut.
const httpShutdownTimeout = 5 * time.Second

// errStarting is /readyz's answer while the store is still opening (a long
// log replay, say): the process is up, so /healthz already says so.
var errStarting = errors.New("tributary: starting: raft store not open yet")

// errListeners is /readyz's answer while the MQTT and Kafka listeners are
// not all open yet.
var errListeners = errors.New("tributary: starting: listeners not open yet")

// node holds what serve started, so shutdown can stop it in reverse order.
type node struct {
	log     *slog.Logger
	http    *wire.HTTPServer
	cluster *wire.ClusterListener
	store   atomic.Pointer[raftstore.Store]
	broker  atomic.Pointer[cluster.Node]
	members atomic.Pointer[cluster.Membership]
	peers   *peer.Client
	rpc     *peer.Server
	mqtt    *mqtt.Server
	kafka   *cluster.Kafka
	kafkaLn *kafka.Server
	// serving is set once every listener is up: /readyz says ready only
	// then, so a probe never sends clients to a port not yet open.
	serving atomic.Bool
}

// mappingAdmin is the HTTP admin endpoint's view of the broker: nil until
// it has started.
func (n *node) mappingAdmin() wire.MappingAdmin {
	if b := n.broker.Load(); b != nil {
		return b
	}
	return nil
}

// memberAdmin is the HTTP admin endpoint's view of the membership: nil
// until it has started.
func (n *node) memberAdmin() wire.MemberAdmin {
	if m := n.members.Load(); m != nil {
		return m
	}
	return nil
}

// ready is the HTTP endpoint's readiness callback.
func (n *node) ready() error {
	s := n.store.Load()
	if s == nil {
		return errStarting
	}
	if err := s.Ready(); err != nil {
		return err
	}
	if !n.serving.Load() {
		return errListeners
	}
	return nil
}

// serve runs one node until a signal arrives on sigs or a part of it stops
// by itself, stops everything it started, and returns the exit code. It
// logs every error itself, once. sigs is the channel given to
// signal.Notify: after the first signal serve stops relaying, so a second
// SIGINT or SIGTERM kills a shutdown that hangs.
func serve(cfg Config, log *slog.Logger, sigs chan os.Signal) int {
	n := &node{log: log}
	if err := n.start(cfg); err != nil {
		log.Error("tributary failed to start", "err", err)
		if err := n.shutdown(); err != nil {
			log.Error("cleanup after the failed start", "err", err)
		}
		return exitFailure
	}
	log.Info("tributary started",
		"http_addr", n.http.Addr().String(), "raft_addr", n.cluster.Addr().String(),
		"mqtt_addr", n.mqtt.Addr().String(), "kafka_addr", n.kafkaLn.Addr().String(), "data_dir", cfg.DataDir)

	code := exitOK
	if err := waitStop(log, sigs, n.store.Load(), n.http, n.mqtt, n.kafkaLn); err != nil {
		log.Error("shutting down after a fatal error", "err", err)
		code = exitFailure
	}
	if err := n.shutdown(); err != nil {
		log.Error("shutdown incomplete", "err", err)
		return exitFailure
	}
	log.Info("shutdown complete")
	return code
}

// stoppable is a part of the node that may stop by itself: Done is closed
// when it does, and Err says why.
type stoppable interface {
	Done() <-chan struct{}
	Err() error
}

// waitStop blocks until a signal arrives (it returns nil: a clean stop) or
// the store, the HTTP endpoint or a listener stops by itself (it returns
// why).
func waitStop(log *slog.Logger, sigs chan os.Signal, store, http, mqtt, kafka stoppable) error {
	select {
	case sig := <-sigs:
		signal.Stop(sigs)
		log.Info("shutting down; a second signal forces exit", "signal", sig.String())
		return nil
	case <-store.Done():
		return fmt.Errorf("tributary: raft store stopped: %w", store.Err())
	case <-http.Done():
		return fmt.Errorf("tributary: http endpoint stopped: %w", http.Err())
	case <-mqtt.Done():
		return fmt.Errorf("tributary: mqtt listener stopped: %w", mqtt.Err())
	case <-kafka.Done():
		return fmt.Errorf("tributary: kafka listener stopped: %w", kafka.Err())
	}
}

// start brings the node up: the HTTP endpoint first, so /healthz answers
// while the store opens; then the cluster port; then the store.
func (n *node) start(cfg Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("tributary: create data dir: %w", err)
	}
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("tributary: register runtime metrics: %w", err)
		}
	}
	hs, err := wire.ListenHTTP(wire.HTTPConfig{
		Addr: cfg.HTTPAddr, Ready: n.ready, Gatherer: reg, Logger: n.log,
		Mappings: n.mappingAdmin, Members: n.memberAdmin,
	})
	if err != nil {
		return err
	}
	n.http = hs
	cl, err := wire.ListenCluster(wire.ClusterConfig{Addr: cfg.RaftAddr, Registerer: reg, Logger: n.log})
	if err != nil {
		return err
	}
	n.cluster = cl
	store, err := raftstore.Open(raftstore.Config{
		NodeID:        cfg.NodeID,
		DataDir:       cfg.DataDir,
		StreamLayer:   raftstore.NewStreamLayer(cl, cl.Dial),
		AdvertiseAddr: cfg.raftAdvertised(),
		// A node given --join waits to be added; one with raft state
		// (a restart) rejoins by itself either way.
		NoBootstrap:     len(cfg.joinAddrs()) > 0,
		KafkaCacheBytes: cfg.kafkaCacheBytes(),
		Logger:          n.log,
		Registerer:      reg,
		// Events of entries applied before the broker exists (the replay
		// at start) concern no connection yet: they are dropped.
		OnEvents: func(evs []raftstore.Event) {
			if b := n.broker.Load(); b != nil {
				b.HandleEvents(evs)
			}
		},
	})
	if err != nil {
		return err
	}
	n.store.Store(store)
	return n.startBroker(cfg, store, reg)
}

// joinTimeout bounds joining a cluster at start: the members may still be
// starting themselves.
const joinTimeout = 2 * time.Minute

// startBroker starts the live node on the store, its part in the cluster
// (the peer protocol on the cluster port, membership, joining), then the
// Kafka and MQTT sides.
func (n *node) startBroker(cfg Config, store *raftstore.Store, reg prometheus.Registerer) error {
	peerClient := peer.ClientConfig{Dial: n.cluster.DialRPC, Logger: n.log}
	peerServer := peer.ServerConfig{Logger: n.log}
	if err := errors.Join(peerClient.Validate(), peerServer.Validate()); err != nil {
		return err
	}
	n.peers = peer.NewClient(peerClient)
	n.rpc = peer.NewServer(peerServer)
	for _, c := range append(n.peers.Collectors(), n.rpc.Collectors()...) {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("tributary: register peer metrics: %w", err)
		}
	}
	broker, err := cluster.New(cluster.Config{
		NodeID:              cfg.NodeID,
		Store:               store,
		Peers:               n.peers,
		MaxSessionExpiry:    cfg.MaxSessionExpiry,
		MaxQueuedMessages:   cfg.MaxQueuedMessages,
		MaxInflightMessages: cfg.MaxInflightMessages,
		Logger:              n.log,
		Registerer:          reg,
	})
	if err != nil {
		return err
	}
	n.broker.Store(broker)
	members, err := cluster.NewMembership(broker, cluster.MembershipConfig{
		RaftAddr:   cfg.raftAdvertised(),
		KafkaAddr:  cfg.kafkaAdvertisedAddr(),
		Peers:      n.peers,
		DownAfter:  cfg.NodeDownAfter,
		Logger:     n.log,
		Registerer: reg,
	})
	if err != nil {
		return err
	}
	n.members.Store(members)
	broker.ServeRPC(n.rpc)
	members.ServeRPC(n.rpc)
	go func() {
		if err := n.rpc.Serve(n.cluster.RPC()); err != nil {
			n.log.Debug("peer server stopped", "err", err)
		}
	}()
	if seeds := cfg.joinAddrs(); len(seeds) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), joinTimeout)
		err := members.Join(ctx, seeds)
		cancel()
		if err != nil {
			return fmt.Errorf("tributary: join %v: %w", seeds, err)
		}
	}
	if err := n.startKafka(cfg, broker, reg); err != nil {
		return err
	}
	proxyFrom, _ := cfg.proxyProtocolSources() // Validate checked them
	ms, err := mqtt.Listen(mqtt.Config{
		ProxyProtocolFrom: proxyFrom,
		Addr:              cfg.MQTTAddr,
		Node:              broker,
		MaxPacketBytes:    cfg.MaxPacketBytes,
		MaxKeepAlive:      cfg.MaxKeepAlive,
		ReceiveMaximum:    cfg.ReceiveMaximum,
		MaxConnections:    cfg.MaxConnections,
		Logger:            n.log,
		Registerer:        reg,
	})
	if err != nil {
		return err
	}
	n.mqtt = ms
	n.serving.Store(true)
	return nil
}

// startKafka (re)applies the configured mappings, then starts the Kafka
// side of the broker and its listener.
func (n *node) startKafka(cfg Config, broker *cluster.Node, reg prometheus.Registerer) error {
	if err := applyMappings(broker, cfg, n.log); err != nil {
		return err
	}
	host, port := cfg.kafkaAdvertised()
	k, err := cluster.NewKafka(broker, cluster.KafkaConfig{
		AdvertiseHost:     host,
		AdvertisePort:     port,
		AutoCreateTopics:  cfg.KafkaAutoCreateTopics,
		DefaultPartitions: int32(cfg.KafkaDefaultPartitions),
	})
	if err != nil {
		return err
	}
	n.kafka = k
	ks, err := kafka.Listen(kafka.Config{
		Addr:            cfg.KafkaAddr,
		Handler:         k,
		MaxRequestBytes: cfg.KafkaMaxRequestBytes,
		Logger:          n.log,
		Registerer:      reg,
	})
	if err != nil {
		return err
	}
	n.kafkaLn = ks
	return nil
}

// mappingsTimeout bounds waiting for the store to be ready and applying
// the configured mappings at start.
const mappingsTimeout = time.Minute

// applyMappings sets the mirror's mappings and those of the config file
// through the log, once the store can take proposals; with the mirror
// turned off, it removes the mirror's mappings a previous run set.
func applyMappings(broker *cluster.Node, cfg Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), mappingsTimeout)
	defer cancel()
	if err := broker.WaitReady(ctx); err != nil {
		return fmt.Errorf("tributary: apply mappings: %w", err)
	}
	specs := append(cfg.mirrorMappings(), cfg.Mappings...)
	for _, spec := range specs {
		if err := broker.SetMapping(ctx, spec); err != nil {
			return fmt.Errorf("tributary: mapping %q: %w", spec.Name, err)
		}
	}
	if cfg.KafkaMirrorTopic == "" {
		for _, name := range []string{mirrorToKafka, mirrorToMQTT} {
			if err := broker.DeleteMapping(ctx, name); err != nil && !errors.Is(err, cluster.ErrUnknownMapping) {
				return fmt.Errorf("tributary: remove mirror mapping %q: %w", name, err)
			}
		}
	}
	log.Info("mappings applied", "mappings", len(specs), "mirror_topic", cfg.KafkaMirrorTopic)
	return nil
}

// shutdown stops what start started, last first, and joins every error.
func (n *node) shutdown() error {
	var errs []error
	if n.kafkaLn != nil {
		errs = append(errs, n.kafkaLn.Close())
		n.log.Info("kafka listener stopped")
	}
	if n.kafka != nil {
		n.kafka.Close()
	}
	if b := n.broker.Load(); b != nil {
		// The connections about to close record their ends through the
		// log; a node that cannot commit any more must not hold them long.
		b.Drain(drainGrace)
	}
	if n.mqtt != nil {
		ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
		errs = append(errs, n.mqtt.Shutdown(ctx))
		cancel()
		n.log.Info("mqtt listener stopped")
	}
	if m := n.members.Load(); m != nil {
		m.Close()
	}
	if b := n.broker.Load(); b != nil {
		b.Close()
	}
	if n.rpc != nil {
		errs = append(errs, n.rpc.Close())
	}
	if n.peers != nil {
		errs = append(errs, n.peers.Close())
	}
	if n.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
		err := n.http.Shutdown(ctx)
		cancel()
		if err != nil {
			// Requests still running past the timeout are cut.
			errs = append(errs, err, n.http.Close())
		}
		n.log.Info("http endpoint stopped")
	}
	if s := n.store.Load(); s != nil {
		errs = append(errs, s.Close())
		n.log.Info("raft store closed")
	}
	if n.cluster != nil {
		// Raft closes its transport, and so this listener, on shutdown:
		// finding it already closed is the expected case.
		if err := n.cluster.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		n.log.Info("cluster listener closed")
	}
	return errors.Join(errs...)
}
