package mqtt

import (
	"net"
	"runtime"
	"testing"

	"tributary/mqttcodec"
)

// Memory of an idle connection (DESIGN.md, "Zero-copy wire path": ≤ 2 KiB
// is the aim, Mosquitto's 0.72 KB the reference).

// memInUse returns the live heap plus goroutine stacks after the
// collector has run often enough to shrink idle stacks (it halves a
// stack that uses under a quarter of itself, once per cycle).
func memInUse() uint64 {
	for range 6 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

// openIdle opens n MQTT 3.1.1 connections that are connected and then
// idle, and returns their client sockets.
func openIdle(tb testing.TB, st *stack, n int) []net.Conn {
	tb.Helper()
	connect, err := (&mqttcodec.Connect{CleanStart: true}).Append(nil, mqttcodec.V311)
	if err != nil {
		tb.Fatal(err)
	}
	conns := make([]net.Conn, 0, n)
	ack := make([]byte, 4)
	for range n {
		nc, err := net.Dial("tcp", st.addr())
		if err != nil {
			tb.Fatalf("dial: %v", err)
		}
		conns = append(conns, nc)
		if _, err := nc.Write(connect); err != nil {
			tb.Fatalf("write: %v", err)
		}
		if _, err := readFull(nc, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
			tb.Fatalf("CONNACK % x: %v", ack, err)
		}
	}
	eventually(tb, "writers idle", func() bool {
		for _, c := range st.srv.snapshot() {
			c.mu.Lock()
			busy := c.writing || c.queue != nil
			c.mu.Unlock()
			if busy {
				return false
			}
		}
		return true
	})
	return conns
}

func readFull(nc net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := nc.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// socketPairs opens n plain TCP connections to a listener that holds the
// accepted ends without a goroutine: what two sockets cost, the baseline
// an MQTT connection adds to.
func socketPairs(tb testing.TB, n int) (closeAll func()) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	conns := make([]net.Conn, 0, 2*n)
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			tb.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			tb.Fatal(err)
		}
		conns = append(conns, c, s)
	}
	return func() {
		for _, c := range conns {
			_ = c.Close()
		}
		_ = ln.Close()
	}
}

// idleBytes measures what n idle MQTT connections cost, per connection:
// all of it (both sockets included, since the clients live in this
// process too) and what the server adds to a pair of plain sockets.
func idleBytes(tb testing.TB, st *stack, n int) (total, server float64) {
	tb.Helper()
	before := memInUse()
	closePairs := socketPairs(tb, n)
	sockets := float64(memInUse()-before) / float64(n)
	closePairs()

	before = memInUse()
	conns := openIdle(tb, st, n)
	after := memInUse()
	runtime.KeepAlive(conns)
	total = float64(after-before) / float64(n)
	for _, nc := range conns {
		_ = nc.Close()
	}
	eventually(tb, "connections closed", func() bool { return st.srv.metrics.open.Load() == 0 })
	return total, total - sockets
}

// BenchmarkIdleConnectionBytes reports the memory of an idle MQTT
// connection: bytes/conn is everything (heap and stacks, both sockets,
// the session), server-bytes/conn what the server adds to two plain
// sockets: the goroutine, the connection and the session.
func BenchmarkIdleConnectionBytes(b *testing.B) {
	st := newStack(b, stackOptions{config: func(c *Config) { c.MaxConnections = 10_000 }})
	const n = 2000
	var total, server float64
	for b.Loop() {
		t, s := idleBytes(b, st, n)
		total, server = total+t, server+s
	}
	b.ReportMetric(total/float64(b.N), "bytes/conn")
	b.ReportMetric(server/float64(b.N), "server-bytes/conn")
}

// TestIdleConnectionMemory keeps an idle connection well under DESIGN.md's
// ceiling of 16 KiB. It is not parallel: other tests' allocations would
// blur the measurement.
func TestIdleConnectionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 500 connections")
	}
	st := newStack(t, stackOptions{})
	total, server := idleBytes(t, st, 500)
	t.Logf("idle connection: %.0f bytes in all, %.0f added by the server", total, server)
	if total > 16<<10 {
		t.Fatalf("an idle connection costs %.0f bytes, want at most 16 KiB", total)
	}
}

// TestIdleConnectionHoldsNoBuffer checks the structure behind the number:
// between packets a connection has no queue, no writer and no alias or
// acknowledgement state.
func TestIdleConnectionHoldsNoBuffer(t *testing.T) {
	t.Parallel()
	st := newStack(t, stackOptions{})
	r, _ := st.rawConnect("idle", mqttcodec.V5, nil)
	r.send(rawPublish("x", mqttcodec.QoS1, 1, "x"))
	expect[*mqttcodec.Puback](r)
	r.send(&mqttcodec.Pingreq{})
	expect[*mqttcodec.Pingresp](r)
	c := st.connOf(t, "idle")
	eventually(t, "idle", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.writing && c.queue == nil && c.held == nil && c.acks.items == nil && c.slotFree == nil
	})
}
