package load

import (
	"bytes"
	"testing"
	"time"
)

func TestHeaderRoundTrip(t *testing.T) {
	t.Parallel()
	for _, h := range []header{
		{},
		{sent: 1500 * time.Millisecond, seq: 42, publisher: 7, run: 0xDEADBEEF},
		{sent: 1<<63 - 1, seq: 1<<64 - 1, publisher: 1<<32 - 1, run: 1},
	} {
		b := newPayload(HeaderBytes + 8)
		putHeader(b, h)
		got, ok := parseHeader(b)
		if !ok || got != h {
			t.Errorf("parseHeader(putHeader(%+v)) = %+v, %v", h, got, ok)
		}
		if !bytes.Equal(b[HeaderBytes:], bytes.Repeat([]byte{fillerByte}, 8)) {
			t.Errorf("putHeader wrote past the header: %q", b[HeaderBytes:])
		}
	}
}

// TestHeaderLayout pins the wire layout: big-endian send time, sequence,
// publisher and run, in that order.
func TestHeaderLayout(t *testing.T) {
	t.Parallel()
	b := make([]byte, HeaderBytes)
	putHeader(b, header{sent: 0x0102030405060708, seq: 0x1112131415161718, publisher: 0x21222324, run: 0x31323334})
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0x23, 0x24, 0x31, 0x32, 0x33, 0x34}
	if !bytes.Equal(b, want) {
		t.Errorf("header bytes = % x, want % x", b, want)
	}
}

func TestParseHeaderRejectsShortPayload(t *testing.T) {
	t.Parallel()
	if _, ok := parseHeader(make([]byte, HeaderBytes-1)); ok {
		t.Error("parseHeader accepted a payload shorter than the header")
	}
}

func TestRunTagAndID(t *testing.T) {
	t.Parallel()
	if runTag("abc") != runTag("abc") || runTag("abc") == runTag("abd") {
		t.Error("runTag is not a deterministic, discriminating hash of the run id")
	}
	for range 100 {
		if id := newRunID(); checkRunID(id) != nil || len(id) != maxRunIDBytes {
			t.Fatalf("newRunID() = %q, which checkRunID refuses", id)
		}
	}
}
