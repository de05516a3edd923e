package mqttcodec

// AppendPropertySection appends p as an MQTT 5 property section — the
// Variable Byte Integer length followed by the properties — checked as the
// properties of a packet of type ctx. A broker stores the pass-through
// properties of a message this way and hands them back to
// DecodePropertySection when it delivers the message.
func AppendPropertySection(dst []byte, p *Properties, ctx PacketType) ([]byte, error) {
	if err := p.check(ctx); err != nil {
		return dst, err
	}
	return p.appendTo(dst), nil
}

// PropertySectionSize returns the length of the section AppendPropertySection
// would append for p.
func PropertySectionSize(p *Properties) int { return p.encodedLen() }

// DecodePropertySection reads a property section from the start of b into p,
// validated as the properties of a packet of type ctx under MQTT 5, and
// returns the number of bytes it took. Like every decoder it returns views
// into b and never panics.
func DecodePropertySection(b []byte, ctx PacketType, p *Properties) (int, error) {
	r := reader{b: b}
	if err := decodeProperties(&r, p, ctx, V5); err != nil {
		return 0, err
	}
	return r.off, nil
}
