package raftstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/raft"
)

// mqttFSM drives a real state machine (real Pebble, in memory) with MQTT
// commands, one raft entry per call, and records the events it raises.
type mqttFSM struct {
	t      testing.TB
	f      *fsm
	index  uint64
	events []Event
}

func newMQTTFSM(t testing.TB) *mqttFSM {
	t.Helper()
	h := &mqttFSM{t: t, f: newTestFSM(t, vfs.NewMem(), "fsm")}
	h.f.onEvents = func(ev []Event) { h.events = append(h.events, ev...) }
	return h
}

// store is a Store around the state machine, for the read methods.
func (h *mqttFSM) store() *Store { return &Store{fsm: h.f, done: make(chan struct{})} }

// apply applies cmds as one entry and returns their results.
func (h *mqttFSM) apply(cmds ...Command) []commandResult {
	h.t.Helper()
	h.index++
	resps := h.f.ApplyBatch([]*raft.Log{entry(h.index, cmds...)})
	r, ok := resps[0].([]commandResult)
	if !ok {
		h.t.Fatalf("apply: response %T (%v)", resps[0], resps[0])
	}
	return r
}

func (h *mqttFSM) one(c Command) ([]byte, error) {
	h.t.Helper()
	r := h.apply(c)[0]
	return r.value, r.err
}

func (h *mqttFSM) ok(c Command) []byte {
	h.t.Helper()
	v, err := h.one(c)
	if err != nil {
		h.t.Fatalf("%s: %v", c.Type, err)
	}
	return v
}

func (h *mqttFSM) open(o SessionOpen) SessionOpened {
	h.t.Helper()
	if o.Node == "" {
		o.Node = "n1"
	}
	if o.ProtocolVersion == 0 {
		o.ProtocolVersion = 5
	}
	if o.MaxQueuedMessages == 0 {
		o.MaxQueuedMessages = 1000
	}
	res, err := decodeSessionOpened(h.ok(sessionOpenCommand(&o)))
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// persistent opens a clean, never-expiring session and returns its
// generation.
func (h *mqttFSM) persistent(clientID string, now int64) uint64 {
	return h.open(SessionOpen{ClientID: clientID, CleanStart: true, ExpirySeconds: NeverExpires, NowMillis: now}).Generation
}

func (h *mqttFSM) close(c SessionClose) {
	h.t.Helper()
	h.ok(sessionCloseCommand(&c))
}

func (h *mqttFSM) subscribe(clientID string, gen uint64, now int64, subs ...Subscription) SubscribeResult {
	h.t.Helper()
	r := SubscribeRequest{ClientID: clientID, Generation: gen, Subscriptions: subs, NowMillis: now}
	res, err := decodeSubscribeResult(h.ok(subscribeCommand(&r)))
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *mqttFSM) publish(r PublishRequest) PublishResult {
	h.t.Helper()
	res, err := decodePublishResult(h.ok(publishCommand(&r)))
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

// pub publishes payload to topic from publisher.
func (h *mqttFSM) pub(publisher, topic string, qos byte, retain bool, payload string, now int64) PublishResult {
	h.t.Helper()
	return h.publish(PublishRequest{ClientID: publisher, NowMillis: now, Message: Message{
		Topic: topic, QoS: qos, Retain: retain, Payload: []byte(payload), PublisherID: publisher}})
}

func (h *mqttFSM) ack(a QueueAck) {
	h.t.Helper()
	h.ok(queueAckCommand(&a))
}

func (h *mqttFSM) tick(now int64) {
	h.t.Helper()
	h.ok(tickCommand(now, TickMaxSessions))
}

func (h *mqttFSM) queue(clientID string) []QueuedMessage {
	h.t.Helper()
	q, err := h.store().ReadQueue(clientID, 0, 1<<20)
	if err != nil {
		h.t.Fatal(err)
	}
	return q
}

// payloads returns the payloads of a queue, in order.
func payloads(q []QueuedMessage) []string {
	var out []string
	for _, m := range q {
		out = append(out, string(m.Message.Payload))
	}
	return out
}

// takeEvents returns the events raised since the last call.
func (h *mqttFSM) takeEvents() []Event {
	ev := h.events
	h.events = nil
	return ev
}

// eventsOf returns the events of one kind.
func eventsOf(ev []Event, kind EventKind) []Event {
	var out []Event
	for _, e := range ev {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (h *mqttFSM) session(clientID string) (SessionInfo, bool) {
	h.t.Helper()
	info, ok, err := h.store().Session(clientID)
	if err != nil {
		h.t.Fatal(err)
	}
	return info, ok
}

// countKeys counts the keys of one table.
func countKeys(t testing.TB, r pebble.Reader, table byte) int {
	t.Helper()
	n := 0
	if err := scanPrefix(r, []byte{table}, func(_, _ []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// checkMQTT checks the invariants of the MQTT state in f's database and
// that the in-memory index equals one rebuilt from it.
func checkMQTT(t testing.TB, f *fsm) {
	t.Helper()
	if err := mqttInvariants(f.db); err != nil {
		t.Fatalf("mqtt state: %v", err)
	}
	var fresh mqttIndex
	if err := fresh.rebuild(f.db); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(indexDump(&fresh), indexDump(f.mqtt)); d != "" {
		t.Fatalf("in-memory index differs from Pebble (-pebble +memory):\n%s", d)
	}
	// A shared subscription's round-robin position lives only while it
	// has members.
	err := scanPrefix(f.db, []byte{tableShareNext}, func(k, _ []byte) error {
		ref, err := parseSubRef("", string(k[1:]))
		if err != nil {
			return err
		}
		if n := fresh.subs.lookup(ref.filter); n == nil || n.groups[ref.share] == nil {
			return fmt.Errorf("share position %q of a subscription without members", k[1:])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// indexDump renders an index (subscriptions, sessions, gauges) as sorted
// lines.
func indexDump(x *mqttIndex) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []string
	var walk func(n *trieNode)
	walk = func(n *trieNode) {
		for c, o := range n.direct {
			out = append(out, fmt.Sprintf("sub %q %q %+v", c, n.filter, o))
		}
		for share, g := range n.groups {
			if !slices.IsSorted(g.order) || len(g.order) != len(g.members) {
				out = append(out, fmt.Sprintf("BAD GROUP ORDER %q %v", share, g.order))
			}
			for c, o := range g.members {
				out = append(out, fmt.Sprintf("sub %q $share/%s/%s %+v", c, share, n.filter, o))
			}
		}
		for _, c := range n.children {
			walk(c)
		}
		for _, c := range []*trieNode{n.plus, n.hash} {
			if c != nil {
				if c.empty() {
					out = append(out, "EMPTY NODE "+c.filter)
				}
				walk(c)
			}
		}
	}
	walk(&x.subs.root)
	for id, v := range x.sessions {
		out = append(out, fmt.Sprintf("session %q %+v", id, v))
	}
	out = append(out, fmt.Sprintf("gauges subs=%d retained=%d queued=%d sessions=%d",
		x.subs.n, x.retained.Load(), x.queued.Load(), x.count.Load()))
	slices.Sort(out)
	return out
}

// mqttInvariants checks what the MQTT tables promise each other: queue
// lengths, timers and the deadline table, wills, subscriptions and inbound
// ids only for existing sessions, reference counts equal to the
// references, and the generation counter above every generation.
func mqttInvariants(r pebble.Reader) error {
	sessions := map[string]sessionRecord{}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	scan := func(table byte, fn func(k, v []byte) error) {
		if err := scanPrefix(r, []byte{table}, fn); err != nil {
			errs = append(errs, err)
		}
	}
	scan(tableSession, func(k, v []byte) error {
		s, err := decodeSessionRecord(v)
		sessions[string(k[1:])] = s
		return err
	})
	refs := map[msgID]uint64{}
	checkQueues(r, sessions, refs, fail)
	checkTimers(r, sessions, fail)
	scan(tableRetained, func(_, v []byte) error {
		id, err := decodeRetained(v)
		refs[id]++
		return err
	})
	for _, table := range []byte{tableSub, tableInbound} {
		scan(table, func(k, _ []byte) error {
			n := int(binary.BigEndian.Uint16(k[1:3]))
			if _, ok := sessions[string(k[3:3+n])]; !ok {
				fail("table %#x: key %q of a client without a session", table, k)
			}
			return nil
		})
	}
	checkRefs(r, refs, fail)
	var maxGen uint64
	for _, s := range sessions {
		maxGen = max(maxGen, s.generation)
	}
	if v, closer, err := r.Get(keyMQTTGeneration); err == nil {
		if g := binary.BigEndian.Uint64(v); g < maxGen {
			fail("generation counter %d below session generation %d", g, maxGen)
		}
		closer.Close()
	} else if len(sessions) > 0 {
		fail("no generation counter: %v", err)
	}
	return errors.Join(errs...)
}

func checkQueues(r pebble.Reader, sessions map[string]sessionRecord, refs map[msgID]uint64, fail func(string, ...any)) {
	lens := map[string]uint32{}
	err := scanPrefix(r, []byte{tableQueue}, func(k, v []byte) error {
		n := int(binary.BigEndian.Uint16(k[1:3]))
		id := string(k[3 : 3+n])
		seq := binary.BigEndian.Uint64(k[3+n:])
		s, ok := sessions[id]
		if !ok || seq == 0 || seq >= s.nextSeq {
			fail("queue entry %q/%d outside its session (exists=%v next=%d)", id, seq, ok, s.nextSeq)
		}
		e, err := decodeQueueEntry(v)
		lens[id]++
		refs[e.msg]++
		return err
	})
	if err != nil {
		fail("%v", err)
	}
	for id, s := range sessions {
		if lens[id] != s.queueLen {
			fail("session %q: queueLen %d, %d entries", id, s.queueLen, lens[id])
		}
		if s.hasWill {
			if _, closer, err := r.Get(willKey(id)); err != nil {
				fail("session %q: will flag without will: %v", id, err)
			} else {
				closer.Close()
			}
		}
		if s.connected && (s.willDue != 0 || s.expireAt != 0) {
			fail("connected session %q has timers %d %d", id, s.willDue, s.expireAt)
		}
	}
	if err := scanPrefix(r, []byte{tableWill}, func(k, _ []byte) error {
		if !sessions[string(k[1:])].hasWill {
			fail("will of %q without a will flag", k[1:])
		}
		return nil
	}); err != nil {
		fail("%v", err)
	}
}

func checkTimers(r pebble.Reader, sessions map[string]sessionRecord, fail func(string, ...any)) {
	want := map[string]bool{}
	for id, s := range sessions {
		for _, t := range []int64{s.willDue, s.expireAt} {
			if t != 0 {
				want[string(deadlineKey(t, id))] = true
			}
		}
		if s.willDue != 0 && !s.hasWill {
			fail("session %q: will due without a will", id)
		}
	}
	if err := scanPrefix(r, []byte{tableDeadline}, func(k, v []byte) error {
		ms, id, err := parseDeadlineKey(k)
		if err != nil {
			return err
		}
		if !want[string(k)] {
			fail("deadline %d of %q matches no timer", ms, id)
		}
		if g := binary.BigEndian.Uint64(v); g != sessions[id].generation {
			fail("deadline %d of %q has generation %d, session %d", ms, id, g, sessions[id].generation)
		}
		delete(want, string(k))
		return nil
	}); err != nil {
		fail("%v", err)
	}
	for k := range want {
		fail("timer without deadline entry %x", k)
	}
}

func checkRefs(r pebble.Reader, refs map[msgID]uint64, fail func(string, ...any)) {
	stored := map[msgID]uint64{}
	if err := scanPrefix(r, []byte{tableMsgRefs}, func(k, v []byte) error {
		var id msgID
		copy(id[:], k[1:])
		stored[id] = binary.BigEndian.Uint64(v)
		if _, closer, err := r.Get(bodyKey(id)); err != nil {
			fail("message %x: count without body", id)
		} else {
			closer.Close()
		}
		return nil
	}); err != nil {
		fail("%v", err)
	}
	if err := scanPrefix(r, []byte{tableMsgBody}, func(k, _ []byte) error {
		var id msgID
		copy(id[:], k[1:])
		if _, ok := stored[id]; !ok {
			fail("message %x: body without count", id)
		}
		return nil
	}); err != nil {
		fail("%v", err)
	}
	for id, n := range refs {
		if stored[id] != n {
			fail("message %x: %d references, count says %d", id, n, stored[id])
		}
		delete(stored, id)
	}
	for id, n := range stored {
		fail("message %x: count %d, no reference", id, n)
	}
}

// sameEvents compares event lists, messages by value.
func sameEvents(a, b []Event) string {
	return cmp.Diff(a, b, cmp.Comparer(func(x, y *Message) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Topic == y.Topic && bytes.Equal(x.Payload, y.Payload) && x.QoS == y.QoS &&
			x.Retain == y.Retain && bytes.Equal(x.Properties, y.Properties) &&
			x.ExpiresAtMillis == y.ExpiresAtMillis && x.PublisherID == y.PublisherID
	}))
}
