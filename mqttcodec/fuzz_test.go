package mqttcodec

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// Every decoder has a fuzz target, seeded from the vector table. Each input
// is checked for: no panic; errors are *ReasonError; allocation ≤ 4×len(x);
// a frame that decodes re-encodes, and decode(encode(decode(x))) is stable;
// and every truncation of a valid frame (remaining length rewritten to match)
// decodes or fails cleanly, which exercises every length and count read
// against the bytes left.

// decodeFunc is the shape the harness drives; CONNECT and PING wrappers adapt.
type decodeFunc[P any] func(frame []byte, v Version, p *P) error

func fuzzDecoder[P any, PP interface {
	*P
	Packet
}](f *testing.F, t PacketType, decode decodeFunc[P]) {
	for _, vec := range allVectors() {
		if len(vec.Raw) > 0 && PacketType(vec.Raw[0]>>4) == t {
			f.Add(uint8(vec.Version), vec.Raw)
		}
	}
	f.Fuzz(func(tt *testing.T, level uint8, frame []byte) {
		v := Version(level)
		p := new(P)
		var err error
		if n := minAllocBytes(func() { err = decode(frame, v, p) }); n > 4*len(frame) {
			tt.Fatalf("decode of %d bytes allocated %d", len(frame), n)
		}
		if err != nil {
			var re *ReasonError
			if !errors.As(err, &re) {
				tt.Fatalf("error %v is not a *ReasonError", err)
			}
			return
		}
		if t == TypeConnect {
			v = any(p).(*Connect).Version
		}
		checkStable(tt, frame, v, PP(p), decode)
		checkTruncations(tt, frame, v, decode)
	})
}

// checkStable re-encodes a decoded packet and decodes it again.
func checkStable[P any, PP interface {
	*P
	Packet
}](t *testing.T, frame []byte, v Version, p PP, decode decodeFunc[P]) {
	if n, err := FrameLen(frame, 0); err != nil || n != len(frame) {
		t.Fatalf("decoded a frame FrameLen rejects: %d, %v", n, err)
	}
	enc1, err := p.Append(nil, v)
	if err != nil {
		t.Fatalf("decoded packet does not encode: %v", err)
	}
	if len(enc1) != p.Size(v) {
		t.Fatalf("Size = %d, encoded %d", p.Size(v), len(enc1))
	}
	p2 := PP(new(P))
	if err := decode(enc1, v, (*P)(p2)); err != nil {
		t.Fatalf("re-encoded frame % x does not decode: %v", enc1, err)
	}
	if diff := cmp.Diff(p, p2, cmpOpts); diff != "" {
		t.Fatalf("decode(encode(decode(x))) differs:\n%s", diff)
	}
	if enc2, _ := p2.Append(nil, v); !bytes.Equal(enc1, enc2) {
		t.Fatalf("encoding unstable\n% x\n% x", enc1, enc2)
	}
}

// checkTruncations decodes every prefix of the body under a fixed header
// rewritten to match it.
func checkTruncations[P any](t *testing.T, frame []byte, v Version, decode decodeFunc[P]) {
	_, body, err := splitFrame(frame, PacketType(frame[0]>>4), v)
	if err != nil {
		t.Fatalf("valid frame does not split: %v", err)
	}
	const maxCuts = 256
	for cut := max(0, len(body)-maxCuts); cut < len(body); cut++ {
		short := appendVarInt([]byte{frame[0]}, uint32(cut))
		short = append(short, body[:cut]...)
		var re *ReasonError
		if err := decode(short, v, new(P)); err != nil && !errors.As(err, &re) {
			t.Fatalf("truncated to %d: error %v is not a *ReasonError", cut, err)
		}
	}
}

// minAllocBytes returns the fewest heap bytes fn allocated over three runs;
// the minimum screens out allocations by other goroutines of the test binary.
func minAllocBytes(fn func()) int {
	best := -1
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fn()
		runtime.ReadMemStats(&after)
		if n := int(after.TotalAlloc - before.TotalAlloc); best < 0 || n < best {
			best = n
		}
	}
	return best
}

func FuzzDecodeConnect(f *testing.F) {
	fuzzDecoder(f, TypeConnect, func(b []byte, _ Version, p *Connect) error { return DecodeConnect(b, p) })
}

func FuzzDecodeConnack(f *testing.F)     { fuzzDecoder(f, TypeConnack, DecodeConnack) }
func FuzzDecodePublish(f *testing.F)     { fuzzDecoder(f, TypePublish, DecodePublish) }
func FuzzDecodePuback(f *testing.F)      { fuzzDecoder(f, TypePuback, DecodePuback) }
func FuzzDecodePubrec(f *testing.F)      { fuzzDecoder(f, TypePubrec, DecodePubrec) }
func FuzzDecodePubrel(f *testing.F)      { fuzzDecoder(f, TypePubrel, DecodePubrel) }
func FuzzDecodePubcomp(f *testing.F)     { fuzzDecoder(f, TypePubcomp, DecodePubcomp) }
func FuzzDecodeSubscribe(f *testing.F)   { fuzzDecoder(f, TypeSubscribe, DecodeSubscribe) }
func FuzzDecodeSuback(f *testing.F)      { fuzzDecoder(f, TypeSuback, DecodeSuback) }
func FuzzDecodeUnsubscribe(f *testing.F) { fuzzDecoder(f, TypeUnsubscribe, DecodeUnsubscribe) }
func FuzzDecodeUnsuback(f *testing.F)    { fuzzDecoder(f, TypeUnsuback, DecodeUnsuback) }
func FuzzDecodeDisconnect(f *testing.F)  { fuzzDecoder(f, TypeDisconnect, DecodeDisconnect) }
func FuzzDecodeAuth(f *testing.F)        { fuzzDecoder(f, TypeAuth, DecodeAuth) }

func FuzzDecodePingreq(f *testing.F) {
	fuzzDecoder(f, TypePingreq, func(b []byte, v Version, _ *Pingreq) error { return DecodePingreq(b, v) })
}

func FuzzDecodePingresp(f *testing.F) {
	fuzzDecoder(f, TypePingresp, func(b []byte, v Version, _ *Pingresp) error { return DecodePingresp(b, v) })
}

// FuzzDecode drives the dispatcher with any packet type.
func FuzzDecode(f *testing.F) {
	for _, vec := range allVectors() {
		f.Add(uint8(vec.Version), vec.Raw)
	}
	f.Fuzz(func(t *testing.T, level uint8, frame []byte) {
		p, err := Decode(frame, Version(level))
		if err != nil {
			var re *ReasonError
			if !errors.As(err, &re) {
				t.Fatalf("error %v is not a *ReasonError", err)
			}
			return
		}
		v := Version(level)
		if c, ok := p.(*Connect); ok {
			v = c.Version
		}
		enc, err := p.Append(nil, v)
		if err != nil {
			t.Fatalf("decoded %v does not encode: %v", p.Type(), err)
		}
		if _, err := Decode(enc, v); err != nil {
			t.Fatalf("re-encoded %v does not decode: %v", p.Type(), err)
		}
		_ = p.LogValue().String()
	})
}

// refFrameLen is the obvious remaining-length reader, the oracle for FrameLen.
func refFrameLen(b []byte) (n int, complete, bad bool) {
	mult, rem := 1, 0
	for i := 1; i < len(b); i++ {
		if i == 5 {
			return 0, false, true
		}
		rem += int(b[i]&0x7F) * mult
		mult *= 128
		if b[i]&0x80 == 0 {
			if i > 1 && b[i] == 0 {
				return 0, false, true // not minimal
			}
			return 1 + i + rem, true, false
		}
	}
	return 0, false, len(b) >= 5
}

func FuzzFrameLen(f *testing.F) {
	for _, vec := range allVectors() {
		f.Add(vec.Raw, 0)
	}
	f.Add([]byte{0x30, 0xFF, 0xFF, 0xFF, 0x7F}, 1<<20)
	f.Add([]byte{0x30, 0x80, 0x80, 0x80, 0x80, 0x01}, 0)
	f.Fuzz(func(t *testing.T, b []byte, maxBytes int) {
		n, err := FrameLen(b, maxBytes)
		want, complete, bad := refFrameLen(b)
		switch {
		case bad:
			wantReason(t, err, MalformedPacket, "MQTT-1.5.5-1")
		case !complete:
			if n != 0 || err != nil {
				t.Fatalf("FrameLen(% x) = %d, %v; want more bytes", b, n, err)
			}
		case maxBytes > 0 && want > maxBytes:
			wantReason(t, err, PacketTooLarge, "")
		case n != want || err != nil:
			t.Fatalf("FrameLen(% x) = %d, %v; want %d", b, n, err, want)
		}
	})
}

func FuzzValidateUTF8(f *testing.F) {
	for _, s := range []string{"", "abc", "a\x00", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "€𝄞", "\xEF\xBB\xBF"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
		if got := ValidateUTF8(b) == nil; got != want {
			t.Fatalf("ValidateUTF8(% x) ok = %v, want %v", b, got, want)
		}
		if got := validateUTF8(string(b), V5) == nil; got != want {
			t.Fatalf("validateUTF8(string % x) ok = %v, want %v", b, got, want)
		}
	})
}
