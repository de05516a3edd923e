package raftstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// childDirEnv makes the test binary run as the child of
// TestKillNineNothingLostNothingTwice instead of running tests.
const childDirEnv = "RAFTSTORE_TEST_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(runChild(dir, os.Getenv("RAFTSTORE_TEST_CHILD_ROUND")))
	}
	os.Exit(m.Run())
}

// runChild proposes +1 on a fresh key per proposal from 16 goroutines,
// printing each key once its proposal is acknowledged, until it is killed.
// Small snapshot thresholds make snapshots and log truncation happen while
// it runs, so restarts replay from the middle of the log.
func runChild(dir, round string) int {
	l, err := listenLayer("127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := Open(Config{
		NodeID: "n1", DataDir: dir, StreamLayer: l,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
		SnapshotThreshold: 200, SnapshotInterval: 20 * time.Millisecond, TrailingLogs: 50,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for s.Ready() != nil || !s.IsLeader() {
		time.Sleep(5 * time.Millisecond)
	}
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				key := fmt.Sprintf("r%s-w%d-%d", round, w, i)
				c, _ := KVAdd([]byte(key), 1)
				if _, err := s.Propose(context.Background(), c); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				out.Lock()
				fmt.Println(key)
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	return 1
}

// TestKillNineNothingLostNothingTwice kills a process that is proposing
// with SIGKILL, three times, restarting it on the same data directory in
// between: every acknowledged command is in the state, and no command is
// applied twice (each key's counter is exactly 1).
func TestKillNineNothingLostNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	for round := 0; round < 3; round++ {
		for _, k := range killChildAfter(t, exe, dir, round, 1500) {
			acked[k] = true
		}
	}
	cfg := testConfig(t, dir)
	s := openStore(t, cfg)
	defer s.Close()
	seen := 0
	for _, kv := range dumpDB(t, s.fsm.db) {
		if kv[0][0] != tableKV {
			continue
		}
		seen++
		if n := decodeCounter(t, kv[1]); n != 1 {
			t.Errorf("key %s applied %d times", kv[0][1:], n)
		}
	}
	for k := range acked {
		if got := counter(t, s, k); got != 1 {
			t.Errorf("acknowledged %s has count %d", k, got)
		}
	}
	if seen < len(acked) {
		t.Fatalf("%d keys in the state, %d acknowledged", seen, len(acked))
	}
	t.Logf("%d acknowledged, %d applied (the rest were in flight at a kill)", len(acked), seen)
}

// killChildAfter runs the child until it has acknowledged n commands, kills
// it with SIGKILL, and returns what it acknowledged.
func killChildAfter(t *testing.T, exe, dir string, round, n int) []string {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir, fmt.Sprint("RAFTSTORE_TEST_CHILD_ROUND=", round))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	var keys []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		keys = append(keys, sc.Text())
		if len(keys) == n {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	for sc.Scan() { // lines already written before the kill were acknowledged too
		keys = append(keys, sc.Text())
	}
	cmd.Wait()
	if len(keys) < n {
		t.Fatalf("round %d: child acknowledged only %d commands; stderr:\n%s", round, len(keys), stderr.String())
	}
	return keys
}
