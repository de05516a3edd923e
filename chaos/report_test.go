package chaos

import (
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"
)

var reportMu sync.Mutex

// report appends one measured duration to the file named by
// $TRIBUTARY_CHAOS_REPORT (JSON lines), when set, so benchmark scripts can
// collect the chaos tests' figures; the test log has them either way.
func report(t *testing.T, name string, d time.Duration) {
	t.Helper()
	path := os.Getenv("TRIBUTARY_CHAOS_REPORT")
	if path == "" {
		return
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Errorf("report: %v", err)
		return
	}
	defer f.Close()
	line, _ := json.Marshal(map[string]any{"test": t.Name(), "name": name, "ms": d.Milliseconds()})
	if _, err := f.Write(append(line, '\n')); err != nil {
		t.Errorf("report: %v", err)
	}
}
