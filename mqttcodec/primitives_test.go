package mqttcodec

import (
	"testing"
)

func TestVarInt_MQTT_1_5_5(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v   uint32
		enc []byte
	}{
		{0, raw(0x00)}, {127, raw(0x7F)}, {128, raw(0x80, 0x01)}, {16_383, raw(0xFF, 0x7F)},
		{16_384, raw(0x80, 0x80, 0x01)}, {2_097_151, raw(0xFF, 0xFF, 0x7F)},
		{2_097_152, raw(0x80, 0x80, 0x80, 0x01)}, {MaxVarInt, raw(0xFF, 0xFF, 0xFF, 0x7F)},
	} {
		enc, err := AppendVarInt(nil, tc.v)
		if err != nil || string(enc) != string(tc.enc) || VarIntLen(tc.v) != len(tc.enc) {
			t.Errorf("AppendVarInt(%d) = % x, %v", tc.v, enc, err)
		}
		v, n, err := ReadVarInt(append(tc.enc, 0xAA))
		if err != nil || v != tc.v || n != len(tc.enc) {
			t.Errorf("ReadVarInt(% x) = %d, %d, %v", tc.enc, v, n, err)
		}
	}
	if _, err := AppendVarInt(nil, MaxVarInt+1); err == nil || VarIntLen(MaxVarInt+1) != 0 {
		t.Error("AppendVarInt accepted MaxVarInt+1")
	}
	for _, bad := range [][]byte{raw(0x80), raw(0x80, 0x80, 0x80, 0x80, 0x01), raw(0x80, 0x00), raw(0xFF, 0x80, 0x00)} {
		if _, _, err := ReadVarInt(bad); err == nil {
			t.Errorf("ReadVarInt(% x) accepted", bad)
		}
	}
}

func TestStringsAndBinary(t *testing.T) {
	t.Parallel()
	b, err := AppendString(nil, "héllo")
	if err != nil || string(b) != "\x00\x06héllo" {
		t.Fatalf("AppendString = % x, %v", b, err)
	}
	s, n, err := ReadString(append(b, 'x'))
	if err != nil || string(s) != "héllo" || n != 8 || cap(s) != len(s) {
		t.Fatalf("ReadString = %q, %d, %v (cap %d)", s, n, err, cap(s))
	}
	if _, _, err := ReadString(raw(0x00, 0x01, 0x00)); err == nil {
		t.Error("ReadString accepted U+0000")
	}
	if _, _, err := ReadBinary(raw(0x00, 0x03, 1, 2)); err == nil {
		t.Error("ReadBinary read past the end")
	}
	if _, err := AppendBinary(nil, make([]byte, MaxStringBytes+1)); err == nil {
		t.Error("AppendBinary accepted 65536 bytes")
	}
	if v, err := ReadUint16(raw(0x12, 0x34)); err != nil || v != 0x1234 {
		t.Errorf("ReadUint16 = %#x, %v", v, err)
	}
	if _, err := ReadUint16(raw(1)); err == nil {
		t.Error("ReadUint16 read past the end")
	}
}

// TestStrictUTF8 covers the code points 1.5.4 says a sender SHOULD NOT send.
func TestStrictUTF8(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"\x01", "a\tb", "\x7F", "\u0085", "\uFDD0", "\uFFFE", "\U0001FFFF"} {
		if err := ValidateUTF8([]byte(s)); err != nil {
			t.Errorf("ValidateUTF8(%q) = %v; these are allowed", s, err)
		}
		if err := ValidateStrictUTF8([]byte(s)); err == nil {
			t.Errorf("ValidateStrictUTF8(%q) accepted", s)
		}
	}
	for _, s := range []string{"plain", "é€𝄞", "\uFEFF", " "} {
		if err := ValidateStrictUTF8([]byte(s)); err != nil {
			t.Errorf("ValidateStrictUTF8(%q) = %v", s, err)
		}
	}
	if err := ValidateStrictUTF8([]byte("\xC0\x80")); err == nil {
		t.Error("ValidateStrictUTF8 accepted overlong")
	}
}

// TestCountsCheckedAgainstBytesLeft feeds decoders lengths and counts far
// beyond the bytes present. They must fail as malformed at once; the work is
// bounded by the input, not by the claimed size.
func TestCountsCheckedAgainstBytesLeft(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		v    Version
		raw  []byte
	}{
		{"property length 268435455", V5, frame(0x30, str("a"), raw(0xFF, 0xFF, 0xFF, 0x7F))},
		{"topic length 65535", V311, frame(0x30, raw(0xFF, 0xFF))},
		{"user property key 65535", V5, frame(0x30, str("a"), raw(0x03, 0x26, 0xFF, 0xFF))},
		{"user property value missing", V5, frame(0x30, str("a"), raw(0x04, 0x26, 0x00, 0x00, 0x00))},
		{"connect client id 65535", V311, frame(0x10, str("MQTT"), raw(4, 2), u16(0), raw(0xFF, 0xFF))},
		{"connect protocol name 65535", V311, frame(0x10, raw(0xFF, 0xFF))},
		{"subscribe filter 65535", V5, frame(0x82, u16(1), props(), raw(0xFF, 0xFF))},
		{"unsubscribe filter 65535", V311, frame(0xA2, u16(1), raw(0xFF, 0xFF))},
		{"suback property length", V5, frame(0x90, u16(1), raw(0xFF, 0x7F))},
		{"remaining length 268435455", V5, raw(0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.raw, tc.v)
			wantReason(t, err, MalformedPacket, "")
		})
	}
}
