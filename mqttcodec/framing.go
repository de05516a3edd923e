package mqttcodec

// Every control packet starts with a fixed header:
//
//	+--------+------------------+-----------------------------+
//	| type|f | remaining (1-4B) | variable header and payload |
//	+--------+------------------+-----------------------------+
//
// The high nibble of the first byte is the PacketType, the low nibble its
// flags; the remaining length is a Variable Byte Integer counting the bytes
// after it [MQTT-2.1].

// MaxFrameBytes is the largest frame the protocol can express: one type byte,
// four length bytes and MaxVarInt bytes of body.
const MaxFrameBytes = 1 + 4 + MaxVarInt

// FrameLen returns the total length of the frame that starts at b[0] (fixed
// header included) as soon as b holds the whole fixed header, so the caller
// can size one buffer for the frame. It returns (0, nil) while more bytes are
// needed. It fails, before the caller allocates anything, with a *ReasonError
// of code PacketTooLarge when the frame would exceed maxPacketBytes, or of code
// MalformedPacket when the remaining length is longer than four bytes or not
// minimally encoded [MQTT-1.5.5-1]. A maxPacketBytes ≤ 0 applies only the
// protocol's own limit, MaxFrameBytes. FrameLen never allocates.
func FrameLen(b []byte, maxPacketBytes int) (n int, err error) {
	if len(b) < 2 {
		return 0, nil
	}
	rem, l, st := parseVarInt(b[1:])
	switch st {
	case varIntShort:
		return 0, nil
	case varIntTooLong, varIntNonMinimal:
		return 0, varIntError(st, V5)
	}
	n = 1 + l + int(rem)
	if maxPacketBytes > 0 && n > maxPacketBytes {
		return 0, errTooLarge
	}
	return n, nil
}

// parseFrame checks the fixed header of a complete frame of type t and returns
// its flags and body. It enforces the reserved flag values of every type but
// PUBLISH [MQTT-2.1.3-1] and that the remaining length covers exactly the rest
// of the frame.
func parseFrame(frame []byte, t PacketType, v Version) (flags byte, body []byte, err error) {
	flags, body, err = splitFrame(frame, t, v)
	if err != nil {
		return 0, nil, err
	}
	if t != TypePublish && flags != t.fixedFlags() {
		return 0, nil, errReservedFlags[t].of(v)
	}
	return flags, body, nil
}

// splitFrame is parseFrame without the check of the flags.
func splitFrame(frame []byte, t PacketType, v Version) (flags byte, body []byte, err error) {
	if len(frame) < 2 {
		return 0, nil, errTruncated.of(v)
	}
	if PacketType(frame[0]>>4) != t {
		return 0, nil, errPacketType.of(v)
	}
	rem, n, st := parseVarInt(frame[1:])
	if st != varIntOK {
		return 0, nil, varIntError(st, v)
	}
	if 1+n+int(rem) != len(frame) {
		return 0, nil, errFrameLength.of(v)
	}
	return frame[0] & 0x0F, frame[1+n : len(frame) : len(frame)], nil
}

// appendHeader appends a fixed header. The caller has checked rem ≤ MaxVarInt.
func appendHeader(dst []byte, t PacketType, flags byte, rem int) []byte {
	return appendVarInt(append(dst, byte(t)<<4|flags), uint32(rem))
}

// checkRemaining refuses a body the remaining length cannot express.
func checkRemaining(rem int) error {
	if rem > MaxVarInt {
		return errTooLargeToSend
	}
	return nil
}
