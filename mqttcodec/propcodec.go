package mqttcodec

import "math/bits"

// The property section of an MQTT 5 packet:
//
//	+---------------------+----+-------+----+-------+-----
//	| length (VarInt)     | id | value | id | value | ...
//	+---------------------+----+-------+----+-------+-----
//
// An empty section is a single 0x00 length byte [MQTT-2.2.2-1].

func trailingZeros(x uint64) int { return bits.TrailingZeros64(x) }

// num returns the value of a numeric (byte, two- or four-byte) property.
func (p *Properties) num(id PropertyID) uint32 {
	switch id {
	case PropPayloadFormat:
		return uint32(p.PayloadFormat)
	case PropMessageExpiry:
		return p.MessageExpirySeconds
	case PropSessionExpiry:
		return p.SessionExpirySeconds
	case PropServerKeepAlive:
		return uint32(p.ServerKeepAliveSeconds)
	case PropRequestProblemInfo:
		return b2u(p.RequestProblemInfo)
	case PropWillDelay:
		return p.WillDelaySeconds
	case PropRequestResponseInfo:
		return b2u(p.RequestResponseInfo)
	case PropReceiveMaximum:
		return uint32(p.ReceiveMaximum)
	case PropTopicAliasMaximum:
		return uint32(p.TopicAliasMaximum)
	case PropTopicAlias:
		return uint32(p.TopicAlias)
	case PropMaximumQoS:
		return uint32(p.MaximumQoS)
	case PropRetainAvailable:
		return b2u(p.RetainAvailable)
	case PropMaximumPacketSize:
		return p.MaximumPacketBytes
	case PropWildcardSubAvailable:
		return b2u(p.WildcardSubAvailable)
	case PropSubIDAvailable:
		return b2u(p.SubIDAvailable)
	case PropSharedSubAvailable:
		return b2u(p.SharedSubAvailable)
	}
	return 0
}

// setNum stores a numeric property the decoder has range-checked.
func (p *Properties) setNum(id PropertyID, v uint32) {
	switch id {
	case PropPayloadFormat:
		p.PayloadFormat = byte(v)
	case PropMessageExpiry:
		p.MessageExpirySeconds = v
	case PropSessionExpiry:
		p.SessionExpirySeconds = v
	case PropServerKeepAlive:
		p.ServerKeepAliveSeconds = uint16(v)
	case PropRequestProblemInfo:
		p.RequestProblemInfo = v != 0
	case PropWillDelay:
		p.WillDelaySeconds = v
	case PropRequestResponseInfo:
		p.RequestResponseInfo = v != 0
	case PropReceiveMaximum:
		p.ReceiveMaximum = uint16(v)
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = uint16(v)
	case PropTopicAlias:
		p.TopicAlias = uint16(v)
	case PropMaximumQoS:
		p.MaximumQoS = QoS(v)
	case PropRetainAvailable:
		p.RetainAvailable = v != 0
	case PropMaximumPacketSize:
		p.MaximumPacketBytes = v
	case PropWildcardSubAvailable:
		p.WildcardSubAvailable = v != 0
	case PropSubIDAvailable:
		p.SubIDAvailable = v != 0
	case PropSharedSubAvailable:
		p.SharedSubAvailable = v != 0
	}
	p.mark(id)
}

// bytesField returns the field of a string or binary property.
func (p *Properties) bytesField(id PropertyID) *[]byte {
	switch id {
	case PropContentType:
		return &p.ContentType
	case PropResponseTopic:
		return &p.ResponseTopic
	case PropCorrelationData:
		return &p.CorrelationData
	case PropAssignedClientID:
		return &p.AssignedClientID
	case PropAuthMethod:
		return &p.AuthMethod
	case PropAuthData:
		return &p.AuthData
	case PropResponseInfo:
		return &p.ResponseInfo
	case PropServerReference:
		return &p.ServerReference
	case PropReasonString:
		return &p.ReasonString
	}
	if invariants {
		panic("mqttcodec: bytesField of non-bytes property " + id.String())
	}
	return new([]byte)
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// entryLen returns the length of the property entry at the start of b, which
// holds well-formed properties (a decoded span or one built by Add*), or 0 if
// it does not.
func entryLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	n := 0
	switch kindOf(PropertyID(b[0])) {
	case kindByte:
		n = 2
	case kindUint16:
		n = 3
	case kindUint32:
		n = 5
	case kindVarInt:
		_, l, st := parseVarInt(b[1:])
		if st != varIntOK {
			return 0
		}
		n = 1 + l
	case kindString, kindBinary:
		if len(b) < 3 {
			return 0
		}
		n = 3 + (int(b[1])<<8 | int(b[2]))
	case kindPair:
		if len(b) < 3 {
			return 0
		}
		n = 3 + (int(b[1])<<8 | int(b[2]))
		if len(b) < n+2 {
			return 0
		}
		n += 2 + (int(b[n])<<8 | int(b[n+1]))
	}
	if n > len(b) {
		return 0
	}
	return n
}

// propDecoder carries the state of one property section's decode.
type propDecoder struct {
	p          *Properties
	ctx        PacketType
	v          Version
	userStart  int
	userEnd    int
	subIDStart int
	subIDEnd   int
}

// decodeProperties reads a property section for packet type ctx (willContext
// for Will Properties) into p, which it resets first. It checks that every
// property is known [MQTT-2.2.2.2], allowed in ctx, present at most once
// unless repeatable, and that its value is in range.
func decodeProperties(r *reader, p *Properties, ctx PacketType, v Version) error {
	*p = Properties{}
	l, st := r.varInt()
	if st != varIntOK {
		return varIntError(st, v)
	}
	block, ok := r.take(int(l))
	if !ok {
		return errPropLength
	}
	d := propDecoder{p: p, ctx: ctx, v: v, userStart: -1, subIDStart: -1}
	br := reader{b: block}
	for br.left() > 0 {
		if err := d.one(&br); err != nil {
			return err
		}
	}
	if d.userStart >= 0 {
		p.user = block[d.userStart:d.userEnd:d.userEnd]
	}
	if d.subIDStart >= 0 {
		p.subIDs = block[d.subIDStart:d.subIDEnd:d.subIDEnd]
	}
	return nil
}

// one decodes the property at the reader's position.
func (d *propDecoder) one(r *reader) error {
	start := r.off
	c, _ := r.byte()
	id := PropertyID(c)
	kind := kindOf(id)
	if kind == kindNone {
		return errPropUnknown
	}
	if !id.AllowedIn(d.ctx) {
		return errPropNotAllowed
	}
	switch kind {
	case kindPair:
		return d.userProperty(r, start)
	case kindVarInt:
		return d.subscriptionID(r, start)
	}
	if d.p.Has(id) {
		return errPropDuplicate
	}
	if kind == kindString || kind == kindBinary {
		return d.bytesValue(r, id, kind)
	}
	return d.numValue(r, id, kind)
}

func (d *propDecoder) userProperty(r *reader, start int) error {
	k, ok1 := r.binary()
	val, ok2 := r.binary()
	if !ok1 || !ok2 {
		return errPropTruncated
	}
	if err := validateUTF8(k, d.v); err != nil {
		return err
	}
	if err := validateUTF8(val, d.v); err != nil {
		return err
	}
	if d.userStart < 0 {
		d.userStart = start
	}
	d.userEnd = r.off
	d.p.userBytes += r.off - start
	return nil
}

func (d *propDecoder) subscriptionID(r *reader, start int) error {
	id, st := r.varInt()
	if st != varIntOK {
		return varIntError(st, d.v)
	}
	if id == 0 {
		return errSubIDValue
	}
	if d.ctx != TypePublish && d.p.subIDsCount > 0 {
		return errPropDuplicate
	}
	if d.subIDStart < 0 {
		d.subIDStart = start
	}
	d.subIDEnd = r.off
	d.p.subIDBytes += r.off - start
	d.p.subIDsCount++
	return nil
}

func (d *propDecoder) bytesValue(r *reader, id PropertyID, kind propKind) error {
	b, ok := r.binary()
	if !ok {
		return errPropTruncated
	}
	if kind == kindString {
		if err := validateUTF8(b, d.v); err != nil {
			return err
		}
	}
	if id == PropResponseTopic && !isTopicName(b) {
		return errResponseTopic
	}
	*d.p.bytesField(id) = b
	d.p.mark(id)
	return nil
}

func (d *propDecoder) numValue(r *reader, id PropertyID, kind propKind) error {
	var v uint32
	var ok bool
	switch kind {
	case kindByte:
		var c byte
		c, ok = r.byte()
		v = uint32(c)
	case kindUint16:
		var u uint16
		u, ok = r.uint16()
		v = uint32(u)
	default:
		v, ok = r.uint32()
	}
	if !ok {
		return errPropTruncated
	}
	if err := checkNum(id, kind, v); err != nil {
		return err
	}
	d.p.setNum(id, v)
	return nil
}

// checkNum enforces the value ranges of numeric properties: every one-byte
// property is 0 or 1, and Receive Maximum, Topic Alias and Maximum Packet Size
// are never 0.
func checkNum(id PropertyID, kind propKind, v uint32) error {
	switch {
	case kind == kindByte && v > 1:
		return errPropValue
	case id == PropTopicAlias && v == 0:
		return errTopicAliasZero
	case (id == PropReceiveMaximum || id == PropMaximumPacketSize) && v == 0:
		return errPropValue
	}
	return nil
}

// size returns the length of the property entries, without the length prefix.
func (p *Properties) size() int {
	n := p.userBytes + p.subIDBytes
	for set := p.present; set != 0; set &= set - 1 {
		id := PropertyID(trailingZeros(set))
		switch kindOf(id) {
		case kindByte:
			n += 2
		case kindUint16:
			n += 3
		case kindUint32:
			n += 5
		case kindString, kindBinary:
			n += 3 + len(*p.bytesField(id))
		}
	}
	return n
}

// encodedLen returns the length of the whole property section.
func (p *Properties) encodedLen() int {
	n := p.size()
	return varIntLen(uint32(n)) + n
}

// check validates p for encoding in a packet of type ctx: only allowed
// properties, values in range, strings short enough, and at most one
// Subscription Identifier outside PUBLISH.
func (p *Properties) check(ctx PacketType) error {
	for set := p.present; set != 0; set &= set - 1 {
		id := PropertyID(trailingZeros(set))
		if !id.AllowedIn(ctx) {
			return errPropNotAllowed
		}
		kind := kindOf(id)
		if kind == kindString || kind == kindBinary {
			if len(*p.bytesField(id)) > MaxStringBytes {
				return errStringTooLong
			}
			continue
		}
		if err := checkNum(id, kind, p.num(id)); err != nil {
			return err
		}
	}
	if p.userBytes > 0 && !PropUserProperty.AllowedIn(ctx) {
		return errPropNotAllowed
	}
	if p.subIDsCount > 0 && (!PropSubscriptionID.AllowedIn(ctx) || ctx != TypePublish && p.subIDsCount > 1) {
		return errPropNotAllowed
	}
	return nil
}

// appendProperties appends the property section (length prefix included) in
// identifier order, then the User Properties in their order.
func (p *Properties) appendTo(dst []byte) []byte {
	dst = appendVarInt(dst, uint32(p.size()))
	for set := p.present; set != 0; set &= set - 1 {
		id := PropertyID(trailingZeros(set))
		dst = append(dst, byte(id))
		switch kindOf(id) {
		case kindByte:
			dst = append(dst, byte(p.num(id)))
		case kindUint16:
			dst = AppendUint16(dst, uint16(p.num(id)))
		case kindUint32:
			dst = appendUint32(dst, p.num(id))
		case kindString, kindBinary:
			dst = appendString(dst, *p.bytesField(id))
		}
	}
	dst = appendRepeated(dst, p.subIDs, p.subIDBytes, PropSubscriptionID)
	return appendRepeated(dst, p.user, p.userBytes, PropUserProperty)
}

// appendRepeated appends the entries of id found in span. When the span holds
// nothing else (the usual case) it is copied at once.
func appendRepeated(dst, span []byte, wantBytes int, id PropertyID) []byte {
	if len(span) == wantBytes {
		return append(dst, span...)
	}
	for b := span; len(b) > 0; {
		n := entryLen(b)
		if n == 0 {
			break
		}
		if PropertyID(b[0]) == id {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}
