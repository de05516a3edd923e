package logstore

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// fatalError is the panic value of pebbleLogger.Fatalf. Pebble calls Fatalf
// when it cannot continue (a failed WAL write or sync, a failed MANIFEST
// update) and then carries on as if Fatalf had not returned: after a failed
// commit, DB.Apply returns nil. So Fatalf must never return. It panics with a
// *fatalError, which the Store method running on the same goroutine recovers
// into an error (see Store.catchFatal); on a Pebble background goroutine
// nothing recovers it and the process stops, as it would with Pebble's own
// default logger (which exits).
type fatalError struct {
	msg string
}

// Error implements error.
func (e *fatalError) Error() string {
	return "logstore: fatal storage error: " + e.msg
}

// Unwrap makes errors.Is(err, ErrFatal) true.
func (e *fatalError) Unwrap() error { return ErrFatal }

// pebbleLogger adapts slog to pebble.Logger and pebble's event listener.
type pebbleLogger struct {
	log *slog.Logger
}

var _ pebble.Logger = (*pebbleLogger)(nil)

// Infof logs Pebble's routine lines (WAL replay, found WALs) at Debug.
func (l *pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...))
}

// Errorf logs at Error: Pebble uses it for failed cleanups and metrics.
func (l *pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...))
}

// Fatalf logs at Error and panics with a *fatalError; it never returns
// (see fatalError for why).
func (l *pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error("logstore: fatal storage error", "err", errors.New(msg))
	panic(&fatalError{msg: msg})
}

// eventListener logs the Pebble events an operator needs: background errors,
// corruption, slow disks and write stalls. Corruption is logged, not fatal:
// the read that found it returns the error itself (Pebble's default would
// call Fatalf).
func (l *pebbleLogger) eventListener() *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			l.log.Error("logstore: pebble background error", "err", err)
		},
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			l.log.Error("logstore: pebble found corrupt data", "err", info.Details)
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			l.log.Warn("logstore: slow disk: " + info.String())
		},
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			l.log.Warn("logstore: " + info.String())
		},
		WriteStallEnd: func() {
			l.log.Info("logstore: write stall ended")
		},
	}
}
