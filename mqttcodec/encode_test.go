package mqttcodec

import (
	"log/slog"
	"strings"
	"testing"
)

// TestEncodeRefusesInvalid: encoders fail rather than emit a packet the
// receiver would have to reject.
func TestEncodeRefusesInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		p      Packet
		v      Version
		code   ReasonCode
		clause string
	}{
		{"publish/qos1-id-0", &Publish{QoS: QoS1, Topic: []byte("t")}, V5, ProtocolError, "MQTT-2.2.1-3"},
		{"publish/v311/qos1-id-0", &Publish{QoS: QoS1, Topic: []byte("t")}, V311, ProtocolError, "MQTT-2.3.1-1"},
		{"publish/dup-qos0", &Publish{Dup: true, Topic: []byte("t")}, V5, MalformedPacket, "MQTT-3.3.1-2"},
		{"publish/empty-topic-v311", &Publish{Topic: nil, Properties: mkProps(func(p *Properties) { p.SetTopicAlias(1) })}, V311, MalformedPacket, "MQTT-4.7.3-1"},
		{"publish/version-0", &Publish{Topic: []byte("t")}, 0, UnsupportedProtocolVersion, "MQTT-3.1.2-2"},
		{"publish/topic-too-long", &Publish{Topic: make([]byte, MaxStringBytes+1)}, V5, MalformedPacket, "MQTT-1.5.4"},
		{"publish/too-large", &Publish{Topic: []byte("t"), Payload: make([]byte, MaxVarInt)}, V311, PacketTooLarge, "MQTT-3.1.2-24"},
		{"connect/will-qos-3", &Connect{HasWill: true, WillQoS: 3, WillTopic: []byte("w")}, V311, MalformedPacket, "MQTT-3.1.2-14"},
		{"connect/password-without-user", &Connect{HasPassword: true}, V311, MalformedPacket, "MQTT-3.1.2-22"},
		{"connack/v311-no-return-code", &Connack{ReasonCode: QoSNotSupported}, V311, ProtocolError, "MQTT-3.2.2.3"},
		{"connack/session-present-refused", &Connack{SessionPresent: true, ReasonCode: NotAuthorized}, V5, ProtocolError, "MQTT-3.2.2-6"},
		{"connack/bad-code", &Connack{ReasonCode: GrantedQoS1}, V5, ProtocolError, "MQTT-3.2.2-8"},
		{"puback/id-0", &Puback{}, V5, ProtocolError, "MQTT-2.2.1-3"},
		{"pubrel/bad-code", &Pubrel{PacketID: 1, ReasonCode: NotAuthorized}, V5, ProtocolError, "MQTT-3.6.2-1"},
		{"subscribe/empty", &Subscribe{PacketID: 1}, V5, ProtocolError, "MQTT-3.8.3-2"},
		{"unsubscribe/empty", &Unsubscribe{PacketID: 1}, V311, ProtocolError, "MQTT-3.10.3-2"},
		{"suback/empty", &Suback{PacketID: 1}, V311, ProtocolError, "MQTT-3.9.3"},
		{"suback/bad-code", &Suback{PacketID: 1, ReasonCodes: []ReasonCode{NoSubscriptionExisted}}, V5, ProtocolError, "MQTT-3.9.3-2"},
		{"unsuback/bad-code", &Unsuback{PacketID: 1, ReasonCodes: []ReasonCode{GrantedQoS1}}, V5, ProtocolError, "MQTT-3.11.3-2"},
		{"disconnect/bad-code", &Disconnect{ReasonCode: ContinueAuthentication}, V5, ProtocolError, "MQTT-3.14.2-1"},
		{"auth/v311", &Auth{}, V311, MalformedPacket, "MQTT-2.2.1"},
		{"auth/continue-without-method", &Auth{ReasonCode: ContinueAuthentication}, V5, ProtocolError, "MQTT-3.15.2.2.2"},
		{"pingreq/version-9", &Pingreq{}, 9, UnsupportedProtocolVersion, "MQTT-3.1.2-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			out, err := tc.p.Append(dst, tc.v)
			wantReason(t, err, tc.code, tc.clause)
			if string(out) != "keep" {
				t.Fatalf("failed Append changed dst to % x", out)
			}
		})
	}
}

func TestSubscribeAddValidates(t *testing.T) {
	t.Parallel()
	var s Subscribe
	wantReason(t, s.Add(Subscription{Filter: []byte("a"), QoS: 3}), MalformedPacket, "MQTT-3.8.3.1")
	wantReason(t, s.Add(Subscription{Filter: []byte("a"), RetainHandling: 3}), ProtocolError, "MQTT-3.8.3.1")
	wantReason(t, s.Add(Subscription{Filter: []byte("a/#/b")}), MalformedPacket, "MQTT-4.7.1-1")
	var u Unsubscribe
	wantReason(t, u.Add(nil), MalformedPacket, "MQTT-4.7.3-1")
	if s.Len() != 0 || u.Len() != 0 {
		t.Fatal("failed Add counted")
	}
}

// TestEncodeVersionSpecific: fields a version lacks are dropped, not sent.
func TestEncodeVersionSpecific(t *testing.T) {
	t.Parallel()
	s := mkSubscribe(1, mkProps(func(p *Properties) { must(p.AddSubscriptionID(4)) }),
		Subscription{Filter: []byte("a"), QoS: QoS1, NoLocal: true, RetainHandling: RetainSendNever})
	if got, want := encode(t, s, V311), frame(0x82, u16(1), str("a"), raw(0x01)); string(got) != string(want) {
		t.Errorf("SUBSCRIBE 3.1.1 = % x, want % x", got, want)
	}
	sa := &Suback{PacketID: 1, ReasonCodes: []ReasonCode{GrantedQoS1, NotAuthorized, QuotaExceeded}}
	if got, want := encode(t, sa, V311), frame(0x90, u16(1), raw(0x01, 0x80, 0x80)); string(got) != string(want) {
		t.Errorf("SUBACK 3.1.1 = % x, want % x", got, want)
	}
	ca := &Connack{SessionPresent: true}
	if got, want := encode(t, ca, V31), frame(0x20, raw(0, 0)); string(got) != string(want) {
		t.Errorf("CONNACK 3.1 = % x, want % x", got, want)
	}
	d := &Disconnect{ReasonCode: ServerShuttingDown}
	if got := encode(t, d, V311); string(got) != "\xe0\x00" {
		t.Errorf("DISCONNECT 3.1.1 = % x", got)
	}
	ack := &Pubrec{PacketID: 5, ReasonCode: QuotaExceeded}
	if got := encode(t, ack, V311); string(got) != string(frame(0x50, u16(5))) {
		t.Errorf("PUBREC 3.1.1 = % x", got)
	}
}

func TestAppendPacketAndFit(t *testing.T) {
	t.Parallel()
	ack := &Puback{PacketID: 1, ReasonCode: NotAuthorized, Properties: mkProps(func(p *Properties) {
		p.SetReasonString([]byte(strings.Repeat("r", 50)))
		must(p.AddUserProperty([]byte("k"), []byte(strings.Repeat("v", 50))))
	})}
	full := ack.Size(V5)
	if _, err := AppendPacket(nil, ack, V5, full-1); err == nil {
		t.Fatal("AppendPacket sent an over-size packet")
	} else {
		wantReason(t, err, PacketTooLarge, "MQTT-3.1.2-24")
	}
	if b, err := AppendPacket(nil, ack, V5, full); err != nil || len(b) != full {
		t.Fatalf("AppendPacket at the limit: %d, %v", len(b), err)
	}
	// [MQTT-3.4.2-2]: drop the Reason String first.
	if !Fit(ack, full-1, V5) || ack.Properties.Has(PropReasonString) || !ack.Properties.Has(PropUserProperty) {
		t.Fatal("Fit did not drop just the reason string")
	}
	// [MQTT-3.4.2-3]: then the User Properties.
	if !Fit(ack, 10, V5) || ack.Properties.Has(PropUserProperty) || ack.Size(V5) > 10 {
		t.Fatal("Fit did not drop the user properties")
	}
	if Fit(ack, 3, V5) {
		t.Fatal("Fit claims a 5-byte PUBACK fits in 3")
	}
	// [MQTT-3.1.2-25]: a PUBLISH is never trimmed; it is discarded.
	pub := &Publish{Topic: []byte("t"), Properties: mkProps(func(p *Properties) {
		must(p.AddUserProperty([]byte("k"), []byte("v")))
	})}
	if Fit(pub, 5, V5) || !pub.Properties.Has(PropUserProperty) {
		t.Fatal("Fit trimmed a PUBLISH")
	}
	if !Fit(pub, 0, V5) {
		t.Fatal("no limit must fit")
	}
}

// TestLogValueRedacts: LogValue never carries payloads or credentials.
func TestLogValueRedacts(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-payload"
	for _, p := range []Packet{
		&Publish{Topic: []byte("t"), Payload: []byte(secret)},
		&Connect{Version: V5, ClientID: []byte("dev1"), HasUsername: true, Username: []byte(secret),
			HasPassword: true, Password: []byte(secret), HasWill: true, WillTopic: []byte("w"), WillPayload: []byte(secret)},
		&Auth{ReasonCode: ContinueAuthentication, Properties: mkProps(func(p *Properties) {
			p.SetAuthMethod([]byte("SCRAM"))
			p.SetAuthData([]byte(secret))
		})},
	} {
		var sb strings.Builder
		slog.New(slog.NewTextHandler(&sb, nil)).Info("packet", "pkt", p)
		if strings.Contains(sb.String(), secret) {
			t.Errorf("%v log leaks: %s", p.Type(), sb.String())
		}
		if !strings.Contains(sb.String(), p.Type().String()) {
			t.Errorf("%v log lacks the type: %s", p.Type(), sb.String())
		}
	}
	for _, p := range []Packet{&Connack{}, &Puback{}, &Pubrec{}, &Pubrel{}, &Pubcomp{}, &Subscribe{}, &Suback{},
		&Unsubscribe{}, &Unsuback{}, &Pingreq{}, &Pingresp{}, &Disconnect{}} {
		if v := p.LogValue(); v.Kind() != slog.KindGroup || !strings.Contains(v.String(), p.Type().String()) {
			t.Errorf("%v LogValue = %v", p.Type(), v)
		}
	}
}

func TestStringers(t *testing.T) {
	t.Parallel()
	if V31.String() != "3.1" || V311.String() != "3.1.1" || V5.String() != "5.0" || Version(9).String() != "level-9" {
		t.Error("Version.String")
	}
	if TypeAuth.String() != "AUTH" || PacketType(16).String() != "TYPE-16" {
		t.Error("PacketType.String")
	}
	err := error(errQoS3.v5)
	if got := err.Error(); got != "mqttcodec: malformed packet: QoS 3 [MQTT-3.3.1-4]" {
		t.Errorf("Error() = %q", got)
	}
}

// TestViewsAreCapped: decoded slices alias the frame with cap == len, so an
// append by the caller copies instead of overwriting the next field.
func TestViewsAreCapped(t *testing.T) {
	t.Parallel()
	raw := frame(0x30, str("a/b"), props(prop(PropContentType, str("ct")), user("k", "v")), raw('p', 'q'))
	orig := string(raw)
	var p Publish
	if err := DecodePublish(raw, V5, &p); err != nil {
		t.Fatal(err)
	}
	views := [][]byte{p.Topic, p.Payload, p.Properties.ContentType}
	for k, v := range p.Properties.UserProperties() {
		views = append(views, k, v)
	}
	for _, v := range views {
		if cap(v) != len(v) {
			t.Fatalf("view %q has cap %d", v, cap(v))
		}
		_ = append(v, 'X')
	}
	if string(raw) != orig {
		t.Fatal("appending to a view wrote into the frame")
	}
}
