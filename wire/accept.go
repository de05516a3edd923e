package wire

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Accept back-off after a transient error (out of file descriptors, say),
// as net/http does.
const (
	minAcceptBackoff = 5 * time.Millisecond
	maxAcceptBackoff = time.Second
)

// AcceptLoop accepts connections from ln and hands each to start until ln
// is closed (it returns nil) or Accept fails for good (it returns the
// error). A transient failure — a connection reset before it was
// accepted, a descriptor or memory shortage — is logged through warn and
// retried after a back-off that doubles up to one second.
func AcceptLoop(ln net.Listener, start func(net.Conn), warn func(msg string, args ...any)) error {
	backoff := time.Duration(0)
	for {
		nc, err := ln.Accept()
		if err == nil {
			backoff = 0
			start(nc)
			continue
		}
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		if !TransientAcceptError(err) {
			return err
		}
		backoff = min(max(2*backoff, minAcceptBackoff), maxAcceptBackoff)
		warn("accept failed; retrying", "addr", ln.Addr().String(), "err", err, "backoff", backoff)
		time.Sleep(backoff)
	}
}

// TransientAcceptError reports an accept error that passes by itself: a
// connection reset before it was accepted, or a descriptor or memory
// shortage.
func TransientAcceptError(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EMFILE,
		syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// warnInterval is how often one warning message may be logged.
const warnInterval = 10 * time.Second

// WarnLimiter logs each warning message at most once per ten seconds, with
// the number of repeats it suppressed meanwhile, as nats's
// rateLimitFormatWarnf does: a fault that hits every connection must not
// flood the log. Messages are constants, so its table stays small. The
// zero value is not usable; use NewWarnLimiter.
type WarnLimiter struct {
	log    *slog.Logger
	mu     sync.Mutex
	warned map[string]*warnState // by message
}

// warnState is when a warning was last logged and how many were
// suppressed since.
type warnState struct {
	last       time.Time
	suppressed int
}

// NewWarnLimiter returns a limiter that logs to log.
func NewWarnLimiter(log *slog.Logger) *WarnLimiter {
	return &WarnLimiter{log: log, warned: make(map[string]*warnState)}
}

// Warn logs msg at Warn unless it was logged less than ten seconds ago.
func (l *WarnLimiter) Warn(msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	w := l.warned[msg]
	if w == nil {
		w = &warnState{}
		l.warned[msg] = w
	} else if now.Sub(w.last) < warnInterval {
		w.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := w.suppressed
	w.last, w.suppressed = now, 0
	l.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	l.log.Warn(msg, args...)
}
