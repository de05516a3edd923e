package raftstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"

	"tributary/mqttcodec"
)

// randomLevels builds a topic name or filter of 1..4 levels over a small
// alphabet (so names and filters collide), with empty levels and
// $-topics.
func randomLevels(rng *rand.Rand, filter bool) string {
	words := []string{"a", "b", "c", "", "$SYS", "$x"}
	n := 1 + rng.IntN(4)
	levels := make([]string, n)
	for i := range levels {
		levels[i] = words[rng.IntN(len(words))]
		if i > 0 && strings.HasPrefix(levels[i], "$") && rng.IntN(2) == 0 {
			levels[i] = "d"
		}
		if filter {
			switch rng.IntN(5) {
			case 0:
				levels[i] = "+"
			case 1:
				if i == n-1 {
					levels[i] = "#"
				}
			}
		}
	}
	return strings.Join(levels, "/")
}

// TestSubTrieMatchesMatchTopic checks the trie against the codec's
// reference matcher over random filters and names, including $-topics
// [MQTT-4.7.2-1], empty levels and "a/#" matching "a".
func TestSubTrieMatchesMatchTopic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var trie subTrie
	type sub struct{ filter, share, client string }
	key := func(s sub) string { return s.client + " " + s.share + " " + s.filter }
	var subs []sub
	for i := range 400 {
		s := sub{randomLevels(rng, true), []string{"", "", "g", "h"}[rng.IntN(4)], fmt.Sprintf("c%d", i%37)}
		trie.set(s.filter, s.share, s.client, subOpts{qos: 1})
		subs = append(subs, s)
	}
	// Remove a third again, so pruning is exercised too.
	for i := 0; i < len(subs); i += 3 {
		trie.remove(subs[i].filter, subs[i].share, subs[i].client)
	}
	live := map[string]sub{}
	for i, s := range subs {
		if i%3 != 0 {
			live[key(s)] = s
		}
	}
	for i, s := range subs {
		if _, ok := live[key(s)]; i%3 == 0 && ok {
			trie.set(s.filter, s.share, s.client, subOpts{qos: 1}) // a removed duplicate of a live one
		}
	}
	for range 2000 {
		topic := randomLevels(rng, false)
		var got []string
		trie.match(topic, func(n *trieNode) {
			for c := range n.direct {
				got = append(got, key(sub{n.filter, "", c}))
			}
			for share, g := range n.groups {
				for c := range g.members {
					got = append(got, key(sub{n.filter, share, c}))
				}
			}
		})
		var want []string
		for k, s := range live {
			if mqttcodec.MatchTopic(s.filter, topic) {
				want = append(want, k)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("topic %q: trie matched %v, MatchTopic %v", topic, got, want)
		}
	}
	if trie.n != len(live) {
		t.Fatalf("trie holds %d subscriptions, want %d", trie.n, len(live))
	}
}

// TestSubTriePrunes: removing every subscription leaves an empty root.
func TestSubTriePrunes(t *testing.T) {
	var trie subTrie
	filters := []string{"a/b/c", "a/+/c", "a/#", "#", "+", "+/+/#", "a//b"}
	for _, f := range filters {
		trie.set(f, "", "x", subOpts{})
		trie.set(f, "g", "y", subOpts{})
	}
	for _, f := range filters {
		if !trie.remove(f, "", "x") || !trie.remove(f, "g", "y") {
			t.Fatalf("remove %q failed", f)
		}
		if trie.remove(f, "g", "y") {
			t.Fatalf("removed %q twice", f)
		}
	}
	if !trie.root.empty() || trie.n != 0 {
		t.Fatalf("root not empty after removing everything: %+v", trie.root)
	}
}

// mqttScript is a fixed set of commands touching every table.
func mqttScript(h *mqttFSM) {
	g := h.persistent("p1", 0)
	h.subscribe("p1", g, 0, Subscription{Filter: "a/#", QoS: 1}, Subscription{Filter: "$share/g/a/+", QoS: 2})
	g2 := h.open(SessionOpen{ClientID: "v", NowMillis: 0}).Generation
	h.subscribe("v", g2, 0, Subscription{Filter: "+/b", SubscriptionID: 5})
	h.pub("x", "a/b", 1, true, "r", 1)
	w := &Will{DelaySeconds: 5, Message: Message{Topic: "a/w", Payload: []byte("w")}}
	g3 := h.open(SessionOpen{ClientID: "w", ExpirySeconds: 50, Will: w, NowMillis: 1}).Generation
	h.close(SessionClose{ClientID: "w", Generation: g3, Reason: CloseAbnormal, NowMillis: 2})
}

// TestIndexRebuiltAfterRestoreAndReopen: the in-memory index is rebuilt
// from Pebble when a snapshot is restored and when the state machine is
// opened again, and equals the index that apply maintained.
func TestIndexRebuiltAfterRestoreAndReopen(t *testing.T) {
	fs := vfs.NewMem()
	h := &mqttFSM{t: t, f: newTestFSM(t, fs, "a")}
	mqttScript(h)
	want := indexDump(h.f.mqtt)
	if len(want) < 5 {
		t.Fatalf("script built a tiny index: %v", want)
	}

	other := newTestFSM(t, fs, "b")
	(&mqttFSM{t: t, f: other}).pub("x", "old", 1, true, "gone after restore", 0)
	restoreFrom(t, h.f, other)
	if d := sameLines(want, indexDump(other.mqtt)); d != "" {
		t.Fatalf("index after restore differs: %s", d)
	}

	if err := h.f.close(); err != nil {
		t.Fatal(err)
	}
	reopened := newTestFSM(t, fs, "a")
	if d := sameLines(want, indexDump(reopened.mqtt)); d != "" {
		t.Fatalf("index after reopen differs: %s", d)
	}
	var routes []string
	(&mqttFSM{t: t, f: reopened}).store().Match("a/b", "", func(r Route) { routes = append(routes, r.ClientID) })
	if !slices.Equal(routes, []string{"p1", "v", "p1"}) {
		t.Fatalf("Match after reopen: %v", routes)
	}
}

func sameLines(a, b []string) string {
	if slices.Equal(a, b) {
		return ""
	}
	return fmt.Sprintf("\nwant %q\ngot  %q", a, b)
}

// TestIndexOnlyCommitted: a batch that stops the node (an unknown
// command after a subscribe) leaves the index as it was, and events of a
// batch arrive only after it committed.
func TestIndexOnlyCommitted(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.persistent("c", 0)
	before := indexDump(h.f.mqtt)
	sub := subscribeCommand(&SubscribeRequest{ClientID: "c", Generation: g, Subscriptions: []Subscription{{Filter: "t"}}})
	h.f.onFatal = func(error) {}
	h.index++
	h.f.ApplyBatch([]*raft.Log{entry(h.index, sub, Command{Type: 999, Version: 1})})
	if d := sameLines(before, indexDump(h.f.mqtt)); d != "" {
		t.Fatalf("an uncommitted subscribe reached the index: %s", d)
	}

	h = newMQTTFSM(t)
	g = h.persistent("c", 0)
	h.subscribe("c", g, 0, Subscription{Filter: "t", QoS: 1})
	h.f.onEvents = func(ev []Event) {
		// The batch has committed: the queue entry is readable.
		if q := h.queue("c"); len(q) != 1 || ev[0].Seq != q[0].Seq {
			t.Errorf("event %+v before its entry %+v was readable", ev, q)
		}
	}
	h.pub("p", "t", 1, false, "m", 0)
}

// TestMatchConcurrentWithApply runs Match from several goroutines while
// apply changes subscriptions (for the race detector), and checks each
// Match sees either the whole of a committed batch or none of it.
func TestMatchConcurrentWithApply(t *testing.T) {
	h := newMQTTFSM(t)
	g := h.persistent("c", 0)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := h.store()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := 0
				st.Match("x/y", "", func(Route) { n++ })
				if n > 1 {
					t.Errorf("%d routes for one session", n)
					return
				}
			}
		}()
	}
	for i := range 200 {
		f := []string{"x/+", "x/#", "+/y"}[i%3]
		h.subscribe("c", g, 0, Subscription{Filter: f})
		h.ok(unsubscribeCommand(&UnsubscribeRequest{ClientID: "c", Generation: g, Filters: []string{f}}))
	}
	close(stop)
	wg.Wait()
	checkMQTT(t, h.f)
}
