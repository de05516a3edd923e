package load

import (
	"strings"
	"testing"
	"time"

	"tributary/mqttcodec"
)

func TestConfigDefaultsByLayout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		layout     Layout
		pubs, subs int // given
		wantPubs   int
		wantSubs   int
	}{
		{"", 0, 0, DefaultPublishers, 1},
		{LayoutFanIn, 3, 0, 3, 1},
		{LayoutPairs, 0, 0, DefaultPublishers, DefaultPublishers},
		{LayoutPairs, 50, 0, 50, 50},
		{LayoutFanOut, 0, 0, 1, 10},
		{LayoutFanOut, 0, 100, 1, 100},
	} {
		c := Config{Layout: tc.layout, Publishers: tc.pubs, Subscribers: tc.subs}.withDefaults()
		if c.Publishers != tc.wantPubs || c.Subscribers != tc.wantSubs {
			t.Errorf("%q %d/%d: defaults give %d/%d, want %d/%d",
				tc.layout, tc.pubs, tc.subs, c.Publishers, c.Subscribers, tc.wantPubs, tc.wantSubs)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%q %d/%d: defaults do not validate: %v", tc.layout, tc.pubs, tc.subs, err)
		}
	}
	c := Config{}.withDefaults()
	if c.Addr != DefaultAddr || c.Version != mqttcodec.V311 || c.QoS != 0 || c.Warmup != 0 || c.Rate != 0 ||
		c.MaxInflightMsgs != DefaultInflightMsgs || c.PayloadBytes != DefaultPayloadBytes || c.Duration != DefaultDuration ||
		c.Persistent || c.Logger == nil || checkRunID(c.RunID) != nil {
		t.Errorf("zero Config defaults to %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{"fanout with many publishers", Config{Layout: LayoutFanOut, Publishers: 2}, "exactly 1 publisher"},
		{"pairs unbalanced", Config{Layout: LayoutPairs, Publishers: 3, Subscribers: 4}, "as many subscribers as publishers"},
		{"unknown layout", Config{Layout: "mesh"}, `layout "mesh"`},
		{"too many clients", Config{Publishers: MaxClients, Subscribers: 1}, "exceed"},
		{"negative count", Config{Publishers: -1}, "at least 1"},
		{"qos 3", Config{QoS: 3}, "qos 3"},
		{"payload below the header", Config{PayloadBytes: HeaderBytes - 1}, "payload of 23 bytes"},
		{"payload at the header", Config{PayloadBytes: HeaderBytes}, ""},
		{"huge payload", Config{PayloadBytes: MaxPayloadBytes + 1}, "payload of"},
		{"negative duration", Config{Duration: -time.Second}, "duration"},
		{"endless duration", Config{Duration: 2 * MaxDuration}, "duration"},
		{"negative warmup", Config{Warmup: -time.Second}, "warmup"},
		{"negative rate", Config{Rate: -1}, "rate"},
		{"window above packet ids", Config{MaxInflightMsgs: 65536}, "inflight 65536"},
		{"mqtt 3.1", Config{Version: mqttcodec.V31}, "mqtt version 3"},
		{"keep alive too long", Config{KeepAlive: 70000 * time.Second}, "keep alive"},
		{"bad run id", Config{RunID: "Run-1"}, "run id"},
		{"long run id", Config{RunID: "abcdefghi"}, "run id"},
		{"bad address", Config{Addr: "localhost"}, "broker address"},
		{"negative pid", Config{BrokerPID: -2}, "broker pid"},
		{"mqtt 5 pairs qos 2", Config{Layout: LayoutPairs, Version: mqttcodec.V5, QoS: 2, Persistent: true}, ""},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: Validate() = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestIdleConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (IdleConfig{Conns: 10_000}).Validate(); err != nil {
		t.Errorf("10,000 idle connections with defaults: %v", err)
	}
	c := IdleConfig{Conns: 1}.withDefaults()
	if c.KeepAlive != DefaultIdleKeepAlive || c.Hold != DefaultIdleHold || c.Addr != DefaultAddr {
		t.Errorf("zero IdleConfig defaults to %+v", c)
	}
	for _, tc := range []struct {
		name string
		cfg  IdleConfig
		want string
	}{
		{"no connections", IdleConfig{}, "idle connections"},
		{"too many", IdleConfig{Conns: MaxIdleConns + 1}, "idle connections"},
		{"hold past keep alive", IdleConfig{Conns: 1, KeepAlive: 10 * time.Second, Hold: 10 * time.Second}, "shorter than the keep alive"},
		{"negative pid", IdleConfig{Conns: 1, BrokerPID: -1}, "broker pid"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

func TestParseLayout(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"fanin", "pairs", "fanout"} {
		if l, err := ParseLayout(s); err != nil || string(l) != s {
			t.Errorf("ParseLayout(%q) = %q, %v", s, l, err)
		}
	}
	if _, err := ParseLayout("FanIn"); err == nil {
		t.Error("ParseLayout accepted a layout in the wrong case")
	}
}
