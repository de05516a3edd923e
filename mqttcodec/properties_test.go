package mqttcodec

import (
	"strings"
	"testing"
)

// allowedBySpec restates table 2-4 of [MQTT-2.2.2.2] as the specification
// prints it, one row per property, to check propTable against.
var allowedBySpec = map[PropertyID]string{
	PropPayloadFormat:        "PUBLISH, Will Properties",
	PropMessageExpiry:        "PUBLISH, Will Properties",
	PropContentType:          "PUBLISH, Will Properties",
	PropResponseTopic:        "PUBLISH, Will Properties",
	PropCorrelationData:      "PUBLISH, Will Properties",
	PropSubscriptionID:       "PUBLISH, SUBSCRIBE",
	PropSessionExpiry:        "CONNECT, CONNACK, DISCONNECT",
	PropAssignedClientID:     "CONNACK",
	PropServerKeepAlive:      "CONNACK",
	PropAuthMethod:           "CONNECT, CONNACK, AUTH",
	PropAuthData:             "CONNECT, CONNACK, AUTH",
	PropRequestProblemInfo:   "CONNECT",
	PropWillDelay:            "Will Properties",
	PropRequestResponseInfo:  "CONNECT",
	PropResponseInfo:         "CONNACK",
	PropServerReference:      "CONNACK, DISCONNECT",
	PropReasonString:         "CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH",
	PropReceiveMaximum:       "CONNECT, CONNACK",
	PropTopicAliasMaximum:    "CONNECT, CONNACK",
	PropTopicAlias:           "PUBLISH",
	PropMaximumQoS:           "CONNACK",
	PropRetainAvailable:      "CONNACK",
	PropUserProperty:         "CONNECT, CONNACK, PUBLISH, Will Properties, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH",
	PropMaximumPacketSize:    "CONNECT, CONNACK",
	PropWildcardSubAvailable: "CONNACK",
	PropSubIDAvailable:       "CONNACK",
	PropSharedSubAvailable:   "CONNACK",
}

func TestProperties_MQTT_2_2_2_2_Table(t *testing.T) {
	t.Parallel()
	for id := PropertyID(0); id < 0x80; id++ {
		row, known := allowedBySpec[id]
		if known != (kindOf(id) != kindNone) {
			t.Errorf("%v: known = %v in propTable", id, !known)
		}
		for pt := willContext; pt <= TypeAuth; pt++ {
			name := pt.String()
			if pt == willContext {
				name = "Will Properties"
			}
			want := known && strings.Contains(", "+row+",", ", "+name+",")
			if got := id.AllowedIn(pt); got != want {
				t.Errorf("%v in %s: allowed = %v, want %v", id, name, got, want)
			}
		}
	}
}

func TestPropertiesSettersAndClear(t *testing.T) {
	t.Parallel()
	var p Properties
	if !p.Empty() || p.Has(PropTopicAlias) {
		t.Fatal("zero Properties not empty")
	}
	p.SetTopicAlias(4)
	p.SetMessageExpirySeconds(0) // present with value 0 differs from absent
	if !p.Has(PropTopicAlias) || !p.Has(PropMessageExpiry) || p.Empty() {
		t.Fatal("setters did not mark")
	}
	p.Clear(PropTopicAlias)
	if p.Has(PropTopicAlias) || !p.Has(PropMessageExpiry) {
		t.Fatal("Clear removed the wrong property")
	}
	must(p.AddUserProperty([]byte("k"), []byte("v")))
	must(p.AddSubscriptionID(3))
	if !p.Has(PropUserProperty) || !p.Has(PropSubscriptionID) || p.UserPropertyCount() != 1 {
		t.Fatal("repeated properties not present")
	}
	p.Clear(PropUserProperty)
	p.Clear(PropSubscriptionID)
	if p.Has(PropUserProperty) || p.Has(PropSubscriptionID) {
		t.Fatal("Clear kept repeated properties")
	}
	p.Reset()
	if !p.Empty() {
		t.Fatal("Reset left properties")
	}
}

func TestPropertiesAddValidates(t *testing.T) {
	t.Parallel()
	var p Properties
	wantReason(t, p.AddUserProperty([]byte("k\x00"), nil), MalformedPacket, "MQTT-1.5.4-2")
	wantReason(t, p.AddUserProperty(nil, []byte{0xFF}), MalformedPacket, "MQTT-1.5.4-1")
	wantReason(t, p.AddUserProperty(make([]byte, MaxStringBytes+1), nil), MalformedPacket, "MQTT-1.5.4")
	wantReason(t, p.AddSubscriptionID(0), ProtocolError, "MQTT-3.8.2.1.2")
	wantReason(t, p.AddSubscriptionID(MaxVarInt+1), ProtocolError, "MQTT-3.8.2.1.2")
	if !p.Empty() {
		t.Fatal("a failed Add changed p")
	}
}

// TestPropertiesAppendDoesNotWriteFrame: adding to decoded properties must
// copy, never write into the frame they alias.
func TestPropertiesAppendDoesNotWriteFrame(t *testing.T) {
	t.Parallel()
	raw := frame(0x30, str("t"), props(user("a", "1"), prop(PropContentType, str("c"))), raw('p', 'q'))
	orig := string(raw)
	var p Publish
	if err := DecodePublish(raw, V5, &p); err != nil {
		t.Fatal(err)
	}
	must(p.Properties.AddUserProperty([]byte("b"), []byte("2")))
	must(p.Properties.AddSubscriptionID(9))
	if string(raw) != orig {
		t.Fatal("Add wrote into the frame")
	}
	var got []string
	for k, v := range p.Properties.UserProperties() {
		got = append(got, string(k)+v2s(v))
	}
	if strings.Join(got, ",") != "a1,b2" {
		t.Fatalf("user properties = %v", got)
	}
	enc := encode(t, &p, V5)
	var back Publish
	if err := DecodePublish(enc, V5, &back); err != nil || !back.Properties.Equal(p.Properties) {
		t.Fatalf("round trip: %v", err)
	}
}

func v2s(b []byte) string { return string(b) }

func TestPropertiesClone(t *testing.T) {
	t.Parallel()
	raw := frame(0x32, str("t"), u16(9), publishPropsRaw, raw('p'))
	var p Publish
	if err := DecodePublish(raw, V5, &p); err != nil {
		t.Fatal(err)
	}
	c := p.Properties.Clone()
	for i := range raw {
		raw[i] = 0xEE // the frame's buffer is reused
	}
	if !c.Equal(publishProps) {
		t.Fatal("clone changed with its frame")
	}
}

func TestPropertiesEqual(t *testing.T) {
	t.Parallel()
	a := mkProps(func(p *Properties) { must(p.AddUserProperty([]byte("k"), []byte("1"))) })
	b := mkProps(func(p *Properties) { must(p.AddUserProperty([]byte("k"), []byte("2"))) })
	c := mkProps(func(p *Properties) {
		must(p.AddUserProperty([]byte("k"), []byte("1")))
		must(p.AddUserProperty([]byte("k"), []byte("1")))
	})
	d := mkProps(func(p *Properties) { must(p.AddSubscriptionID(1)) })
	e := mkProps(func(p *Properties) { p.SetContentType([]byte("x")) })
	f := mkProps(func(p *Properties) { p.SetContentType([]byte("y")) })
	for i, pair := range [][2]Properties{{a, b}, {a, c}, {c, a}, {a, d}, {e, f}, {e, Properties{}}} {
		if pair[0].Equal(pair[1]) {
			t.Errorf("pair %d compares equal", i)
		}
	}
	if !publishProps.Equal(publishProps.Clone()) {
		t.Error("clone not equal")
	}
}

func TestPropertiesEncodeChecks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		p      Packet
		clause string
	}{
		{"publish/topic-alias-zero", &Publish{Topic: []byte("t"), Properties: mkProps(func(p *Properties) { p.SetTopicAlias(0) })}, "MQTT-3.3.2-8"},
		{"publish/reason-string", &Publish{Topic: []byte("t"), Properties: mkProps(func(p *Properties) { p.SetReasonString(nil) })}, "MQTT-2.2.2.2"},
		{"connack/maximum-qos-2", &Connack{Properties: mkProps(func(p *Properties) { p.SetMaximumQoS(QoS2) })}, "MQTT-2.2.2.2"},
		{"subscribe/two-ids", mkSubscribe(1, mkProps(func(p *Properties) {
			must(p.AddSubscriptionID(1))
			must(p.AddSubscriptionID(2))
		}), Subscription{Filter: []byte("a")}), "MQTT-2.2.2.2"},
		{"puback/subscription-id", &Puback{PacketID: 1, Properties: mkProps(func(p *Properties) { must(p.AddSubscriptionID(1)) })}, "MQTT-2.2.2.2"},
		{"disconnect/content-type-too-long", &Disconnect{Properties: mkProps(func(p *Properties) {
			p.SetReasonString(make([]byte, MaxStringBytes+1))
		})}, "MQTT-1.5.4"},
	}
	for _, tc := range cases {
		_, err := tc.p.Append(nil, V5)
		var code ReasonCode = ProtocolError
		if tc.clause == "MQTT-1.5.4" {
			code = MalformedPacket
		}
		t.Run(tc.name, func(t *testing.T) { wantReason(t, err, code, tc.clause) })
	}
}

func TestPropertyIDString(t *testing.T) {
	t.Parallel()
	if PropUserProperty.String() != "User Property" || PropertyID(0x7F).String() != "property-0x7f" {
		t.Fatal("PropertyID.String")
	}
}
