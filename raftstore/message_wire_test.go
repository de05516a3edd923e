package raftstore

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var wireMessages = []Message{
	{Topic: "a/b", QoS: 0, Payload: []byte("hello")},
	{Topic: "t", QoS: 2, Retain: true, ExpiresAtMillis: 1_700_000_000_000, PublisherID: "dev-1",
		Properties: []byte{0x03, 0x01, 0x01, 0x00}, Payload: []byte{0, 1, 2}},
	{Topic: "empty/payload", QoS: 1},
}

func TestMessageWireRoundTrip(t *testing.T) {
	for _, m := range wireMessages {
		b := AppendMessage([]byte("prefix"), &m)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatal("AppendMessage did not append")
		}
		enc := b[len("prefix"):]
		got, err := ParseMessage(enc)
		if err != nil {
			t.Fatalf("parse %q: %v", m.Topic, err)
		}
		want := m
		if len(want.Payload) == 0 {
			want.Payload = got.Payload // nil and empty are the same payload
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("round trip of %q (-want +got):\n%s", m.Topic, diff)
		}
		// The parsed message owns its bytes: scribbling over the input
		// changes nothing.
		for i := range enc {
			enc[i] = 0xEE
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("message aliases its input (-want +got):\n%s", diff)
		}
	}
}

func TestParseMessageRejects(t *testing.T) {
	good := AppendMessage(nil, &wireMessages[1])
	cases := map[string][]byte{
		"empty":          nil,
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(append([]byte(nil), good...), 0),
		"huge length":    {0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 'a'},
		"bad qos":        AppendMessage(nil, &Message{Topic: "t", QoS: 3}),
		"wildcard topic": AppendMessage(nil, &Message{Topic: "a/+", QoS: 0}),
		"unknown flags":  func() []byte { b := AppendMessage(nil, &Message{Topic: "t"}); b[3] = 0x80; return b }(),
	}
	for name, b := range cases {
		if _, err := ParseMessage(b); !errors.Is(err, errMalformedPayload) {
			t.Errorf("%s: err = %v, want a malformed-payload error", name, err)
		}
	}
}

// FuzzParseMessage: no input panics, work and memory stay linear in the
// input, and decode(encode(decode(x))) is decode(x). (Re-encoding need not
// give x back: a uvarint may be written in more bytes than it needs.)
func FuzzParseMessage(f *testing.F) {
	for _, m := range wireMessages {
		f.Add(AppendMessage(nil, &m))
	}
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		again, err := ParseMessage(AppendMessage(nil, &m))
		if err != nil {
			t.Fatalf("a parsed message does not parse once re-encoded: %v", err)
		}
		if diff := cmp.Diff(m, again); diff != "" {
			t.Fatalf("decode(encode(decode(x))) differs (-first +second):\n%s", diff)
		}
		if len(m.Payload)+len(m.Properties) > len(b) {
			t.Fatalf("parsed %d bytes of fields from %d bytes of input", len(m.Payload)+len(m.Properties), len(b))
		}
	})
}
