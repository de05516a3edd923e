package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMappingsCLI changes a running node's mappings with `tributary
// mappings` (through the HTTP admin endpoint): a new MQTT→Kafka mapping
// with a key template takes effect at once, survives a restart, and can
// be deleted; a bad mapping is refused with the reason.
func TestMappingsCLI(t *testing.T) {
	requireMosquittoClients(t)
	requireTool(t, "kcat", "kcat")
	bin := buildBinary(t)
	n := startNode(t, bin)
	file := filepath.Join(t.TempDir(), "telemetry.yaml")
	if err := os.WriteFile(file, []byte(`
name: telemetry
mqtt_to_kafka:
  filters: ["plant/+/temp"]
  kafka_topic: telemetry
  partitions: 2
  key: "{level:1}"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		return n.run(t, "", bin, append([]string{"mappings", "--http-addr", n.httpAddr}, args...)...)
	}
	if out := cli("set", file); strings.TrimSpace(out) != "set telemetry" {
		t.Fatalf("mappings set printed %q", out)
	}
	list := cli("list")
	for _, want := range []string{"name: telemetry", "kafka_topic: telemetry", "name: mirror-mqtt-to-kafka"} {
		if !strings.Contains(list, want) {
			t.Errorf("mappings list lacks %q:\n%s", want, list)
		}
	}
	n.mosq(t, "mosquitto_pub", "-t", "plant/7/temp", "-m", "21.5", "-q", "1")
	if out := n.kcat(t, "", "-C", "-t", "telemetry", "-o", "beginning", "-c", "1", "-f", "%k %s\n"); strings.TrimSpace(out) != "7 21.5" {
		t.Fatalf("kcat read %q from the mapped topic, want \"7 21.5\" (key = topic level 1)", out)
	}

	n.p.stop(t)
	n.restart(t)
	n.mosq(t, "mosquitto_pub", "-t", "plant/8/temp", "-m", "19.0", "-q", "1")
	if out := n.kcat(t, "", "-C", "-t", "telemetry", "-o", "beginning", "-c", "2", "-f", "%k %s\n"); !strings.Contains(out, "8 19.0") {
		t.Fatalf("after a restart the mapping is gone: kcat read %q", out)
	}

	cli("delete", "telemetry")
	if list := cli("list"); strings.Contains(list, "name: telemetry") {
		t.Fatalf("mapping still listed after delete:\n%s", list)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\nmqtt_to_kafka: {filters: [\"a/#/b\"], kafka_topic: t}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(bin, "mappings", "--http-addr", n.httpAddr, "set", bad)
	if err == nil || !strings.Contains(out, "400 Bad Request") {
		t.Fatalf("an invalid filter: exit %v, output %q; want a 400 with the reason", err, out)
	}

	// Turning the mirror off removes its mappings at the next start.
	n.p.stop(t)
	n.args = append(n.args, "--kafka-mirror-topic", "")
	n.restart(t)
	if list := cli("list"); strings.Contains(list, "mirror-") {
		t.Fatalf("the mirror's mappings are still set with --kafka-mirror-topic \"\":\n%s", list)
	}
	n.p.stop(t)
}

// runCLI runs the binary and returns its combined output and exit error.
func runCLI(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}
