package raftstore

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// payloadKind names one decoder, for the table and the fuzz target.
type payloadKind byte

const (
	kindOpen payloadKind = iota
	kindClose
	kindSubscribe
	kindUnsubscribe
	kindPublish
	kindRelease
	kindAck
	kindTick
	kindOpened
	kindSubscribeResult
	kindExisted
	kindPublishResult
	kindSessionRecord
	kindWill
	kindQueueEntry
	kindSubOpts
	kindBody
	kindNodeRegister
	kindNodeCommand
	kindNodeRecord
	kindCount
)

var sampleMessage = Message{Topic: "a/b", Payload: []byte("p"), QoS: 2, Retain: true,
	Properties: []byte{3, 0x03, 0x00, 0x00}, ExpiresAtMillis: 99, PublisherID: "pub"}

// payloadSamples are valid encodings of every payload and record, with
// the value each decodes to.
func payloadSamples() map[payloadKind][]struct {
	raw  []byte
	want any
} {
	type sample = struct {
		raw  []byte
		want any
	}
	out := map[payloadKind][]sample{}
	add := func(k payloadKind, raw []byte, want any) { out[k] = append(out[k], sample{raw, want}) }
	open := SessionOpen{ClientID: "c", Node: "n1", CleanStart: true, ExpirySeconds: 7, ProtocolVersion: 5,
		MaxQueuedMessages: 10, NowMillis: 12, Will: &Will{Message: sampleMessage, ExpirySeconds: 3, DelaySeconds: 4}}
	add(kindOpen, sessionOpenCommand(&open).Payload, open)
	open2 := SessionOpen{ClientID: "ü", Node: "n", ProtocolVersion: 4, MaxQueuedMessages: 1}
	add(kindOpen, sessionOpenCommand(&open2).Payload, open2)
	cl := SessionClose{ClientID: "c", Generation: 5, Reason: CloseWithWill, HasNewExpiry: true, NewExpiry: 9, SentThroughSeq: 4, NowMillis: 1}
	add(kindClose, sessionCloseCommand(&cl).Payload, cl)
	sub := SubscribeRequest{ClientID: "c", Generation: 2, NowMillis: 3, Subscriptions: []Subscription{
		{Filter: "a/+/#", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, SubscriptionID: 268435455},
		{Filter: "$share/g/x", QoS: 2}}}
	add(kindSubscribe, subscribeCommand(&sub).Payload, sub)
	unsub := UnsubscribeRequest{ClientID: "c", Generation: 2, Filters: []string{"a/#", "$share/g/x"}}
	add(kindUnsubscribe, unsubscribeCommand(&unsub).Payload, unsub)
	pub := PublishRequest{ClientID: "c", PacketID: 7, Message: sampleMessage, AlreadyDelivered: true, NowMillis: 8}
	add(kindPublish, publishCommand(&pub).Payload, pub)
	kafka := PublishRequest{Message: Message{Topic: "t"}}
	add(kindPublish, publishCommand(&kafka).Payload, kafka)
	add(kindRelease, releaseInboundCommand("c", 65535).Payload, []any{"c", uint16(65535)})
	ack := QueueAck{ClientID: "c", Generation: 1, Done: []uint64{1, 1 << 60}, Received: []uint64{3}}
	add(kindAck, queueAckCommand(&ack).Payload, ack)
	add(kindTick, tickCommand(1<<50, 3).Payload, []any{int64(1 << 50), uint32(3)})
	opened := SessionOpened{Present: true, Generation: 9, TakenOver: true, PreviousNode: "n2", PreviousGeneration: 8}
	add(kindOpened, encodeSessionOpened(&opened), opened)
	m := sampleMessage
	sres := SubscribeResult{Retained: []Delivery{{QoS: 1, Retain: true, SubscriptionIDs: []uint32{1, 2}, Message: &m}}}
	add(kindSubscribeResult, encodeSubscribeResult(&sres), sres)
	add(kindExisted, encodeExisted([]bool{true, false}), []bool{true, false})
	pres := PublishResult{Matched: 300, Duplicate: true}
	add(kindPublishResult, encodePublishResult(&pres), pres)
	rec := sessionRecord{node: "n", generation: 3, connected: true, hasWill: true, protocol: 5, expiry: NeverExpires,
		maxQueued: 4, queueLen: 2, disconnectedAt: 5, willDue: 6, expireAt: 7, nextSeq: 8, sentThrough: 6}
	add(kindSessionRecord, rec.encode(), rec)
	will := Will{Message: sampleMessage, ExpirySeconds: 1, DelaySeconds: 2}
	add(kindWill, encodeWill(&will), will)
	qe := queueEntry{msg: newMsgID(1, 2), qos: 2, retain: true, received: true, share: "$share/g/t", subIDs: []uint32{5}}
	add(kindQueueEntry, qe.encode(), qe)
	so := subOpts{qos: 1, noLocal: true, retainAsPub: true, retainHandling: 1, id: 77}
	add(kindSubOpts, so.encode(), so)
	add(kindBody, encodeBody(&sampleMessage), sampleMessage)
	reg := NodeRegistration{ID: "n1", RaftAddr: "10.0.0.1:7946", KafkaAddr: "k:9092", NowMillis: 1 << 41}
	add(kindNodeRegister, nodeRegisterCommand(&reg).Payload, reg)
	noKafka := NodeRegistration{ID: "ü", RaftAddr: "r"}
	add(kindNodeRegister, nodeRegisterCommand(&noKafka).Payload, noKafka)
	add(kindNodeCommand, nodeCommand(CmdNodeDown, "n2", 77).Payload, []any{"n2", int64(77)})
	node := NodeInfo{ID: "n", BrokerID: 1 << 30, RaftAddr: "r", KafkaAddr: "k", Live: true, ChangedMillis: 5}
	add(kindNodeRecord, encodeNodeRecord(&node), node)
	down := NodeInfo{ID: "n", BrokerID: 1}
	add(kindNodeRecord, encodeNodeRecord(&down), down)
	return out
}

// decodePayload runs the decoder of kind and returns its value.
func decodePayload(k payloadKind, raw []byte) (any, error) {
	switch k {
	case kindOpen:
		return decodeSessionOpen(raw)
	case kindClose:
		return decodeSessionClose(raw)
	case kindSubscribe:
		return decodeSubscribe(raw)
	case kindUnsubscribe:
		return decodeUnsubscribe(raw)
	case kindPublish:
		return decodePublish(raw)
	case kindRelease:
		id, pid, err := decodeReleaseInbound(raw)
		return []any{id, pid}, err
	case kindAck:
		return decodeQueueAck(raw)
	case kindTick:
		now, n, err := decodeTick(raw)
		return []any{now, n}, err
	case kindOpened:
		return decodeSessionOpened(raw)
	case kindSubscribeResult:
		return decodeSubscribeResult(raw)
	case kindExisted:
		return decodeExisted(raw)
	case kindPublishResult:
		return decodePublishResult(raw)
	case kindSessionRecord:
		return decodeSessionRecord(raw)
	case kindWill:
		return decodeWill(raw)
	case kindQueueEntry:
		return decodeQueueEntry(raw)
	case kindSubOpts:
		return decodeSubOpts(raw)
	case kindBody:
		return decodeBody(raw)
	case kindNodeRegister:
		return decodeNodeRegister(raw)
	case kindNodeCommand:
		id, now, err := decodeNodeCommand(raw)
		return []any{id, now}, err
	case kindNodeRecord:
		return decodeNodeRecord("n", raw)
	}
	return nil, errors.New("no such kind")
}

// encodePayload re-encodes a decoded value.
func encodePayload(k payloadKind, v any) []byte {
	switch k {
	case kindOpen:
		o := v.(SessionOpen)
		return sessionOpenCommand(&o).Payload
	case kindClose:
		c := v.(SessionClose)
		return sessionCloseCommand(&c).Payload
	case kindSubscribe:
		r := v.(SubscribeRequest)
		return subscribeCommand(&r).Payload
	case kindUnsubscribe:
		r := v.(UnsubscribeRequest)
		return unsubscribeCommand(&r).Payload
	case kindPublish:
		r := v.(PublishRequest)
		return publishCommand(&r).Payload
	case kindRelease:
		a := v.([]any)
		return releaseInboundCommand(a[0].(string), a[1].(uint16)).Payload
	case kindAck:
		a := v.(QueueAck)
		return queueAckCommand(&a).Payload
	case kindTick:
		a := v.([]any)
		return tickCommand(a[0].(int64), a[1].(uint32)).Payload
	case kindOpened:
		r := v.(SessionOpened)
		return encodeSessionOpened(&r)
	case kindSubscribeResult:
		r := v.(SubscribeResult)
		return encodeSubscribeResult(&r)
	case kindExisted:
		return encodeExisted(v.([]bool))
	case kindPublishResult:
		r := v.(PublishResult)
		return encodePublishResult(&r)
	case kindSessionRecord:
		r := v.(sessionRecord)
		return r.encode()
	case kindWill:
		w := v.(Will)
		return encodeWill(&w)
	case kindQueueEntry:
		e := v.(queueEntry)
		return e.encode()
	case kindSubOpts:
		return v.(subOpts).encode()
	case kindBody:
		m := v.(Message)
		return encodeBody(&m)
	case kindNodeRegister:
		r := v.(NodeRegistration)
		return nodeRegisterCommand(&r).Payload
	case kindNodeCommand:
		a := v.([]any)
		return nodeCommand(CmdNodeForget, a[0].(string), a[1].(int64)).Payload
	case kindNodeRecord:
		n := v.(NodeInfo)
		return encodeNodeRecord(&n)
	}
	return nil
}

var payloadCmp = []cmp.Option{cmp.AllowUnexported(sessionRecord{}, queueEntry{}, subOpts{}), cmpopts.EquateEmpty()}

func TestMQTTPayloadRoundTrip(t *testing.T) {
	for k, samples := range payloadSamples() {
		for _, s := range samples {
			got, err := decodePayload(k, s.raw)
			if err != nil {
				t.Fatalf("kind %d: decode: %v", k, err)
			}
			if d := cmp.Diff(s.want, got, payloadCmp...); d != "" {
				t.Fatalf("kind %d (-want +got):\n%s", k, d)
			}
		}
	}
}

// TestMQTTPayloadDamageFails: every truncation of a valid encoding, and
// one with a byte appended, fails to decode (no decoder reads past its
// input or ignores what follows).
func TestMQTTPayloadDamageFails(t *testing.T) {
	for k, samples := range payloadSamples() {
		for _, s := range samples {
			for n := range len(s.raw) {
				if n == 0 && k == kindSubscribeResult {
					continue // an empty subscribe result is valid: nothing retained
				}
				if _, err := decodePayload(k, s.raw[:n]); err == nil {
					t.Fatalf("kind %d: %d of %d bytes decoded without error", k, n, len(s.raw))
				}
			}
			if _, err := decodePayload(k, append(append([]byte(nil), s.raw...), 0)); err == nil {
				t.Fatalf("kind %d: a trailing byte decoded without error", k)
			}
		}
	}
}

// TestMQTTApplyRejectsInvalidRequests: requests a wire layer would never
// send are rejected at apply, identically everywhere, before anything is
// written.
func TestMQTTApplyRejectsInvalidRequests(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.persistent("c", 0)
	before := dumpDB(t, h.f.db)
	bad := map[string]Command{
		"empty client id":    sessionOpenCommand(&SessionOpen{Node: "n", ProtocolVersion: 5, MaxQueuedMessages: 1}),
		"protocol 6":         sessionOpenCommand(&SessionOpen{ClientID: "x", Node: "n", ProtocolVersion: 6, MaxQueuedMessages: 1}),
		"max queued 0":       sessionOpenCommand(&SessionOpen{ClientID: "x", Node: "n", ProtocolVersion: 5}),
		"will wildcard":      sessionOpenCommand(&SessionOpen{ClientID: "x", Node: "n", ProtocolVersion: 5, MaxQueuedMessages: 1, Will: &Will{Message: Message{Topic: "a/#"}}}),
		"close reason 9":     sessionCloseCommand(&SessionClose{ClientID: "c", Generation: g, Reason: 9}),
		"filter a#":          subscribeCommand(&SubscribeRequest{ClientID: "c", Generation: g, Subscriptions: []Subscription{{Filter: "a#"}}}),
		"share without name": subscribeCommand(&SubscribeRequest{ClientID: "c", Generation: g, Subscriptions: []Subscription{{Filter: "$share//a"}}}),
		"qos 3":              subscribeCommand(&SubscribeRequest{ClientID: "c", Generation: g, Subscriptions: []Subscription{{Filter: "a", QoS: 3}}}),
		"retain handling 3":  subscribeCommand(&SubscribeRequest{ClientID: "c", Generation: g, Subscriptions: []Subscription{{Filter: "a", RetainHandling: 3}}}),
		"no subscriptions":   subscribeCommand(&SubscribeRequest{ClientID: "c", Generation: g}),
		"empty filter":       unsubscribeCommand(&UnsubscribeRequest{ClientID: "c", Generation: g, Filters: []string{""}}),
		"topic wildcard":     publishCommand(&PublishRequest{ClientID: "c", Message: Message{Topic: "a/+"}}),
		"packet id on qos 1": publishCommand(&PublishRequest{ClientID: "c", PacketID: 1, Message: Message{Topic: "a", QoS: 1}}),
		"publish qos 3":      publishCommand(&PublishRequest{ClientID: "c", Message: Message{Topic: "a", QoS: 3}}),
		"release id 0":       releaseInboundCommand("c", 0),
		"tick of 0":          tickCommand(5, 0),
		"negative now":       tickCommand(-1, 5),
		"garbage":            {Type: CmdPublish, Version: 1, Payload: []byte{0xff, 0xff, 0xff}},
	}
	for name, c := range bad {
		_, err := h.one(c)
		var rej *RejectedError
		if !errors.As(err, &rej) || !errors.Is(err, errMalformedPayload) {
			t.Errorf("%s: err = %v, want a RejectedError for a malformed payload", name, err)
		}
	}
	after := dumpDB(t, h.f.db)
	// Only the applied index moved.
	if len(before) != len(after) {
		t.Fatalf("rejected commands changed the state: %d keys before, %d after", len(before), len(after))
	}
	for i := range before {
		if string(before[i][0]) != string(keyApplied) && string(before[i][1]) != string(after[i][1]) {
			t.Fatalf("rejected commands changed key %x", before[i][0])
		}
	}
}

// FuzzMQTTPayloads checks every MQTT and node registry payload and record
// decoder: no panic on any input, and a decoded value re-encodes to bytes
// that decode to the same value.
func FuzzMQTTPayloads(f *testing.F) {
	for k, samples := range payloadSamples() {
		for _, s := range samples {
			f.Add(byte(k), s.raw)
		}
	}
	f.Add(byte(kindSubscribe), []byte{1, 'c', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, kind byte, raw []byte) {
		k := payloadKind(kind % byte(kindCount))
		v, err := decodePayload(k, raw)
		if err != nil {
			return
		}
		again, err := decodePayload(k, encodePayload(k, v))
		if err != nil {
			t.Fatalf("kind %d: re-encoded value does not decode: %v", k, err)
		}
		if d := cmp.Diff(v, again, payloadCmp...); d != "" {
			t.Fatalf("kind %d: round trip changed the value (-first +again):\n%s", k, d)
		}
	})
}
