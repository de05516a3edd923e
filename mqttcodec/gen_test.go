package mqttcodec

import (
	"math/rand/v2"
	"strings"
)

// gen builds random valid packets from a fixed seed, for the differential
// tests and the benchmarks. The same seed gives the same packets.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) *gen { return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))} }

func (g *gen) chance(n int) bool { return g.r.IntN(n) == 0 }

var genRunes = []rune("abcxyz019-_ .éü€𝄞\t")

// text returns a non-empty valid UTF-8 string without U+0000 or wildcards.
func (g *gen) text(maxRunes int) []byte {
	var sb strings.Builder
	for n := 1 + g.r.IntN(maxRunes); n > 0; n-- {
		sb.WriteRune(genRunes[g.r.IntN(len(genRunes))])
	}
	return []byte(sb.String())
}

func (g *gen) bin(maxBytes int) []byte {
	b := make([]byte, 1+g.r.IntN(maxBytes))
	for i := range b {
		b[i] = byte(g.r.UintN(256))
	}
	return b
}

func (g *gen) topic() []byte {
	levels := make([]string, 1+g.r.IntN(4))
	for i := range levels {
		if !g.chance(6) {
			levels[i] = string(g.text(6))
		}
	}
	t := strings.Join(levels, "/")
	if t == "" {
		t = "t"
	}
	return []byte(t)
}

func (g *gen) filter() []byte {
	levels := make([]string, 1+g.r.IntN(4))
	for i := range levels {
		switch {
		case g.chance(4):
			levels[i] = "+"
		case i == len(levels)-1 && g.chance(3):
			levels[i] = "#"
		default:
			levels[i] = string(g.text(6))
		}
	}
	return []byte(strings.Join(levels, "/"))
}

// props fills every property allowed in ctx with probability 1/3.
func (g *gen) props(ctx PacketType) Properties {
	var p Properties
	for id := range propTable {
		pid := PropertyID(id)
		if !pid.AllowedIn(ctx) || !g.chance(3) {
			continue
		}
		switch kind := kindOf(pid); kind {
		case kindByte:
			p.setNum(pid, g.r.Uint32N(2))
		case kindUint16:
			p.setNum(pid, 1+g.r.Uint32N(0xFFFF))
		case kindUint32:
			p.setNum(pid, 1+g.r.Uint32N(0xFFFFFFFE))
		case kindString:
			*p.bytesField(pid) = g.text(10)
			p.mark(pid)
		case kindBinary:
			*p.bytesField(pid) = g.bin(10)
			p.mark(pid)
		}
	}
	if p.Has(PropResponseTopic) {
		p.ResponseTopic = g.topic()
	}
	if p.Has(PropAuthData) && !p.Has(PropAuthMethod) {
		p.SetAuthMethod(g.text(8))
	}
	for n := g.r.IntN(4); n > 0; n-- {
		must(p.AddUserProperty(g.text(6), g.text(10)))
	}
	if PropSubscriptionID.AllowedIn(ctx) {
		n := g.r.IntN(2)
		if ctx == TypePublish {
			n = g.r.IntN(4)
		}
		for ; n > 0; n-- {
			must(p.AddSubscriptionID(1 + g.r.Uint32N(MaxVarInt)))
		}
	}
	return p
}

func (g *gen) code(t PacketType) ReasonCode {
	for {
		c := ReasonCode(g.r.UintN(256))
		if c.ValidFor(t) {
			return c
		}
	}
}

func (g *gen) id() uint16 { return uint16(1 + g.r.UintN(0xFFFF)) }

// packets returns one random valid packet of every type version v has.
func (g *gen) packets(v Version) []Packet {
	ps := []Packet{g.connect(v), g.connack(v), g.publish(v), &Pingreq{}, &Pingresp{}}
	ack := func() (uint16, ReasonCode, Properties) { return g.id(), 0, Properties{} }
	var acks [4]struct {
		id uint16
		c  ReasonCode
		p  Properties
	}
	for i, t := range []PacketType{TypePuback, TypePubrec, TypePubrel, TypePubcomp} {
		acks[i].id, acks[i].c, acks[i].p = ack()
		if v == V5 {
			acks[i].c, acks[i].p = g.code(t), g.props(t)
		}
	}
	ps = append(ps, &Puback{acks[0].id, acks[0].c, acks[0].p}, &Pubrec{acks[1].id, acks[1].c, acks[1].p},
		&Pubrel{acks[2].id, acks[2].c, acks[2].p}, &Pubcomp{acks[3].id, acks[3].c, acks[3].p},
		g.subscribe(v), g.suback(v), g.unsubscribe(v), g.unsuback(v), &Disconnect{})
	if v == V5 {
		ps[len(ps)-1] = &Disconnect{ReasonCode: g.code(TypeDisconnect), Properties: g.props(TypeDisconnect)}
		ps = append(ps, g.auth())
	}
	return ps
}

func (g *gen) connect(v Version) *Connect {
	p := &Connect{Version: v, CleanStart: g.chance(2), KeepAliveSeconds: uint16(g.r.UintN(0x10000)), ClientID: g.text(12)}
	if v == V5 {
		p.Properties = g.props(TypeConnect)
	}
	if g.chance(2) {
		p.HasWill, p.WillQoS, p.WillRetain = true, QoS(g.r.UintN(3)), g.chance(2)
		p.WillTopic, p.WillPayload = g.topic(), g.bin(20)
		if v == V5 {
			p.WillProperties = g.props(willContext)
		}
	}
	p.HasUsername = g.chance(2)
	if p.HasUsername {
		p.Username = g.text(8)
	}
	p.HasPassword = (v == V5 || p.HasUsername) && g.chance(2)
	if p.HasPassword {
		p.Password = g.bin(8)
	}
	return p
}

func (g *gen) connack(v Version) *Connack {
	p := &Connack{ReasonCode: g.code(TypeConnack)}
	if v != V5 {
		rc := ConnackReturnCode(g.r.UintN(6))
		p.ReasonCode, _ = rc.ReasonCode()
	} else {
		p.Properties = g.props(TypeConnack)
	}
	p.SessionPresent = p.ReasonCode == Success && v != V31 && g.chance(2)
	return p
}

func (g *gen) publish(v Version) *Publish {
	p := &Publish{QoS: QoS(g.r.UintN(3)), Retain: g.chance(2), Topic: g.topic(), Payload: g.bin(64)}
	if p.QoS > QoS0 {
		p.PacketID, p.Dup = g.id(), g.chance(2)
	}
	if v == V5 {
		p.Properties = g.props(TypePublish)
	}
	return p
}

func (g *gen) subscribe(v Version) *Subscribe {
	p := &Subscribe{PacketID: g.id()}
	if v == V5 {
		p.Properties = g.props(TypeSubscribe)
	}
	for n := 1 + g.r.IntN(4); n > 0; n-- {
		s := Subscription{Filter: g.filter(), QoS: QoS(g.r.UintN(3))}
		if v == V5 {
			s.NoLocal, s.RetainAsPublished, s.RetainHandling = g.chance(2), g.chance(2), RetainHandling(g.r.UintN(3))
			if g.chance(4) {
				s.Filter, s.NoLocal = append([]byte("$share/grp/"), s.Filter...), false
			}
		}
		must(p.Add(s))
	}
	return p
}

func (g *gen) suback(v Version) *Suback {
	p := &Suback{PacketID: g.id()}
	if v == V5 {
		p.Properties = g.props(TypeSuback)
	}
	for n := 1 + g.r.IntN(4); n > 0; n-- {
		c := g.code(TypeSuback)
		if v != V5 && c.IsError() {
			c = UnspecifiedError
		}
		p.ReasonCodes = append(p.ReasonCodes, c)
	}
	return p
}

func (g *gen) unsubscribe(v Version) *Unsubscribe {
	p := &Unsubscribe{PacketID: g.id()}
	if v == V5 {
		p.Properties = g.props(TypeUnsubscribe)
	}
	for n := 1 + g.r.IntN(4); n > 0; n-- {
		must(p.Add(g.filter()))
	}
	return p
}

func (g *gen) unsuback(v Version) *Unsuback {
	p := &Unsuback{PacketID: g.id()}
	if v == V5 {
		p.Properties = g.props(TypeUnsuback)
		for n := 1 + g.r.IntN(4); n > 0; n-- {
			p.ReasonCodes = append(p.ReasonCodes, g.code(TypeUnsuback))
		}
	}
	return p
}

func (g *gen) auth() *Auth {
	p := &Auth{ReasonCode: g.code(TypeAuth), Properties: g.props(TypeAuth)}
	if p.ReasonCode != Success && !p.Properties.Has(PropAuthMethod) {
		p.Properties.SetAuthMethod(g.text(8))
	}
	return p
}
