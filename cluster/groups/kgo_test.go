package groups

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// routeGroups makes kfake hand every group-membership request to coord,
// so real kgo consumers run the classic protocol against it. kfake keeps
// serving everything else (metadata, fetch, offsets).
func routeGroups(t *testing.T, kc *kfake.Cluster, coord *Coordinator) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	route := func(key kmsg.Key, handle func(kmsg.Request) kmsg.Response) {
		kc.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
			kc.KeepControl()
			var resp kmsg.Response
			kc.SleepControl(func() { resp = handle(req) }) // lets kfake serve others while Join blocks
			return resp, nil, true
		})
	}
	route(kmsg.JoinGroup, func(r kmsg.Request) kmsg.Response {
		return coord.JoinWithClient(ctx, r.(*kmsg.JoinGroupRequest), "kgo-test", "/127.0.0.1")
	})
	route(kmsg.SyncGroup, func(r kmsg.Request) kmsg.Response { return coord.Sync(ctx, r.(*kmsg.SyncGroupRequest)) })
	route(kmsg.Heartbeat, func(r kmsg.Request) kmsg.Response { return coord.Heartbeat(r.(*kmsg.HeartbeatRequest)) })
	route(kmsg.LeaveGroup, func(r kmsg.Request) kmsg.Response { return coord.Leave(r.(*kmsg.LeaveGroupRequest)) })
	route(kmsg.OffsetFetch, func(r kmsg.Request) kmsg.Response { return noOffsets(r.(*kmsg.OffsetFetchRequest)) })
	route(kmsg.OffsetCommit, func(r kmsg.Request) kmsg.Response {
		req := r.(*kmsg.OffsetCommitRequest)
		code := coord.CheckCommit(req.Group, req.MemberID, req.InstanceID, req.Generation)
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	})
}

// noOffsets answers an OffsetFetch with no committed offset (-1) for every
// partition asked for; kfake would answer GROUP_ID_NOT_FOUND for a group
// it does not hold.
func noOffsets(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	partitions := func(ps []int32) []kmsg.OffsetFetchResponseGroupTopicPartition {
		var out []kmsg.OffsetFetchResponseGroupTopicPartition
		for _, p := range ps {
			sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			sp.Partition, sp.Offset = p, -1
			out = append(out, sp)
		}
		return out
	}
	for _, g := range req.Groups {
		sg := kmsg.NewOffsetFetchResponseGroup()
		sg.Group = g.Group
		for _, t := range g.Topics {
			st := kmsg.NewOffsetFetchResponseGroupTopic()
			st.Topic, st.TopicID, st.Partitions = t.Topic, t.TopicID, partitions(t.Partitions)
			sg.Topics = append(sg.Topics, st)
		}
		resp.Groups = append(resp.Groups, sg)
	}
	for _, t := range req.Topics {
		st := kmsg.NewOffsetFetchResponseTopic()
		st.Topic = t.Topic
		for _, p := range t.Partitions {
			sp := kmsg.NewOffsetFetchResponseTopicPartition()
			sp.Partition, sp.Offset = p, -1
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

// assignments tracks which partitions each kgo client holds.
type assignments struct {
	mu   sync.Mutex
	held map[string][]int32 // client name → partitions of topic "t"
}

func (a *assignments) opts(name string) []kgo.Opt {
	return []kgo.Opt{
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.held[name] = append(a.held[name], m["t"]...)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			a.mu.Lock()
			defer a.mu.Unlock()
			a.held[name] = slices.DeleteFunc(a.held[name], func(p int32) bool { return slices.Contains(m["t"], p) })
		}),
	}
}

// waitFor polls until each named client holds want partitions, all four
// partitions held exactly once, or fails after a few seconds.
func (a *assignments) waitFor(t *testing.T, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		a.mu.Lock()
		var all []int32
		ok := true
		for name, n := range want {
			all = append(all, a.held[name]...)
			ok = ok && len(a.held[name]) == n
		}
		a.mu.Unlock()
		slices.Sort(all)
		if ok && slices.Equal(all, []int32{0, 1, 2, 3}) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t.Fatalf("assignments %v, want counts %v over partitions 0-3", a.held, want)
}

// Two real kgo consumers (cooperative-sticky, JoinGroup v9) share a
// four-partition topic through the coordinator; when one leaves, the other
// takes every partition.
func TestKgo_ConsumerGroup(t *testing.T) {
	t.Parallel()
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "t"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	coord := New(Config{InitialRebalanceDelay: 100 * time.Millisecond})
	defer coord.Close()
	routeGroups(t, kc, coord)

	a := &assignments{held: make(map[string][]int32)}
	newClient := func(name string) *kgo.Client {
		opts := append(a.opts(name),
			kgo.SeedBrokers(kc.ListenAddrs()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"),
			kgo.HeartbeatInterval(100*time.Millisecond), kgo.SessionTimeout(6*time.Second))
		cl, err := kgo.NewClient(opts...)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for !cl.PollFetches(context.Background()).IsClientClosed() {
			}
		}()
		return cl
	}
	c1 := newClient("c1")
	a.waitFor(t, map[string]int{"c1": 4})
	c2 := newClient("c2")
	defer c2.Close()
	a.waitFor(t, map[string]int{"c1": 2, "c2": 2})

	d := describe(coord, "g")
	if d.State != "Stable" || d.Protocol != "cooperative-sticky" || len(d.Members) != 2 || d.Members[0].ClientID != "kgo-test" {
		t.Errorf("describe: %+v", d)
	}
	c1.Close() // leaves the group
	a.waitFor(t, map[string]int{"c2": 4})
}
