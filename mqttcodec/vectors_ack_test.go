package mqttcodec

var connackProps = mkProps(func(p *Properties) {
	p.SetSessionExpirySeconds(120)
	p.SetAssignedClientID([]byte("auto-1"))
	p.SetServerKeepAliveSeconds(30)
	p.SetAuthMethod([]byte("m"))
	p.SetAuthData([]byte("d"))
	p.SetResponseInfo([]byte("resp/"))
	p.SetServerReference([]byte("other:1883"))
	p.SetReasonString([]byte("ok"))
	p.SetReceiveMaximum(100)
	p.SetTopicAliasMaximum(10)
	p.SetMaximumQoS(QoS1)
	p.SetRetainAvailable(false)
	p.SetMaximumPacketBytes(65536)
	p.SetWildcardSubAvailable(true)
	p.SetSubIDAvailable(false)
	p.SetSharedSubAvailable(true)
	must(p.AddUserProperty([]byte("node"), []byte("a")))
})

var connackVectors = []vector{
	{Name: "connack/v311/accepted-session-present", Clause: "MQTT-3.2.2-3", Version: V311,
		Raw:  frame(0x20, raw(0x01, 0x00)),
		Want: &Connack{SessionPresent: true, ReasonCode: Success}},
	{Name: "connack/v311/not-authorized", Clause: "MQTT-3.2.2.3", Version: V311,
		Raw:  frame(0x20, raw(0x00, 0x05)),
		Want: &Connack{ReasonCode: NotAuthorized}},
	{Name: "connack/v31/refused-identifier", Clause: "MQTT-3.2.2.3", Version: V31,
		Raw:  frame(0x20, raw(0x00, 0x02)),
		Want: &Connack{ReasonCode: ClientIdentifierNotValid}},
	{Name: "connack/v31/reserved-byte-ignored", Clause: "MQTT-3.2.2.1", Version: V31, NonCanonical: true,
		Raw: frame(0x20, raw(0x01, 0x00)), Want: &Connack{}},
	{Name: "connack/v311/reserved-return-code", Clause: "MQTT-3.2.2.3", Version: V311, Code: ProtocolError,
		Raw: frame(0x20, raw(0x00, 0x06))},
	{Name: "connack/v311/reserved-ack-flags", Clause: "MQTT-3.2.2.1", Version: V311, Code: MalformedPacket,
		Raw: frame(0x20, raw(0x02, 0x00))},
	{Name: "connack/v5/reserved-ack-flags", Clause: "MQTT-3.2.2-1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x20, raw(0x80, 0x00), props())},
	{Name: "connack/v311/session-present-with-refusal", Clause: "MQTT-3.2.2-4", Version: V311, Code: ProtocolError,
		Raw: frame(0x20, raw(0x01, 0x05))},
	{Name: "connack/v5/session-present-with-refusal", Clause: "MQTT-3.2.2-6", Version: V5, Code: ProtocolError,
		Raw: frame(0x20, raw(0x01, 0x87), props())},
	{Name: "connack/v311/trailing-byte", Clause: "MQTT-2.2.3", Version: V311, Code: MalformedPacket,
		Raw: frame(0x20, raw(0x00, 0x00, 0x00))},
	{Name: "connack/v5/all-properties", Clause: "MQTT-3.2.2.3", Version: V5,
		Raw: frame(0x20, raw(0x00, 0x00), props(
			prop(PropSessionExpiry, u32(120)), prop(PropAssignedClientID, str("auto-1")),
			prop(PropServerKeepAlive, u16(30)), prop(PropAuthMethod, str("m")), prop(PropAuthData, str("d")),
			prop(PropResponseInfo, str("resp/")), prop(PropServerReference, str("other:1883")),
			prop(PropReasonString, str("ok")), prop(PropReceiveMaximum, u16(100)),
			prop(PropTopicAliasMaximum, u16(10)), prop(PropMaximumQoS, raw(1)), prop(PropRetainAvailable, raw(0)),
			prop(PropMaximumPacketSize, u32(65536)), prop(PropWildcardSubAvailable, raw(1)),
			prop(PropSubIDAvailable, raw(0)), prop(PropSharedSubAvailable, raw(1)), user("node", "a"))),
		Want: &Connack{ReasonCode: Success, Properties: connackProps}},
	{Name: "connack/v5/refused-bad-auth-method", Clause: "MQTT-3.2.2-8", Version: V5,
		Raw:  frame(0x20, raw(0x00, 0x8C), props()),
		Want: &Connack{ReasonCode: BadAuthenticationMethod}},
	{Name: "connack/v5/disconnect-code", Clause: "MQTT-3.2.2-8", Version: V5, Code: ProtocolError,
		Raw: frame(0x20, raw(0x00, 0x04), props())},
	{Name: "connack/v5/maximum-qos-2", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x20, raw(0x00, 0x00), props(prop(PropMaximumQoS, raw(2))))},
	{Name: "connack/v5/will-delay-not-allowed", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x20, raw(0x00, 0x00), props(prop(PropWillDelay, u32(1))))},
}

var ackVectors = []vector{
	{Name: "puback/v311", Clause: "MQTT-2.2.1-5", Version: V311,
		Raw: frame(0x40, u16(7)), Want: &Puback{PacketID: 7}},
	{Name: "pubrec/v311", Clause: "MQTT-2.2.1-5", Version: V311,
		Raw: frame(0x50, u16(7)), Want: &Pubrec{PacketID: 7}},
	{Name: "pubrel/v311", Clause: "MQTT-3.6.1-1", Version: V311,
		Raw: frame(0x62, u16(7)), Want: &Pubrel{PacketID: 7}},
	{Name: "pubcomp/v31", Clause: "MQTT-2.2.1-5", Version: V31,
		Raw: frame(0x70, u16(7)), Want: &Pubcomp{PacketID: 7}},
	{Name: "puback/v5/short-success", Clause: "MQTT-3.4.2.1", Version: V5,
		Raw: frame(0x40, u16(8)), Want: &Puback{PacketID: 8}},
	{Name: "puback/v5/code-only", Clause: "MQTT-3.4.2.1", Version: V5,
		Raw: frame(0x40, u16(8), raw(0x10)), Want: &Puback{PacketID: 8, ReasonCode: NoMatchingSubscribers}},
	{Name: "puback/v5/explicit-empty-properties", Clause: "MQTT-3.4.2.2", Version: V5, NonCanonical: true,
		Raw: frame(0x40, u16(8), raw(0x00), props()), Want: &Puback{PacketID: 8}},
	{Name: "pubrec/v5/code-and-properties", Clause: "MQTT-3.5.2-1", Version: V5,
		Raw: frame(0x50, u16(9), raw(0x87), props(prop(PropReasonString, str("denied")), user("k", "v"))),
		Want: &Pubrec{PacketID: 9, ReasonCode: NotAuthorized, Properties: mkProps(func(p *Properties) {
			p.SetReasonString([]byte("denied"))
			must(p.AddUserProperty([]byte("k"), []byte("v")))
		})}},
	{Name: "pubrel/v5/not-found", Clause: "MQTT-3.6.2-1", Version: V5,
		Raw: frame(0x62, u16(3), raw(0x92)), Want: &Pubrel{PacketID: 3, ReasonCode: PacketIdentifierNotFound}},
	{Name: "pubcomp/v5/short", Clause: "MQTT-3.7.2.1-1", Version: V5,
		Raw: frame(0x70, u16(3)), Want: &Pubcomp{PacketID: 3}},
	{Name: "pubrel/v311/flags-0000", Clause: "MQTT-3.6.1-1", Version: V311, Code: MalformedPacket,
		Raw: frame(0x60, u16(1))},
	{Name: "pubrel/v5/flags-0000", Clause: "MQTT-3.6.1-1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x60, u16(1))},
	{Name: "puback/v311/flags-0001", Clause: "MQTT-2.2.2-1", Version: V311, Code: MalformedPacket,
		Raw: frame(0x41, u16(1))},
	{Name: "pubcomp/v5/flags-0010", Clause: "MQTT-2.1.3-1", Version: V5, Code: MalformedPacket,
		Raw: frame(0x72, u16(1))},
	{Name: "puback/v311/packet-id-zero", Clause: "MQTT-2.3.1-1", Version: V311, Code: ProtocolError,
		Raw: frame(0x40, u16(0))},
	{Name: "puback/v5/pubrel-code", Clause: "MQTT-3.4.2-1", Version: V5, Code: ProtocolError,
		Raw: frame(0x40, u16(1), raw(0x92))},
	{Name: "pubrec/v5/disconnect-code", Clause: "MQTT-3.5.2-1", Version: V5, Code: ProtocolError,
		Raw: frame(0x50, u16(1), raw(0x04))},
	{Name: "pubrel/v5/puback-code", Clause: "MQTT-3.6.2-1", Version: V5, Code: ProtocolError,
		Raw: frame(0x62, u16(1), raw(0x10))},
	{Name: "pubcomp/v5/error-code", Clause: "MQTT-3.7.2.1-1", Version: V5, Code: ProtocolError,
		Raw: frame(0x70, u16(1), raw(0x80))},
	{Name: "puback/v311/trailing-byte", Clause: "MQTT-2.2.3", Version: V311, Code: MalformedPacket,
		Raw: frame(0x40, u16(1), raw(0x00))},
	{Name: "puback/v5/truncated-id", Clause: "MQTT-2.1.4", Version: V5, Code: MalformedPacket,
		Raw: frame(0x40, raw(0x01))},
	{Name: "pubcomp/v5/content-type-not-allowed", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0x70, u16(1), raw(0x00), props(prop(PropContentType, str("x"))))},
	{Name: "puback/v5/trailing-after-properties", Clause: "MQTT-2.1.4", Version: V5, Code: MalformedPacket,
		Raw: frame(0x40, u16(1), raw(0x00), props(), raw(0xFF))},
}

var pingVectors = []vector{
	{Name: "pingreq/v311", Clause: "MQTT-3.12.4-1", Version: V311, Raw: frame(0xC0), Want: &Pingreq{}},
	{Name: "pingresp/v5", Clause: "MQTT-3.12.4-1", Version: V5, Raw: frame(0xD0), Want: &Pingresp{}},
	{Name: "pingreq/v5/body", Clause: "MQTT-2.1.4", Version: V5, Code: MalformedPacket, Raw: frame(0xC0, raw(0))},
	{Name: "pingresp/v311/flags", Clause: "MQTT-2.2.2-1", Version: V311, Code: MalformedPacket, Raw: frame(0xD8)},
	{Name: "reserved-type-0/v5", Clause: "MQTT-2.1.2", Version: V5, Code: MalformedPacket, Raw: frame(0x00)},
}

var disconnectVectors = []vector{
	{Name: "disconnect/v311", Clause: "MQTT-3.14.1-1", Version: V311, Raw: frame(0xE0), Want: &Disconnect{}},
	{Name: "disconnect/v5/short", Clause: "MQTT-3.14.2.1", Version: V5, Raw: frame(0xE0), Want: &Disconnect{}},
	{Name: "disconnect/v5/with-will", Clause: "MQTT-3.14.2.1", Version: V5,
		Raw: frame(0xE0, raw(0x04)), Want: &Disconnect{ReasonCode: DisconnectWithWillMessage}},
	{Name: "disconnect/v5/taken-over-with-properties", Clause: "MQTT-3.14.2-1", Version: V5,
		Raw: frame(0xE0, raw(0x8E), props(prop(PropSessionExpiry, u32(0)), prop(PropServerReference, str("b")),
			prop(PropReasonString, str("bye")), user("x", "y"))),
		Want: &Disconnect{ReasonCode: SessionTakenOver, Properties: mkProps(func(p *Properties) {
			p.SetSessionExpirySeconds(0)
			p.SetServerReference([]byte("b"))
			p.SetReasonString([]byte("bye"))
			must(p.AddUserProperty([]byte("x"), []byte("y")))
		})}},
	{Name: "disconnect/v5/puback-code", Clause: "MQTT-3.14.2-1", Version: V5, Code: ProtocolError,
		Raw: frame(0xE0, raw(0x10))},
	{Name: "disconnect/v5/flags", Clause: "MQTT-3.14.1-1", Version: V5, Code: MalformedPacket,
		Raw: frame(0xE1)},
	{Name: "disconnect/v311/flags", Clause: "MQTT-3.14.1-1", Version: V311, Code: MalformedPacket,
		Raw: frame(0xE2)},
	{Name: "disconnect/v311/body", Clause: "MQTT-2.2.3", Version: V311, Code: MalformedPacket,
		Raw: frame(0xE0, raw(0x00))},
	{Name: "disconnect/v5/content-type-not-allowed", Clause: "MQTT-2.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0xE0, raw(0x00), props(prop(PropContentType, str("x"))))},
}

var authVectors = []vector{
	{Name: "auth/v5/short-success", Clause: "MQTT-3.15.2.1", Version: V5, Raw: frame(0xF0), Want: &Auth{}},
	{Name: "auth/v5/continue", Clause: "MQTT-3.15.2-1", Version: V5,
		Raw: frame(0xF0, raw(0x18), props(prop(PropAuthMethod, str("SCRAM-SHA-256")), prop(PropAuthData, str("n,,n=u")))),
		Want: &Auth{ReasonCode: ContinueAuthentication, Properties: mkProps(func(p *Properties) {
			p.SetAuthMethod([]byte("SCRAM-SHA-256"))
			p.SetAuthData([]byte("n,,n=u"))
		})}},
	{Name: "auth/v5/continue-without-method", Clause: "MQTT-3.15.2.2.2", Version: V5, Code: ProtocolError,
		Raw: frame(0xF0, raw(0x19))},
	{Name: "auth/v5/data-without-method", Clause: "MQTT-3.1.2.11.10", Version: V5, Code: ProtocolError,
		Raw: frame(0xF0, raw(0x00), props(prop(PropAuthData, str("x"))))},
	{Name: "auth/v5/error-code", Clause: "MQTT-3.15.2-1", Version: V5, Code: ProtocolError,
		Raw: frame(0xF0, raw(0x80))},
	{Name: "auth/v5/flags", Clause: "MQTT-3.15.1-1", Version: V5, Code: MalformedPacket, Raw: frame(0xF1)},
	{Name: "auth/v311/reserved-type", Clause: "MQTT-2.2.1", Version: V311, Code: MalformedPacket, Raw: frame(0xF0)},
}
