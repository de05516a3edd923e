package kafka

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"tributary/cluster"
)

// FuzzConnectionInput writes arbitrary bytes to a Kafka connection of a
// real node and then checks that the node still answers a fresh
// connection: whatever one client sends, it can at most lose its own
// connection. Every input ends within the server's read timeout, since the
// fuzzer's connection is half-closed after the bytes.
func FuzzConnectionInput(f *testing.F) {
	st := newStack(f, stackOptions{server: func(c *Config) {
		c.MaxRequestBytes = 1 << 20
		c.ReadTimeout = 2 * time.Second
	}, kafka: func(c *cluster.KafkaConfig) {
		// Requests that may legitimately wait (a Fetch long poll, a
		// JoinGroup's rebalance) must not look like hangs to the fuzzer.
		c.MaxFetchWait = 50 * time.Millisecond
		c.Groups.InitialRebalanceDelay = -1
	}})
	for _, req := range []kmsg.Request{
		withVersion(kmsg.NewPtrApiVersionsRequest(), 3), withVersion(kmsg.NewPtrMetadataRequest(), 12),
		withVersion(kmsg.NewPtrMetadataRequest(), 0), withVersion(kmsg.NewPtrFindCoordinatorRequest(), 4),
		withVersion(kmsg.NewPtrListGroupsRequest(), 4), withVersion(kmsg.NewPtrFetchRequest(), 12),
		withVersion(kmsg.NewPtrJoinGroupRequest(), 9), withVersion(kmsg.NewPtrOffsetFetchRequest(), 8),
	} {
		f.Add(formatter.AppendRequest(nil, req, 1))
	}
	f.Add([]byte{0, 0, 0, 13, 0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0, 1, 1, 0xff}) // truncated hostile ApiVersions
	f.Add(binary.BigEndian.AppendUint32(nil, 0x7fffffff))
	f.Fuzz(func(t *testing.T, input []byte) {
		nc, err := net.DialTimeout("tcp", st.kafkaAddr(), waitFor)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(time.Second))
		if _, err := nc.Write(input); err != nil {
			return // the server already closed it: fine
		}
		_ = nc.(*net.TCPConn).CloseWrite()
		// Read what comes back for a moment; a request that waits by
		// protocol (a JoinGroup) may still be waiting when we give up.
		_, _ = io.Copy(io.Discard, nc)
		control := &rawConn{t: t, nc: dialControl(t, st)}
		control.send(withVersion(kmsg.NewPtrApiVersionsRequest(), 3), 9)
		if corr, _, err := control.receive(); err != nil || corr != 9 {
			t.Fatalf("after input %x the node no longer answers: corr %d, %v", input, corr, err)
		}
	})
}

func withVersion[R kmsg.Request](r R, v int16) R {
	r.SetVersion(v)
	return r
}

func dialControl(t *testing.T, st *stack) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", st.kafkaAddr(), waitFor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(waitFor))
	return nc
}
