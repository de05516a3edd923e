package mqttcodec

// Fan-out encodes a PUBLISH once per variant — protocol version, QoS, RETAIN
// and properties (Subscription Identifiers, Topic Alias) — and then, per
// subscriber, copies the frame and patches the two fields that differ between
// subscribers of one variant: the packet identifier and the DUP flag. Neither
// changes the frame's length, so no re-encoding is needed.
//
//	byte 0: 0011 D QQ R          <- DUP is bit 3, patched in place
//	...topic...
//	byte PacketIDOffset(): id hi <- packet identifier, patched in place
//	byte PacketIDOffset()+1: id lo

// PublishTemplate is one encoded PUBLISH variant. Copying a PublishTemplate
// copies a view: the frame is shared.
type PublishTemplate struct {
	frame    []byte
	idOffset int // 0 at QoS 0, which has no packet identifier
}

// AppendTemplate appends p encoded for v to dst and returns it as a template.
// p.PacketID is written as given (0 is allowed here) and replaced per
// subscriber; every other rule of Append applies.
func (p *Publish) AppendTemplate(dst []byte, v Version) (PublishTemplate, error) {
	rem, err := p.check(v, false)
	if err != nil {
		return PublishTemplate{}, err
	}
	start := len(dst)
	dst, off := p.appendTo(dst, v, rem)
	return PublishTemplate{frame: dst[start:len(dst):len(dst)], idOffset: off}, nil
}

// TemplateOf wraps an encoded PUBLISH frame, such as one kept in a session
// queue, so it can be re-sent with a new packet identifier and DUP set. It
// checks the fixed header and the topic length, not the rest.
func TemplateOf(frame []byte) (PublishTemplate, error) {
	off, err := PublishPacketIDOffset(frame)
	if err != nil {
		return PublishTemplate{}, err
	}
	return PublishTemplate{frame: frame, idOffset: off}, nil
}

// PublishPacketIDOffset returns the offset of the packet identifier in an
// encoded PUBLISH frame, or 0 for a QoS 0 frame, which has none.
func PublishPacketIDOffset(frame []byte) (int, error) {
	if len(frame) < 2 || PacketType(frame[0]>>4) != TypePublish {
		return 0, errPacketType.v5
	}
	qos := QoS(frame[0] >> 1 & 0x03)
	if qos > QoS2 {
		return 0, errQoS3.v5
	}
	rem, n, st := parseVarInt(frame[1:])
	if st != varIntOK {
		return 0, varIntError(st, V5)
	}
	if 1+n+int(rem) != len(frame) {
		return 0, errFrameLength.v5
	}
	topicAt := 1 + n
	if len(frame)-topicAt < 2 {
		return 0, errTruncated.v5
	}
	off := topicAt + 2 + (int(frame[topicAt])<<8 | int(frame[topicAt+1]))
	if qos == QoS0 {
		return 0, nil
	}
	if len(frame)-off < 2 {
		return 0, errTruncated.v5
	}
	return off, nil
}

// Frame returns the encoded frame. It is shared by every copy of t.
func (t PublishTemplate) Frame() []byte { return t.frame }

// PacketIDOffset returns the offset of the packet identifier in Frame, or 0
// at QoS 0.
func (t PublishTemplate) PacketIDOffset() int { return t.idOffset }

// AppendTo appends the frame to dst with packetID and DUP patched in, and
// allocates only when dst lacks capacity. At QoS 0 the frame is appended
// unchanged: it has no packet identifier and DUP must stay 0 [MQTT-3.3.1-2].
// A QoS > 0 packetID must not be 0 [MQTT-2.2.1-4].
func (t PublishTemplate) AppendTo(dst []byte, packetID uint16, dup bool) []byte {
	start := len(dst)
	dst = append(dst, t.frame...)
	if t.idOffset != 0 {
		patch(dst[start:], t.idOffset, packetID, dup)
	}
	return dst
}

// SetPacketID patches the shared frame in place. Use it when the frame is
// written before the next patch; otherwise copy with AppendTo. It does
// nothing at QoS 0.
func (t PublishTemplate) SetPacketID(packetID uint16) {
	if t.idOffset != 0 {
		patch(t.frame, t.idOffset, packetID, t.frame[0]&0x08 != 0)
	}
}

// SetDup sets or clears the DUP flag of the shared frame in place. It does
// nothing at QoS 0, where DUP must be 0 [MQTT-3.3.1-2].
func (t PublishTemplate) SetDup(dup bool) {
	if t.idOffset != 0 {
		setDup(t.frame, dup)
	}
}

// SetRetain sets or clears the RETAIN flag of the shared frame in place, for a
// subscription whose Retain As Published option differs [MQTT-3.3.1-12].
func (t PublishTemplate) SetRetain(retain bool) {
	switch {
	case len(t.frame) == 0:
		return
	case retain:
		t.frame[0] |= 0x01
	default:
		t.frame[0] &^= 0x01
	}
}

func patch(frame []byte, off int, packetID uint16, dup bool) {
	if invariants && packetID == 0 {
		panic("mqttcodec: zero packet identifier patched into a QoS > 0 PUBLISH")
	}
	frame[off], frame[off+1] = byte(packetID>>8), byte(packetID)
	setDup(frame, dup)
}

func setDup(frame []byte, dup bool) {
	if dup {
		frame[0] |= 0x08
	} else {
		frame[0] &^= 0x08
	}
}
