package mqttcodec

import (
	"strings"
	"testing"
)

func TestValidateTopicName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		clause string // "" when valid
	}{
		{"a/b/c", ""},
		{"/", ""},
		{"$SYS/broker", ""},
		{"sport/tennis player1/#", "MQTT-4.7.0-1"},
		{"+", "MQTT-4.7.0-1"},
		{"", "MQTT-4.7.3-1"},
		{strings.Repeat("a", MaxStringBytes), ""},
		{strings.Repeat("a", MaxStringBytes+1), "MQTT-4.7.3-3"},
		{"a\x00", "MQTT-1.5.4-2"},
		{"a\xFF", "MQTT-1.5.4-1"},
	} {
		err := ValidateTopicName(tc.name)
		if tc.clause == "" {
			if err != nil {
				t.Errorf("ValidateTopicName(%.20q) = %v", tc.name, err)
			}
			continue
		}
		wantReason(t, err, MalformedPacket, tc.clause)
	}
}

func TestValidateTopicFilter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		filter string
		clause string // "" when valid
	}{
		{"#", ""}, {"+", ""}, {"sport/#", ""}, {"+/tennis/#", ""}, {"sport/+/player1", ""},
		{"/+", ""}, {"+/+", ""}, {"//", ""}, {"$SYS/#", ""},
		{"sport/tennis#", "MQTT-4.7.1-1"}, {"sport/tennis/#/ranking", "MQTT-4.7.1-1"}, {"##", "MQTT-4.7.1-1"},
		{"sport+", "MQTT-4.7.1-2"}, {"+sport", "MQTT-4.7.1-2"}, {"a/++", "MQTT-4.7.1-2"},
		{"", "MQTT-4.7.3-1"}, {"a\x00", "MQTT-1.5.4-2"}, {"\xC3", "MQTT-1.5.4-1"},
	} {
		err := ValidateTopicFilter([]byte(tc.filter))
		if tc.clause == "" {
			if err != nil {
				t.Errorf("ValidateTopicFilter(%q) = %v", tc.filter, err)
			}
			continue
		}
		wantReason(t, err, MalformedPacket, tc.clause)
	}
}

// matchCases come from the examples of [MQTT-4.7] and their edges.
var matchCases = []struct {
	filter, name string
	want         bool
}{
	{"sport/tennis/player1/#", "sport/tennis/player1", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
	{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
	{"sport/#", "sport", true},
	{"#", "sport/tennis", true},
	{"#", "/", true},
	{"sport/tennis/+", "sport/tennis/player1", true},
	{"sport/tennis/+", "sport/tennis/player1/ranking", false},
	{"sport/+", "sport", false},
	{"sport/+", "sport/", true},
	{"+/+", "/finance", true},
	{"/+", "/finance", true},
	{"+", "/finance", false},
	{"+", "", true},
	{"a/b", "a/b", true},
	{"a/b", "a/bc", false},
	{"a/b", "a", false},
	{"a", "a/b", false},
	{"a/#", "a/", true},
	{"a/+/#", "a/b", true},
	{"#", "$SYS/x", false},
	{"+/monitor/Clients", "$SYS/monitor/Clients", false},
	{"$SYS/#", "$SYS/monitor/Clients", true},
	{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
	{"Accounts", "accounts", false},
}

func TestTopic_MQTT_4_7_2_1(t *testing.T) {
	t.Parallel()
	for _, tc := range matchCases {
		if got := MatchTopic(tc.filter, tc.name); got != tc.want {
			t.Errorf("MatchTopic(%q, %q) = %v, want %v", tc.filter, tc.name, got, tc.want)
		}
		if got := MatchTopic([]byte(tc.filter), tc.name); got != tc.want {
			t.Errorf("MatchTopic([]byte %q, %q) = %v", tc.filter, tc.name, got)
		}
		if got := refMatch(tc.filter, tc.name); got != tc.want {
			t.Errorf("refMatch(%q, %q) = %v: the reference is wrong", tc.filter, tc.name, got)
		}
	}
}

// refMatch is the obvious level-splitting matcher, the oracle for FuzzMatchTopic.
func refMatch(filter, name string) bool {
	if strings.HasPrefix(name, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	f, n := strings.Split(filter, "/"), strings.Split(name, "/")
	for i, level := range f {
		if level == "#" {
			return true
		}
		if i >= len(n) {
			return false
		}
		if level != "+" && level != n[i] {
			return false
		}
	}
	return len(f) == len(n)
}

func FuzzMatchTopic(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.filter, tc.name)
	}
	f.Fuzz(func(t *testing.T, filter, name string) {
		got := MatchTopic(filter, name)
		if ValidateTopicFilter(filter) != nil || ValidateTopicName(name) != nil {
			return // any answer, but no panic
		}
		if want := refMatch(filter, name); got != want {
			t.Fatalf("MatchTopic(%q, %q) = %v, reference says %v", filter, name, got, want)
		}
	})
}

func TestParseShared(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, share, filter string
		shared            bool
		clause            string
	}{
		{"a/b", "", "a/b", false, ""},
		{"$share", "", "$share", false, ""},
		{"$shared/x", "", "$shared/x", false, ""},
		{"$share/g/a/b", "g", "a/b", true, ""},
		{"$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+", true, ""},
		{"$share/g/#", "g", "#", true, ""},
		{"$share//a", "", "", true, "MQTT-4.8.2-1"},
		{"$share/", "", "", true, "MQTT-4.8.2-1"},
		{"$share/g", "", "", true, "MQTT-4.8.2-2"},
		{"$share/g/", "", "", true, "MQTT-4.8.2-2"},
		{"$share/g+/a", "", "", true, "MQTT-4.8.2-2"},
		{"$share/#/a", "", "", true, "MQTT-4.8.2-2"},
		{"$share/g/a/#/b", "g", "a/#/b", true, "MQTT-4.7.1-1"},
	} {
		share, filter, shared, err := ParseShared(tc.in)
		if shared != tc.shared {
			t.Errorf("ParseShared(%q) shared = %v", tc.in, shared)
		}
		if tc.clause != "" {
			wantReason(t, err, MalformedPacket, tc.clause)
			continue
		}
		if err != nil || share != tc.share || filter != tc.filter {
			t.Errorf("ParseShared(%q) = %q, %q, %v; want %q, %q", tc.in, share, filter, err, tc.share, tc.filter)
		}
	}
}

func TestHasWildcard(t *testing.T) {
	t.Parallel()
	if HasWildcard("a/b") || !HasWildcard([]byte("a/+")) || !HasWildcard("#") {
		t.Fatal("HasWildcard wrong")
	}
}
