package raftstore

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHCLogAdapterFormatsAndLevels(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})))
	l.Named("raft").With("peer", "n2").Info("initial configuration", "servers", hclog.Fmt("%+v", []int{1, 2}))
	l.Debug("hidden at info level")
	out := buf.String()
	for _, want := range []string{"component=raft", "peer=n2", `servers="[1 2]"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log line %q lacks %s", out, want)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Error("a debug line passed an info-level handler")
	}
	if l.IsDebug() || !l.IsInfo() {
		t.Error("level queries do not follow the slog handler")
	}
}
