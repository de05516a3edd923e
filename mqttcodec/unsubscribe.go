package mqttcodec

import (
	"iter"
	"log/slog"
)

// UNSUBSCRIBE [MQTT-3.10]:
//
//	+------+-----------+----------------+------------+---------------+
//	| 0xA2 | remaining | packet id (2B) | properties | filter ...    |
//	+------+-----------+----------------+------------+---------------+
//	                                      5.0 only

// Unsubscribe is an UNSUBSCRIBE packet. Its filters are kept in wire form, a
// view into the frame after DecodeUnsubscribe; read them with Filters.
type Unsubscribe struct {
	PacketID   uint16
	Properties Properties // 5.0 only

	entries []byte // length-prefixed filters as on the wire
	count   int
}

// Type returns TypeUnsubscribe.
func (p *Unsubscribe) Type() PacketType { return TypeUnsubscribe }

func (p *Unsubscribe) props() *Properties { return &p.Properties }

func (p *Unsubscribe) decode(frame []byte, v Version) error { return DecodeUnsubscribe(frame, v, p) }

// Len returns the number of filters.
func (p *Unsubscribe) Len() int { return p.count }

// Filters yields the topic filters in packet order. They alias the frame.
func (p *Unsubscribe) Filters() iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for b := p.entries; len(b) >= 2; {
			l := int(b[0])<<8 | int(b[1])
			if len(b) < 2+l || !yield(b[2:2+l:2+l]) {
				return
			}
			b = b[2+l:]
		}
	}
}

// Add appends a topic filter after checking it. The filter is copied.
func (p *Unsubscribe) Add(filter []byte) error {
	if err := validateTopicFilter(filter, V5); err != nil {
		return err
	}
	p.entries = appendString(p.entries, filter)
	p.count++
	return nil
}

// DecodeUnsubscribe decodes an UNSUBSCRIBE frame into p, overwriting every
// field. It allocates nothing. It enforces the fixed-header flags
// [MQTT-3.10.1-1], a non-zero packet identifier, at least one filter
// [MQTT-3.10.3-2] and valid topic filters [MQTT-3.10.3-1].
func DecodeUnsubscribe(frame []byte, v Version, p *Unsubscribe) error {
	if !v.Valid() {
		return errVersion
	}
	_, body, err := parseFrame(frame, TypeUnsubscribe, v)
	if err != nil {
		return err
	}
	p.entries, p.count = nil, 0
	r := reader{b: body}
	if p.PacketID, err = readPacketID(&r, v); err != nil {
		return err
	}
	if v == V5 {
		if err := decodeProperties(&r, &p.Properties, TypeUnsubscribe, v); err != nil {
			return err
		}
	} else {
		p.Properties.Reset()
	}
	entries := r.rest()
	if len(entries) == 0 {
		return errUnsubscribeEmpty.of(v)
	}
	for r = (reader{b: entries}); r.left() > 0; p.count++ {
		filter, ok := r.binary()
		if !ok {
			return errTruncated.of(v)
		}
		if err := validateTopicFilter(filter, v); err != nil {
			return err
		}
		if v == V5 && hasSharePrefix(filter) {
			if _, _, _, err := ParseShared(filter); err != nil {
				return err
			}
		}
	}
	p.entries = entries
	return nil
}

// Size returns the encoded length of p for version v.
func (p *Unsubscribe) Size(v Version) int { return frameSize(p.remaining(v)) }

func (p *Unsubscribe) remaining(v Version) int {
	n := 2 + len(p.entries)
	if v == V5 {
		n += p.Properties.encodedLen()
	}
	return n
}

// Append appends p encoded for version v.
func (p *Unsubscribe) Append(dst []byte, v Version) ([]byte, error) {
	switch {
	case !v.Valid():
		return dst, errVersion
	case p.PacketID == 0:
		return dst, errPacketIDZero.of(v)
	case p.count == 0:
		return dst, errUnsubscribeEmpty.of(v)
	}
	if v == V5 {
		if err := p.Properties.check(TypeUnsubscribe); err != nil {
			return dst, err
		}
	}
	rem := p.remaining(v)
	if err := checkRemaining(rem); err != nil {
		return dst, err
	}
	dst = AppendUint16(appendHeader(dst, TypeUnsubscribe, 0x02, rem), p.PacketID)
	if v == V5 {
		dst = p.Properties.appendTo(dst)
	}
	return append(dst, p.entries...), nil
}

// LogValue returns a summary of the packet.
func (p *Unsubscribe) LogValue() slog.Value {
	return logGroup(TypeUnsubscribe, slog.Int("packet_id", int(p.PacketID)), slog.Int("filters", p.count))
}
