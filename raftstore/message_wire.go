package raftstore

import (
	"fmt"
)

// The message encoding for other packages: cluster routes QoS 0 messages
// between nodes with it. It is the encoding commands and Pebble records
// use (mqtt_codec.go), so there is one message layout to keep compatible:
//
//	topic (string) | qos (1) | flags (1, bit 0 retain) | expires at ms (i64) |
//	publisher (string) | properties (bytes) | payload (bytes)

// AppendMessage appends m's encoding to dst.
func AppendMessage(dst []byte, m *Message) []byte {
	return appendMessage(dst, m)
}

// ParseMessage decodes exactly one message that AppendMessage wrote, with
// every length checked against the bytes left and the topic and QoS
// validated. The message does not alias b: its byte fields share one copy
// of b, made once, so b may be reused as soon as ParseMessage returns.
func ParseMessage(b []byte) (Message, error) {
	// One allocation for both byte fields (properties, payload) instead
	// of one each; the strings are copied by the decoder anyway.
	d := decoder{b: append(make([]byte, 0, len(b)), b...)}
	m := d.message()
	if err := d.done(); err != nil {
		return Message{}, fmt.Errorf("raftstore: parse message: %w", err)
	}
	return m, nil
}
