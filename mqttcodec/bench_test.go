package mqttcodec

import (
	"bytes"
	"testing"

	paho5 "github.com/eclipse/paho.golang/packets"
	paho3 "github.com/eclipse/paho.mqtt.golang/packets"
)

// Each benchmark runs our codec beside the same operation done with
// paho.golang/packets (5.0) or paho.mqtt.golang/packets (3.1.1), so the
// report can give ratios: go test -bench . -benchmem ./mqttcodec

type benchPublish struct {
	name string
	v    Version
	p    *Publish
}

func benchPublishes() []benchPublish {
	small, kib := []byte("0123456789abcdef"), bytes.Repeat([]byte{'x'}, 1024)
	mk := func(payload []byte, v Version) *Publish {
		p := &Publish{QoS: QoS1, PacketID: 1, Topic: []byte("sensors/building-7/floor-3/temperature"), Payload: payload}
		if v == V5 {
			p.Properties = publishProps
		}
		return p
	}
	return []benchPublish{
		{"v311/16B", V311, mk(small, V311)}, {"v311/1KiB", V311, mk(kib, V311)},
		{"v5-props/16B", V5, mk(small, V5)}, {"v5-props/1KiB", V5, mk(kib, V5)},
	}
}

func BenchmarkDecodePublish(b *testing.B) {
	for _, bp := range benchPublishes() {
		raw := encode(b, bp.p, bp.v)
		b.Run(bp.name+"/ours", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			var p Publish
			for b.Loop() {
				if err := DecodePublish(raw, bp.v, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bp.name+"/paho", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				benchPahoRead(b, raw, bp.v)
			}
		})
	}
}

func benchPahoRead(b *testing.B, raw []byte, v Version) {
	var err error
	if v == V5 {
		_, err = paho5.ReadPacket(bytes.NewReader(raw))
	} else {
		_, err = paho3.ReadPacket(bytes.NewReader(raw))
	}
	if err != nil {
		b.Fatal(err)
	}
}

func BenchmarkEncodePublish(b *testing.B) {
	for _, bp := range benchPublishes() {
		b.Run(bp.name+"/ours", func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4096)
			for b.Loop() {
				var err error
				if buf, err = bp.p.Append(buf[:0], bp.v); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(buf)))
		})
		b.Run(bp.name+"/paho", func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			buf.Grow(4096)
			for b.Loop() {
				buf.Reset()
				benchPahoWrite(b, &buf, bp.p, bp.v)
			}
			b.SetBytes(int64(buf.Len()))
		})
	}
}

func benchPahoWrite(b *testing.B, buf *bytes.Buffer, p Packet, v Version) {
	var err error
	if v == V5 {
		_, err = toPaho5(p).Content.WriteTo(buf)
	} else {
		err = toPaho3(p, v).Write(buf)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFanoutPublish delivers one message to 100 subscribers: ours
// encodes once and patches the packet identifier per copy; paho, which has no
// such path, re-encodes per subscriber.
func BenchmarkFanoutPublish(b *testing.B) {
	const subscribers = 100
	for _, bp := range benchPublishes() {
		b.Run(bp.name+"/ours", func(b *testing.B) {
			b.ReportAllocs()
			out := make([]byte, 0, subscribers*(bp.p.Size(bp.v)))
			tbuf := make([]byte, 0, 2048) // a pooled buffer in the broker
			for b.Loop() {
				tmpl, err := bp.p.AppendTemplate(tbuf[:0], bp.v)
				if err != nil {
					b.Fatal(err)
				}
				out = out[:0]
				for i := range subscribers {
					out = tmpl.AppendTo(out, uint16(i+1), false)
				}
			}
		})
		b.Run(bp.name+"/paho", func(b *testing.B) {
			b.ReportAllocs()
			var buf bytes.Buffer
			buf.Grow(subscribers * bp.p.Size(bp.v))
			for b.Loop() {
				buf.Reset()
				for i := range subscribers {
					bp.p.PacketID = uint16(i + 1)
					benchPahoWrite(b, &buf, bp.p, bp.v)
				}
			}
			bp.p.PacketID = 1
		})
	}
}

func benchDecode[P any](b *testing.B, name string, raw []byte, v Version, decode func([]byte, Version, *P) error) {
	b.Run(name+"/ours", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		p := new(P)
		for b.Loop() {
			if err := decode(raw, v, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(name+"/paho", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			benchPahoRead(b, raw, v)
		}
	})
}

func BenchmarkDecodeConnect(b *testing.B) {
	decode := func(raw []byte, _ Version, p *Connect) error { return DecodeConnect(raw, p) }
	benchDecode(b, "v311", connectVectors[2].Raw, V311, decode)
	benchDecode(b, "v5", frame(0x10, str("MQTT"), raw(5, 0xC2), u16(60),
		props(prop(PropSessionExpiry, u32(3600)), prop(PropReceiveMaximum, u16(20)),
			prop(PropMaximumPacketSize, u32(1<<20)), user("a", "b")),
		str("device-0001"), str("user"), str("password")), V5, decode)
}

// BenchmarkDecodeSubscribe decodes and walks every subscription, as the
// broker does (paho materialises them while decoding).
func BenchmarkDecodeSubscribe(b *testing.B) {
	decode := func(raw []byte, v Version, p *Subscribe) error {
		if err := DecodeSubscribe(raw, v, p); err != nil {
			return err
		}
		for s := range p.Subscriptions() {
			if len(s.Filter) == 0 {
				return errFilterEmpty.v5
			}
		}
		return nil
	}
	benchDecode(b, "v311", subscribeVectors[0].Raw, V311, decode)
	benchDecode(b, "v5", subscribeVectors[1].Raw, V5, decode)
}
