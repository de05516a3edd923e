package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// kafkaToolWithin bounds one kcat or python run; it only turns a hang into
// a failure.
const kafkaToolWithin = 60 * time.Second

func requireTool(t *testing.T, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s not installed (make test installs %s): %v", tool, pkg, err)
	}
}

// run runs a tool with stdin and returns its standard output, failing the
// test (with the node's log) on a non-zero exit.
func (n *testNode) run(t *testing.T, stdin, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kafkaToolWithin)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\nstdout: %s\nstderr: %s\nnode log:\n%s", tool, args, err, out, stderr.String(), n.p.stderr())
	}
	return string(out)
}

// kcat runs Debian's kcat (librdkafka 2.0) against the node.
func (n *testNode) kcat(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	return n.run(t, stdin, "kcat", append([]string{"-b", n.kafkaAddr, "-X", "socket.timeout.ms=20000"}, args...)...)
}

// TestKcatQuickStart is the README's Kafka quick start with real tools:
// an MQTT publish read with kcat from the mirror topic, and a record
// produced with kcat (with every compression codec librdkafka has)
// delivered to an MQTT subscriber.
func TestKcatQuickStart(t *testing.T) {
	requireMosquittoClients(t)
	requireTool(t, "kcat", "kcat")
	bin := buildBinary(t)
	n := startNode(t, bin)

	n.mosq(t, "mosquitto_pub", "-t", "sensors/1/temp", "-m", "21.5", "-q", "1")
	out := n.kcat(t, "", "-C", "-t", "mqtt", "-o", "beginning", "-c", "1", "-f", "%k %s\n")
	if strings.TrimSpace(out) != "sensors/1/temp 21.5" {
		t.Fatalf("kcat read %q from the mirror topic, want %q", out, "sensors/1/temp 21.5")
	}

	// A persistent session subscribed to the command topic collects what
	// Kafka producers send while it is offline (the mirror publishes at QoS 1).
	n.mosq(t, "mosquitto_sub", "-i", "device-7", "-c", "-q", "1", "-t", "devices/7/cmd", "-E")
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	for _, z := range codecs {
		n.kcat(t, "devices/7/cmd:open-"+z+"\n", "-P", "-t", "mqtt", "-K:", "-z", z)
	}
	got := n.mosq(t, "mosquitto_sub", "-i", "device-7", "-c", "-q", "1", "-t", "devices/7/cmd",
		"-C", fmt.Sprint(len(codecs)), "-W", "20", "-F", "%t %p")
	var want []string
	for _, z := range codecs {
		want = append(want, "devices/7/cmd open-"+z)
	}
	if lines := strings.Split(strings.TrimSpace(got), "\n"); !slices.Equal(lines, want) {
		t.Fatalf("mosquitto_sub got %q, want %q", lines, want)
	}

	// A kcat consumer group commits its offsets: a second run of the group
	// starts after what the first one read.
	first := n.kcat(t, "", "-G", "kcat-group", "-X", "auto.offset.reset=earliest", "-c", "6", "-f", "%s\n", "mqtt")
	if c := strings.Count(first, "\n"); c != 6 {
		t.Fatalf("group read %d records, want 6:\n%s", c, first)
	}
	n.kcat(t, "sensors/2/temp:after-group\n", "-P", "-t", "mqtt", "-K:")
	second := n.kcat(t, "", "-G", "kcat-group", "-X", "auto.offset.reset=earliest", "-c", "1", "-f", "%s\n", "mqtt")
	if strings.TrimSpace(second) != "after-group" {
		t.Fatalf("the group's second run read %q, want only the record produced after its commit", second)
	}
	n.p.stop(t)
}

// confluentScript uses python3-confluent-kafka (librdkafka) as many Kafka
// users do: AdminClient creates a topic, a Producer writes, a group
// Consumer reads and commits, and committed() reads the commit back.
const confluentScript = `
import sys
from confluent_kafka import Producer, Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

bootstrap = sys.argv[1]
admin = AdminClient({"bootstrap.servers": bootstrap})
for topic, f in admin.create_topics([NewTopic("py-topic", num_partitions=2, replication_factor=1)]).items():
    f.result(30)

p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
for i in range(20):
    p.produce("py-topic", key=str(i % 4), value="m%d" % i)
assert p.flush(30) == 0, "records not delivered"

c = Consumer({"bootstrap.servers": bootstrap, "group.id": "py-group",
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
c.subscribe(["py-topic"])
seen = set()
while len(seen) < 20:
    m = c.poll(30)
    assert m is not None, "no record within 30s; got %d" % len(seen)
    assert m.error() is None, m.error()
    seen.add(m.value().decode())
c.commit(asynchronous=False)
committed = c.committed([TopicPartition("py-topic", 0), TopicPartition("py-topic", 1)], timeout=30)
# a partition no record went to has no commit (librdkafka shows -1001)
print(sorted(seen) == sorted("m%d" % i for i in range(20)), sum(tp.offset for tp in committed if tp.offset >= 0))
c.close()
`

// TestPythonConfluentKafka runs confluent-kafka-python from Debian
// against a node.
func TestPythonConfluentKafka(t *testing.T) {
	requireTool(t, "/usr/bin/python3", "python3-confluent-kafka")
	bin := buildBinary(t)
	n := startNode(t, bin)
	script := filepath.Join(t.TempDir(), "confluent_check.py")
	if err := os.WriteFile(script, []byte(confluentScript), 0o600); err != nil {
		t.Fatal(err)
	}
	out := n.run(t, "", "/usr/bin/python3", script, n.kafkaAddr)
	if strings.TrimSpace(out) != "True 20" {
		t.Fatalf("confluent-kafka check printed %q, want \"True 20\" (all 20 records read, offsets 20 committed)", out)
	}
	n.p.stop(t)
}

// kafkaPythonScript does the same with kafka-python 2.0.2 (Debian's
// python3-kafka), which negotiates no versions per key: it infers a broker
// version from ApiVersions and then sends fixed old versions (Metadata
// v0/v1, Fetch v4, Produce v7, JoinGroup v2, OffsetCommit v2).
const kafkaPythonScript = `
import sys
from kafka import KafkaProducer, KafkaConsumer, KafkaAdminClient, TopicPartition
from kafka.admin import NewTopic

bootstrap = sys.argv[1]
KafkaAdminClient(bootstrap_servers=bootstrap).create_topics([NewTopic("kp-topic", num_partitions=2, replication_factor=1)])
p = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
for i in range(20):
    p.send("kp-topic", key=str(i % 4).encode(), value=("m%d" % i).encode())
p.flush(30)
c = KafkaConsumer("kp-topic", bootstrap_servers=bootstrap, group_id="kp-group", auto_offset_reset="earliest",
                  enable_auto_commit=False, consumer_timeout_ms=30000)
seen = set()
for m in c:
    seen.add(m.value.decode())
    if len(seen) == 20:
        break
c.commit()
print(sorted(seen) == sorted("m%d" % i for i in range(20)), sum(c.committed(TopicPartition("kp-topic", p)) or 0 for p in (0, 1)))
c.close()
`

// TestKafkaPython runs kafka-python 2.0.2 from Debian against a node.
func TestKafkaPython(t *testing.T) {
	requireTool(t, "/usr/bin/python3", "python3-kafka")
	bin := buildBinary(t)
	n := startNode(t, bin)
	script := filepath.Join(t.TempDir(), "kafka_python_check.py")
	if err := os.WriteFile(script, []byte(kafkaPythonScript), 0o600); err != nil {
		t.Fatal(err)
	}
	out := n.run(t, "", "/usr/bin/python3", script, n.kafkaAddr)
	if strings.TrimSpace(out) != "True 20" {
		t.Fatalf("kafka-python check printed %q, want \"True 20\" (all 20 records read, offsets 20 committed)", out)
	}
	n.p.stop(t)
}

// kafkajsScript uses kafkajs 2.2.4, which never sends flexible versions
// (Produce v7, Fetch v11, Metadata v6, JoinGroup v5, ApiVersions v2):
// admin create, an idempotent producer, a group consumer, and the group's
// committed offsets read back with the admin client.
const kafkajsScript = `
const { Kafka, logLevel } = require('kafkajs')
const kafka = new Kafka({ clientId: 'kjs', brokers: [process.argv[2]], logLevel: logLevel.ERROR })
async function main() {
  const admin = kafka.admin(); await admin.connect()
  await admin.createTopics({ topics: [{ topic: 'kjs', numPartitions: 2 }] }); await admin.disconnect()
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 }); await p.connect()
  await p.send({ topic: 'kjs', messages: Array.from({ length: 20 }, (_, i) => ({ key: String(i % 4), value: 'm' + i })) })
  await p.disconnect()
  const c = kafka.consumer({ groupId: 'kjs-group' }); await c.connect()
  await c.subscribe({ topic: 'kjs', fromBeginning: true })
  const seen = new Set()
  let timer
  await new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('only ' + seen.size + ' records within 30s')), 30000)
    c.run({ eachMessage: async ({ message }) => { seen.add(message.value.toString()); if (seen.size === 20) resolve() } })
  })
  clearTimeout(timer) // a pending timer would keep node running
  await c.disconnect() // commits what was consumed
  const admin2 = kafka.admin(); await admin2.connect()
  const offs = await admin2.fetchOffsets({ groupId: 'kjs-group', topics: ['kjs'] })
  await admin2.disconnect()
  console.log(seen.size, offs[0].partitions.reduce((a, p) => a + Math.max(Number(p.offset), 0), 0))
}
main().catch(e => { console.error(e); process.exit(1) })
`

// TestKafkaJS runs kafkajs (npm, installed by make test into a cache
// directory: .ci/install-test-deps) against a node.
func TestKafkaJS(t *testing.T) {
	requireTool(t, "node", "nodejs")
	dir := os.Getenv("TRIBUTARY_KAFKAJS_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(home, ".cache", "tributary", "kafkajs")
	}
	modules := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(modules, "kafkajs", "package.json")); err != nil {
		t.Fatalf("kafkajs not installed in %s (make test installs it): %v", dir, err)
	}
	bin := buildBinary(t)
	n := startNode(t, bin)
	script := filepath.Join(t.TempDir(), "kafkajs_check.js")
	if err := os.WriteFile(script, []byte(kafkajsScript), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NODE_PATH", modules)
	t.Setenv("KAFKAJS_NO_PARTITIONER_WARNING", "1")
	out := n.run(t, "", "node", script, n.kafkaAddr)
	if strings.TrimSpace(out) != "20 20" {
		t.Fatalf("kafkajs check printed %q, want \"20 20\" (all 20 records read, offsets 20 committed)", out)
	}
	n.p.stop(t)
}
