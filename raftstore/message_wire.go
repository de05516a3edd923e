package raftstore

import (
	"encoding/binary"
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

// A QoS 0 message routed to another node, with the sessions there it is
// for (cluster's peer.KindDeliver body). It lives here, beside the
// message encoding, so it is read with the same bounded decoder:
//
//	version (1) | node (string) | message (bytes) | route count (uvarint) | routes
//	route: client id (string) | generation (uvarint) | flags (1, bit 0
//	       retain as published) | subscription id count (uvarint) | ids (uvarint each)
//
// Strings and bytes are uvarint-length-prefixed; node is the receiver's
// node id.
const (
	routedVersion = 1
	routedRAP     = 1 << 0 // retain as published
	// minRouteBytes is the smallest route (a 1-byte client id).
	minRouteBytes = 5
	// maxRouteSubIDs bounds the subscription ids of one route: one per
	// overlapping subscription of a session, far below this.
	maxRouteSubIDs = 1 << 16
)

// AppendRoutedMessage appends the routed form of a message already encoded
// by AppendMessage (msg), for node, naming routes.
func AppendRoutedMessage(dst []byte, node string, msg []byte, routes []Route) []byte {
	dst = append(dst, routedVersion)
	dst = appendUvBytes(dst, []byte(node))
	dst = appendUvBytes(dst, msg)
	dst = binary.AppendUvarint(dst, uint64(len(routes)))
	for i := range routes {
		rt := &routes[i]
		dst = appendUvBytes(dst, []byte(rt.ClientID))
		dst = binary.AppendUvarint(dst, rt.Generation)
		var flags byte
		if rt.RetainAsPublished {
			flags |= routedRAP
		}
		dst = append(dst, flags)
		dst = binary.AppendUvarint(dst, uint64(len(rt.SubscriptionIDs)))
		for _, id := range rt.SubscriptionIDs {
			dst = binary.AppendUvarint(dst, uint64(id))
		}
	}
	return dst
}

func appendUvBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// ParseRoutedMessage decodes what AppendRoutedMessage wrote, every count
// and length checked against the bytes left. The routes come back as
// connected routes of node. Nothing it returns aliases b.
func ParseRoutedMessage(b []byte) (node string, m Message, routes []Route, err error) {
	d := decoder{b: b}
	if v := d.u8("version"); d.err == nil && v != routedVersion {
		d.fail(fmt.Sprintf("routed message version %d unknown", v))
	}
	node = d.str("node", maxNodeIDBytes)
	raw := d.bytes("message", len(b))
	n := d.count("route count", minRouteBytes)
	if d.err == nil {
		routes = make([]Route, 0, n)
	}
	for range n {
		rt := Route{Node: node, Connected: true}
		rt.ClientID = d.str("client id", maxStringBytes)
		rt.Generation = d.uvarint("generation")
		rt.RetainAsPublished = d.flag("route flags", routedRAP)&routedRAP != 0
		ids := d.count("subscription id count", 1)
		if ids > maxRouteSubIDs {
			d.fail("too many subscription ids")
		}
		if d.err != nil {
			break
		}
		if ids > 0 {
			rt.SubscriptionIDs = make([]uint32, ids)
			for k := range rt.SubscriptionIDs {
				v := d.uvarint("subscription id")
				if v > 1<<32-1 {
					d.fail("subscription id out of range")
				}
				rt.SubscriptionIDs[k] = uint32(v)
			}
		}
		if rt.ClientID == "" {
			d.fail("empty client id")
		}
		routes = append(routes, rt)
	}
	if err := d.done(); err != nil {
		return "", Message{}, nil, fmt.Errorf("raftstore: parse routed message: %w", err)
	}
	if m, err = ParseMessage(raw); err != nil {
		return "", Message{}, nil, err
	}
	return node, m, routes, nil
}
