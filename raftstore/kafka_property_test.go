package raftstore

import (
	"fmt"
	"math/rand/v2"

	"tributary/kafkacodec"
)

// kafkaGen generates random Kafka commands for the determinism property
// test: a few topics that are created, deleted and re-created, batches
// (some idempotent, some invalid), mappings in both directions over the
// MQTT topics mqttGen publishes to (so MQTT publishes become records and
// records become publishes), offset commits and retention trims. It
// shares mqttGen's clock.
type kafkaGen struct {
	rng  *rand.Rand
	mqtt *mqttGen
	pids int64
	seqs map[int64]int32
}

var genKafkaTopics = []string{"t0", "t1", "mqtt", "t0", "t1", "mqtt", "bad topic"}

func newKafkaGen(rng *rand.Rand, mqtt *mqttGen) *kafkaGen {
	return &kafkaGen{rng: rng, mqtt: mqtt, seqs: map[int64]int32{}}
}

func (g *kafkaGen) topic() string { return genKafkaTopics[g.rng.IntN(len(genKafkaTopics))] }

func (g *kafkaGen) command() Command {
	now := g.mqtt.now
	switch g.rng.IntN(16) {
	case 0, 1:
		var id [16]byte
		id[0] = byte(g.rng.Uint32())
		return createTopicCommand(&CreateTopicRequest{Name: g.topic(), ID: id, Partitions: int32(g.rng.IntN(4)),
			RetentionMillis: []int64{-1, 0, 5000, -2}[g.rng.IntN(4)], RetentionBytes: []int64{-1, 300, 2000}[g.rng.IntN(3)],
			NowMillis: now})
	case 2:
		if g.rng.IntN(3) == 0 {
			return nameCommand(CmdDeleteTopic, g.topic())
		}
		return trimCommand(now)
	case 3, 4, 5, 6, 7, 8:
		return g.produce(now)
	case 9:
		var prev *ProducerID
		if g.rng.IntN(2) == 0 {
			prev = &ProducerID{ID: g.rng.Int64N(g.pids + 2), Epoch: int16(g.rng.IntN(2))}
		}
		if prev == nil || prev.ID >= g.pids {
			g.pids++ // may be one more than apply hands out: harmless
		}
		return initProducerIDCommand(prev)
	case 10:
		return offsetCommitCommand([]OffsetCommit{{Group: g.mqtt.pick([]string{"g0", "g1", ""}), Topic: g.topic(),
			Partition: int32(g.rng.IntN(3)), Offset: g.rng.Int64N(20), CommitMillis: now}})
	case 11, 12, 13:
		return mappingSetCommand(g.mapping(), [16]byte{byte(g.rng.Uint32())}, now)
	case 14:
		return nameCommand(CmdMappingDelete, g.mqtt.pick([]string{"m0", "m1", "m2"}))
	default:
		return Command{Type: CmdProduce, Version: 1, Payload: []byte{3, 't'}} // rejected
	}
}

// produce returns a batch of 1–3 records keyed by MQTT topics (and now and
// then a key no MQTT topic can be), idempotent half of the time.
func (g *kafkaGen) produce(now int64) Command {
	recs := make([]kafkacodec.BuildRecord, 1+g.rng.IntN(3))
	for i := range recs {
		key := g.mqtt.pick(append([]string{"a/#", nullKey}, genTopics...))
		recs[i] = rec(key, fmt.Sprint(g.rng.IntN(100)), now-int64(g.rng.IntN(10_000)), "h", "v")
	}
	b := batchOf(recs...)
	if g.pids > 0 && g.rng.IntN(2) == 0 {
		pid := g.rng.Int64N(g.pids)
		seq := g.seqs[pid]
		switch g.rng.IntN(6) {
		case 0:
			seq = max(0, seq-int32(len(recs))) // a likely duplicate
		case 1:
			seq = int32(g.rng.IntN(5))
		default:
			g.seqs[pid] = seq + int32(len(recs))
		}
		b = idempotent(b, pid, int16(g.rng.IntN(2)), seq)
	}
	return produceCommand(&ProduceRequest{Topic: g.topic(), Partition: int32(g.rng.IntN(2)), Batch: b, NowMillis: now})
}

func (g *kafkaGen) mapping() *Mapping {
	m := &Mapping{Name: g.mqtt.pick([]string{"m0", "m1", "m2"}), KafkaTopic: g.topic(), Partitions: int32(g.rng.IntN(3)),
		RetentionMillis: -1, RetentionBytes: int64(g.rng.IntN(2)) * 500}
	if g.rng.IntN(2) == 0 {
		m.Direction = MQTTToKafka
		m.Filters = []string{g.mqtt.pick([]string{"a/+", "#", "+/b", "$SYS/#", "b"})}
		m.KeyTemplate = g.mqtt.pick([]string{"", "{level:0}", "{client_id}-{topic}", "{bad}"})
		return m
	}
	m.Direction = KafkaToMQTT
	m.TopicTemplate = g.mqtt.pick([]string{"", "{key}", "k/{header:h}", "k/{header:none}"})
	m.QoS, m.Retain = byte(g.rng.IntN(3)), g.rng.IntN(3) == 0
	return m
}
