package mqttcodec

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// vector is one annotated frame. A valid vector has Want; an invalid one has
// Code and Clause, the reason code and the statement the decoder must cite.
// The same tables seed the fuzz targets and feed the benchmarks.
type vector struct {
	Name    string
	Clause  string
	Version Version
	Raw     []byte
	Want    Packet     // expected decode; nil when the frame is invalid
	Code    ReasonCode // expected error code when Want is nil
	// NonCanonical marks a valid frame our encoder writes differently (for
	// example with an explicit empty property section).
	NonCanonical bool
}

func allVectors() []vector {
	var all []vector
	for _, table := range [][]vector{
		connectVectors, connackVectors, publishVectors, ackVectors, subscribeVectors,
		subackVectors, unsubscribeVectors, unsubackVectors, pingVectors, disconnectVectors,
		authVectors,
	} {
		all = append(all, table...)
	}
	return all
}

// TestVectors decodes every vector with Decode and checks the packet or the
// error; valid canonical vectors must also encode back to the same bytes.
func TestVectors(t *testing.T) {
	t.Parallel()
	for _, vec := range allVectors() {
		t.Run(vec.Name, func(t *testing.T) {
			t.Parallel()
			checkVector(t, vec)
		})
	}
}

func checkVector(t *testing.T, vec vector) {
	got, err := Decode(vec.Raw, vec.Version)
	if vec.Want == nil {
		wantReason(t, err, vec.Code, vec.Clause)
		return
	}
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if diff := cmp.Diff(vec.Want, got, cmpOpts); diff != "" {
		t.Fatalf("Decode mismatch (-want +got):\n%s", diff)
	}
	enc := encode(t, got, vec.Version)
	if !vec.NonCanonical && string(enc) != string(vec.Raw) {
		t.Fatalf("re-encoded\n got % x\nwant % x", enc, vec.Raw)
	}
	if n, err := FrameLen(vec.Raw, 0); err != nil || n != len(vec.Raw) {
		t.Fatalf("FrameLen = %d, %v; want %d", n, err, len(vec.Raw))
	}
}

// runClause runs the vectors annotated with one conformance statement; the
// spec tests are built on it. It fails if no vector cites the clause.
func runClause(t *testing.T, clause string) {
	t.Helper()
	n := 0
	for _, vec := range allVectors() {
		if vec.Clause != clause {
			continue
		}
		n++
		t.Run(vec.Name, func(t *testing.T) { checkVector(t, vec) })
	}
	if n == 0 {
		t.Fatalf("no vector exercises %s", clause)
	}
}

var publishProps = mkProps(func(p *Properties) {
	p.SetPayloadFormat(1)
	p.SetMessageExpirySeconds(3600)
	p.SetContentType([]byte("text/plain"))
	p.SetResponseTopic([]byte("reply/here"))
	p.SetCorrelationData([]byte{0xCA, 0xFE})
	p.SetTopicAlias(7)
	must(p.AddUserProperty([]byte("k1"), []byte("v1")))
	must(p.AddUserProperty([]byte("k2"), []byte("v2")))
	must(p.AddUserProperty([]byte("k1"), []byte("again")))
})

var publishPropsRaw = props(
	prop(PropPayloadFormat, raw(1)),
	prop(PropMessageExpiry, u32(3600)),
	prop(PropContentType, str("text/plain")),
	prop(PropResponseTopic, str("reply/here")),
	prop(PropCorrelationData, str("\xCA\xFE")),
	prop(PropTopicAlias, u16(7)),
	user("k1", "v1"), user("k2", "v2"), user("k1", "again"),
)

var publishVectors = []vector{
	{Name: "publish/v311/qos0", Clause: "MQTT-3.3.2-1", Version: V311,
		Raw:  frame(0x30, str("a/b"), raw('h', 'i')),
		Want: &Publish{Topic: []byte("a/b"), Payload: []byte("hi")}},
	{Name: "publish/v311/qos1", Clause: "MQTT-3.3.2-1", Version: V311,
		Raw:  frame(0x32, str("a/b"), u16(10) /* packet id */, raw('x')),
		Want: &Publish{QoS: QoS1, Topic: []byte("a/b"), PacketID: 10, Payload: []byte("x")}},
	{Name: "publish/v311/qos2-dup-retain-empty-payload", Clause: "MQTT-3.3.1-1", Version: V311,
		Raw:  frame(0x3D /* DUP, QoS 2, RETAIN */, str("a"), u16(1)),
		Want: &Publish{Dup: true, QoS: QoS2, Retain: true, Topic: []byte("a"), PacketID: 1}},
	{Name: "publish/v31/qos0-utf8-topic", Clause: "MQTT-3.3.2-1", Version: V31,
		Raw:  frame(0x31, str("ü/€/𝄞"), raw(0)),
		Want: &Publish{Retain: true, Topic: []byte("ü/€/𝄞"), Payload: []byte{0}}},
	{Name: "publish/v311/qos3", Clause: "MQTT-3.3.1-4", Version: V311, Code: MalformedPacket,
		Raw: frame(0x36 /* QoS bits 11 */, str("a"), u16(1))},
	{Name: "publish/v5/qos3", Clause: "MQTT-3.3.1-4", Version: V5, Code: MalformedPacket,
		Raw: frame(0x37, str("a"), u16(1), props())},
	{Name: "publish/v311/dup-at-qos0", Clause: "MQTT-3.3.1-2", Version: V311, Code: MalformedPacket,
		Raw: frame(0x38, str("a"))},
	{Name: "publish/v5/dup-at-qos0", Clause: "MQTT-3.3.1-2", Version: V5, Code: MalformedPacket,
		Raw: frame(0x38, str("a"), props())},
	{Name: "publish/v311/packet-id-zero", Clause: "MQTT-2.3.1-1", Version: V311, Code: ProtocolError,
		Raw: frame(0x32, str("a"), u16(0))},
	{Name: "publish/v5/packet-id-zero", Clause: "MQTT-2.2.1-3", Version: V5, Code: ProtocolError,
		Raw: frame(0x34, str("a"), u16(0), props())},
	{Name: "publish/v311/wildcard-plus", Clause: "MQTT-3.3.2-2", Version: V311, Code: MalformedPacket,
		Raw: frame(0x30, str("a/+"))},
	{Name: "publish/v5/wildcard-hash", Clause: "MQTT-3.3.2-2", Version: V5, Code: MalformedPacket,
		Raw: frame(0x30, str("#"), props())},
	{Name: "publish/v311/empty-topic", Clause: "MQTT-4.7.3-1", Version: V311, Code: MalformedPacket,
		Raw: frame(0x30, str(""), raw('x'))},
	{Name: "publish/v311/topic-nul", Clause: "MQTT-1.5.3-2", Version: V311, Code: MalformedPacket,
		Raw: frame(0x30, str("a\x00b"))},
	{Name: "publish/v5/topic-nul", Clause: "MQTT-1.5.4-2", Version: V5, Code: MalformedPacket,
		Raw: frame(0x30, str("a\x00b"), props())},
	{Name: "publish/v311/topic-overlong-utf8", Clause: "MQTT-1.5.3-1", Version: V311, Code: MalformedPacket,
		Raw: frame(0x30, str("a\xC0\x80"))},
	{Name: "publish/v5/topic-surrogate", Clause: "MQTT-1.5.4-1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x30, str("\xED\xA0\x80"), props())},
	{Name: "publish/v311/topic-length-past-end", Clause: "MQTT-2.2.3", Version: V311, Code: MalformedPacket,
		Raw: frame(0x30, raw(0x00, 0x05 /* says 5 */, 'a'))},
	{Name: "publish/v311/packet-id-missing", Clause: "MQTT-2.2.3", Version: V311, Code: MalformedPacket,
		Raw: frame(0x32, str("a"), raw(0x00))},
	{Name: "publish/v311/remaining-length-mismatch", Clause: "MQTT-2.2.3", Version: V311, Code: MalformedPacket,
		Raw: raw(0x30, 0x05 /* says 5, has 3 */, 0x00, 0x01, 'a')},
	{Name: "publish/v5/remaining-length-not-minimal", Clause: "MQTT-1.5.5-1", Version: V5, Code: MalformedPacket,
		Raw: raw(0x30, 0x84, 0x00 /* 4 in two bytes */, 0x00, 0x01, 'a', 0x00)},
	{Name: "publish/v5/qos0-no-properties", Clause: "MQTT-2.2.2-1", Version: V5,
		Raw:  frame(0x30, str("a/b"), props(), raw('h', 'i')),
		Want: &Publish{Topic: []byte("a/b"), Payload: []byte("hi")}},
	{Name: "publish/v5/qos1-all-message-properties", Clause: "MQTT-3.3.2-18", Version: V5,
		Raw: frame(0x32, str("t"), u16(9), publishPropsRaw, raw('p')),
		Want: &Publish{QoS: QoS1, Topic: []byte("t"), PacketID: 9, Payload: []byte("p"),
			Properties: publishProps}},
	{Name: "publish/v5/two-subscription-ids", Clause: "MQTT-3.3.4-4", Version: V5,
		Raw: frame(0x30, str("t"), props(prop(PropSubscriptionID, vbi(1)), prop(PropSubscriptionID, vbi(268_435_455)))),
		Want: &Publish{Topic: []byte("t"), Properties: mkProps(func(p *Properties) {
			must(p.AddSubscriptionID(1))
			must(p.AddSubscriptionID(268_435_455))
		})}},
	{Name: "publish/v5/interleaved-user-properties", Clause: "MQTT-3.3.2-18", Version: V5, NonCanonical: true,
		Raw: frame(0x30, str("t"), props(user("a", "1"), prop(PropContentType, str("c")), user("b", "2"))),
		Want: &Publish{Topic: []byte("t"), Properties: mkProps(func(p *Properties) {
			must(p.AddUserProperty([]byte("a"), []byte("1")))
			p.SetContentType([]byte("c"))
			must(p.AddUserProperty([]byte("b"), []byte("2")))
		})}},
	{Name: "publish/v5/empty-topic-with-alias", Clause: "MQTT-3.3.2.3.4", Version: V5,
		Raw: frame(0x30, str(""), props(prop(PropTopicAlias, u16(3))), raw('x')),
		Want: &Publish{Topic: []byte{}, Payload: []byte("x"),
			Properties: mkProps(func(p *Properties) { p.SetTopicAlias(3) })}},
	{Name: "publish/v5/empty-topic-without-alias", Clause: "MQTT-3.3.2.3.4", Version: V5, Code: ProtocolError,
		Raw: frame(0x30, str(""), props(), raw('x'))},
	{Name: "publish/v5/topic-alias-zero", Clause: "MQTT-3.3.2-8", Version: V5, Code: ProtocolError,
		Raw: frame(0x30, str("a"), props(prop(PropTopicAlias, u16(0))))},
	{Name: "publish/v5/session-expiry-not-allowed", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x30, str("a"), props(prop(PropSessionExpiry, u32(1))))},
	{Name: "publish/v5/content-type-twice", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x30, str("a"), props(prop(PropContentType, str("x")), prop(PropContentType, str("y"))))},
	{Name: "publish/v5/unknown-property", Clause: "MQTT-2.2.2.2", Version: V5, Code: MalformedPacket,
		Raw: frame(0x30, str("a"), props(raw(0x7F, 0x00)))},
	{Name: "publish/v5/payload-format-2", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x30, str("a"), props(prop(PropPayloadFormat, raw(2))))},
	{Name: "publish/v5/subscription-id-zero", Clause: "MQTT-3.8.2.1.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x30, str("a"), props(prop(PropSubscriptionID, raw(0))))},
	{Name: "publish/v5/property-length-past-end", Clause: "MQTT-2.2.2.1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x30, str("a"), raw(0x0A /* says 10 */, 0x01, 0x00))},
	{Name: "publish/v5/property-length-huge", Clause: "MQTT-2.2.2.1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x30, str("a"), raw(0xFF, 0xFF, 0xFF, 0x7F /* 268435455 */))},
	{Name: "publish/v5/property-value-past-length", Clause: "MQTT-2.2.2.1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x30, str("a"), raw(0x03, byte(PropContentType), 0x00, 0x05 /* says 5 */), raw('x', 'y'))},
	{Name: "publish/v5/user-property-bad-utf8", Clause: "MQTT-1.5.4-1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x30, str("a"), props(prop(PropUserProperty, str("\xFF"), str("v"))))},
	{Name: "publish/v5/response-topic-wildcard", Clause: "MQTT-3.3.2-14", Version: V5, Code: MalformedPacket,
		Raw: frame(0x30, str("a"), props(prop(PropResponseTopic, str("r/#"))))},
}

var connectVectors = []vector{
	{Name: "connect/v311/minimal", Clause: "MQTT-3.1.2-1", Version: V311,
		Raw:  frame(0x10, str("MQTT"), raw(4 /* level */, 0x02 /* clean */), u16(60), str("c1")),
		Want: &Connect{Version: V311, CleanStart: true, KeepAliveSeconds: 60, ClientID: []byte("c1")}},
	{Name: "connect/v31/minimal", Clause: "MQTT-3.1.2-2", Version: V31,
		Raw:  frame(0x10, str("MQIsdp"), raw(3, 0x02), u16(30), str("c")),
		Want: &Connect{Version: V31, CleanStart: true, KeepAliveSeconds: 30, ClientID: []byte("c")}},
	{Name: "connect/v311/will-user-password", Clause: "MQTT-3.1.3-1", Version: V311,
		Raw: frame(0x10, str("MQTT"), raw(4, 0xEE /* user, pass, will retain, will QoS 1, will, clean */),
			u16(10), str("id"), str("will/t"), str("bye"), str("u"), str("\x00pw")),
		Want: &Connect{Version: V311, CleanStart: true, KeepAliveSeconds: 10, ClientID: []byte("id"),
			HasWill: true, WillQoS: QoS1, WillRetain: true, WillTopic: []byte("will/t"), WillPayload: []byte("bye"),
			HasUsername: true, Username: []byte("u"), HasPassword: true, Password: []byte("\x00pw")}},
	{Name: "connect/v5/minimal", Clause: "MQTT-3.1.2-2", Version: V5,
		Raw:  frame(0x10, str("MQTT"), raw(5, 0x02), u16(60), props(), str("c1")),
		Want: &Connect{Version: V5, CleanStart: true, KeepAliveSeconds: 60, ClientID: []byte("c1")}},
	{Name: "connect/v5/full", Clause: "MQTT-3.1.3-10", Version: V5,
		Raw: frame(0x10, str("MQTT"), raw(5, 0xD4 /* user, pass, will QoS 2, will */), u16(0),
			props(prop(PropSessionExpiry, u32(0xFFFFFFFF)), prop(PropAuthMethod, str("SCRAM")),
				prop(PropAuthData, str("d")), prop(PropRequestProblemInfo, raw(0)),
				prop(PropRequestResponseInfo, raw(1)), prop(PropReceiveMaximum, u16(20)),
				prop(PropTopicAliasMaximum, u16(5)), prop(PropMaximumPacketSize, u32(1<<20)), user("a", "b")),
			str(""),
			props(prop(PropPayloadFormat, raw(1)), prop(PropMessageExpiry, u32(9)), prop(PropContentType, str("ct")),
				prop(PropResponseTopic, str("rt")), prop(PropCorrelationData, str("cd")),
				prop(PropWillDelay, u32(30)), user("w1", "x"), user("w2", "y")),
			str("will"), str("payload"), str("user"), str("pass")),
		Want: &Connect{Version: V5, ClientID: []byte{}, Properties: mkProps(func(p *Properties) {
			p.SetSessionExpirySeconds(0xFFFFFFFF)
			p.SetAuthMethod([]byte("SCRAM"))
			p.SetAuthData([]byte("d"))
			p.SetRequestProblemInfo(false)
			p.SetRequestResponseInfo(true)
			p.SetReceiveMaximum(20)
			p.SetTopicAliasMaximum(5)
			p.SetMaximumPacketBytes(1 << 20)
			must(p.AddUserProperty([]byte("a"), []byte("b")))
		}), HasWill: true, WillQoS: QoS2, WillTopic: []byte("will"), WillPayload: []byte("payload"),
			WillProperties: mkProps(func(p *Properties) {
				p.SetPayloadFormat(1)
				p.SetMessageExpirySeconds(9)
				p.SetContentType([]byte("ct"))
				p.SetResponseTopic([]byte("rt"))
				p.SetCorrelationData([]byte("cd"))
				p.SetWillDelaySeconds(30)
				must(p.AddUserProperty([]byte("w1"), []byte("x")))
				must(p.AddUserProperty([]byte("w2"), []byte("y")))
			}), HasUsername: true, Username: []byte("user"), HasPassword: true, Password: []byte("pass")}},
	{Name: "connect/v5/password-without-user", Clause: "MQTT-3.1.2-19", Version: V5,
		Raw:  frame(0x10, str("MQTT"), raw(5, 0x42), u16(5), props(), str("c"), str("tok")),
		Want: &Connect{Version: V5, CleanStart: true, KeepAliveSeconds: 5, ClientID: []byte("c"), HasPassword: true, Password: []byte("tok")}},
	{Name: "connect/v311/reserved-flag", Clause: "MQTT-3.1.2-3", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x03), u16(60), str("c"))},
	{Name: "connect/v5/reserved-flag", Clause: "MQTT-3.1.2-3", Version: V5, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x01), u16(60), props(), str("c"))},
	{Name: "connect/v311/will-qos-without-will", Clause: "MQTT-3.1.2-13", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x0A), u16(60), str("c"))},
	{Name: "connect/v5/will-qos-without-will", Clause: "MQTT-3.1.2-11", Version: V5, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x12), u16(60), props(), str("c"))},
	{Name: "connect/v311/will-qos-3", Clause: "MQTT-3.1.2-14", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x1E), u16(60), str("c"), str("t"), str("p"))},
	{Name: "connect/v5/will-qos-3", Clause: "MQTT-3.1.2-12", Version: V5, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x1E), u16(60), props(), str("c"), props(), str("t"), str("p"))},
	{Name: "connect/v311/will-retain-without-will", Clause: "MQTT-3.1.2-15", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x22), u16(60), str("c"))},
	{Name: "connect/v5/will-retain-without-will", Clause: "MQTT-3.1.2-13", Version: V5, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x22), u16(60), props(), str("c"))},
	{Name: "connect/v311/password-without-user", Clause: "MQTT-3.1.2-22", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x42), u16(60), str("c"), str("pw"))},
	{Name: "connect/v311/bad-protocol-name", Clause: "MQTT-3.1.2-1", Version: V311, Code: ProtocolError,
		Raw: frame(0x10, str("MQTX"), raw(4, 0x02), u16(60), str("c"))},
	{Name: "connect/v5/unsupported-level", Clause: "MQTT-3.1.2-2", Version: V5, Code: UnsupportedProtocolVersion,
		Raw: frame(0x10, str("MQTT"), raw(6, 0x02), u16(60), props(), str("c"))},
	{Name: "connect/v31/name-level-mismatch", Clause: "MQTT-3.1.2-2", Version: V311, Code: UnsupportedProtocolVersion,
		Raw: frame(0x10, str("MQIsdp"), raw(4, 0x02), u16(60), str("c"))},
	{Name: "connect/v311/empty-client-id-persistent", Clause: "MQTT-3.1.3-8", Version: V311, Code: ClientIdentifierNotValid,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x00), u16(60), str(""))},
	{Name: "connect/v31/empty-client-id", Clause: "MQTT-3.1.3-8", Version: V31, Code: ClientIdentifierNotValid,
		Raw: frame(0x10, str("MQIsdp"), raw(3, 0x02), u16(60), str(""))},
	{Name: "connect/v5/empty-client-id-persistent", Clause: "MQTT-3.1.3-6", Version: V5,
		Raw:  frame(0x10, str("MQTT"), raw(5, 0x00), u16(60), props(), str("")),
		Want: &Connect{Version: V5, KeepAliveSeconds: 60, ClientID: []byte{}}},
	{Name: "connect/v311/client-id-bad-utf8", Clause: "MQTT-1.5.3-1", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x02), u16(60), str("\xF8"))},
	{Name: "connect/v311/will-topic-wildcard", Clause: "MQTT-4.7.1-1", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x06), u16(60), str("c"), str("a/#"), str("p"))},
	{Name: "connect/v5/will-topic-wildcard", Clause: "MQTT-4.7.0-1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x06), u16(60), props(), str("c"), props(), str("+"), str("p"))},
	{Name: "connect/v311/will-payload-missing", Clause: "MQTT-3.1.2-9", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x06), u16(60), str("c"), str("t"))},
	{Name: "connect/v5/user-name-missing", Clause: "MQTT-3.1.2-17", Version: V5, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x82), u16(60), props(), str("c"))},
	{Name: "connect/v311/password-missing", Clause: "MQTT-3.1.2-21", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0xC2), u16(60), str("c"), str("u"))},
	{Name: "connect/v311/client-id-missing", Clause: "MQTT-3.1.3-3", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x02), u16(60))},
	{Name: "connect/v311/trailing-bytes", Clause: "MQTT-2.2.3", Version: V311, Code: MalformedPacket,
		Raw: frame(0x10, str("MQTT"), raw(4, 0x02), u16(60), str("c"), raw(0))},
	{Name: "connect/v311/fixed-header-flags", Clause: "MQTT-2.2.2-1", Version: V311, Code: MalformedPacket,
		Raw: frame(0x11, str("MQTT"), raw(4, 0x02), u16(60), str("c"))},
	{Name: "connect/v5/fixed-header-flags", Clause: "MQTT-2.1.3-1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x18, str("MQTT"), raw(5, 0x02), u16(60), props(), str("c"))},
	{Name: "connect/v5/auth-data-without-method", Clause: "MQTT-3.1.2.11.10", Version: V5, Code: ProtocolError,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x02), u16(60), props(prop(PropAuthData, str("x"))), str("c"))},
	{Name: "connect/v5/will-reason-string", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x06), u16(60), props(), str("c"),
			props(prop(PropReasonString, str("no"))), str("t"), str("p"))},
	{Name: "connect/v5/will-delay-outside-will", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x02), u16(60), props(prop(PropWillDelay, u32(1))), str("c"))},
	{Name: "connect/v5/receive-maximum-zero", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x02), u16(60), props(prop(PropReceiveMaximum, u16(0))), str("c"))},
	{Name: "connect/v5/request-problem-info-2", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x02), u16(60), props(prop(PropRequestProblemInfo, raw(2))), str("c"))},
	{Name: "connect/v5/maximum-packet-size-zero", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x10, str("MQTT"), raw(5, 0x02), u16(60), props(prop(PropMaximumPacketSize, u32(0))), str("c"))},
}
