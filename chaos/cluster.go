// Package chaos is a black-box harness for Tributary clusters: it starts
// real node processes (the tributary binary) and a real HAProxy in front
// of their MQTT listeners, injects faults (kill -9, SIGSTOP, restarts,
// membership changes) and reads the cluster's state only over the network
// (the HTTP admin API, MQTT, Kafka). It never imports the broker's
// packages. `make cluster` and the chaos tests both run on it.
package chaos

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

//go:embed haproxy.cfg.tmpl
var haproxyTemplate string

// NodePorts are the addresses one node listens on.
type NodePorts struct {
	MQTT, Kafka, HTTP, Raft string
}

// Options configures a cluster.
type Options struct {
	// Bin is the tributary binary. Required.
	Bin string
	// Dir holds the nodes' data directories, their logs and HAProxy's
	// rendered configuration. Required.
	Dir string
	// Nodes is how many nodes Start starts (the first bootstraps, the
	// others join it). Default 3.
	Nodes int
	// Ports gives node i (1-based) its addresses; nil picks free loopback
	// ports.
	Ports func(i int) NodePorts
	// HAProxyMQTT is the address HAProxy's MQTT frontend binds; "" picks a
	// free loopback port. HAProxy is not started when HAProxyBin is "-".
	HAProxyMQTT string
	// HAProxyBin is the haproxy executable; "" finds it on PATH (or in
	// /usr/sbin).
	HAProxyBin string
	// CheckInterval is HAProxy's health check interval. Default 500ms.
	CheckInterval time.Duration
	// StopTimeout bounds a clean stop (SIGTERM) of one node; past it the
	// node's goroutines are dumped into its log and it is killed. Default
	// 90s: a node flushes its state memtable (up to 64 MiB) as it stops,
	// which takes tens of seconds in a -race build on a loaded machine.
	StopTimeout time.Duration
	// Args are extra `tributary serve` arguments given to every node.
	Args []string
	// Logf receives the harness's progress; nil discards it.
	Logf func(format string, args ...any)
}

// Node is one tributary process of the cluster.
type Node struct {
	ID      string
	Index   int
	Ports   NodePorts
	DataDir string
	LogPath string
	args    []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// Cluster is a running set of nodes and the HAProxy in front of them.
type Cluster struct {
	opts    Options
	mu      sync.Mutex
	nodes   []*Node
	haproxy *exec.Cmd
	hapDone chan struct{}
	// MQTTAddr is where devices connect: HAProxy's frontend.
	MQTTAddr string
	next     int
}

// Start starts opts.Nodes nodes (the first bootstraps a cluster, each
// other joins it and is promoted to voter) and HAProxy, and returns once
// every node is a ready voter and HAProxy accepts connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if opts.Bin == "" || opts.Dir == "" {
		return nil, errors.New("chaos: Options.Bin and Options.Dir are required")
	}
	if opts.Nodes == 0 {
		opts.Nodes = 3
	}
	if opts.StopTimeout == 0 {
		opts.StopTimeout = 90 * time.Second
	}
	if opts.CheckInterval == 0 {
		opts.CheckInterval = 500 * time.Millisecond
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	c := &Cluster{opts: opts}
	// Every process first, then the waiting: a cluster restarted on its
	// data needs a quorum before any node is ready.
	for i := 1; i <= opts.Nodes; i++ {
		if _, err := c.launch(); err != nil {
			c.Close()
			return nil, err
		}
	}
	for _, n := range c.Nodes() {
		if err := c.WaitVoter(ctx, n); err != nil {
			c.Close()
			return nil, err
		}
	}
	if opts.HAProxyBin != "-" {
		if err := c.startHAProxy(ctx); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Nodes returns the cluster's nodes, in the order they were added.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Node(nil), c.nodes...)
}

// Node returns the node with the given id, or nil.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// AddNode starts one more node; every node after the first joins through
// the cluster ports of the nodes already there. It returns once the node
// is a ready voter.
func (c *Cluster) AddNode(ctx context.Context) (*Node, error) {
	n, err := c.launch()
	if err != nil {
		return nil, err
	}
	if err := c.WaitVoter(ctx, n); err != nil {
		return nil, err
	}
	return n, nil
}

// launch starts the next node's process without waiting for it.
func (c *Cluster) launch() (*Node, error) {
	c.mu.Lock()
	c.next++
	i := c.next
	var seeds []string
	for _, n := range c.nodes {
		seeds = append(seeds, n.Ports.Raft)
	}
	c.mu.Unlock()
	ports := NodePorts{}
	if c.opts.Ports != nil {
		ports = c.opts.Ports(i)
	} else {
		var err error
		if ports, err = freePorts(); err != nil {
			return nil, err
		}
	}
	n := &Node{
		ID:      fmt.Sprintf("n%d", i),
		Index:   i,
		Ports:   ports,
		DataDir: filepath.Join(c.opts.Dir, fmt.Sprintf("n%d", i)),
		LogPath: filepath.Join(c.opts.Dir, fmt.Sprintf("n%d.log", i)),
	}
	n.args = []string{"serve", "--node-id", n.ID, "--data-dir", n.DataDir,
		"--mqtt-addr", ports.MQTT, "--kafka-addr", ports.Kafka, "--http-addr", ports.HTTP, "--raft-addr", ports.Raft,
		"--proxy-protocol-from", "127.0.0.0/8"}
	if len(seeds) > 0 {
		n.args = append(n.args, "--join", strings.Join(seeds, ","))
	}
	n.args = append(n.args, c.opts.Args...)
	if err := c.startProcess(n); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	c.opts.Logf("chaos: started %s (mqtt %s, kafka %s, http %s, raft %s)", n.ID, ports.MQTT, ports.Kafka, ports.HTTP, ports.Raft)
	return n, nil
}

func (c *Cluster) startProcess(n *Node) error {
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("chaos: open %s: %w", n.LogPath, err)
	}
	cmd := exec.Command(c.opts.Bin, n.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chaos: start %s: %w", n.ID, err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited, n.waitErr = cmd, exited, nil
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.waitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Running reports whether the node's process is running (possibly
// stopped by SIGSTOP).
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Log returns what the node's processes wrote so far.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath) // a missing log is an empty one
	return string(b)
}

func (n *Node) signal(sig syscall.Signal) error {
	n.mu.Lock()
	cmd := n.cmd
	n.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("chaos: %s was never started", n.ID)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("chaos: signal %v to %s: %w", sig, n.ID, err)
	}
	return nil
}

// waitExit waits for the node's process to end, within d.
func (n *Node) waitExit(d time.Duration) error {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	select {
	case <-exited:
		return nil
	case <-time.After(d):
		return fmt.Errorf("chaos: %s did not exit within %v", n.ID, d)
	}
}

// Kill kills the node's process with SIGKILL and waits for it to end.
func (c *Cluster) Kill(n *Node) error {
	if err := n.signal(syscall.SIGKILL); err != nil {
		return err
	}
	c.opts.Logf("chaos: kill -9 %s", n.ID)
	return n.waitExit(10 * time.Second)
}

// Stop stops the node with SIGTERM (a clean shutdown) and waits for it.
func (c *Cluster) Stop(n *Node) error {
	if err := n.signal(syscall.SIGTERM); err != nil {
		return err
	}
	c.opts.Logf("chaos: stop %s", n.ID)
	start := time.Now()
	defer func() { c.opts.Logf("chaos: %s stopped after %v", n.ID, time.Since(start).Round(time.Millisecond)) }()
	if err := n.waitExit(c.opts.StopTimeout); err != nil {
		// SIGQUIT makes the Go runtime print every goroutine's stack into
		// the node's log before it exits: what the shutdown waited on.
		_ = n.signal(syscall.SIGQUIT)
		if n.waitExit(5*time.Second) != nil {
			_ = n.signal(syscall.SIGKILL) // a hung shutdown must not outlive the test
			_ = n.waitExit(5 * time.Second)
		}
		return fmt.Errorf("%w; its goroutines:\n%s", err, ourStacks(n.Log(), 12000))
	}
	return nil
}

// ourStacks returns the goroutine stacks of a Go crash dump in log that
// run through this module's packages, at most max bytes of them.
func ourStacks(log string, max int) string {
	i := strings.Index(log, "goroutine ")
	if i < 0 {
		return "(no goroutine dump)"
	}
	var b strings.Builder
	for _, g := range strings.Split(log[i:], "\n\n") {
		if strings.Contains(g, "tributary/") && b.Len()+len(g) < max {
			b.WriteString(g)
			b.WriteString("\n\n")
		}
	}
	return b.String()
}

// Pause freezes the node's process (SIGSTOP): it keeps its sockets but
// answers nothing, as a node cut off from the others would.
func (c *Cluster) Pause(n *Node) error {
	c.opts.Logf("chaos: SIGSTOP %s", n.ID)
	return n.signal(syscall.SIGSTOP)
}

// Resume lets a paused node run again (SIGCONT).
func (c *Cluster) Resume(n *Node) error {
	c.opts.Logf("chaos: SIGCONT %s", n.ID)
	return n.signal(syscall.SIGCONT)
}

// Restart starts a node that was killed or stopped again, on its data
// directory, and waits until it is ready.
func (c *Cluster) Restart(ctx context.Context, n *Node) error {
	if n.Running() {
		return fmt.Errorf("chaos: %s is still running", n.ID)
	}
	if err := c.startProcess(n); err != nil {
		return err
	}
	c.opts.Logf("chaos: restarted %s", n.ID)
	return c.WaitReady(ctx, n)
}

// Remove takes node n out of the cluster through the admin API of via,
// then stops its process.
func (c *Cluster) Remove(ctx context.Context, via, n *Node) error {
	if err := adminDo(ctx, http.MethodDelete, "http://"+via.Ports.HTTP+"/admin/members/"+n.ID, nil); err != nil {
		return err
	}
	c.opts.Logf("chaos: removed %s", n.ID)
	if n.Running() {
		return c.Stop(n)
	}
	return nil
}

// Ready reports whether the node's /readyz answers 200.
func (n *Node) Ready(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.Ports.HTTP+"/readyz", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// WaitReady waits until the node's /readyz answers 200, or ctx ends, or
// the process exits.
func (c *Cluster) WaitReady(ctx context.Context, n *Node) error {
	for {
		if n.Ready(ctx) {
			return nil
		}
		if !n.Running() {
			return fmt.Errorf("chaos: %s exited while starting; its log:\n%s", n.ID, tail(n.Log(), 4000))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: %s not ready: %w; its log:\n%s", n.ID, ctx.Err(), tail(n.Log(), 4000))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// WaitVoter waits until the node is ready and the cluster lists it as a
// voter (or the leader).
func (c *Cluster) WaitVoter(ctx context.Context, n *Node) error {
	if err := c.WaitReady(ctx, n); err != nil {
		return err
	}
	for {
		ms, err := c.Members(ctx, n)
		if err == nil {
			for _, m := range ms {
				if m.ID == n.ID && (m.Role == "voter" || m.Role == "leader") && m.Live {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chaos: %s not a live voter (last: %v %v): %w", n.ID, ms, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Member is one entry of GET /admin/members.
type Member struct {
	ID                string `json:"id"`
	RaftAddr          string `json:"raft_addr"`
	Role              string `json:"role"`
	Live              bool   `json:"live"`
	BrokerID          int32  `json:"broker_id"`
	KafkaAddr         string `json:"kafka_addr"`
	AppliedIndex      uint64 `json:"applied_index"`
	Lag               uint64 `json:"lag"`
	LastContactMillis int64  `json:"last_contact_ms"`
	Ready             bool   `json:"ready"`
}

// Members asks node via for the member list (the leader's view).
func (c *Cluster) Members(ctx context.Context, via *Node) ([]Member, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+via.Ports.HTTP+"/admin/members", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("chaos: members via %s: %w", via.ID, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("chaos: members via %s: %w", via.ID, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("chaos: members via %s: %s: %s", via.ID, resp.Status, bytes.TrimSpace(body))
	}
	var ms []Member
	if err := json.Unmarshal(body, &ms); err != nil {
		return nil, fmt.Errorf("chaos: members via %s: %w", via.ID, err)
	}
	return ms, nil
}

// Leader returns the node the cluster reports as raft leader, asking the
// running nodes in turn, waiting until one answers or ctx ends.
func (c *Cluster) Leader(ctx context.Context) (*Node, error) {
	for {
		for _, via := range c.Nodes() {
			if !via.Running() {
				continue
			}
			ms, err := c.Members(ctx, via)
			if err != nil {
				continue
			}
			for _, m := range ms {
				if m.Role == "leader" {
					if n := c.Node(m.ID); n != nil {
						return n, nil
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("chaos: no leader: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TransferLeadership asks the leader (through via) to hand leadership to
// node to (nil: any up-to-date voter).
func (c *Cluster) TransferLeadership(ctx context.Context, via, to *Node) error {
	url := "http://" + via.Ports.HTTP + "/admin/leadership/transfer"
	if to != nil {
		url += "?to=" + to.ID
	}
	return adminDo(ctx, http.MethodPost, url, nil)
}

func adminDo(ctx context.Context, method, url string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("chaos: %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // for the error only
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("chaos: %s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// haproxyNode is one server line of the HAProxy template.
type haproxyNode struct {
	ID, MQTTAddr, HTTPHost, HTTPPort string
}

// RenderHAProxyConfig renders the repository's HAProxy configuration for
// an MQTT frontend at mqttBind and the given nodes.
func RenderHAProxyConfig(mqttBind string, checkInterval time.Duration, nodes []*Node) (string, error) {
	tmpl, err := template.New("haproxy").Parse(haproxyTemplate)
	if err != nil {
		return "", fmt.Errorf("chaos: haproxy template: %w", err)
	}
	data := struct {
		MQTTBind      string
		CheckInterval string
		Nodes         []haproxyNode
	}{MQTTBind: mqttBind, CheckInterval: fmt.Sprintf("%dms", checkInterval.Milliseconds())}
	for _, n := range nodes {
		host, port, err := net.SplitHostPort(n.Ports.HTTP)
		if err != nil {
			return "", fmt.Errorf("chaos: %s http address: %w", n.ID, err)
		}
		data.Nodes = append(data.Nodes, haproxyNode{ID: n.ID, MQTTAddr: n.Ports.MQTT, HTTPHost: host, HTTPPort: port})
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("chaos: render haproxy config: %w", err)
	}
	return b.String(), nil
}

// HAProxyBinary finds haproxy on PATH or in /usr/sbin (Debian's place,
// often not on a user's PATH).
func HAProxyBinary() (string, error) {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/haproxy"); err == nil {
		return "/usr/sbin/haproxy", nil
	}
	return "", errors.New("chaos: haproxy not found (apt-get install -y haproxy)")
}

// startHAProxy renders the configuration for the current nodes and starts
// HAProxy in the foreground; it returns once the frontend accepts.
func (c *Cluster) startHAProxy(ctx context.Context) error {
	bin := c.opts.HAProxyBin
	if bin == "" {
		var err error
		if bin, err = HAProxyBinary(); err != nil {
			return err
		}
	}
	c.MQTTAddr = c.opts.HAProxyMQTT
	if c.MQTTAddr == "" {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		c.MQTTAddr = addr
	}
	// A node answering on the frontend's address would pass the probe
	// below while HAProxy failed to bind it.
	for _, n := range c.Nodes() {
		for _, a := range []string{n.Ports.MQTT, n.Ports.Kafka, n.Ports.HTTP, n.Ports.Raft} {
			if a == c.MQTTAddr {
				return fmt.Errorf("chaos: HAProxy's MQTT frontend %s is also node %s's address", c.MQTTAddr, n.ID)
			}
		}
	}
	cfg, err := RenderHAProxyConfig(c.MQTTAddr, c.opts.CheckInterval, c.Nodes())
	if err != nil {
		return err
	}
	path := filepath.Join(c.opts.Dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return fmt.Errorf("chaos: write haproxy config: %w", err)
	}
	logPath := filepath.Join(c.opts.Dir, "haproxy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("chaos: start haproxy: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait() // its exit is reported through done and its log
		logf.Close()
		close(done)
	}()
	c.haproxy, c.hapDone = cmd, done
	for {
		// HAProxy accepts before its first health checks have passed, and
		// closes what it cannot send anywhere: wait for a real CONNACK.
		if err := mqttProbe(c.MQTTAddr); err == nil {
			c.opts.Logf("chaos: haproxy up, MQTT frontend %s, config %s", c.MQTTAddr, path)
			return nil
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logPath) // for the error only
			return fmt.Errorf("chaos: haproxy exited: %s", b)
		case <-ctx.Done():
			return fmt.Errorf("chaos: haproxy frontend %s not accepting: %w", c.MQTTAddr, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close kills HAProxy and every node.
func (c *Cluster) Close() {
	if c.haproxy != nil && c.haproxy.Process != nil {
		_ = c.haproxy.Process.Kill() // it may be gone already
		<-c.hapDone
	}
	for _, n := range c.Nodes() {
		if n.Running() {
			_ = n.signal(syscall.SIGCONT) // a paused node cannot die otherwise
			_ = n.signal(syscall.SIGKILL)
			_ = n.waitExit(10 * time.Second)
		}
	}
}

// mqttProbe connects to addr, sends an MQTT 3.1.1 CONNECT (clean session)
// and waits for a CONNACK that accepts it.
func mqttProbe(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second)) // a failed set shows as a failed read
	const id = "chaos-probe"
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 10, 0, byte(len(id))}
	body = append(body, id...)
	pkt := append([]byte{0x10, byte(len(body))}, body...)
	if _, err := conn.Write(append(pkt, 0xE0, 0)); err != nil { // CONNECT, DISCONNECT
		return err
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil {
		return err
	}
	if ack[0] != 0x20 || ack[3] != 0 {
		return fmt.Errorf("chaos: probe of %s answered %x", addr, ack)
	}
	return nil
}

// handedOut remembers every port freeAddr gave, in this process: a port
// picked for a node that has not bound it yet is free again to the
// kernel, which may hand it out a second time.
var handedOut = struct {
	sync.Mutex
	ports map[string]bool
}{ports: make(map[string]bool)}

// freePorts picks four free loopback ports.
func freePorts() (NodePorts, error) {
	var addrs [4]string
	for i := range addrs {
		a, err := freeAddr()
		if err != nil {
			return NodePorts{}, err
		}
		addrs[i] = a
	}
	return NodePorts{MQTT: addrs[0], Kafka: addrs[1], HTTP: addrs[2], Raft: addrs[3]}, nil
}

// freeAddr picks a free loopback port never handed out before.
func freeAddr() (string, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", fmt.Errorf("chaos: pick a free port: %w", err)
		}
		addr := l.Addr().String()
		l.Close()
		if !handedOut.ports[addr] {
			handedOut.ports[addr] = true
			return addr, nil
		}
	}
	return "", errors.New("chaos: no free port that was not handed out already")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
