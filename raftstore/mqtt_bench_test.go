package raftstore

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkPublishFanIn measures committed QoS 1 publishes per second
// through raft on a real disk, from 1 and 64 concurrent publishers, to one
// persistent subscriber whose queue takes every message.
func BenchmarkPublishFanIn(b *testing.B) {
	for _, publishers := range []int{1, 64} {
		b.Run(fmt.Sprintf("publishers=%d", publishers), func(b *testing.B) {
			s := openStore(b, testConfig(b, b.TempDir()))
			defer s.Close()
			ctx := context.Background()
			o, err := s.OpenSession(ctx, SessionOpen{ClientID: "sink", Node: "n1", CleanStart: true,
				ExpirySeconds: NeverExpires, ProtocolVersion: 5, MaxQueuedMessages: 1 << 31})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Subscribe(ctx, SubscribeRequest{ClientID: "sink", Generation: o.Generation,
				Subscriptions: []Subscription{{Filter: "sensors/+/temp", QoS: 1}}}); err != nil {
				b.Fatal(err)
			}
			payload := make([]byte, benchPayloadBytes)
			runConcurrently(b, publishers, func(i int64) error {
				r, err := s.Publish(ctx, PublishRequest{ClientID: "p", NowMillis: i,
					Message: Message{Topic: "sensors/7/temp", QoS: 1, Payload: payload}})
				if err == nil && r.Matched != 1 {
					err = fmt.Errorf("matched %d", r.Matched)
				}
				return err
			})
			reportPacking(b, s)
		})
	}
}

// BenchmarkApplyPublish measures apply alone (no raft): one QoS 1 publish
// per entry to 1, 100 or 1000 persistent subscribers, so the per-queue cost
// of a fan-out shows.
func BenchmarkApplyPublish(b *testing.B) {
	for _, subscribers := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", subscribers), func(b *testing.B) {
			h := newMQTTFSM(b)
			for i := range subscribers {
				id := fmt.Sprintf("s%04d", i)
				h.open(SessionOpen{ClientID: id, CleanStart: true, ExpirySeconds: NeverExpires, MaxQueuedMessages: 1 << 31})
				h.subscribe(id, h.f.mqtt.sessions[id].generation, 0, Subscription{Filter: "sensors/#", QoS: 1})
			}
			cmd := publishCommand(&PublishRequest{ClientID: "p",
				Message: Message{Topic: "sensors/7/temp", QoS: 1, Payload: make([]byte, benchPayloadBytes)}})
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := h.one(cmd); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*subscribers)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkMatch measures Store.Match over 10,000 subscriptions of 1,000
// sessions: exact filters, '+' and '#' wildcards and shared
// subscriptions, for a topic that matches a few of them and one that
// matches none.
func BenchmarkMatch(b *testing.B) {
	h := newMQTTFSM(b)
	for i := range 1000 {
		id := fmt.Sprintf("dev%04d", i)
		gen := h.open(SessionOpen{ClientID: id, NowMillis: 0}).Generation
		subs := make([]Subscription, 0, 10)
		for j := range 10 {
			var f string
			switch j % 5 {
			case 0:
				f = fmt.Sprintf("site/%d/dev/%d/status", i%50, j)
			case 1:
				f = fmt.Sprintf("site/%d/+/%d/temp", i, j)
			case 2:
				f = fmt.Sprintf("cmd/%s/%d/#", id, j)
			case 3:
				f = fmt.Sprintf("$share/g%d/jobs/%d/+", i%10, j)
			default:
				f = fmt.Sprintf("fleet/%d/#", i*10+j)
			}
			subs = append(subs, Subscription{Filter: f, QoS: 1})
		}
		h.subscribe(id, gen, 0, subs...)
	}
	if h.f.mqtt.subs.n != 10_000 {
		b.Fatalf("%d subscriptions indexed", h.f.mqtt.subs.n)
	}
	s := h.store()
	for _, tc := range []struct{ name, topic string }{
		{"hit", "site/7/dev/0/status"},
		{"shared", "jobs/3/x"},
		{"miss", "site/9999/x/y/z"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			routes := 0
			for b.Loop() {
				s.Match(tc.topic, "", func(Route) { routes++ })
			}
			b.ReportMetric(float64(routes)/float64(b.N), "routes/op")
		})
	}
}
