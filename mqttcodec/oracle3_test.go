package mqttcodec

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/google/go-cmp/cmp"
)

// Differential tests against github.com/eclipse/paho.mqtt.golang/packets, an
// independent MQTT 3.1/3.1.1 implementation. It decodes 3.1.1 faithfully for
// what the generator produces; its one defect that matters here is that it
// does not validate (reserved flags, QoS 3, zero packet identifiers are all
// accepted), so it serves only on valid packets.

func oracle3Encode(t testing.TB, cp packets.ControlPacket) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := cp.Write(&buf); err != nil {
		t.Fatalf("paho Write: %v", err)
	}
	return buf.Bytes()
}

func oracle3Decode(b []byte) (packets.ControlPacket, error) {
	return packets.ReadPacket(bytes.NewReader(b))
}

// toPaho3 converts one of our packets to the oracle's.
func toPaho3(p Packet, v Version) packets.ControlPacket {
	cp := packets.NewControlPacket(byte(p.Type()))
	switch p := p.(type) {
	case *Connect:
		c := cp.(*packets.ConnectPacket)
		c.ProtocolName, c.ProtocolVersion = protocolName, byte(v)
		if v == V31 {
			c.ProtocolName = protocolNameV3
		}
		c.CleanSession, c.Keepalive, c.ClientIdentifier = p.CleanStart, p.KeepAliveSeconds, string(p.ClientID)
		c.WillFlag, c.WillQos, c.WillRetain = p.HasWill, byte(p.WillQoS), p.WillRetain
		c.WillTopic, c.WillMessage = string(p.WillTopic), p.WillPayload
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = p.HasUsername, string(p.Username), p.HasPassword, p.Password
	case *Connack:
		rc, _ := ConnackReturnCodeFor(p.ReasonCode)
		c := cp.(*packets.ConnackPacket)
		c.SessionPresent, c.ReturnCode = p.SessionPresent, byte(rc)
	case *Publish:
		c := cp.(*packets.PublishPacket)
		c.Dup, c.Qos, c.Retain = p.Dup, byte(p.QoS), p.Retain
		c.TopicName, c.MessageID, c.Payload = string(p.Topic), p.PacketID, p.Payload
	case *Puback:
		cp.(*packets.PubackPacket).MessageID = p.PacketID
	case *Pubrec:
		cp.(*packets.PubrecPacket).MessageID = p.PacketID
	case *Pubrel:
		cp.(*packets.PubrelPacket).MessageID = p.PacketID
	case *Pubcomp:
		cp.(*packets.PubcompPacket).MessageID = p.PacketID
	case *Subscribe:
		c := cp.(*packets.SubscribePacket)
		c.MessageID = p.PacketID
		for s := range p.Subscriptions() {
			c.Topics, c.Qoss = append(c.Topics, string(s.Filter)), append(c.Qoss, byte(s.QoS))
		}
	case *Suback:
		c := cp.(*packets.SubackPacket)
		c.MessageID, c.ReturnCodes = p.PacketID, codeBytes(p.ReasonCodes)
	case *Unsubscribe:
		c := cp.(*packets.UnsubscribePacket)
		c.MessageID = p.PacketID
		for f := range p.Filters() {
			c.Topics = append(c.Topics, string(f))
		}
	case *Unsuback:
		cp.(*packets.UnsubackPacket).MessageID = p.PacketID
	}
	return cp
}

// fromPaho3 converts an oracle packet to ours.
func fromPaho3(cp packets.ControlPacket) Packet {
	switch c := cp.(type) {
	case *packets.ConnectPacket:
		p := &Connect{Version: Version(c.ProtocolVersion), CleanStart: c.CleanSession, KeepAliveSeconds: c.Keepalive,
			ClientID: []byte(c.ClientIdentifier), HasWill: c.WillFlag, HasUsername: c.UsernameFlag, HasPassword: c.PasswordFlag}
		if c.WillFlag {
			p.WillQoS, p.WillRetain, p.WillTopic, p.WillPayload = QoS(c.WillQos), c.WillRetain, []byte(c.WillTopic), c.WillMessage
		}
		if c.UsernameFlag {
			p.Username = []byte(c.Username)
		}
		if c.PasswordFlag {
			p.Password = c.Password
		}
		return p
	case *packets.ConnackPacket:
		rc, _ := ConnackReturnCode(c.ReturnCode).ReasonCode()
		return &Connack{SessionPresent: c.SessionPresent, ReasonCode: rc}
	case *packets.PublishPacket:
		return &Publish{Dup: c.Dup, QoS: QoS(c.Qos), Retain: c.Retain, Topic: []byte(c.TopicName), PacketID: c.MessageID, Payload: c.Payload}
	case *packets.PubackPacket:
		return &Puback{PacketID: c.MessageID}
	case *packets.PubrecPacket:
		return &Pubrec{PacketID: c.MessageID}
	case *packets.PubrelPacket:
		return &Pubrel{PacketID: c.MessageID}
	case *packets.PubcompPacket:
		return &Pubcomp{PacketID: c.MessageID}
	case *packets.SubscribePacket:
		p := &Subscribe{PacketID: c.MessageID}
		for i, f := range c.Topics {
			must(p.Add(Subscription{Filter: []byte(f), QoS: QoS(c.Qoss[i])}))
		}
		return p
	case *packets.SubackPacket:
		return &Suback{PacketID: c.MessageID, ReasonCodes: codesOf(c.ReturnCodes)}
	case *packets.UnsubscribePacket:
		p := &Unsubscribe{PacketID: c.MessageID}
		for _, f := range c.Topics {
			must(p.Add([]byte(f)))
		}
		return p
	case *packets.UnsubackPacket:
		return &Unsuback{PacketID: c.MessageID}
	case *packets.PingreqPacket:
		return &Pingreq{}
	case *packets.PingrespPacket:
		return &Pingresp{}
	case *packets.DisconnectPacket:
		return &Disconnect{}
	}
	panic(fmt.Sprintf("unknown paho packet %T", cp))
}

// differential3 checks p both ways against the 3.1.1 oracle: our bytes must be
// the oracle's bytes, and each side must decode the other's.
func differential3(t *testing.T, p Packet, v Version) {
	t.Helper()
	ours := encode(t, p, v)
	theirs := oracle3Encode(t, toPaho3(p, v))
	if !bytes.Equal(ours, theirs) {
		t.Fatalf("encodings differ\n ours % x\npaho % x", ours, theirs)
	}
	cp, err := oracle3Decode(ours)
	if err != nil {
		t.Fatalf("paho cannot decode ours % x: %v", ours, err)
	}
	if diff := cmp.Diff(p, fromPaho3(cp), cmpOpts); diff != "" {
		t.Fatalf("ours→paho mismatch (-ours +paho):\n%s", diff)
	}
	got, err := Decode(theirs, v)
	if err != nil {
		t.Fatalf("we cannot decode paho's % x: %v", theirs, err)
	}
	if diff := cmp.Diff(p, got, cmpOpts); diff != "" {
		t.Fatalf("paho→ours mismatch (-want +got):\n%s", diff)
	}
}

func TestOracle3Vectors(t *testing.T) {
	t.Parallel()
	for _, vec := range allVectors() {
		if vec.Version == V5 || vec.Want == nil {
			continue
		}
		t.Run(vec.Name, func(t *testing.T) { differential3(t, vec.Want, vec.Version) })
	}
}

func TestOracle3Random(t *testing.T) {
	t.Parallel()
	g := newGen(3)
	for i := 0; i < 400; i++ {
		for _, v := range []Version{V311, V31} {
			for _, p := range g.packets(v) {
				t.Run(fmt.Sprintf("%d/%v/%v", i, v, p.Type()), func(t *testing.T) { differential3(t, p, v) })
			}
		}
	}
}

// TestOracle3AcceptsWhatWeReject records the oracle's leniency that keeps it
// out of the invalid-input tests: it decodes frames the specification makes
// malformed.
func TestOracle3AcceptsWhatWeReject(t *testing.T) {
	t.Parallel()
	for _, raw := range [][]byte{
		frame(0x36, str("a"), u16(1)), // QoS 3 [MQTT-3.3.1-4]
		frame(0x32, str("a"), u16(0)), // packet identifier 0 [MQTT-2.3.1-1]
	} {
		if _, err := oracle3Decode(raw); err != nil {
			t.Errorf("paho now rejects % x (%v): it could serve for invalid input", raw, err)
		}
		if _, err := Decode(raw, V311); err == nil {
			t.Errorf("we accept % x", raw)
		}
	}
}
