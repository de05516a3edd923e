package mqttcodec

import (
	"testing"
)

func TestFanoutPatchesIDAndDup(t *testing.T) {
	t.Parallel()
	for _, v := range []Version{V311, V5} {
		p := &Publish{QoS: QoS1, Retain: true, Topic: []byte("a/b"), Payload: []byte("payload")}
		if v == V5 {
			p.Properties = publishProps
		}
		tmpl, err := p.AppendTemplate([]byte("prefix"), v)
		if err != nil {
			t.Fatal(err)
		}
		if off, err := PublishPacketIDOffset(tmpl.Frame()); err != nil || off != tmpl.PacketIDOffset() {
			t.Fatalf("PublishPacketIDOffset = %d, %v; template says %d", off, err, tmpl.PacketIDOffset())
		}
		for _, tc := range []struct {
			id  uint16
			dup bool
		}{{1, false}, {0xFFFF, true}, {300, false}} {
			out := tmpl.AppendTo([]byte{0xAA}, tc.id, tc.dup)
			var got Publish
			if err := DecodePublish(out[1:], v, &got); err != nil {
				t.Fatal(err)
			}
			want := *p
			want.PacketID, want.Dup = tc.id, tc.dup
			if got.PacketID != tc.id || got.Dup != tc.dup || !got.Retain || string(got.Payload) != "payload" ||
				!got.Properties.Equal(want.Properties) {
				t.Fatalf("%v: decoded %+v", v, got)
			}
			// The patched frame is exactly what a fresh encode writes.
			if fresh := encode(t, &want, v); string(fresh) != string(out[1:]) {
				t.Fatalf("%v: patched % x\nfresh % x", v, out[1:], fresh)
			}
		}
	}
}

func TestFanoutInPlace(t *testing.T) {
	t.Parallel()
	p := &Publish{QoS: QoS2, Topic: []byte("t"), Payload: []byte("x")}
	tmpl, err := p.AppendTemplate(nil, V311)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SetPacketID(77)
	tmpl.SetDup(true)
	tmpl.SetRetain(true)
	var got Publish
	if err := DecodePublish(tmpl.Frame(), V311, &got); err != nil {
		t.Fatal(err)
	}
	if got.PacketID != 77 || !got.Dup || !got.Retain {
		t.Fatalf("in-place patch: %+v", got)
	}
	tmpl.SetDup(false)
	tmpl.SetRetain(false)
	if err := DecodePublish(tmpl.Frame(), V311, &got); err != nil || got.Dup || got.Retain || got.PacketID != 77 {
		t.Fatalf("clearing flags: %+v, %v", got, err)
	}
}

// TestFanout_MQTT_3_3_1_2: a QoS 0 template has no packet identifier and
// never gets DUP.
func TestFanout_MQTT_3_3_1_2(t *testing.T) {
	t.Parallel()
	p := &Publish{Topic: []byte("t"), Payload: []byte("x")}
	tmpl, err := p.AppendTemplate(nil, V5)
	if err != nil {
		t.Fatal(err)
	}
	if tmpl.PacketIDOffset() != 0 {
		t.Fatalf("QoS 0 offset = %d", tmpl.PacketIDOffset())
	}
	out := tmpl.AppendTo(nil, 5, true)
	tmpl.SetDup(true)
	tmpl.SetPacketID(9)
	if string(out) != string(tmpl.Frame()) || string(out) != string(encode(t, p, V5)) {
		t.Fatal("QoS 0 frame was patched")
	}
}

func TestTemplateOf(t *testing.T) {
	t.Parallel()
	stored := encode(t, &Publish{QoS: QoS1, PacketID: 10, Topic: []byte("q"), Payload: []byte("m")}, V311)
	tmpl, err := TemplateOf(stored)
	if err != nil {
		t.Fatal(err)
	}
	var got Publish
	if err := DecodePublish(tmpl.AppendTo(nil, 11, true), V311, &got); err != nil || got.PacketID != 11 || !got.Dup {
		t.Fatalf("resend: %+v, %v", got, err)
	}
	for _, bad := range [][]byte{nil, frame(0x40, u16(1)), frame(0x36, str("a"), u16(1)), frame(0x32, str("a")), raw(0x32, 0x09, 0, 1)} {
		if _, err := TemplateOf(bad); err == nil {
			t.Errorf("TemplateOf(% x) accepted", bad)
		}
	}
}

func TestTemplateRefusesInvalid(t *testing.T) {
	t.Parallel()
	_, err := (&Publish{QoS: 3, Topic: []byte("t")}).AppendTemplate(nil, V5)
	wantReason(t, err, MalformedPacket, "MQTT-3.3.1-4")
	_, err = (&Publish{Topic: nil}).AppendTemplate(nil, V311)
	wantReason(t, err, MalformedPacket, "MQTT-4.7.3-1")
}
