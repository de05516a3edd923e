package wire_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"tributary/raftstore"
	"tributary/wire"
)

// firstByteRecorder reports the first byte written on a connection.
type firstByteRecorder struct {
	net.Conn
	once sync.Once
	seen chan<- byte
}

func (r *firstByteRecorder) Write(p []byte) (int, error) {
	if len(p) > 0 {
		r.once.Do(func() { r.seen <- p[0] })
	}
	return r.Conn.Write(p)
}

// TestCluster_RealRaftTransportLandsOnRaftSide runs two hashicorp/raft
// NetworkTransports over cluster ports, wired as `tributary serve` wires
// them (raftstore.NewStreamLayer(cl, cl.Dial)), and sends every kind of
// raft request, each on a connection of its own. Each must reach the
// other transport's consumer through Accept, none may start with
// ClusterRPCByte, and the RPC side must see nothing.
func TestCluster_RealRaftTransportLandsOnRaftSide(t *testing.T) {
	reg := prometheus.NewRegistry()
	server := listenCluster(t, wire.ClusterConfig{Registerer: reg})
	client := listenCluster(t, wire.ClusterConfig{})
	firsts := make(chan byte, 16)
	recordingDial := func(addr string, timeout time.Duration) (net.Conn, error) {
		c, err := client.Dial(addr, timeout)
		if err != nil {
			return nil, err
		}
		return &firstByteRecorder{Conn: c, seen: firsts}, nil
	}
	serverTrans := raft.NewNetworkTransport(raftstore.NewStreamLayer(server, server.Dial), 1, testTimeout, io.Discard)
	// maxPool 0: no connection is reused, so every request opens one and
	// its type byte is that connection's first byte.
	clientTrans := raft.NewNetworkTransport(raftstore.NewStreamLayer(client, recordingDial), 0, testTimeout, io.Discard)
	t.Cleanup(func() {
		_ = clientTrans.Close()
		_ = serverTrans.Close()
	})
	served := make(chan string, 16)
	stop := make(chan struct{})
	defer close(stop)
	go answerRaft(serverTrans.Consumer(), served, stop)
	rpcSide := acceptRPCAsync(server)

	id, target := raft.ServerID("server"), raft.ServerAddress(server.Addr().String())
	hdr := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("client"), Addr: []byte(client.Addr().String())}
	calls := []struct {
		name string
		call func() error
	}{
		{"AppendEntries", func() error {
			return clientTrans.AppendEntries(id, target, &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 1}, &raft.AppendEntriesResponse{})
		}},
		{"RequestVote", func() error {
			return clientTrans.RequestVote(id, target, &raft.RequestVoteRequest{RPCHeader: hdr, Term: 2}, &raft.RequestVoteResponse{})
		}},
		{"InstallSnapshot", func() error {
			data := []byte("snapshot bytes")
			return clientTrans.InstallSnapshot(id, target, &raft.InstallSnapshotRequest{RPCHeader: hdr, Term: 3, Size: int64(len(data))},
				&raft.InstallSnapshotResponse{}, bytes.NewReader(data))
		}},
		{"TimeoutNow", func() error {
			return clientTrans.TimeoutNow(id, target, &raft.TimeoutNowRequest{RPCHeader: hdr}, &raft.TimeoutNowResponse{})
		}},
		{"RequestPreVote", func() error {
			return clientTrans.RequestPreVote(id, target, &raft.RequestPreVoteRequest{RPCHeader: hdr, Term: 4}, &raft.RequestPreVoteResponse{})
		}},
		{"AppendEntriesPipeline", func() error {
			p, err := clientTrans.AppendEntriesPipeline(id, target)
			if err != nil {
				return err
			}
			defer p.Close()
			f, err := p.AppendEntries(&raft.AppendEntriesRequest{RPCHeader: hdr, Term: 5}, &raft.AppendEntriesResponse{})
			if err != nil {
				return err
			}
			return f.Error()
		}},
	}
	for _, c := range calls {
		if err := c.call(); err != nil {
			t.Fatalf("%s through the cluster port: %v", c.name, err)
		}
		select {
		case b := <-firsts:
			if b == wire.ClusterRPCByte || b > 4 {
				t.Errorf("%s: raft's first byte is %#x; want its RPC type, 0..4", c.name, b)
			}
		case <-time.After(testTimeout):
			t.Fatalf("%s: no first byte recorded", c.name)
		}
		want := c.name
		if want == "AppendEntriesPipeline" {
			want = "AppendEntries"
		}
		if got := <-served; got != want {
			t.Errorf("server's raft consumer got %s, want %s", got, want)
		}
	}
	select {
	case r := <-rpcSide:
		t.Fatalf("a raft connection reached the RPC side: %v, %v", r.c, r.err)
	default:
	}
	if got := labeledValue(t, reg, "tributary_cluster_conns_routed_total", "proto", "raft"); got != float64(len(calls)) {
		t.Errorf("routed_total{proto=raft} = %v, want %d", got, len(calls))
	}
	if got := labeledValue(t, reg, "tributary_cluster_conns_routed_total", "proto", "rpc"); got != 0 {
		t.Errorf("routed_total{proto=rpc} = %v, want 0", got)
	}
}

// answerRaft answers every request a transport's consumer receives, and
// reports its kind on served.
func answerRaft(rpcs <-chan raft.RPC, served chan<- string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case rpc := <-rpcs:
			var resp any
			switch cmd := rpc.Command.(type) {
			case *raft.AppendEntriesRequest:
				resp = &raft.AppendEntriesResponse{Term: cmd.Term, Success: true}
			case *raft.RequestVoteRequest:
				resp = &raft.RequestVoteResponse{Term: cmd.Term, Granted: true}
			case *raft.RequestPreVoteRequest:
				resp = &raft.RequestPreVoteResponse{Term: cmd.Term, Granted: true}
			case *raft.InstallSnapshotRequest:
				_, _ = io.CopyN(io.Discard, rpc.Reader, cmd.Size)
				resp = &raft.InstallSnapshotResponse{Term: cmd.Term, Success: true}
			case *raft.TimeoutNowRequest:
				resp = &raft.TimeoutNowResponse{}
			}
			rpc.Respond(resp, nil)
			served <- kindOf(rpc.Command)
		}
	}
}

func kindOf(cmd any) string {
	s := fmt.Sprintf("%T", cmd)
	const prefix, suffix = "*raft.", "Request"
	return s[len(prefix) : len(s)-len(suffix)]
}
