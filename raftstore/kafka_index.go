package raftstore

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"tributary/kafkacodec"
	"tributary/mqttcodec"
)

// kafkaIndex is the in-memory view of the Kafka state that reads and
// apply need without Pebble: every topic with its partitions' states,
// every mapping (compiled for matching), and the live brokers that
// partition leadership is computed from. Like mqttIndex it equals what
// Pebble holds as of the last committed batch: rebuilt when the state
// machine opens or restores a snapshot, and changed only after a batch has
// committed (kafkaBatch holds a batch's changes until then).
//
// Only raft's FSM goroutine writes it, taking mu for the change alone;
// readers take mu.RLock. The FSM goroutine reads it without the lock.
type kafkaIndex struct {
	mu       sync.RWMutex
	topics   map[string]*kafkaTopic
	nums     map[uint32]*kafkaTopic
	mappings map[string]Mapping
	view     *mappingView
	// live is the broker ids of the live nodes, ascending: partition
	// leadership is a function of it (partitionLeader). It changes in the
	// same commit as the leader epochs it moved.
	live []int32
	// changed is closed when a committed batch moves a partition's high
	// watermark or log start, if anyone took it (waited) since the last
	// close: KafkaChanged is free when no Fetch waits.
	changed chan struct{}
	waited  bool

	topicCount atomic.Int64
	bytes      atomic.Int64

	// cache keeps the newest batches of every partition in memory; its
	// contents follow the index's commits (trimmed, dropped with it).
	cache *batchCache
}

func newKafkaIndex() *kafkaIndex {
	return &kafkaIndex{
		topics:   map[string]*kafkaTopic{},
		nums:     map[uint32]*kafkaTopic{},
		mappings: map[string]Mapping{},
		view:     &mappingView{},
		changed:  make(chan struct{}),
		cache:    newBatchCache(0),
	}
}

// rebuild replaces the index with the Kafka state in r and wakes every
// waiter (the state may have moved in any way).
func (x *kafkaIndex) rebuild(r pebble.Reader) error {
	topics := map[string]*kafkaTopic{}
	nums := map[uint32]*kafkaTopic{}
	mappings := map[string]Mapping{}
	var bytes int64
	err := scanPrefix(r, []byte{tableKafkaTopic}, func(k, v []byte) error {
		t, err := decodeKafkaTopic(string(k[1:]), v)
		if err != nil {
			return err
		}
		t.parts = make([]partState, t.Partitions)
		topics[t.Name], nums[t.num] = &t, &t
		return nil
	})
	if err == nil {
		err = scanPrefix(r, []byte{tableKafkaPartition}, func(k, v []byte) error {
			pk, s, err := decodePartitionEntry(k, v, nums)
			if err == nil {
				nums[pk.num].parts[pk.p] = s
				bytes += s.bytes
			}
			return err
		})
	}
	if err == nil {
		err = scanPrefix(r, []byte{tableKafkaMapping}, func(_, v []byte) error {
			m, err := decodeMappingRecord(v)
			mappings[m.Name] = m
			return err
		})
	}
	var view *mappingView
	if err == nil {
		view, err = compileMappings(mappings)
	}
	var live []int32
	if err == nil {
		live, err = liveBrokers(r)
	}
	if err != nil {
		return fmt.Errorf("raftstore: rebuild kafka index: %w", err)
	}
	x.mu.Lock()
	x.topics, x.nums, x.mappings, x.view, x.live = topics, nums, mappings, view, live
	x.cache.reset()
	x.wake()
	x.mu.Unlock()
	x.topicCount.Store(int64(len(topics)))
	x.bytes.Store(bytes)
	return nil
}

func decodePartitionEntry(k, v []byte, nums map[uint32]*kafkaTopic) (partKey, partState, error) {
	if len(k) != 9 {
		return partKey{}, partState{}, fmt.Errorf("%w: partition key %x", errCorruptKafka, k)
	}
	pk := partKey{num: uint32(k[1])<<24 | uint32(k[2])<<16 | uint32(k[3])<<8 | uint32(k[4]),
		p: int32(uint32(k[5])<<24 | uint32(k[6])<<16 | uint32(k[7])<<8 | uint32(k[8]))}
	t := nums[pk.num]
	if t == nil || pk.p < 0 || pk.p >= t.Partitions {
		return pk, partState{}, fmt.Errorf("%w: partition %d/%d of no topic", errCorruptKafka, pk.num, pk.p)
	}
	s, err := decodePartState(v)
	return pk, s, err
}

// wake closes changed if anyone took it; x.mu is held.
func (x *kafkaIndex) wake() {
	if x.waited {
		close(x.changed)
		x.changed = make(chan struct{})
		x.waited = false
	}
}

// mappingView is the mappings compiled for apply and MappedToKafka.
type mappingView struct {
	toKafka   []compiledToKafka           // MQTTToKafka, by name
	fromKafka map[string][]compiledToMQTT // KafkaToMQTT by Kafka topic, by name
}

type compiledToKafka struct {
	name    string
	topic   string
	filters []string
	key     template
}

type compiledToMQTT struct {
	name   string
	topic  template
	qos    byte
	retain bool
}

func compileMappings(ms map[string]Mapping) (*mappingView, error) {
	names := make([]string, 0, len(ms))
	for n := range ms {
		names = append(names, n)
	}
	slices.Sort(names)
	v := &mappingView{fromKafka: map[string][]compiledToMQTT{}}
	for _, n := range names {
		m := ms[n]
		switch m.Direction {
		case MQTTToKafka:
			key, err := parseTemplate(m.KeyTemplate, keyTemplateDefault, keyFields)
			if err != nil {
				return nil, fmt.Errorf("%w: mapping %q: %w", errCorruptKafka, n, err)
			}
			v.toKafka = append(v.toKafka, compiledToKafka{name: n, topic: m.KafkaTopic, filters: m.Filters, key: key})
		case KafkaToMQTT:
			topic, err := parseTemplate(m.TopicTemplate, topicTemplateDefault, topicFields)
			if err != nil {
				return nil, fmt.Errorf("%w: mapping %q: %w", errCorruptKafka, n, err)
			}
			v.fromKafka[m.KafkaTopic] = append(v.fromKafka[m.KafkaTopic], compiledToMQTT{name: n, topic: topic, qos: m.QoS, retain: m.Retain})
		default:
			return nil, fmt.Errorf("%w: mapping %q has direction %d", errCorruptKafka, n, m.Direction)
		}
	}
	return v, nil
}

// matches reports whether an MQTT topic matches one of the mapping's
// filters (a '#' or '+' first level never matches a '$' topic
// [MQTT-4.7.2-1], which MatchTopic implements).
func (c *compiledToKafka) matches(topic string) bool {
	for _, f := range c.filters {
		if mqttcodec.MatchTopic(f, topic) {
			return true
		}
	}
	return false
}

// mappedToKafka reports whether a publish to topic would be appended.
func (x *kafkaIndex) mappedToKafka(topic string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for i := range x.view.toKafka {
		c := &x.view.toKafka[i]
		if x.topics[c.topic] != nil && c.matches(topic) {
			return true
		}
	}
	return false
}

// kafkaBatch holds the Kafka effects of one ApplyBatch until its Pebble
// batch commits, the way mqttBatch does for MQTT: apply reads through it
// (the index with the batch's changes on top), commit folds it into the
// index. It also collects, per raft entry, the records MQTT publishes
// append (pending), which become one RecordBatch per partition when the
// entry ends.
//
// Only raft's FSM goroutine uses it.
type kafkaBatch struct {
	idx      *kafkaIndex
	topics   map[string]*kafkaTopic // nil: deleted by this batch
	nums     map[uint32]*kafkaTopic // created by this batch
	parts    map[partKey]*partState
	mappings map[string]*Mapping // nil: deleted by this batch
	view     *mappingView        // the mappings as of this batch; nil: idx.view
	moved    bool                // a high watermark or log start moved
	live     []int32             // the live brokers as of this batch, if liveSet
	liveSet  bool

	appendedMQTT, appendedKafka int64
	bytesDelta                  int64

	pending   []*pendingPart // this entry's MQTT records, in first-append order
	pendingAt map[partKey]int
	scratch   []byte // reused to build batches
}

// maxKeptScratchBytes bounds the build buffer kept between batches.
const maxKeptScratchBytes = 4 << 20

// pendingPart is the MQTT records one entry appends to one partition.
type pendingPart struct {
	k     partKey
	topic string
	recs  []kafkacodec.BuildRecord
}

func newKafkaBatch(idx *kafkaIndex) *kafkaBatch {
	return &kafkaBatch{
		idx:       idx,
		topics:    map[string]*kafkaTopic{},
		nums:      map[uint32]*kafkaTopic{},
		parts:     map[partKey]*partState{},
		mappings:  map[string]*Mapping{},
		pendingAt: map[partKey]int{},
	}
}

// reset forgets the batch's effects (applied, or abandoned by a node that
// stopped).
func (b *kafkaBatch) reset() {
	clear(b.topics)
	clear(b.nums)
	clear(b.parts)
	clear(b.mappings)
	b.view = nil
	b.moved = false
	b.live, b.liveSet = nil, false
	b.appendedMQTT, b.appendedKafka, b.bytesDelta = 0, 0, 0
	if cap(b.scratch) > maxKeptScratchBytes {
		b.scratch = nil // one big produce must not pin its size for good
	}
	b.nextEntry()
}

// nextEntry forgets the pending records (the previous entry flushed them).
func (b *kafkaBatch) nextEntry() {
	clear(b.pending) // they hold records aliasing the previous entry
	b.pending = b.pending[:0]
	clear(b.pendingAt)
}

// topic returns a topic as of this batch; the result is read-only.
func (b *kafkaBatch) topic(name string) (*kafkaTopic, bool) {
	if t, ok := b.topics[name]; ok {
		return t, t != nil
	}
	t := b.idx.topics[name]
	return t, t != nil
}

// part returns a partition's state as of this batch; k must name a
// partition of a topic that exists in it.
func (b *kafkaBatch) part(k partKey) partState {
	if s, ok := b.parts[k]; ok {
		return *s
	}
	t := b.nums[k.num]
	if t == nil {
		t = b.idx.nums[k.num]
	}
	return t.parts[k.p]
}

func (b *kafkaBatch) setPart(k partKey, s partState) {
	old := b.part(k)
	if old.hw != s.hw || old.logStart != s.logStart {
		b.moved = true
	}
	b.bytesDelta += s.bytes - old.bytes
	b.parts[k] = &s
}

func (b *kafkaBatch) addTopic(t *kafkaTopic) {
	b.topics[t.Name] = t
	b.nums[t.num] = t
}

func (b *kafkaBatch) deleteTopic(t *kafkaTopic) {
	for p := range t.Partitions {
		k := partKey{t.num, p}
		b.bytesDelta -= b.part(k).bytes
		delete(b.parts, k)
	}
	b.topics[t.Name] = nil
	delete(b.nums, t.num)
	b.moved = true
}

// setLive records the live brokers (ascending) a node command of this
// batch left, for the index's leadership.
func (b *kafkaBatch) setLive(live []int32) {
	b.live, b.liveSet = live, true
}

// topicsByName returns the topics as of this batch, sorted by name; the
// topics are read-only.
func (b *kafkaBatch) topicsByName() []*kafkaTopic {
	out := make([]*kafkaTopic, 0, len(b.idx.topics)+len(b.topics))
	for name, t := range b.idx.topics {
		if _, changed := b.topics[name]; !changed {
			out = append(out, t)
		}
	}
	for _, t := range b.topics {
		if t != nil {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(x, y *kafkaTopic) int { return cmp.Compare(x.Name, y.Name) })
	return out
}

// mappingView returns the mappings as of this batch.
func (b *kafkaBatch) mappingView() *mappingView {
	if b.view != nil {
		return b.view
	}
	return b.idx.view
}

// mapping returns a mapping as of this batch.
func (b *kafkaBatch) mapping(name string) (Mapping, bool) {
	if m, ok := b.mappings[name]; ok {
		if m == nil {
			return Mapping{}, false
		}
		return *m, true
	}
	m, ok := b.idx.mappings[name]
	return m, ok
}

// setMapping records a change to a mapping (nil: deleted) and recompiles
// the batch's view of the mappings.
func (b *kafkaBatch) setMapping(name string, m *Mapping) error {
	b.mappings[name] = m
	all := make(map[string]Mapping, len(b.idx.mappings)+1)
	for n, im := range b.idx.mappings {
		all[n] = im
	}
	for n, bm := range b.mappings {
		if bm == nil {
			delete(all, n)
		} else {
			all[n] = *bm
		}
	}
	v, err := compileMappings(all)
	if err != nil {
		return err
	}
	b.view = v
	return nil
}

// commit folds the batch into the index once its Pebble batch committed.
func (b *kafkaBatch) commit() {
	x := b.idx
	if len(b.topics) != 0 || len(b.parts) != 0 || len(b.mappings) != 0 || b.moved || b.liveSet {
		x.mu.Lock()
		b.commitTopics()
		for k, s := range b.parts {
			if t := x.nums[k.num]; t != nil {
				if s.logStart > t.parts[k.p].logStart {
					x.cache.trim(k, s.logStart)
				}
				t.parts[k.p] = *s
			}
		}
		for n, m := range b.mappings {
			if m == nil {
				delete(x.mappings, n)
			} else {
				x.mappings[n] = *m
			}
		}
		if b.view != nil {
			x.view = b.view
		}
		if b.liveSet {
			x.live = b.live
		}
		if b.moved {
			x.wake()
		}
		x.mu.Unlock()
	}
	x.topicCount.Store(int64(len(x.topics)))
	x.bytes.Add(b.bytesDelta)
}

// commitTopics applies the batch's topic changes; x.mu is held.
func (b *kafkaBatch) commitTopics() {
	x := b.idx
	for name, t := range b.topics {
		if old := x.topics[name]; old != nil {
			delete(x.nums, old.num)
			delete(x.topics, name)
			if t == nil || t.num != old.num {
				x.cache.dropTopic(old.num)
			}
		}
		if t != nil {
			x.topics[name] = t
			x.nums[t.num] = t
		}
	}
}

// topicsSorted returns copies of every topic, sorted by name.
func (x *kafkaIndex) topicsSorted() []Topic {
	x.mu.RLock()
	out := make([]Topic, 0, len(x.topics))
	for _, t := range x.topics {
		out = append(out, t.Topic)
	}
	x.mu.RUnlock()
	slices.SortFunc(out, func(a, b Topic) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// leader returns a partition's leader (partitionLeader over the live
// brokers) and leader epoch, read under one lock so that the two agree.
func (x *kafkaIndex) leader(topic string, p int32) (int32, int32, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	t := x.topics[topic]
	if t == nil || p < 0 || p >= t.Partitions {
		return -1, -1, fmt.Errorf("%w: %q/%d", ErrUnknownTopicOrPartition, topic, p)
	}
	return partitionLeader(x.live, topicHash(topic), p), t.parts[p].epoch, nil
}

// partition returns a partition's number key and state.
func (x *kafkaIndex) partition(topic string, p int32) (partKey, partState, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	t := x.topics[topic]
	if t == nil || p < 0 || p >= t.Partitions {
		return partKey{}, partState{}, fmt.Errorf("%w: %q/%d", ErrUnknownTopicOrPartition, topic, p)
	}
	return partKey{t.num, p}, t.parts[p], nil
}
