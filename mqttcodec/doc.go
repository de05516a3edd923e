// Package mqttcodec encodes and decodes MQTT 3.1 (protocol level 3, "MQIsdp"),
// 3.1.1 (level 4) and 5.0 (level 5) control packets from byte slices.
//
// # What it owns
//
// Framing (FrameLen), every control packet type of both protocol generations
// (one file each), MQTT 5 properties (properties.go), reason codes and the
// 3.1.1 CONNACK return codes (reasoncode.go), topic name and filter rules,
// matching and shared-subscription parsing (topic.go), and the PUBLISH
// fan-out template (fanout.go). It imports only the standard library and knows
// nothing of sockets, sessions or storage; it never logs.
//
// # Decoding
//
// A frame is one complete control packet, fixed header included, as delimited
// by FrameLen:
//
//	+--------+------------------+-----------------------------+
//	| type|f | remaining (1-4B) | variable header and payload |
//	+--------+------------------+-----------------------------+
//
// FrameLen needs only the first two to five bytes and rejects an over-size or
// malformed length before the caller allocates the frame's buffer.
// DecodeX(frame, version, &x) fills a caller-owned struct, so reusing it
// makes decoding allocation-free (DecodePublish, DecodeSubscribe and the
// acknowledgements never allocate); Decode is a convenience that allocates
// the struct. CONNECT carries its own version, so DecodeConnect takes none.
//
// Decoders perform no I/O, never panic on any input, and do work linear in
// the frame's length: every length and count read from the wire is checked
// against the bytes left before it is used. They enforce what the
// specifications make the receiver enforce and return a *ReasonError naming
// the reason code to send (MalformedPacket, ProtocolError, …) and the
// violated conformance statement. errors.Is(err, ErrMalformed) and
// errors.Is(err, ErrProtocol) classify it. After an error the struct's
// contents are unspecified, except Connect.Version (see DecodeConnect).
//
// # Buffer ownership
//
// Every []byte a decoder returns — topic, payload, client identifier,
// properties, filters — is a view into the frame, capped to its length
// (b[:n:n]), not a copy. It is valid only while the frame's buffer is: a
// caller that returns the buffer to a pool must first copy what outlives it
// (Properties.Clone copies properties in one allocation). Appending to a
// view never writes into the frame. Repeated elements (User Properties,
// Subscription Identifiers, SUBSCRIBE and UNSUBSCRIBE filters) are kept in
// wire form and read through iterators, which allocate nothing.
//
// # Encoding
//
// X.Append(dst, version) appends the frame to dst and allocates only when dst
// lacks capacity; X.Size(version) returns its length first, so a broker can
// honour a client's Maximum Packet Size: AppendPacket refuses a packet that
// is too large [MQTT-3.1.2-24] and Fit drops the properties a sender may omit.
// Encoders check what would make the packet invalid (QoS, packet identifier,
// property placement, lengths) and fail with a *ReasonError rather than emit
// it. For fan-out, Publish.AppendTemplate encodes a PUBLISH once per variant
// and PublishTemplate.AppendTo copies it per subscriber with the packet
// identifier and DUP flag patched, without re-encoding and without
// allocating.
//
// # Versions
//
// Packet structs hold the union of the versions' fields; fields marked
// "5.0 only" are ignored when encoding 3.x and zero after decoding 3.x.
// Reason codes are 5.0's: a 3.x CONNACK return code is translated to and from
// the 5.0 code (ConnackReturnCodeFor), and a 3.x SUBACK failure is 0x80.
//
// # Concurrency
//
// Functions are safe for concurrent use on distinct values. A decoded struct,
// a Properties or a PublishTemplate whose frame is patched in place must not
// be used by two goroutines at once; PublishTemplate.AppendTo only reads the
// shared frame and may run concurrently.
package mqttcodec
