package chaos

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// runPublishers runs one at-least-once publisher per QoS in qos, each on
// addrs[i % len(addrs)], publishing numbered messages until
// stop is closed, each to a topic of its own (topic/<qos>/<i>). It
// returns the publishers once they have stopped.
func runPublishers(ctx context.Context, addrs []string, topic string, qos []byte, stop <-chan struct{}, acks *atomic.Int64) func() []*publisher {
	var wg sync.WaitGroup
	pubs := make([]*publisher, len(qos))
	for i, q := range qos {
		p := &publisher{addr: addrs[i%len(addrs)], id: fmt.Sprintf("pub-%s-%d", topic, i)}
		pubs[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer p.close()
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				if !p.publish(ctx, fmt.Sprintf("%s/%d/%d", topic, q, i), q, fmt.Sprintf("q%d-%d-%d", q, i, j)) {
					return
				}
				acks.Add(1)
			}
		}()
	}
	return func() []*publisher {
		wg.Wait()
		return pubs
	}
}

// waitAcks waits until n acknowledgements were counted.
func waitAcks(t *testing.T, acks *atomic.Int64, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for acks.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d acknowledgements within %v", acks.Load(), n, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKillSubscriberNode kills (SIGKILL) the node that holds a persistent
// subscriber while QoS 1 and QoS 2 messages flow to it from publishers on
// the other nodes. The subscriber reconnects through HAProxy to another
// node, which finds its session: every acknowledged message arrives, QoS 2
// exactly once. The time from the kill to the first message delivered
// on the subscriber's new connection is measured.
func TestKillSubscriberNode(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	rec := newRecorder()
	device(ctx, t, c.MQTTAddr, "subscriber", []paho.SubscribeOptions{{Topic: "kill/#", QoS: 2}}, rec, nil)
	victim := holder(t, c, 1)
	var others []string
	for _, n := range c.Nodes() {
		if n != victim {
			others = append(others, n.Ports.MQTT)
		}
	}
	t.Logf("subscriber is on %s; publishers on the other nodes", victim.ID)

	var acks atomic.Int64
	stop := make(chan struct{})
	wait := runPublishers(ctx, others, "kill", []byte{1, 2, 1, 2}, stop, &acks)
	waitAcks(t, &acks, 300, time.Minute)
	killed := time.Now()
	if err := c.Kill(victim); err != nil {
		t.Fatal(err)
	}
	// Publishing goes on while the subscriber finds another node.
	waitAcks(t, &acks, acks.Load()+300, time.Minute)
	close(stop)
	pubs := wait()

	var acked []string
	for _, p := range pubs {
		acked = append(acked, p.ackedPayloads()...)
	}
	rec.waitAll(t, "subscriber after its node died", acked, time.Minute)
	up, resumed, ok := rec.firstOnNewConnection(killed)
	if !ok {
		t.Fatal("no delivery on a connection made after the kill")
	}
	dups := 0
	for _, p := range pubs {
		for _, m := range p.ackedPayloads() {
			if m[1] == '2' && p.sentOnce(m) && rec.count(m) != 1 {
				t.Errorf("QoS 2 message %s arrived %d times, want exactly once", m, rec.count(m))
			}
			if m[1] == '1' && rec.count(m) > 1 {
				dups++
			}
		}
	}
	took := resumed.Sub(killed)
	t.Logf("RESULT kill-subscriber-node: %d acknowledged messages all delivered; subscriber reconnected %v and delivery resumed %v after kill -9 (QoS 1 duplicates: %d)",
		len(acked), up.Sub(killed).Round(time.Millisecond), took.Round(time.Millisecond), dups)
	report(t, "kill_subscriber_node_reconnect_ms", up.Sub(killed))
	report(t, "kill_subscriber_node_resume_ms", took)
}

// TestKillLeaderUnderLoad kills the raft leader while publishers send QoS
// 1 messages through HAProxy: a new leader is elected, publishing resumes
// (the time from the kill to the acknowledgement of the first publish
// sent after it is measured), and
// every acknowledged message reaches a persistent subscriber.
func TestKillLeaderUnderLoad(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	rec := newRecorder()
	device(ctx, t, c.MQTTAddr, "subscriber", []paho.SubscribeOptions{{Topic: "lead/#", QoS: 1}}, rec, nil)
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var acks atomic.Int64
	stop := make(chan struct{})
	wait := runPublishers(ctx, []string{c.MQTTAddr}, "lead", []byte{1, 1, 1, 1}, stop, &acks)
	waitAcks(t, &acks, 300, time.Minute)
	killed := time.Now()
	if err := c.Kill(leader); err != nil {
		t.Fatal(err)
	}
	waitAcks(t, &acks, acks.Load()+300, time.Minute)
	close(stop)
	pubs := wait()
	first := time.Time{}
	var acked []string
	for _, p := range pubs {
		acked = append(acked, p.ackedPayloads()...)
		if at, ok := p.firstAckOfSendAfter(killed); ok && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	rec.waitAll(t, "subscriber after the leader died", acked, time.Minute)
	newLeader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if newLeader == leader {
		t.Fatalf("the killed node %s is still reported as leader", leader.ID)
	}
	// The new leader marked the dead one down, and says so in /metrics.
	deadline := time.Now().Add(30 * time.Second)
	for {
		down, err1 := metric(newLeader, "tributary_cluster_nodes_marked_down_total")
		live, err2 := metric(newLeader, "tributary_cluster_members_live")
		if err1 == nil && err2 == nil && down >= 1 && live == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new leader's metrics: marked down %v (%v), live %v (%v); want ≥ 1 and 2", down, err1, live, err2)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if first.IsZero() {
		t.Fatal("no publish sent after the kill was acknowledged")
	}
	took := first.Sub(killed)
	t.Logf("RESULT kill-leader: leader %s killed, %s elected; the first publish sent after the kill was acknowledged %v after it; %d acknowledged messages all delivered",
		leader.ID, newLeader.ID, took.Round(time.Millisecond), len(acked))
	report(t, "kill_leader_write_resume_ms", took)
}

// TestPausedLeaderNoSplitBrain freezes the leader (SIGSTOP), which holds a
// device with a will, while the others go on: they elect a leader and keep
// acknowledging writes, and after the grace period the frozen node's
// sessions are ended (the will is published). A publish sent to the
// frozen node while it was frozen is acknowledged only if it really
// committed (then it is delivered). After SIGCONT the node catches up and
// serves again.
func TestPausedLeaderNoSplitBrain(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	leader, err := c.Leader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var other *Node
	for _, n := range c.Nodes() {
		if n != leader {
			other = n
			break
		}
	}
	rec := newRecorder()
	device(ctx, t, other.Ports.MQTT, "watcher", []paho.SubscribeOptions{{Topic: "split/#", QoS: 1}}, rec, nil)
	device(ctx, t, leader.Ports.MQTT, "doomed", nil, nil, &paho.WillMessage{Topic: "split/will", QoS: 1, Payload: []byte("doomed-will")})

	frozenPub := &publisher{addr: leader.Ports.MQTT, id: "frozen-pub"}
	if err := frozenPub.connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer frozenPub.close()
	if err := c.Pause(leader); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	frozenAck := make(chan bool, 1)
	go func() {
		pctx, pcancel := context.WithTimeout(ctx, 20*time.Second)
		defer pcancel()
		_, err := frozenPub.cli.Publish(pctx, &paho.Publish{Topic: "split/frozen", QoS: 1, Payload: []byte("sent-to-frozen")})
		frozenAck <- err == nil
	}()

	// The majority keeps acknowledging writes.
	live := &publisher{addr: other.Ports.MQTT, id: "live-pub"}
	defer live.close()
	for i := range 20 {
		if !live.publish(ctx, "split/live", 1, fmt.Sprintf("live-%d", i)) {
			t.Fatal("the majority stopped acknowledging writes")
		}
	}
	rec.waitAll(t, "watcher", []string{"doomed-will"}, 30*time.Second)
	willAfter, _ := rec.firstAfter(paused)
	rec.waitAll(t, "watcher", live.ackedPayloads(), 30*time.Second)

	if err := c.Resume(leader); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	if err := c.WaitReady(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if ok := <-frozenAck; ok {
		rec.waitAll(t, "watcher (a publish the frozen node acknowledged)", []string{"sent-to-frozen"}, 30*time.Second)
	}
	// Caught up: the old leader's state reaches the others' and it is live
	// again in the registry.
	var lag uint64
	deadline := time.Now().Add(30 * time.Second)
	for {
		ms, err := c.Members(ctx, other)
		if err == nil {
			for _, m := range ms {
				if m.ID == leader.ID && m.Live && m.Ready && m.Lag < 64 {
					lag = m.Lag
					goto caughtUp
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not catch up after SIGCONT: %v %v", leader.ID, ms, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
caughtUp:
	t.Logf("RESULT paused-leader: will published %v after SIGSTOP; caught up (lag %d) %v after SIGCONT",
		willAfter.Sub(paused).Round(time.Millisecond), lag, time.Since(resumed).Round(time.Millisecond))
}

// TestMembershipChangesUnderLoad adds a fourth node, removes the first and
// restarts the rest one by one while QoS 1 messages flow through HAProxy
// to a persistent subscriber: no acknowledged message is lost.
func TestMembershipChangesUnderLoad(t *testing.T) {
	c := startCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	rec := newRecorder()
	device(ctx, t, c.MQTTAddr, "subscriber", []paho.SubscribeOptions{{Topic: "member/#", QoS: 1}}, rec, nil)
	var acks atomic.Int64
	stop := make(chan struct{})
	wait := runPublishers(ctx, []string{c.MQTTAddr}, "member", []byte{1, 1}, stop, &acks)
	waitAcks(t, &acks, 100, time.Minute)

	n4, err := c.AddNode(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitAcks(t, &acks, acks.Load()+100, time.Minute)
	nodes := c.Nodes()
	if err := c.Remove(ctx, nodes[1], nodes[0]); err != nil {
		t.Fatal(err)
	}
	waitAcks(t, &acks, acks.Load()+100, time.Minute)
	for _, n := range []*Node{nodes[1], nodes[2], n4} {
		if err := c.Stop(n); err != nil {
			t.Fatal(err)
		}
		if err := c.Restart(ctx, n); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitVoter(ctx, n); err != nil {
			t.Fatal(err)
		}
		waitAcks(t, &acks, acks.Load()+100, time.Minute)
	}
	close(stop)
	var acked []string
	for _, p := range wait() {
		acked = append(acked, p.ackedPayloads()...)
	}
	rec.waitAll(t, "subscriber across membership changes", acked, time.Minute)
	ms, err := c.Members(ctx, nodes[1])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID == nodes[0].ID {
			t.Errorf("removed node %s is still a member: %+v", m.ID, ms)
		}
	}
	if len(ms) != 3 {
		t.Errorf("members = %+v, want n2, n3, n4", ms)
	}
	t.Logf("RESULT membership: added n4, removed n1, restarted n2, n3, n4 one by one; %d acknowledged messages all delivered", len(acked))
}
