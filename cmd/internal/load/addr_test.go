package load

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParseSources(t *testing.T) {
	t.Parallel()
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	for _, tc := range []struct {
		spec string
		want []netip.Addr
		err  string
	}{
		{"127.0.0.2", addrs("127.0.0.2"), ""},
		{"127.0.0.2-127.0.0.4, 10.0.0.1", addrs("127.0.0.2", "127.0.0.3", "127.0.0.4", "10.0.0.1"), ""},
		{"127.0.0.255-127.0.1.1", addrs("127.0.0.255", "127.0.1.0", "127.0.1.1"), ""},
		{"::1", addrs("::1"), ""},
		{"127.0.0.2-127.0.0.17", LoopbackSources(), ""},
		{"", nil, "source address"},
		{"127.0.0.9-127.0.0.2", nil, "ascending"},
		{"::1-::2", nil, "IPv4"},
		{"127.0.0.1-nope", nil, "source range"},
		{"10.0.0.0-10.0.255.255", nil, "more than 1024"},
	} {
		got, err := ParseSources(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSources(%q) = %v, %v; want an error containing %q", tc.spec, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseSources(%q) = %v, %v; want %v", tc.spec, got, err, tc.want)
		}
	}
}

func TestAutoSources(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr     string
		loopback bool
	}{
		{"127.0.0.1:1883", true},
		{"localhost:1883", true},
		{"127.1.2.3:1883", true},
		{"[::1]:1883", false}, // a 127.0.0.x source cannot reach ::1
		{"10.0.0.5:1883", false},
		{"broker.example:1883", false},
		{"no-port", false},
	} {
		got := AutoSources(tc.addr)
		if tc.loopback != (got != nil) {
			t.Errorf("AutoSources(%q) = %v, want loopback sources: %v", tc.addr, got, tc.loopback)
		}
	}
	if got := LoopbackSources(); len(got) != 16 || got[0] != netip.MustParseAddr("127.0.0.2") || got[15] != netip.MustParseAddr("127.0.0.17") {
		t.Errorf("LoopbackSources() = %v, want 127.0.0.2..127.0.0.17", got)
	}
	if localAddr(nil, 3) != nil {
		t.Error("localAddr without sources must be nil, so the kernel chooses")
	}
	if got := localAddr(LoopbackSources(), 17).String(); got != "127.0.0.3:0" {
		t.Errorf("localAddr(loopback, 17) = %s, want the second address in turn, 127.0.0.3:0", got)
	}
}
