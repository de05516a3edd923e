package mqttcodec

import "testing"

func TestPropertySectionRoundTrip(t *testing.T) {
	var p Properties
	p.SetPayloadFormat(1)
	p.SetContentType([]byte("text/plain"))
	p.SetResponseTopic([]byte("reply/to"))
	p.SetCorrelationData([]byte{1, 2, 3})
	if err := p.AddUserProperty([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := p.AddUserProperty([]byte("k"), []byte("w")); err != nil {
		t.Fatal(err)
	}
	b, err := AppendPropertySection([]byte{0xEE}, &p, TypePublish)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(b)-1, PropertySectionSize(&p); got != want {
		t.Fatalf("appended %d bytes, PropertySectionSize says %d", got, want)
	}
	var q Properties
	n, err := DecodePropertySection(append(b[1:], 0x77), TypePublish, &q)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(b)-1 {
		t.Fatalf("decoded %d bytes, want %d", n, len(b)-1)
	}
	if !p.Equal(q) {
		t.Fatalf("round trip changed the properties: %+v → %+v", p, q)
	}
}

func TestPropertySectionRejects(t *testing.T) {
	var p Properties
	p.SetSessionExpirySeconds(10)
	if _, err := AppendPropertySection(nil, &p, TypePublish); err == nil {
		t.Fatal("Session Expiry accepted in a PUBLISH property section")
	}
	// Length 5 but only 2 bytes follow.
	if _, err := DecodePropertySection([]byte{5, 0x01, 0x01}, TypePublish, &p); err == nil {
		t.Fatal("truncated section decoded")
	}
	// Session Expiry (0x11) is not allowed in PUBLISH.
	if _, err := DecodePropertySection([]byte{5, 0x11, 0, 0, 0, 1}, TypePublish, &p); err == nil {
		t.Fatal("Session Expiry decoded in a PUBLISH section")
	}
}
