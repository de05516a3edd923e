package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mosquittoWithin bounds one mosquitto_pub or mosquitto_sub run; it only
// turns a hang into a failure.
const mosquittoWithin = 20 * time.Second

// node is a running `tributary serve` with its addresses.
type testNode struct {
	p        *process
	bin      string
	args     []string
	dataDir  string
	httpAddr string
	mqttAddr string
	// kafkaAddr is the Kafka listener, advertised as is.
	kafkaAddr string
}

// startNode runs a node on free loopback ports and waits until it is ready.
func startNode(t *testing.T, bin string, extra ...string) *testNode {
	t.Helper()
	n := &testNode{
		bin: bin, dataDir: filepath.Join(t.TempDir(), "data"),
		httpAddr: freeAddr(t), mqttAddr: freeAddr(t), kafkaAddr: freeAddr(t),
	}
	n.args = append([]string{"serve", "--data-dir", n.dataDir, "--http-addr", n.httpAddr,
		"--raft-addr", freeAddr(t), "--mqtt-addr", n.mqttAddr, "--kafka-addr", n.kafkaAddr}, extra...)
	n.restart(t)
	return n
}

// restart starts the node's process again on the same data and ports.
func (n *testNode) restart(t *testing.T) {
	t.Helper()
	n.p = startProcess(t, n.bin, n.args...)
	waitStatus(t, n.p, "http://"+n.httpAddr+"/readyz", http.StatusOK)
}

// kill9 kills the node without warning and waits for it to be gone.
func (n *testNode) kill9(t *testing.T) {
	t.Helper()
	if err := n.p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	n.p.wait(t)
}

func (n *testNode) port() string { return n.mqttAddr[strings.LastIndexByte(n.mqttAddr, ':')+1:] }

// mosq runs mosquitto_pub or mosquitto_sub against the node and returns
// its standard output, failing the test on a non-zero exit.
func (n *testNode) mosq(t *testing.T, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), mosquittoWithin)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, append([]string{"-h", "127.0.0.1", "-p", n.port()}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s %q: %v\nstdout: %s\nstderr: %s\nnode log:\n%s", tool, args, err, out, stderr, n.p.stderr())
	}
	return string(out)
}

// startMosq starts a long-running mosquitto tool and returns it.
func (n *testNode) startMosq(t *testing.T, tool string, args ...string) *process {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s not installed (make test installs mosquitto-clients): %v", tool, err)
	}
	return startProcess(t, tool, append([]string{"-h", "127.0.0.1", "-p", n.port()}, args...)...)
}

func requireMosquittoClients(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (make test installs mosquitto-clients): %v", tool, err)
		}
	}
}

// TestMosquittoClients drives a node with Debian's mosquitto_pub and
// mosquitto_sub, over MQTT 3.1.1 and 5: the quick start of the README.
func TestMosquittoClients(t *testing.T) {
	requireMosquittoClients(t)
	bin := buildBinary(t)
	n := startNode(t, bin)
	for _, v := range []string{"mqttv311", "mqttv5"} {
		t.Run(v, func(t *testing.T) {
			testMosquittoQueuedDelivery(t, n, v)
			testMosquittoRetained(t, n, v)
		})
	}
	t.Run("mqttv5 properties", func(t *testing.T) { testMosquittoV5Properties(t, n) })
	t.Run("will on SIGKILL of the client", func(t *testing.T) { testMosquittoWill(t, n) })
	n.p.stop(t)
}

// testMosquittoQueuedDelivery: a persistent subscription made by one
// mosquitto_sub run collects QoS 0, 1 and 2 messages for the next run
// [MQTT-3.1.2-4, MQTT-3.1.2-5]; QoS 0 is not queued for an offline client
// (as in Mosquitto), QoS 1 and 2 are.
func testMosquittoQueuedDelivery(t *testing.T, n *testNode, v string) {
	id := "sub-" + v
	n.mosq(t, "mosquitto_sub", "-V", v, "-i", id, "-c", "-q", "2", "-t", "q/"+v+"/#", "-E")
	for qos := range 3 {
		n.mosq(t, "mosquitto_pub", "-V", v, "-q", fmt.Sprint(qos), "-t", fmt.Sprintf("q/%s/%d", v, qos), "-m", fmt.Sprintf("m%d", qos))
	}
	out := n.mosq(t, "mosquitto_sub", "-V", v, "-i", id, "-c", "-q", "2", "-t", "q/"+v+"/#", "-C", "2", "-W", "10", "-F", "%t %q %p")
	got := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{fmt.Sprintf("q/%s/1 1 m1", v), fmt.Sprintf("q/%s/2 2 m2", v)}
	if !slices.Equal(got, want) {
		t.Fatalf("queued delivery = %q, want %q", got, want)
	}
}

// testMosquittoRetained sets, reads and clears a retained message
// [MQTT-3.3.1-5, MQTT-3.3.1-6].
func testMosquittoRetained(t *testing.T, n *testNode, v string) {
	topic := "ret/" + v
	n.mosq(t, "mosquitto_pub", "-V", v, "-q", "1", "-r", "-t", topic, "-m", "kept")
	out := n.mosq(t, "mosquitto_sub", "-V", v, "-t", topic, "-C", "1", "-W", "10", "-F", "%r %t %p")
	if strings.TrimSpace(out) != "1 "+topic+" kept" {
		t.Fatalf("retained read = %q, want %q", out, "1 "+topic+" kept")
	}
	n.mosq(t, "mosquitto_pub", "-V", v, "-q", "1", "-r", "-t", topic, "-n")
	// A subscription now gets no retained message: -W ends the wait with
	// exit code 27 and nothing printed, so run it without mosq's check.
	ctx, cancel := context.WithTimeout(context.Background(), mosquittoWithin)
	defer cancel()
	out2, _ := exec.CommandContext(ctx, "mosquitto_sub", "-h", "127.0.0.1", "-p", n.port(),
		"-V", v, "-t", topic, "-C", "1", "-W", "2", "--retained-only").Output()
	if len(out2) != 0 {
		t.Fatalf("after clearing, the subscription got %q, want nothing [MQTT-3.3.1-7]", out2)
	}
}

// testMosquittoV5Properties checks that MQTT 5 user properties, content
// type and a response topic pass through unchanged.
func testMosquittoV5Properties(t *testing.T, n *testNode) {
	id := "props-sub"
	n.mosq(t, "mosquitto_sub", "-V", "mqttv5", "-i", id, "-c", "-q", "1", "-t", "props/#", "-E")
	n.mosq(t, "mosquitto_pub", "-V", "mqttv5", "-q", "1", "-t", "props/a", "-m", "body",
		"-D", "publish", "user-property", "site", "north",
		"-D", "publish", "content-type", "text/plain",
		"-D", "publish", "response-topic", "reply/here")
	out := n.mosq(t, "mosquitto_sub", "-V", "mqttv5", "-i", id, "-c", "-q", "1", "-t", "props/#", "-C", "1", "-W", "10",
		"-F", "%t|%p|%P|%C|%R")
	want := "props/a|body|site:north|text/plain|reply/here"
	if strings.TrimSpace(out) != want {
		t.Fatalf("v5 delivery = %q, want %q", strings.TrimSpace(out), want)
	}
}

// testMosquittoWill kills a client that has a will; the will reaches a
// subscriber [MQTT-3.1.2-8].
func testMosquittoWill(t *testing.T, n *testNode) {
	n.mosq(t, "mosquitto_sub", "-V", "mqttv311", "-i", "will-watch", "-c", "-q", "1", "-t", "wills/#", "-E")
	doomed := n.startMosq(t, "mosquitto_sub", "-V", "mqttv311", "-i", "doomed", "-t", "ping/doomed",
		"--will-topic", "wills/doomed", "--will-payload", "lost", "--will-qos", "1")
	// The will is registered once the CONNECT is accepted: wait until the
	// client's subscription works, which proves it.
	deadline := time.Now().Add(mosquittoWithin)
	for !strings.Contains(doomed.stderr(), "ping") {
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto_sub with a will never got a message: %s", doomed.stderr())
		}
		n.mosq(t, "mosquitto_pub", "-V", "mqttv311", "-t", "ping/doomed", "-m", "ping")
		time.Sleep(50 * time.Millisecond)
	}
	if err := doomed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	out := n.mosq(t, "mosquitto_sub", "-V", "mqttv311", "-i", "will-watch", "-c", "-q", "1", "-t", "wills/#", "-C", "1", "-W", "10", "-F", "%t %p")
	if strings.TrimSpace(out) != "wills/doomed lost" {
		t.Fatalf("will delivery = %q, want %q", out, "wills/doomed lost")
	}
}
