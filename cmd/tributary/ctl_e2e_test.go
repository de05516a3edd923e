package main

import (
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCtlAgainstANode runs `tributary ctl` against a real node: members
// lists it as the leader with its broker id and Kafka address, and the
// changes it cannot make (removing a stranger, transferring leadership
// with no other voter) fail with a message and exit code 1.
func TestCtlAgainstANode(t *testing.T) {
	bin := buildBinary(t)
	n := startNode(t, bin, "--node-id", "solo")
	defer n.p.stop(t)

	var out string
	var err error
	row := regexp.MustCompile(`(?m)^solo\s+leader\s+true\s+true\s+1\s+` + regexp.QuoteMeta(n.kafkaAddr) + `\s`)
	for range 50 { // the node registers itself just after it is ready
		out, err = runCLI(bin, "ctl", "--http-addr", n.httpAddr, "members")
		if err == nil && row.MatchString(out) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || !row.MatchString(out) {
		t.Fatalf("ctl members: %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "ID ") {
		t.Errorf("ctl members has no header:\n%s", out)
	}

	out, err = runCLI(bin, "ctl", "--http-addr", n.httpAddr, "remove", "stranger")
	if err == nil || !strings.Contains(out, `no member "stranger"`) {
		t.Errorf("ctl remove stranger: %v\n%s", err, out)
	}
	out, err = runCLI(bin, "ctl", "--http-addr", n.httpAddr, "transfer")
	if err == nil || !strings.Contains(out, "tributary: ctl:") {
		t.Errorf("ctl transfer on a one-node cluster: %v\n%s", err, out)
	}
	if out, err := runCLI(bin, "ctl", "--http-addr", n.httpAddr, "frobnicate"); err == nil || !strings.Contains(out, "Usage:") {
		t.Errorf("ctl with an unknown command: %v\n%s", err, out)
	}
}

func TestProxyProtocolSources(t *testing.T) {
	c := Config{ProxyProtocolFrom: " 10.1.0.0/16, 192.168.1.5 ,::1,"}
	got, err := c.proxyProtocolSources()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("192.168.1.5/32"), netip.MustParsePrefix("::1/128")}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("got %v, want %v", got, want)
		}
	}
}
