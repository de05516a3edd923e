package load

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall"
	"time"
)

// idleDialParallelism bounds the idle connections being opened at once.
const idleDialParallelism = 64

// IdleResult is what an idle run measured.
type IdleResult struct {
	// Config is the configuration the run used, defaults applied.
	Config IdleConfig
	// ConnectTime is how long opening every connection took.
	ConnectTime time.Duration
	// RSSBeforeBytes and RSSAfterBytes are the broker's VmRSS before the
	// first connection and after the hold; 0 without Config.BrokerPID.
	RSSBeforeBytes, RSSAfterBytes int64
	// BytesPerConn is (RSSAfterBytes - RSSBeforeBytes) / Conns: what one idle
	// connection costs the broker, its kernel socket buffers excluded
	// (they are not in the process's RSS). It may be negative when the
	// broker returned memory meanwhile.
	BytesPerConn float64
	// Dropped counts the connections the broker had closed, or sent
	// anything on, by the end of the hold: an idle connection hears nothing.
	Dropped int
}

// RunIdle opens Conns connections, each sending CONNECT and nothing after
// its CONNACK, holds them for Hold, reads the broker's memory, checks that
// every connection is still open, and closes them all. It stops early, with
// an error, if ctx ends or a connection cannot be opened.
func RunIdle(ctx context.Context, cfg IdleConfig) (IdleResult, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return IdleResult{}, err
	}
	if err := checkFDs(cfg.Conns); err != nil {
		return IdleResult{}, err
	}
	log := cfg.Logger.With("run_id", cfg.RunID)
	res := IdleResult{Config: cfg}
	var err error
	if cfg.BrokerPID != 0 {
		if res.RSSBeforeBytes, err = processRSS(cfg.BrokerPID); err != nil {
			return IdleResult{}, fmt.Errorf("load: broker pid %d: %w", cfg.BrokerPID, err)
		}
	}
	start := time.Now()
	clients, err := dialAll(ctx, cfg.Conns, idleDialParallelism, func(ctx context.Context, i int) (*client, error) {
		return dial(ctx, dialOptions{
			addr: cfg.Addr, local: localAddr(cfg.SourceAddrs, i), clientID: "tb" + cfg.RunID + "i" + strconv.Itoa(i),
			version: cfg.Version, clean: true, keepAlive: cfg.KeepAlive, timeout: cfg.ConnectTimeout,
			bufBytes: handshakeBufBytes,
		})
	})
	if err != nil {
		return IdleResult{}, err
	}
	defer func() {
		for _, c := range clients {
			c.disconnect()
		}
	}()
	res.ConnectTime = time.Since(start)
	log.Info("idle connections open", "conns", len(clients), "connect_time", res.ConnectTime)

	t := time.NewTimer(cfg.Hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return IdleResult{}, fmt.Errorf("load: idle hold: %w", context.Cause(ctx))
	}
	if cfg.BrokerPID != 0 {
		if res.RSSAfterBytes, err = processRSS(cfg.BrokerPID); err != nil {
			return IdleResult{}, fmt.Errorf("load: broker pid %d: %w", cfg.BrokerPID, err)
		}
		res.BytesPerConn = float64(res.RSSAfterBytes-res.RSSBeforeBytes) / float64(cfg.Conns)
	}
	for _, c := range clients {
		quiet, err := c.quiet()
		if err != nil {
			return IdleResult{}, err
		}
		if !quiet {
			res.Dropped++
		}
	}
	return res, nil
}

// quiet reports whether the connection is open with nothing to read, by
// peeking at its socket without blocking: a closed connection reads 0
// bytes, a DISCONNECT some.
func (c *client) quiet() (bool, error) {
	if c.r != c.w {
		return false, nil // the broker sent more than the CONNACK
	}
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return false, fmt.Errorf("load: %s: connection has no file descriptor", c.id)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false, fmt.Errorf("load: %s: %w", c.id, err)
	}
	var perr error
	var b [1]byte
	err = raw.Read(func(fd uintptr) bool {
		_, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // one attempt: never wait for readability
	})
	if err != nil {
		return false, fmt.Errorf("load: %s: %w", c.id, err)
	}
	// Only "would block" means open and silent. Otherwise the peek read a
	// byte (the broker spoke), 0 bytes (it closed) or a reset.
	return errors.Is(perr, syscall.EAGAIN), nil
}
