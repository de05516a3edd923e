package raftstore

import (
	"math/rand/v2"
)

// nodeGen generates random node registry commands for the determinism
// property test, over the nodes mqttGen's sessions connect to (and one
// they never do), so that registrations move partition leadership and
// bump epochs of kafkaGen's topics, and downs and forgets end connected
// sessions with their wills. It shares mqttGen's clock.
type nodeGen struct {
	rng  *rand.Rand
	mqtt *mqttGen
}

var genNodes = []string{"n1", "n2", "n3"}

func newNodeGen(rng *rand.Rand, mqtt *mqttGen) *nodeGen {
	return &nodeGen{rng: rng, mqtt: mqtt}
}

func (g *nodeGen) command() Command {
	id := g.mqtt.pick(genNodes)
	now := g.mqtt.now
	switch g.rng.IntN(9) {
	case 0, 1, 2, 3:
		return nodeRegisterCommand(&NodeRegistration{ID: id, RaftAddr: g.mqtt.pick([]string{"r:1", "r:2"}),
			KafkaAddr: g.mqtt.pick([]string{"", "k:1"}), NowMillis: now})
	case 4, 5:
		return nodeCommand(CmdNodeDown, id, now)
	case 6:
		return nodeCommand(CmdNodeForget, id, now)
	case 7:
		return nodeCommand(CmdNodeDown, "ghost", now) // rejected: unknown
	default:
		return Command{Type: CmdNodeRegister, Version: 1, Payload: []byte{2, 'n'}} // rejected: truncated
	}
}
