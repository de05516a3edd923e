package peer

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/bytebufferpool"
)

// ClientConfig configures a Client. Zero values mean defaults, never
// "unlimited".
type ClientConfig struct {
	// Dial opens a connection to a peer's cluster port that has chosen
	// this protocol (wire's ClusterListener.DialRPC). Nil dials plain TCP.
	Dial func(addr string, timeout time.Duration) (net.Conn, error)
	// DialTimeout bounds a dial. Default 5s.
	DialTimeout time.Duration
	// DialBackoff is how long, after a dial failed, requests to that
	// address fail at once with ErrNotSent instead of dialing again, so a
	// dead peer costs no dial per request. Default 200ms.
	DialBackoff time.Duration
	// MaxFrameBytes bounds one answer (a larger one closes the
	// connection) and one request (a larger one fails with ErrNotSent: a
	// peer configured alike would close the connection). Default 64 MiB.
	MaxFrameBytes int
	// MaxQueuedBytes bounds the frames to one address waiting for its
	// writer; past it Call and Send fail with ErrQueueFull. A lone frame
	// larger than it is still taken. Default 16 MiB.
	MaxQueuedBytes int
	// WriteTimeout bounds writing a batch of requests. Default 10s.
	WriteTimeout time.Duration
	// PingInterval: a connection from which no answer arrived during the
	// last interval is pinged, and one whose ping is still unanswered an
	// interval later is closed (its calls end with ErrNoAnswer). It keeps
	// idle connections open below the server's IdleTimeout, and finds a
	// dead peer behind a live-looking socket. Default 1m.
	PingInterval time.Duration
	// Logger receives connection lifecycle at Debug and anomalies at
	// Warn; nil discards.
	Logger *slog.Logger
}

// Defaults of ClientConfig beyond the shared ones.
const (
	DefaultDialTimeout    = 5 * time.Second
	DefaultDialBackoff    = 200 * time.Millisecond
	DefaultMaxQueuedBytes = 16 << 20
	DefaultPingInterval   = time.Minute
)

func (c ClientConfig) withDefaults() ClientConfig {
	if c.Dial == nil {
		c.Dial = func(addr string, timeout time.Duration) (net.Conn, error) {
			return net.DialTimeout("tcp", addr, timeout)
		}
	}
	setDefault(&c.DialTimeout, DefaultDialTimeout)
	setDefault(&c.DialBackoff, DefaultDialBackoff)
	setDefault(&c.MaxFrameBytes, DefaultMaxFrameBytes)
	setDefault(&c.MaxQueuedBytes, DefaultMaxQueuedBytes)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.PingInterval, DefaultPingInterval)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of c at once. NewClient replaces a value
// that is not positive by its default, so cmd calls Validate first.
func (c ClientConfig) Validate() error {
	var errs []error
	if c.MaxFrameBytes < 0 || c.MaxFrameBytes > maxFrameLimit {
		errs = append(errs, fmt.Errorf("peer: ClientConfig.MaxFrameBytes %d is outside [1, %d]", c.MaxFrameBytes, maxFrameLimit))
	}
	if c.MaxQueuedBytes < 0 {
		errs = append(errs, fmt.Errorf("peer: ClientConfig.MaxQueuedBytes is negative (%d)", c.MaxQueuedBytes))
	}
	if c.DialTimeout < 0 || c.DialBackoff < 0 || c.WriteTimeout < 0 || c.PingInterval < 0 {
		errs = append(errs, errors.New("peer: ClientConfig durations must not be negative"))
	}
	return errors.Join(errs...)
}

// Client calls peers: one connection per address, opened on first use and
// again after it breaks, with requests pipelined and their frames
// batched into few writes. Idle connections are kept open by pings
// (ClientConfig.PingInterval), so a call after a quiet spell pays no dial;
// an address's writer goroutine lives until Close. It is safe for
// concurrent use.
type Client struct {
	cfg     ClientConfig
	log     *slog.Logger
	metrics *clientMetrics

	mu     sync.Mutex
	closed bool
	peers  map[string]*peerConn
	wg     sync.WaitGroup
}

// NewClient returns a client; connections open on first use.
func NewClient(cfg ClientConfig) *Client {
	cfg = cfg.withDefaults()
	return &Client{
		cfg:     cfg,
		log:     cfg.Logger,
		metrics: newClientMetrics(),
		peers:   make(map[string]*peerConn),
	}
}

// Call sends a request to addr and calls done exactly once with the answer
// or an error (ErrNotSent, ErrNoAnswer, *RemoteError, ErrClosed), on any
// goroutine; done must not block, and owns resp. ctx bounds the wait for
// the answer: when it ends first, done gets ErrNotSent if the frame was
// not written yet (it never will be) and ErrNoAnswer otherwise. Requests
// to one address leave in the order of their Call or Send. body is copied
// before Call returns; Call never blocks on the network.
func (c *Client) Call(ctx context.Context, addr string, kind Kind, body []byte, done func(resp []byte, err error)) {
	pc, err := c.peer(addr)
	if err != nil {
		c.finish(&call{done: done}, nil, err)
		return
	}
	pc.call(ctx, kind, body, done, false)
}

// CallSync is Call waiting for its answer (ctx bounds the wait).
func (c *Client) CallSync(ctx context.Context, addr string, kind Kind, body []byte) ([]byte, error) {
	type answer struct {
		resp []byte
		err  error
	}
	ch := make(chan answer, 1)
	c.Call(ctx, addr, kind, body, func(resp []byte, err error) { ch <- answer{resp, err} })
	a := <-ch // done always comes, at the latest when ctx ends
	return a.resp, a.err
}

// Send sends a one-way request; it never blocks on the network. It
// reports a request refused now (ErrQueueFull, ErrNotSent while the peer
// is unreachable, ErrClosed); a request accepted may still be lost with
// its connection, as one-way requests are best effort (counted in
// tributary_peer_client_sends_dropped_total). body is copied before Send
// returns.
func (c *Client) Send(addr string, kind Kind, body []byte) error {
	pc, err := c.peer(addr)
	if err == nil {
		err = pc.send(kind, body)
	}
	if err != nil {
		c.metrics.sendsDropped.Inc()
		return err
	}
	return nil
}

// Close closes every connection; pending calls end with ErrClosed, and
// later ones at once. It waits for the client's goroutines, so for a dial
// in progress (at most DialTimeout).
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	peers := make([]*peerConn, 0, len(c.peers))
	for _, pc := range c.peers {
		peers = append(peers, pc)
	}
	c.mu.Unlock()
	for _, pc := range peers {
		pc.close()
	}
	c.wg.Wait()
	return nil
}

// peer returns the connection state of addr, creating it (and its writer)
// on first use. Addresses are the cluster's nodes, so the map stays small.
func (c *Client) peer(addr string) (*peerConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	pc := c.peers[addr]
	if pc == nil {
		pc = &peerConn{
			c:       c,
			addr:    addr,
			log:     c.log.With("remote_addr", addr),
			wake:    make(chan struct{}, 1),
			stop:    make(chan struct{}),
			pending: make(map[uint64]*call),
		}
		c.peers[addr] = pc
		c.wg.Add(1)
		go pc.writeLoop()
	}
	return pc, nil
}

// finish ends a call: it counts the result and calls done.
func (c *Client) finish(cl *call, resp []byte, err error) {
	if cl.stop != nil {
		cl.stop()
	}
	if !cl.ping {
		c.metrics.callsBy[resultOf(err)].Inc()
	}
	cl.done(resp, err)
}

func resultOf(err error) string {
	var re *RemoteError
	switch {
	case err == nil:
		return resultOK
	case errors.As(err, &re):
		return resultRemote
	case errors.Is(err, ErrNotSent):
		return resultNotSent
	case errors.Is(err, ErrClosed):
		return resultClosed
	}
	return resultNoAnswer
}

// call is one request waiting for its answer.
type call struct {
	id        uint64
	done      func([]byte, error)
	off, end  int   // its frame in peerConn.out while queued
	link      *link // the connection it was written on; nil while queued
	cancelled bool  // its ctx ended while queued: the writer drops its frame
	stop      func() bool
	ping      bool // internal: not counted
}

// peerConn is everything the client holds for one address.
type peerConn struct {
	c    *Client
	addr string
	log  *slog.Logger
	wake chan struct{} // frames are waiting for the writer
	stop chan struct{} // closed by close

	mu          sync.Mutex
	closed      bool
	out         *bytebufferpool.ByteBuffer // frames not yet taken by the writer
	queued      []*call                    // the calls whose frames are in out, in order
	queuedSends int                        // one-way frames in out
	cancelled   int                        // queued calls whose ctx ended
	pending     map[uint64]*call           // queued or written, not answered
	nextID      uint64
	link        *link // the open connection; never a broken one
	dialErr     error
	dialFailed  time.Time
}

// admitLocked checks that a frame with a body of n bytes may be queued,
// and makes room for it.
func (pc *peerConn) admitLocked(n int) error {
	cfg := &pc.c.cfg
	switch {
	case pc.closed:
		return ErrClosed
	case n > cfg.MaxFrameBytes:
		return fmt.Errorf("%w: request body of %d bytes exceeds MaxFrameBytes %d", ErrNotSent, n, cfg.MaxFrameBytes)
	case pc.link == nil && pc.dialErr != nil && time.Since(pc.dialFailed) < cfg.DialBackoff:
		return fmt.Errorf("%w: %s unreachable: %w", ErrNotSent, pc.addr, pc.dialErr)
	case pc.out != nil && len(pc.out.B) > 0 && len(pc.out.B)+frameHead+n > cfg.MaxQueuedBytes:
		return ErrQueueFull
	}
	if pc.out == nil {
		pc.out = bytebufferpool.Get()
	}
	return nil
}

func (pc *peerConn) call(ctx context.Context, kind Kind, body []byte, done func([]byte, error), ping bool) {
	cl := &call{done: done, ping: ping}
	if err := ctx.Err(); err != nil {
		pc.c.finish(cl, nil, fmt.Errorf("%w: %w", ErrNotSent, err))
		return
	}
	pc.mu.Lock()
	if err := pc.admitLocked(len(body)); err != nil {
		pc.mu.Unlock()
		pc.c.finish(cl, nil, err)
		return
	}
	pc.nextID++
	cl.id = pc.nextID
	cl.off = len(pc.out.B)
	pc.out.B = appendFrame(pc.out.B, byte(kind), cl.id, body)
	cl.end = len(pc.out.B)
	pc.queued = append(pc.queued, cl)
	pc.pending[cl.id] = cl
	// AfterFunc runs expire on a goroutine of its own (even when ctx has
	// already ended), so registering it under pc.mu cannot deadlock.
	cl.stop = context.AfterFunc(ctx, func() { pc.expire(cl, ctx) })
	pc.mu.Unlock()
	pc.signal()
}

func (pc *peerConn) send(kind Kind, body []byte) error {
	pc.mu.Lock()
	if err := pc.admitLocked(len(body)); err != nil {
		pc.mu.Unlock()
		return err
	}
	pc.out.B = appendFrame(pc.out.B, byte(kind), 0, body)
	pc.queuedSends++
	pc.mu.Unlock()
	pc.signal()
	return nil
}

func (pc *peerConn) signal() {
	select {
	case pc.wake <- struct{}{}:
	default:
	}
}

// expire ends a call whose ctx ended before its answer came.
func (pc *peerConn) expire(cl *call, ctx context.Context) {
	pc.mu.Lock()
	if pc.pending[cl.id] != cl {
		pc.mu.Unlock()
		return
	}
	delete(pc.pending, cl.id)
	var err error
	if cl.link == nil {
		// Still queued: the writer will drop its frame.
		cl.cancelled = true
		pc.cancelled++
		err = fmt.Errorf("%w: %w", ErrNotSent, context.Cause(ctx))
	} else {
		err = fmt.Errorf("%w: %w", ErrNoAnswer, context.Cause(ctx))
	}
	pc.mu.Unlock()
	pc.c.finish(cl, nil, err)
}

// writeLoop writes the frames queued for the address, dialing when there
// is no connection, until the client closes.
func (pc *peerConn) writeLoop() {
	defer pc.c.wg.Done()
	defer func() {
		if p := recover(); p != nil {
			pc.log.Error("peer: writer panicked", "panic", p, "stack", string(debug.Stack()))
			pc.close()
		}
	}()
	for {
		select {
		case <-pc.wake:
		case <-pc.stop:
			return
		}
		for pc.flush() {
		}
	}
}

// flush writes one batch of queued frames, or dials. It reports whether
// there may be more to do.
func (pc *peerConn) flush() bool {
	pc.mu.Lock()
	if pc.closed || pc.out == nil {
		pc.mu.Unlock()
		return false
	}
	l := pc.link
	if l == nil {
		pc.mu.Unlock()
		return pc.connect()
	}
	buf := pc.takeBatchLocked(l)
	pc.mu.Unlock()
	defer bytebufferpool.Put(buf)
	if len(buf.B) == 0 {
		return true
	}
	err := l.nc.SetWriteDeadline(time.Now().Add(pc.c.cfg.WriteTimeout))
	if err == nil {
		_, err = l.nc.Write(buf.B)
	}
	if err != nil {
		pc.breakLink(l, fmt.Errorf("write: %w", err))
	}
	return true
}

// takeBatchLocked takes the queued frames for writing on l, dropping those
// of calls whose ctx ended, and marks the calls written.
func (pc *peerConn) takeBatchLocked(l *link) *bytebufferpool.ByteBuffer {
	buf := pc.out
	pc.out = nil
	if pc.cancelled > 0 {
		kept := bytebufferpool.Get()
		prev := 0
		for _, cl := range pc.queued {
			if cl.cancelled {
				kept.B = append(kept.B, buf.B[prev:cl.off]...)
				prev = cl.end
			}
		}
		kept.B = append(kept.B, buf.B[prev:]...)
		bytebufferpool.Put(buf)
		buf = kept
		pc.cancelled = 0
	}
	for i, cl := range pc.queued {
		if !cl.cancelled {
			cl.link = l
		}
		pc.queued[i] = nil
	}
	pc.queued = pc.queued[:0]
	pc.queuedSends = 0
	return buf
}

// failQueuedLocked removes every queued frame (none of them was written)
// and returns their calls, to be failed with ErrNotSent.
func (pc *peerConn) failQueuedLocked() []*call {
	var failed []*call
	for _, cl := range pc.queued {
		if !cl.cancelled {
			delete(pc.pending, cl.id)
			failed = append(failed, cl)
		}
	}
	pc.queued, pc.cancelled = nil, 0
	if pc.queuedSends > 0 {
		pc.c.metrics.sendsDropped.Add(float64(pc.queuedSends))
		pc.queuedSends = 0
	}
	if pc.out != nil {
		bytebufferpool.Put(pc.out)
		pc.out = nil
	}
	return failed
}

// connect dials addr. On failure it fails the queued requests with
// ErrNotSent and starts the dial backoff. It reports whether a connection
// is open.
func (pc *peerConn) connect() bool {
	nc, err := pc.c.cfg.Dial(pc.addr, pc.c.cfg.DialTimeout)
	pc.mu.Lock()
	if err != nil {
		pc.c.metrics.dialErrors.Inc()
		pc.dialErr, pc.dialFailed = err, time.Now()
		failed := pc.failQueuedLocked()
		pc.mu.Unlock()
		pc.log.Debug("peer dial failed", "err", err)
		pc.failAll(failed, fmt.Errorf("%w: dial %s: %w", ErrNotSent, pc.addr, err))
		return false
	}
	if pc.closed {
		pc.mu.Unlock()
		_ = nc.Close() // never used
		return false
	}
	pc.c.metrics.dials.Inc()
	l := &link{pc: pc, nc: nc}
	pc.link, pc.dialErr = l, nil
	pc.c.wg.Add(1)
	l.timer = time.AfterFunc(pc.c.cfg.PingInterval, l.tick)
	pc.mu.Unlock()
	pc.log.Debug("peer conn dialed")
	go l.readLoop()
	return true
}

// breakLink closes l once: the calls written on it end with ErrNoAnswer,
// the frames still queued for it with ErrNotSent. The next request dials
// again.
func (pc *peerConn) breakLink(l *link, cause error) {
	pc.mu.Lock()
	if l.broken {
		pc.mu.Unlock()
		return
	}
	l.broken = true
	var lost, notSent []*call
	for id, cl := range pc.pending {
		if cl.link == l {
			delete(pc.pending, id)
			lost = append(lost, cl)
		}
	}
	if pc.link == l {
		pc.link = nil
		notSent = pc.failQueuedLocked()
	}
	pc.mu.Unlock()
	l.shutdown()
	pc.log.Debug("peer conn broken", "err", cause)
	pc.failAll(lost, fmt.Errorf("%w: connection to %s lost: %w", ErrNoAnswer, pc.addr, cause))
	pc.failAll(notSent, fmt.Errorf("%w: connection to %s lost before the write: %w", ErrNotSent, pc.addr, cause))
}

func (pc *peerConn) failAll(calls []*call, err error) {
	for _, cl := range calls {
		pc.c.finish(cl, nil, err)
	}
}

// close fails everything pending with ErrClosed and closes the connection.
func (pc *peerConn) close() {
	pc.mu.Lock()
	if pc.closed {
		pc.mu.Unlock()
		return
	}
	pc.closed = true
	all := make([]*call, 0, len(pc.pending))
	for id, cl := range pc.pending {
		delete(pc.pending, id)
		all = append(all, cl)
	}
	pc.failQueuedLocked()
	l := pc.link
	pc.link = nil
	if l != nil {
		l.broken = true
	}
	pc.mu.Unlock()
	close(pc.stop)
	if l != nil {
		l.shutdown()
	}
	pc.failAll(all, ErrClosed)
}

// answered takes the call an answer on l is for, or nil (its ctx ended,
// or the id is unknown).
func (pc *peerConn) answered(id uint64, l *link) *call {
	pc.mu.Lock()
	cl := pc.pending[id]
	if cl == nil || cl.link != l {
		pc.mu.Unlock()
		return nil
	}
	delete(pc.pending, id)
	pc.mu.Unlock()
	return cl
}

// link is one open connection to a peer.
type link struct {
	pc      *peerConn
	nc      net.Conn
	timer   *time.Timer
	broken  bool        // guarded by pc.mu
	heard   atomic.Bool // an answer (not a ping's) arrived since the last tick
	pinging atomic.Bool // a ping is out
}

func (l *link) shutdown() {
	l.timer.Stop()
	_ = l.nc.Close() // the cause was reported by whoever broke the link
}

// readLoop matches answers to calls until the connection breaks.
func (l *link) readLoop() {
	pc := l.pc
	defer pc.c.wg.Done()
	defer func() {
		if p := recover(); p != nil {
			pc.log.Error("peer: reader panicked", "panic", p, "stack", string(debug.Stack()))
			pc.breakLink(l, fmt.Errorf("reader panicked: %v", p))
		}
	}()
	br := bufio.NewReaderSize(l.nc, readBufferBytes)
	var head [frameHead]byte
	for {
		if _, err := io.ReadFull(br, head[:]); err != nil {
			pc.breakLink(l, fmt.Errorf("read: %w", err))
			return
		}
		h, err := parseHeader(&head, pc.c.cfg.MaxFrameBytes)
		if err == nil && h.b0 > statusError {
			err = fmt.Errorf("peer: answer status %d unknown", h.b0)
		}
		if err != nil {
			pc.log.Warn("peer: malformed answer; closing the connection", "err", err)
			pc.breakLink(l, err)
			return
		}
		if err := l.readAnswer(br, h); err != nil {
			pc.breakLink(l, fmt.Errorf("read: %w", err))
			return
		}
	}
}

// readAnswer reads one answer's body and ends its call.
func (l *link) readAnswer(br *bufio.Reader, h frameHeader) error {
	pc := l.pc
	cl := pc.answered(h.id, l)
	if cl == nil {
		_, err := br.Discard(h.bodyBytes)
		return err
	}
	body := make([]byte, h.bodyBytes) // the caller's: answers are few and outlive the frame
	if _, err := io.ReadFull(br, body); err != nil {
		pc.c.finish(cl, nil, fmt.Errorf("%w: reading the answer: %w", ErrNoAnswer, err))
		return err
	}
	if !cl.ping {
		l.heard.Store(true)
	}
	if h.b0 == statusError {
		pc.c.finish(cl, nil, &RemoteError{Message: string(body)})
	} else {
		pc.c.finish(cl, body, nil)
	}
	return nil
}

// errPingUnanswered breaks a connection whose peer stopped answering.
var errPingUnanswered = errors.New("peer: ping unanswered for PingInterval")

// tick runs every PingInterval while l is open.
func (l *link) tick() {
	pc := l.pc
	pc.mu.Lock()
	gone := l.broken
	pc.mu.Unlock()
	if gone {
		return
	}
	if l.pinging.Load() {
		pc.c.metrics.pingFailures.Inc()
		pc.log.Warn("peer: ping unanswered; closing the connection")
		pc.breakLink(l, errPingUnanswered)
		return
	}
	if !l.heard.Swap(false) {
		l.pinging.Store(true)
		pc.call(context.Background(), KindPing, nil, func([]byte, error) { l.pinging.Store(false) }, true)
	}
	l.timer.Reset(pc.c.cfg.PingInterval)
}
