package peer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testTimeout bounds every wait of these tests; it only turns a hang into
// a failure, and nothing asserts that anything is faster than it.
const testTimeout = 10 * time.Second

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startServer serves handlers on a loopback listener until the test ends.
func startServer(t *testing.T, cfg ServerConfig, handlers map[Kind]Handler) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, cfg, handlers), ln.Addr().String()
}

func serveOn(t *testing.T, ln net.Listener, cfg ServerConfig, handlers map[Kind]Handler) *Server {
	t.Helper()
	s := NewServer(cfg)
	for k, h := range handlers {
		s.Handle(k, h)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("server close: %v", err)
		}
		if err := <-served; !errors.Is(err, ErrClosed) {
			t.Errorf("Serve returned %v after Close, want ErrClosed", err)
		}
	})
	return s
}

func newTestClient(t *testing.T, cfg ClientConfig) *Client {
	t.Helper()
	c := NewClient(cfg)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// echo answers with the body it got (copied: the body aliases the frame).
func echo(_ context.Context, body []byte, reply func([]byte, error)) {
	reply(bytes.Clone(body), nil)
}

// once wraps done so that a second call fails the test, and returns a
// channel of the first call's result.
type result struct {
	resp []byte
	err  error
}

func once(t *testing.T) (func([]byte, error), <-chan result) {
	var n atomic.Int32
	ch := make(chan result, 1)
	return func(resp []byte, err error) {
		if n.Add(1) != 1 {
			t.Errorf("done called more than once (last with %v)", err)
			return
		}
		ch <- result{resp, err}
	}, ch
}

func wait(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(testTimeout):
		t.Fatal("call not ended within the test timeout")
		return result{}
	}
}

func TestCallEcho(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{KindStatus: echo})
	c := newTestClient(t, ClientConfig{})
	resp, err := c.CallSync(testCtx(t), addr, KindStatus, []byte("hello"))
	if err != nil || string(resp) != "hello" {
		t.Fatalf("CallSync = %q, %v; want hello", resp, err)
	}
	// An empty body and an empty answer are fine too.
	resp, err = c.CallSync(testCtx(t), addr, KindStatus, nil)
	if err != nil || len(resp) != 0 {
		t.Fatalf("empty CallSync = %q, %v", resp, err)
	}
}

// TestOrderPreservedPerConnection mixes calls and one-way sends from one
// goroutine: the server's handler sees them in the order they were made.
func TestOrderPreservedPerConnection(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []uint32
	record := func(_ context.Context, body []byte, reply func([]byte, error)) {
		mu.Lock()
		seen = append(seen, binary.BigEndian.Uint32(body))
		mu.Unlock()
		// Answer asynchronously: order must come from the hand-off to
		// handlers, not from the answers.
		go reply(nil, nil)
	}
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{KindForward: record, KindDeliver: record})
	c := newTestClient(t, ClientConfig{})
	const n = 2000
	var calls sync.WaitGroup
	for i := range uint32(n) {
		body := binary.BigEndian.AppendUint32(nil, i)
		if i%3 == 0 {
			if err := c.Send(addr, KindDeliver, body); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
			continue
		}
		calls.Add(1)
		c.Call(testCtx(t), addr, KindForward, body, func(_ []byte, err error) {
			if err != nil {
				t.Errorf("call: %v", err)
			}
			calls.Done()
		})
	}
	calls.Wait()
	// The sends after the last call need not be handled yet: a final call
	// on the same connection is handled after all of them.
	if _, err := c.CallSync(testCtx(t), addr, KindForward, binary.BigEndian.AppendUint32(nil, n)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n+1 {
		t.Fatalf("handled %d requests, want %d", len(seen), n+1)
	}
	for i, v := range seen {
		if v != uint32(i) {
			t.Fatalf("request %d handled at position %d: order lost", v, i)
		}
	}
}

func TestManyConcurrentCalls(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{KindStatus: echo})
	c := newTestClient(t, ClientConfig{})
	const goroutines, each = 32, 100
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				want := fmt.Sprintf("g%d-%d", g, i)
				resp, err := c.CallSync(testCtx(t), addr, KindStatus, []byte(want))
				if err != nil || string(resp) != want {
					t.Errorf("call %s = %q, %v", want, resp, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestAnswersOutOfOrder has the handler hold every reply until all
// requests arrived, then answer them last to first.
func TestAnswersOutOfOrder(t *testing.T) {
	t.Parallel()
	const n = 50
	var mu sync.Mutex
	type held struct {
		body  []byte
		reply func([]byte, error)
	}
	var holding []held
	hold := func(_ context.Context, body []byte, reply func([]byte, error)) {
		mu.Lock()
		defer mu.Unlock()
		holding = append(holding, held{bytes.Clone(body), reply})
		if len(holding) < n {
			return
		}
		for i := len(holding) - 1; i >= 0; i-- {
			h := holding[i]
			go h.reply(append([]byte("re:"), h.body...), nil)
		}
	}
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{KindStatus: hold})
	c := newTestClient(t, ClientConfig{})
	chans := make([]<-chan result, n)
	for i := range n {
		var done func([]byte, error)
		done, chans[i] = once(t)
		c.Call(testCtx(t), addr, KindStatus, []byte(fmt.Sprint(i)), done)
	}
	for i, ch := range chans {
		r := wait(t, ch)
		if want := fmt.Sprintf("re:%d", i); r.err != nil || string(r.resp) != want {
			t.Fatalf("call %d got %q, %v; want %q", i, r.resp, r.err, want)
		}
	}
}

// TestServerKilledMidCall: a call whose server dies before answering ends
// with ErrNoAnswer; a later call dials again and is answered by the
// server's successor on the same address.
func TestServerKilledMidCall(t *testing.T) {
	t.Parallel()
	got := make(chan struct{}, 1)
	never := func(_ context.Context, _ []byte, _ func([]byte, error)) { got <- struct{}{} }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	first := NewServer(ServerConfig{})
	first.Handle(KindStatus, never)
	go func() { _ = first.Serve(ln) }()

	var dials atomic.Int32
	c := newTestClient(t, ClientConfig{Dial: func(a string, timeout time.Duration) (net.Conn, error) {
		dials.Add(1)
		return net.DialTimeout("tcp", a, timeout)
	}})
	done, ch := once(t)
	c.Call(testCtx(t), addr, KindStatus, []byte("x"), done)
	select {
	case <-got:
	case <-time.After(testTimeout):
		t.Fatal("the request never reached the handler")
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, ch); !errors.Is(r.err, ErrNoAnswer) {
		t.Fatalf("call to a killed server ended with %v, want ErrNoAnswer", r.err)
	}

	ln2 := listenAgain(t, addr)
	serveOn(t, ln2, ServerConfig{}, map[Kind]Handler{KindStatus: echo})
	resp, err := c.CallSync(testCtx(t), addr, KindStatus, []byte("again"))
	if err != nil || string(resp) != "again" {
		t.Fatalf("call after the restart = %q, %v", resp, err)
	}
	if n := dials.Load(); n != 2 {
		t.Fatalf("%d dials, want 2 (one per server)", n)
	}
}

// listenAgain listens on addr, which a closed listener just freed.
func listenAgain(t *testing.T, addr string) net.Listener {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln
		}
		if time.Now().After(deadline) {
			t.Fatalf("listen %s again: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestUnreachableAddressIsNotSent(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	c := newTestClient(t, ClientConfig{DialBackoff: time.Hour})
	_, err := c.CallSync(testCtx(t), addr, KindStatus, []byte("x"))
	if !errors.Is(err, ErrNotSent) {
		t.Fatalf("call to %s ended with %v, want ErrNotSent", addr, err)
	}
	// Within the backoff, requests fail at once without dialing.
	if err := c.Send(addr, KindDeliver, []byte("x")); !errors.Is(err, ErrNotSent) {
		t.Fatalf("send during the dial backoff = %v, want ErrNotSent", err)
	}
	if _, err := c.CallSync(testCtx(t), addr, KindStatus, nil); !errors.Is(err, ErrNotSent) {
		t.Fatalf("call during the dial backoff = %v, want ErrNotSent", err)
	}
}

// TestOversizedLengthClosesOnlyThatConn sends a length prefix beyond
// MaxFrameBytes on one raw connection: the server closes it (before
// allocating the body) while a client's connection keeps working.
func TestOversizedLengthClosesOnlyThatConn(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, ServerConfig{MaxFrameBytes: 1 << 10}, map[Kind]Handler{KindStatus: echo})
	c := newTestClient(t, ClientConfig{})
	if _, err := c.CallSync(testCtx(t), addr, KindStatus, []byte("before")); err != nil {
		t.Fatal(err)
	}
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	frame := appendFrame(nil, byte(KindStatus), 1, nil)
	binary.BigEndian.PutUint32(frame, 0xFFFFFFF0) // ~4 GiB announced
	if _, err := raw.Write(frame); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, raw)
	resp, err := c.CallSync(testCtx(t), addr, KindStatus, []byte("after"))
	if err != nil || string(resp) != "after" {
		t.Fatalf("call on another connection = %q, %v", resp, err)
	}
	if n := counterValue(t, s.metrics.badFrames); n != 1 {
		t.Fatalf("bad frames counted %v, want 1", n)
	}
}

// expectClosed reads raw until the server closes it.
func expectClosed(t *testing.T, raw net.Conn) {
	t.Helper()
	if err := raw.SetReadDeadline(time.Now().Add(testTimeout)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, raw)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept the connection open")
	}
}

func TestUnknownKindClosesOnlyThatConn(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{KindStatus: echo})
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Write(appendFrame(nil, 200, 1, []byte("?"))); err != nil {
		t.Fatal(err)
	}
	expectClosed(t, raw)
	c := newTestClient(t, ClientConfig{})
	if _, err := c.CallSync(testCtx(t), addr, KindStatus, []byte("ok")); err != nil {
		t.Fatal(err)
	}
}

func TestHandlerPanicIsAnsweredAsError(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, ServerConfig{}, map[Kind]Handler{
		KindJoin:   func(context.Context, []byte, func([]byte, error)) { panic("boom") },
		KindStatus: echo,
	})
	c := newTestClient(t, ClientConfig{})
	_, err := c.CallSync(testCtx(t), addr, KindJoin, nil)
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "boom") {
		t.Fatalf("call to a panicking handler = %v, want a RemoteError naming the panic", err)
	}
	// The connection survives.
	if resp, err := c.CallSync(testCtx(t), addr, KindStatus, []byte("still")); err != nil || string(resp) != "still" {
		t.Fatalf("call after the panic = %q, %v", resp, err)
	}
	if n := counterValue(t, s.metrics.panics); n != 1 {
		t.Fatalf("panics counted %v, want 1", n)
	}
}

func TestRemoteErrorCarriesTheText(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{
		KindJoin: func(_ context.Context, _ []byte, reply func([]byte, error)) { reply(nil, errors.New("no such node")) },
	})
	c := newTestClient(t, ClientConfig{})
	_, err := c.CallSync(testCtx(t), addr, KindJoin, nil)
	var re *RemoteError
	if !errors.As(err, &re) || re.Message != "no such node" {
		t.Fatalf("err = %v, want RemoteError \"no such node\"", err)
	}
}

func TestHandlerTimeoutIsAnsweredAsError(t *testing.T) {
	t.Parallel()
	late := make(chan func([]byte, error), 1)
	_, addr := startServer(t, ServerConfig{HandlerTimeout: 20 * time.Millisecond}, map[Kind]Handler{
		KindJoin: func(_ context.Context, _ []byte, reply func([]byte, error)) { late <- reply },
	})
	c := newTestClient(t, ClientConfig{})
	_, err := c.CallSync(testCtx(t), addr, KindJoin, nil)
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "timed out") {
		t.Fatalf("err = %v, want a RemoteError saying the handler timed out", err)
	}
	(<-late)([]byte("too late"), nil) // discarded, not a second answer
	if _, err := c.CallSync(testCtx(t), addr, KindPing, nil); err != nil {
		t.Fatalf("ping after a late reply: %v", err)
	}
}

// TestCtxEndsAfterTheWrite: the request was written, so its effect is
// unknown.
func TestCtxEndsAfterTheWrite(t *testing.T) {
	t.Parallel()
	got := make(chan struct{}, 1)
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{
		KindJoin: func(context.Context, []byte, func([]byte, error)) { got <- struct{}{} },
	})
	c := newTestClient(t, ClientConfig{})
	ctx, cancel := context.WithCancel(testCtx(t))
	done, ch := once(t)
	c.Call(ctx, addr, KindJoin, nil, done)
	<-got
	cancel()
	if r := wait(t, ch); !errors.Is(r.err, ErrNoAnswer) || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err = %v, want ErrNoAnswer wrapping context.Canceled", r.err)
	}
	if _, err := c.CallSync(canceled(), addr, KindJoin, nil); !errors.Is(err, ErrNotSent) {
		t.Fatalf("call with an ended ctx = %v, want ErrNotSent", err)
	}
}

func canceled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// gatedDial holds every dial until its gate is closed.
type gatedDial struct {
	gate  chan struct{}
	dials atomic.Int32
}

func (g *gatedDial) dial(addr string, timeout time.Duration) (net.Conn, error) {
	g.dials.Add(1)
	<-g.gate
	return net.DialTimeout("tcp", addr, timeout)
}

// TestCtxEndsBeforeTheWrite: a call whose ctx ends while its frame waits
// for the dial is never written, so it ends with ErrNotSent and the server
// never sees it.
func TestCtxEndsBeforeTheWrite(t *testing.T) {
	t.Parallel()
	var handled sync.Map
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{
		KindStatus: func(_ context.Context, body []byte, reply func([]byte, error)) {
			handled.Store(string(body), true)
			reply(nil, nil)
		},
	})
	g := &gatedDial{gate: make(chan struct{})}
	c := newTestClient(t, ClientConfig{Dial: g.dial})
	ctx, cancel := context.WithCancel(testCtx(t))
	doomed, doomedCh := once(t)
	c.Call(ctx, addr, KindStatus, []byte("doomed"), doomed)
	kept, keptCh := once(t)
	c.Call(testCtx(t), addr, KindStatus, []byte("kept"), kept)
	cancel()
	if r := wait(t, doomedCh); !errors.Is(r.err, ErrNotSent) {
		t.Fatalf("err = %v, want ErrNotSent", r.err)
	}
	close(g.gate)
	if r := wait(t, keptCh); r.err != nil {
		t.Fatalf("the call queued behind it: %v", r.err)
	}
	if _, ok := handled.Load("doomed"); ok {
		t.Fatal("a call that ended with ErrNotSent reached the handler")
	}
}

func TestSendQueueFullDoesNotBlock(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{KindDeliver: func(context.Context, []byte, func([]byte, error)) {}})
	g := &gatedDial{gate: make(chan struct{})}
	c := newTestClient(t, ClientConfig{Dial: g.dial, MaxQueuedBytes: 1 << 10})
	body := make([]byte, 100)
	var full error
	for range 100 {
		if full = c.Send(addr, KindDeliver, body); full != nil {
			break
		}
	}
	if !errors.Is(full, ErrQueueFull) || !errors.Is(full, ErrNotSent) {
		t.Fatalf("send to a full queue = %v, want ErrQueueFull (an ErrNotSent)", full)
	}
	_, err := c.CallSync(testCtx(t), addr, KindStatus, body)
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("call to a full queue = %v, want ErrQueueFull", err)
	}
	close(g.gate)
}

func TestClientClose(t *testing.T) {
	t.Parallel()
	got := make(chan struct{}, 1)
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{
		KindJoin: func(context.Context, []byte, func([]byte, error)) { got <- struct{}{} },
	})
	c := NewClient(ClientConfig{})
	done, ch := once(t)
	c.Call(testCtx(t), addr, KindJoin, nil, done)
	<-got
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, ch); !errors.Is(r.err, ErrClosed) {
		t.Fatalf("pending call after Close = %v, want ErrClosed", r.err)
	}
	if _, err := c.CallSync(testCtx(t), addr, KindJoin, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after Close = %v, want ErrClosed", err)
	}
	if err := c.Send(addr, KindDeliver, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestServerCloseEndsServe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(ServerConfig{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	c := newTestClient(t, ClientConfig{})
	if _, err := c.CallSync(testCtx(t), ln.Addr().String(), KindPing, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("Serve = %v, want ErrClosed", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Serve did not return after Close")
	}
	if err := s.Serve(ln); !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve after Close = %v, want ErrClosed", err)
	}
}

// TestPingsKeepIdleConnectionsOpen: with pings ten times as frequent as
// the server's idle timeout, the server never closes a connection for
// idleness, however long it stays idle. (On a starved machine the client
// may find a ping late and redial; that is not what this checks.)
func TestPingsKeepIdleConnectionsOpen(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, ServerConfig{IdleTimeout: time.Second}, map[Kind]Handler{KindStatus: echo})
	c := newTestClient(t, ClientConfig{PingInterval: 100 * time.Millisecond})
	if _, err := c.CallSync(testCtx(t), addr, KindStatus, nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if _, err := c.CallSync(testCtx(t), addr, KindStatus, nil); err != nil {
		t.Fatal(err)
	}
	if n := counterValue(t, s.metrics.closesBy[closeIdle]); n != 0 {
		t.Fatalf("the server closed %v idle connections: pings did not keep it open", n)
	}
}

// TestServerClosesIdleConnections: without pings, the server's idle
// timeout closes the connection, and the client dials again.
func TestServerClosesIdleConnections(t *testing.T) {
	t.Parallel()
	s, addr := startServer(t, ServerConfig{IdleTimeout: 50 * time.Millisecond}, map[Kind]Handler{KindStatus: echo})
	c := newTestClient(t, ClientConfig{PingInterval: time.Hour})
	if _, err := c.CallSync(testCtx(t), addr, KindStatus, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testTimeout)
	for counterValue(t, s.metrics.closesBy[closeIdle]) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the idle connection was never closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The client may write before it sees the close; a call that finds
	// the connection gone fails as not sent or unanswered, never hangs,
	// and a later one dials again.
	for i := 0; ; i++ {
		_, err := c.CallSync(testCtx(t), addr, KindStatus, nil)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoAnswer) && !errors.Is(err, ErrNotSent) || i > 3 {
			t.Fatalf("call after the idle close: %v", err)
		}
	}
}

// TestUnansweredPingBreaksTheConnection: a peer that accepts but never
// answers is found dead by the pings, and the call on it ends.
func TestUnansweredPingBreaksTheConnection(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, conn) }() // reads, never answers
		}
	}()
	c := newTestClient(t, ClientConfig{PingInterval: 20 * time.Millisecond})
	_, err = c.CallSync(testCtx(t), ln.Addr().String(), KindStatus, nil)
	if !errors.Is(err, ErrNoAnswer) || !errors.Is(err, errPingUnanswered) {
		t.Fatalf("call to a silent peer = %v, want ErrNoAnswer from an unanswered ping", err)
	}
}

func TestOversizedRequestIsNotSent(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, ServerConfig{}, map[Kind]Handler{KindStatus: echo})
	c := newTestClient(t, ClientConfig{MaxFrameBytes: 16})
	_, err := c.CallSync(testCtx(t), addr, KindStatus, make([]byte, 17))
	if !errors.Is(err, ErrNotSent) {
		t.Fatalf("oversized call = %v, want ErrNotSent", err)
	}
}

// TestOversizedAnswerBecomesAnError: the server refuses to send what the
// client (configured alike) would refuse to read.
func TestOversizedAnswerBecomesAnError(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, ServerConfig{MaxFrameBytes: 64}, map[Kind]Handler{
		KindStatus: func(_ context.Context, _ []byte, reply func([]byte, error)) { reply(make([]byte, 65), nil) },
	})
	c := newTestClient(t, ClientConfig{})
	_, err := c.CallSync(testCtx(t), addr, KindStatus, nil)
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Message, "exceeds MaxFrameBytes") {
		t.Fatalf("err = %v, want a RemoteError about the answer's size", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (ServerConfig{}).Validate(); err != nil {
		t.Fatalf("zero ServerConfig: %v", err)
	}
	if err := (ClientConfig{}).Validate(); err != nil {
		t.Fatalf("zero ClientConfig: %v", err)
	}
	if err := (ServerConfig{MaxFrameBytes: -1, IdleTimeout: -1}).Validate(); err == nil {
		t.Fatal("negative ServerConfig values accepted")
	}
	if err := (ClientConfig{MaxQueuedBytes: -1}).Validate(); err == nil {
		t.Fatal("negative ClientConfig values accepted")
	}
}
