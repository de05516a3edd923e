package mqtt

import (
	"net"
	"testing"

	"tributary/mqttcodec"
)

// FuzzConnectionInput sends random bytes after a valid CONNECT and checks
// that the server neither crashes nor hangs on them — the connection ends
// once the client stops sending — and that another client connected all
// along is still served. The first byte picks the protocol version.
func FuzzConnectionInput(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	st := newStack(f, stackOptions{config: func(c *Config) { c.MaxPacketBytes = 64 << 10 }})
	control, _ := st.rawConnect("control", mqttcodec.V5, nil)
	versions := []mqttcodec.Version{mqttcodec.V31, mqttcodec.V311, mqttcodec.V5}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		v := versions[int(data[0])%len(versions)]
		r := dialRaw(t, st.addr(), v)
		r.send(&mqttcodec.Connect{ClientID: []byte("fuzz"), CleanStart: true, KeepAliveSeconds: 60})
		_, _ = r.nc.Write(data[1:]) // the server may have closed already
		if tc, ok := r.nc.(*net.TCPConn); ok {
			_ = tc.CloseWrite() // the server reads EOF after the data
		}
		drain(t, r)
		control.t = t
		control.send(&mqttcodec.Pingreq{})
		expect[*mqttcodec.Pingresp](control)
	})
}

// drain reads until the server closes the connection; it fails only if
// the server keeps it open for waitFor.
func drain(t *testing.T, r *rawClient) {
	t.Helper()
	buf := make([]byte, 64<<10)
	for {
		if _, err := r.nc.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open %v after its input ended", waitFor)
			}
			return
		}
	}
}

// fuzzSeeds are inputs worth mutating: well-formed packets of every type a
// client sends, and the malformed cases of the other tests.
func fuzzSeeds(tb testing.TB) [][]byte {
	enc := func(p mqttcodec.Packet, v mqttcodec.Version) []byte {
		b, err := p.Append(nil, v)
		if err != nil {
			tb.Fatalf("seed %s: %v", p.Type(), err)
		}
		return b
	}
	sub := &mqttcodec.Subscribe{PacketID: 1}
	if err := sub.Add(mqttcodec.Subscription{Filter: []byte("a/#"), QoS: mqttcodec.QoS2}); err != nil {
		tb.Fatal(err)
	}
	unsub := &mqttcodec.Unsubscribe{PacketID: 2}
	if err := unsub.Add([]byte("a/#")); err != nil {
		tb.Fatal(err)
	}
	aliased := rawPublish("a/b", mqttcodec.QoS1, 3, "x")
	aliased.Properties.SetTopicAlias(1)
	var seeds [][]byte
	for _, v := range []mqttcodec.Version{mqttcodec.V311, mqttcodec.V5} {
		var all []byte
		for _, p := range []mqttcodec.Packet{
			sub, rawPublish("a/b", mqttcodec.QoS0, 0, "zero"), rawPublish("a/b", mqttcodec.QoS2, 4, "two"),
			&mqttcodec.Pubrel{PacketID: 4}, &mqttcodec.Puback{PacketID: 9}, &mqttcodec.Pubrec{PacketID: 9},
			&mqttcodec.Pubcomp{PacketID: 9}, &mqttcodec.Pingreq{}, unsub, &mqttcodec.Disconnect{},
		} {
			b := enc(p, v)
			seeds = append(seeds, append([]byte{byte(v) - 3}, b...))
			all = append(all, b...)
		}
		seeds = append(seeds, append([]byte{byte(v) - 3}, all...))
	}
	seeds = append(seeds,
		append([]byte{2}, enc(aliased, mqttcodec.V5)...),
		[]byte{2, 0x36, 0x05, 0, 1, 't', 0, 1},
		[]byte{2, 0x30, 0xff, 0xff, 0xff, 0xff, 0x7f},
		[]byte{1, 0x82, 0xff, 0xff, 0x03},
		[]byte{2, 0xf0, 0x02, 0x19, 0x00},
		[]byte{0, 0x10, 0x05, 0, 4, 'M', 'Q'},
	)
	return seeds
}
