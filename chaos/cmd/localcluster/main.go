// Command localcluster runs a Tributary cluster (three nodes unless -nodes
// says otherwise) behind HAProxy on loopback, for `make cluster` and the
// cluster benchmark: MQTT through HAProxy on 127.0.0.1:1883, node N's
// Kafka listener on 127.0.0.1:N9092, HTTP on 127.0.0.1:N8080 and its
// cluster port on 127.0.0.1:N7946.
// It stops everything on Ctrl-C; the data directories stay, so the next
// run resumes the same cluster.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"tributary/chaos"
)

func main() {
	bin := flag.String("bin", "bin/tributary", "the tributary binary")
	dir := flag.String("dir", "data-cluster", "directory for the nodes' data, their logs and haproxy.cfg")
	mqtt := flag.String("mqtt", "127.0.0.1:1883", "HAProxy's MQTT frontend")
	nodes := flag.Int("nodes", 3, "how many nodes, 1 to 9")
	flag.Parse()
	if *nodes < 1 || *nodes > 9 {
		fmt.Fprintln(os.Stderr, "localcluster: -nodes must be 1 to 9")
		os.Exit(2)
	}
	if err := run(*bin, *dir, *mqtt, *nodes); err != nil {
		fmt.Fprintln(os.Stderr, "localcluster:", err)
		os.Exit(1)
	}
}

func run(bin, dir, mqtt string, nodes int) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := chaos.Start(ctx, chaos.Options{
		Bin:         bin,
		Dir:         abs,
		Nodes:       nodes,
		HAProxyMQTT: mqtt,
		Ports: func(i int) chaos.NodePorts {
			return chaos.NodePorts{
				MQTT:  fmt.Sprintf("127.0.0.1:%d1883", i),
				Kafka: fmt.Sprintf("127.0.0.1:%d9092", i),
				HTTP:  fmt.Sprintf("127.0.0.1:%d8080", i),
				Raft:  fmt.Sprintf("127.0.0.1:%d7946", i),
			}
		},
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	defer c.Close()
	var kafka []string
	for _, n := range c.Nodes() {
		kafka = append(kafka, n.Ports.Kafka)
	}
	// The first line on stdout tells scripts the cluster is up.
	fmt.Printf("ready mqtt=%s kafka=%s\n", c.MQTTAddr, strings.Join(kafka, ","))
	fmt.Fprintf(os.Stderr, `
cluster ready: MQTT through HAProxy at %s; Kafka at %s
members:  bin/tributary ctl members --http-addr 127.0.0.1:18080
logs:     %s/n*.log, %s/haproxy.log
Ctrl-C stops the cluster; its data stays in %s.
`, c.MQTTAddr, strings.Join(kafka, ", "), abs, abs, abs)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	<-sigs
	fmt.Fprintln(os.Stderr, "stopping the cluster")
	for _, n := range c.Nodes() {
		if err := c.Stop(n); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	return nil
}
