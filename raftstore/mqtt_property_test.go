package raftstore

import (
	"math/rand/v2"
)

// mqttGen generates random MQTT commands for the determinism property
// test: a few clients and filters (wildcards, $share, $SYS) so that
// sessions, subscriptions, routes, retained messages, queues, takeovers,
// wills and expiries collide. It predicts generations (the counter grows
// by one per applied open, and every open it generates is valid) so most
// commands carry a current generation and some a stale one.
type mqttGen struct {
	rng   *rand.Rand
	opens uint64
	gens  map[string]uint64
	now   int64
}

var (
	genClients = []string{"c0", "c1", "c2", "c3", "c4", "c5"}
	genFilters = []string{"a/b", "a/+", "a/#", "#", "+/b", "b", "$SYS/#", "+",
		"$share/g/a/+", "$share/g/#", "$share/h/a/b", "$share/g/b"}
	genTopics = []string{"a/b", "a/c", "b", "a", "$SYS/x", "b/b"}
)

func newMQTTGen(rng *rand.Rand) *mqttGen {
	return &mqttGen{rng: rng, gens: map[string]uint64{}, now: 1_000_000}
}

func (g *mqttGen) pick(s []string) string { return s[g.rng.IntN(len(s))] }

func (g *mqttGen) generation(clientID string) uint64 {
	if g.rng.IntN(8) == 0 {
		return g.rng.Uint64N(g.opens + 2) // stale, current or future
	}
	return g.gens[clientID]
}

func (g *mqttGen) command() Command {
	g.now += int64(g.rng.IntN(4000))
	c := g.pick(genClients)
	switch g.rng.IntN(13) {
	case 0, 1:
		return g.open(c)
	case 2:
		return sessionCloseCommand(&SessionClose{ClientID: c, Generation: g.generation(c),
			Reason: CloseReason(g.rng.IntN(3)), HasNewExpiry: g.rng.IntN(4) == 0, NewExpiry: uint32(g.rng.IntN(3)),
			SentThroughSeq: g.rng.Uint64N(12), NowMillis: g.now})
	case 3, 4:
		return g.subscribe(c)
	case 5:
		fs := []string{g.pick(genFilters), g.pick(genFilters)}
		return unsubscribeCommand(&UnsubscribeRequest{ClientID: c, Generation: g.generation(c), Filters: fs[:1+g.rng.IntN(2)]})
	case 6, 7:
		return g.publish()
	case 8:
		return g.publishBatch()
	case 9:
		return queueAckCommand(&QueueAck{ClientID: c, Generation: g.generation(c),
			Done: g.seqs(), Received: g.seqs()})
	case 10:
		return releaseInboundCommand(c, uint16(1+g.rng.IntN(4)))
	case 11:
		return tickCommand(g.now+int64(g.rng.IntN(40_000)), uint32(1+g.rng.IntN(4)))
	default:
		return Command{Type: CmdSubscribe, Version: 1, Payload: []byte{1, 'c', 0xff}} // rejected
	}
}

func (g *mqttGen) open(c string) Command {
	o := SessionOpen{ClientID: c, Node: g.pick([]string{"n1", "n2"}), CleanStart: g.rng.IntN(3) == 0,
		ExpirySeconds: []uint32{0, 2, 30, NeverExpires}[g.rng.IntN(4)], ProtocolVersion: 5,
		MaxQueuedMessages: uint32(1 + g.rng.IntN(5)), NowMillis: g.now}
	if g.rng.IntN(2) == 0 {
		o.Will = &Will{DelaySeconds: []uint32{0, 1, 5, 60}[g.rng.IntN(4)], ExpirySeconds: uint32(g.rng.IntN(3)),
			Message: Message{Topic: g.pick(genTopics), QoS: byte(g.rng.IntN(3)), Retain: g.rng.IntN(3) == 0,
				Payload: []byte(g.pick([]string{"", "w"}))}}
	}
	g.opens++
	g.gens[c] = g.opens
	return sessionOpenCommand(&o)
}

func (g *mqttGen) subscribe(c string) Command {
	subs := make([]Subscription, 1+g.rng.IntN(3))
	for i := range subs {
		subs[i] = Subscription{Filter: g.pick(genFilters), QoS: byte(g.rng.IntN(3)), NoLocal: g.rng.IntN(4) == 0,
			RetainAsPublished: g.rng.IntN(2) == 0, RetainHandling: byte(g.rng.IntN(3)), SubscriptionID: uint32(g.rng.IntN(3))}
	}
	return subscribeCommand(&SubscribeRequest{ClientID: c, Generation: g.generation(c), Subscriptions: subs, NowMillis: g.now})
}

// publishBatch is one to three delivered QoS 0 publishes in one command.
func (g *mqttGen) publishBatch() Command {
	reqs := make([]PublishRequest, 1+g.rng.IntN(3))
	for i := range reqs {
		c := g.pick(genClients)
		reqs[i] = PublishRequest{ClientID: c, NowMillis: g.now, AlreadyDelivered: true,
			Message: Message{Topic: g.pick(genTopics), Retain: g.rng.IntN(3) == 0,
				Payload: []byte(g.pick([]string{"", "x", "yy"})), PublisherID: c}}
	}
	return publishBatchCommand(reqs)
}

func (g *mqttGen) publish() Command {
	r := PublishRequest{ClientID: g.pick(append([]string{""}, genClients...)), NowMillis: g.now,
		AlreadyDelivered: g.rng.IntN(10) == 0}
	r.Message = Message{Topic: g.pick(genTopics), QoS: byte(g.rng.IntN(3)), Retain: g.rng.IntN(4) == 0,
		Payload: []byte(g.pick([]string{"", "x", "yy"})), PublisherID: r.ClientID}
	if g.rng.IntN(4) == 0 {
		r.Message.Properties = []byte{2, 0x01, 0x01}
	}
	if g.rng.IntN(5) == 0 {
		r.Message.ExpiresAtMillis = g.now + int64(g.rng.IntN(20_000)) - 5_000
	}
	if r.Message.QoS == 2 && r.ClientID != "" {
		r.PacketID = uint16(1 + g.rng.IntN(4))
	}
	return publishCommand(&r)
}

func (g *mqttGen) seqs() []uint64 {
	s := make([]uint64, g.rng.IntN(3))
	for i := range s {
		s[i] = 1 + g.rng.Uint64N(10)
	}
	return s
}
