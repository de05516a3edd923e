package load

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"tributary/mqttcodec"
)

const (
	// dialParallelism bounds the connections being opened at once, so a
	// run does not flood the broker's accept queue.
	dialParallelism = 32
	// drainQuiet ends the drain early when nothing more arrives for this
	// long after the publishers stopped: at QoS 0 lost messages never come.
	drainQuiet = time.Second
	// drainPoll is how often the drain looks at the counters.
	drainPoll = 10 * time.Millisecond
)

// Run connects the subscribers, then the publishers, runs the load for
// Warmup+Duration, waits up to DrainTimeout for what is still in flight,
// disconnects everyone and returns the measurements. It stops early, with
// an error, if ctx ends or any connection fails.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if err := checkFDs(cfg.Publishers + cfg.Subscribers); err != nil {
		return Result{}, err
	}
	if err := checkPID(cfg.BrokerPID); err != nil {
		return Result{}, err
	}
	r := &runner{cfg: cfg, log: cfg.Logger.With("run_id", cfg.RunID)}
	if err := r.connect(ctx); err != nil {
		return Result{}, err
	}
	res, err := r.measure(ctx)
	if cfg.Persistent {
		r.discardSessions(ctx)
	}
	if err != nil {
		return Result{}, err
	}
	return res, nil
}

// runner holds one run's connections.
type runner struct {
	cfg        Config
	log        *slog.Logger
	subClients []*client
	pubClients []*client
	subs       []*subscriber
	pubs       []*publisher
}

func (r *runner) topic(publisher int) string {
	if r.cfg.Layout == LayoutPairs {
		return "tributary-bench/" + r.cfg.RunID + "/" + strconv.Itoa(publisher)
	}
	return "tributary-bench/" + r.cfg.RunID + "/all"
}

func (r *runner) clientID(role string, i int) string {
	return "tb" + r.cfg.RunID + role + strconv.Itoa(i)
}

// dialOptions returns the options of the i-th connection of a role.
func (r *runner) dialOptions(role string, i, local int, clean bool) dialOptions {
	return dialOptions{
		addr: r.cfg.Addr, local: localAddr(r.cfg.SourceAddrs, local), clientID: r.clientID(role, i),
		version: r.cfg.Version, clean: clean, keepAlive: r.cfg.KeepAlive, timeout: r.cfg.ConnectTimeout,
		bufBytes: readBufBytes,
	}
}

// connect opens and subscribes every subscriber, then opens every
// publisher, so that no message is published before all can receive it.
func (r *runner) connect(ctx context.Context) error {
	cfg := &r.cfg
	subs, err := dialAll(ctx, cfg.Subscribers, dialParallelism, func(ctx context.Context, i int) (*client, error) {
		c, err := dial(ctx, r.dialOptions("s", i, i, !cfg.Persistent))
		if err != nil {
			return nil, err
		}
		filter := r.topic(0)
		if cfg.Layout == LayoutPairs {
			filter = r.topic(i)
		}
		if err := c.subscribe(filter, cfg.QoS, cfg.ConnectTimeout); err != nil {
			c.nc.Close()
			return nil, err
		}
		return c, nil
	})
	if err != nil {
		return err
	}
	r.subClients = subs
	r.log.Info("subscribers ready", "subscribers", len(subs))
	pubs, err := dialAll(ctx, cfg.Publishers, dialParallelism, func(ctx context.Context, i int) (*client, error) {
		return dial(ctx, r.dialOptions("p", i, cfg.Subscribers+i, true))
	})
	if err != nil {
		r.closeAll()
		return err
	}
	r.pubClients = pubs
	r.log.Info("publishers ready", "publishers", len(pubs))
	return nil
}

// dialAll opens n connections, at most parallel at once. On the first
// failure it stops, closes what it opened and returns that failure.
func dialAll(ctx context.Context, n, parallel int, dialOne func(context.Context, int) (*client, error)) ([]*client, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	clients := make([]*client, n)
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range min(parallel, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				next.Lock()
				mine := i
				i++
				next.Unlock()
				if mine >= n {
					return
				}
				c, err := dialOne(ctx, mine)
				if err != nil {
					cancel(err)
					return
				}
				clients[mine] = c
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		for _, c := range clients {
			if c != nil {
				c.nc.Close()
			}
		}
		return nil, err
	}
	return clients, nil
}

// closeAll disconnects every client.
func (r *runner) closeAll() {
	for _, cs := range [][]*client{r.pubClients, r.subClients} {
		for _, c := range cs {
			c.disconnect()
		}
	}
}

// discardSessions ends the persistent sessions of the run's subscribers by
// connecting each once more with a clean session [MQTT-3.1.2-6], so no
// broker keeps queueing for clients that will never return. Failures are
// logged, not returned: the measurements stand without this.
func (r *runner) discardSessions(ctx context.Context) {
	_, err := dialAll(ctx, r.cfg.Subscribers, dialParallelism, func(ctx context.Context, i int) (*client, error) {
		o := r.dialOptions("s", i, i, true)
		o.bufBytes = handshakeBufBytes
		c, err := dial(ctx, o)
		if err != nil {
			return nil, err
		}
		c.disconnect()
		return c, nil
	})
	if err != nil {
		r.log.Warn("could not discard the persistent sessions", "err", err)
	}
}

// measure runs the load on the connected clients and disconnects them.
func (r *runner) measure(ctx context.Context) (Result, error) {
	cfg := &r.cfg
	epoch := time.Now()
	if err := r.prepare(epoch); err != nil {
		r.closeAll()
		return Result{}, err
	}
	g := newGroup(ctx)
	for _, s := range r.subs {
		g.reader(s.serve)
	}
	pubCtx, stopPublishers := context.WithCancel(g.ctx)
	defer stopPublishers()
	var writers sync.WaitGroup
	for _, p := range r.pubs {
		g.reader(p.serve)
		writers.Go(func() {
			if err := p.publish(pubCtx); err != nil && pubCtx.Err() == nil {
				g.fail(err)
			}
		})
	}
	g.reader(func() error { return r.ping(g.ctx) })

	var s0, s1 sample
	err := g.sleepUntil(epoch.Add(cfg.Warmup))
	if err == nil {
		s0 = r.sample()
		r.log.Info("measuring", "duration", cfg.Duration)
		err = g.sleepUntil(epoch.Add(cfg.Warmup + cfg.Duration))
		s1 = r.sample()
	}
	stopPublishers()
	if err == nil {
		err = r.drain(g, &writers)
	}
	g.stop()
	r.closeAll()
	writers.Wait()
	g.wait()
	if err != nil {
		return Result{}, err
	}
	return r.result(s0, s1), nil
}

// prepare builds the publishers and subscribers over the connected clients.
func (r *runner) prepare(epoch time.Time) error {
	cfg := &r.cfg
	for i, c := range r.subClients {
		only := -1
		if cfg.Layout == LayoutPairs {
			only = i
		}
		r.subs = append(r.subs, newSubscriber(c, cfg, only, epoch))
	}
	for i, c := range r.pubClients {
		p, err := newPublisher(c, cfg, i, r.topic(i), epoch)
		if err != nil {
			return err
		}
		r.pubs = append(r.pubs, p)
	}
	return nil
}

// ping sends PINGREQ to every client at half the shortest keep alive, so
// that a subscriber that only receives is not taken for dead in a long run.
func (r *runner) ping(ctx context.Context) error {
	every := r.cfg.KeepAlive
	for _, cs := range [][]*client{r.pubClients, r.subClients} {
		for _, c := range cs {
			if c.keepAlive > 0 {
				every = min(every, c.keepAlive)
			}
		}
	}
	t := time.NewTicker(every / 2)
	defer t.Stop()
	ping, _ := (&mqttcodec.Pingreq{}).Append(nil, r.cfg.Version) // two constant bytes
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, cs := range [][]*client{r.pubClients, r.subClients} {
			for _, c := range cs {
				if err := c.write(ping); err != nil {
					return err
				}
			}
		}
	}
}

// drain waits, after the publishers were told to stop, until every message
// is acknowledged and delivered, nothing has moved for drainQuiet, or
// DrainTimeout passed.
func (r *runner) drain(g *group, writers *sync.WaitGroup) error {
	deadline := time.Now().Add(r.cfg.DrainTimeout)
	writersDone := make(chan struct{})
	go func() { writers.Wait(); close(writersDone) }()
	var last uint64
	lastMove := time.Now()
	for {
		progress, done := r.progress()
		select {
		case <-writersDone:
			if done {
				return nil
			}
		default:
			// Still writing: a publisher blocked on a full socket.
			lastMove = time.Now()
		}
		if progress != last {
			last, lastMove = progress, time.Now()
		}
		if time.Since(lastMove) >= drainQuiet || time.Now().After(deadline) {
			r.log.Info("drain ended with messages outstanding")
			return nil
		}
		if err := g.sleepUntil(time.Now().Add(drainPoll)); err != nil {
			return err
		}
	}
}

// progress returns a number that grows with every acknowledgement and
// delivery, and whether all that was sent is acknowledged and delivered.
func (r *runner) progress() (moved uint64, done bool) {
	done = true
	sent := make([]uint64, len(r.pubs))
	for i, p := range r.pubs {
		sent[i] = p.sent.Load()
		moved += p.acked.Load() + p.refused.Load()
		done = done && p.settled()
	}
	for _, s := range r.subs {
		got := s.received.Load()
		moved += got
		done = done && got >= expectedBy(s, sent)
	}
	return moved, done
}

// expectedBy returns the deliveries subscriber s should get when the
// publishers have sent sent[i] messages each.
func expectedBy(s *subscriber, sent []uint64) uint64 {
	if s.only >= 0 {
		return sent[s.only]
	}
	var n uint64
	for _, k := range sent {
		n += k
	}
	return n
}

// group runs a measurement's goroutines: the first failure of any cancels
// its context, with the failure as the cause, unless the run is already
// stopping, when connections end because this side closed them.
type group struct {
	ctx      context.Context
	cancel   context.CancelCauseFunc
	stopping atomic.Bool
	wg       sync.WaitGroup
}

// errStopping is the cause of a group's end when the run stops normally.
var errStopping = errors.New("load: run stopping")

func newGroup(parent context.Context) *group {
	ctx, cancel := context.WithCancelCause(parent)
	return &group{ctx: ctx, cancel: cancel}
}

func (g *group) fail(err error) {
	if !g.stopping.Load() {
		g.cancel(err)
	}
}

// reader runs f until it returns; its error fails the group.
func (g *group) reader(f func() error) {
	g.wg.Go(func() {
		if err := f(); err != nil {
			g.fail(err)
		}
	})
}

// sleepUntil waits for the instant at, or returns why the group ended.
func (g *group) sleepUntil(at time.Time) error {
	t := time.NewTimer(time.Until(at))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-g.ctx.Done():
		return context.Cause(g.ctx)
	}
}

// stop marks the run as stopping: failures from now on are this side
// closing its connections.
func (g *group) stop() {
	g.stopping.Store(true)
	g.cancel(errStopping)
}

// wait waits for every goroutine of the group.
func (g *group) wait() { g.wg.Wait() }
