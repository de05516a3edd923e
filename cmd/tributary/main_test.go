package main

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRun_Dispatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // substring expected on stdout ("" = nothing)
		stderr string // substring expected on stderr ("" = nothing)
	}{
		{"no command", nil, exitUsage, "", "Usage:"},
		{"unknown command", []string{"frob"}, exitUsage, "", `unknown command "frob"`},
		{"help", []string{"help"}, exitOK, "tributary serve [flags]", ""},
		{"-h", []string{"-h"}, exitOK, "tributary serve [flags]", ""},
		{"help serve", []string{"help", "serve"}, exitOK, "--raft-addr string", ""},
		{"help for nothing", []string{"help", "frob"}, exitUsage, "", "no help for"},
		{"serve -h", []string{"serve", "-h"}, exitOK, "", "--http-addr string"},
		{"serve bad flag", []string{"serve", "--nope"}, exitUsage, "", "flag provided but not defined: -nope"},
		{"serve bad value", []string{"serve", "--log-level", "loud"}, exitUsage, "", "log_level (--log-level)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("run(%q) = %d, want %d; stderr:\n%s", tc.args, code, tc.code, stderr.String())
			}
			for _, s := range []struct {
				name, want, got string
			}{{"stdout", tc.stdout, stdout.String()}, {"stderr", tc.stderr, stderr.String()}} {
				if s.want == "" && s.got != "" {
					t.Errorf("%s = %q, want nothing", s.name, s.got)
				}
				if !strings.Contains(s.got, s.want) {
					t.Errorf("%s lacks %q:\n%s", s.name, s.want, s.got)
				}
			}
		})
	}
}

// TestRun_StartFailureCleansUp makes the cluster port's bind fail after the
// HTTP endpoint is up, and checks that serve exits 1 and gives the HTTP
// port back.
func TestRun_StartFailureCleansUp(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	httpAddr := freeAddr(t)

	var stderr bytes.Buffer
	code := run([]string{"serve",
		"--data-dir", filepath.Join(t.TempDir(), "data"),
		"--http-addr", httpAddr,
		"--raft-addr", busy.Addr().String(),
	}, &bytes.Buffer{}, &stderr)
	if code != exitFailure {
		t.Fatalf("run = %d, want %d; stderr:\n%s", code, exitFailure, stderr.String())
	}
	if !strings.Contains(stderr.String(), "wire: cluster listen") {
		t.Errorf("stderr does not name the failed bind:\n%s", stderr.String())
	}
	l, err := net.Listen("tcp", httpAddr)
	if err != nil {
		t.Fatalf("HTTP port still held after a failed start: %v", err)
	}
	l.Close()
}

// fakePart is a stoppable whose stop the test decides.
type fakePart struct {
	done chan struct{}
	err  error
}

func newFakePart() *fakePart              { return &fakePart{done: make(chan struct{})} }
func (p *fakePart) Done() <-chan struct{} { return p.done }
func (p *fakePart) Err() error            { return p.err }
func (p *fakePart) fail(err error)        { p.err = err; close(p.done) }

func TestWaitStop(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	errDisk := errors.New("raftstore: apply: disk on fire")

	t.Run("signal is a clean stop", func(t *testing.T) {
		sigs := make(chan os.Signal, 1)
		sigs <- syscall.SIGTERM
		if err := waitStop(log, sigs, newFakePart(), newFakePart(), newFakePart(), newFakePart()); err != nil {
			t.Fatalf("waitStop after SIGTERM = %v, want nil", err)
		}
	})
	t.Run("store failure", func(t *testing.T) {
		store := newFakePart()
		store.fail(errDisk)
		err := waitStop(log, make(chan os.Signal), store, newFakePart(), newFakePart(), newFakePart())
		if !errors.Is(err, errDisk) || !strings.Contains(err.Error(), "raft store stopped") {
			t.Fatalf("waitStop after a store failure = %v, want it to wrap %v", err, errDisk)
		}
	})
	t.Run("http failure", func(t *testing.T) {
		http := newFakePart()
		http.fail(net.ErrClosed)
		err := waitStop(log, make(chan os.Signal), newFakePart(), http, newFakePart(), newFakePart())
		if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "http endpoint stopped") {
			t.Fatalf("waitStop after an HTTP failure = %v, want it to wrap net.ErrClosed", err)
		}
	})
	t.Run("mqtt failure", func(t *testing.T) {
		mqtt := newFakePart()
		mqtt.fail(net.ErrClosed)
		err := waitStop(log, make(chan os.Signal), newFakePart(), newFakePart(), mqtt, newFakePart())
		if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "mqtt listener stopped") {
			t.Fatalf("waitStop after an MQTT listener failure = %v, want it to wrap net.ErrClosed", err)
		}
	})
	t.Run("kafka failure", func(t *testing.T) {
		kafka := newFakePart()
		kafka.fail(net.ErrClosed)
		err := waitStop(log, make(chan os.Signal), newFakePart(), newFakePart(), newFakePart(), kafka)
		if !errors.Is(err, net.ErrClosed) || !strings.Contains(err.Error(), "kafka listener stopped") {
			t.Fatalf("waitStop after a Kafka listener failure = %v, want it to wrap net.ErrClosed", err)
		}
	})
}
