package load

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestParseVmRSS(t *testing.T) {
	t.Parallel()
	status := "Name:\tmosquitto\nVmPeak:\t   12000 kB\nVmRSS:\t    5120 kB\nRssAnon:\t 1000 kB\n"
	if got, err := parseVmRSS([]byte(status)); err != nil || got != 5120<<10 {
		t.Errorf("parseVmRSS = %d, %v; want %d", got, err, 5120<<10)
	}
	for _, bad := range []string{
		"Name:\tkthreadd\nState:\tS\n", // kernel threads have no VmRSS
		"VmRSS:\t 5120 MB\n",
		"VmRSS:\t lots kB\n",
		"VmRSS:\n",
	} {
		if _, err := parseVmRSS([]byte(bad)); !errors.Is(err, errProcFormat) {
			t.Errorf("parseVmRSS(%q) = %v, want errProcFormat", bad, err)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// The command name may hold spaces and parentheses; utime=250, stime=50.
	stat := "4242 (my (weird) prog) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 3 0 100 1000000 300 18446744073709551615\n"
	if got, err := parseStatCPU([]byte(stat)); err != nil || got != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	for _, bad := range []string{"4242 no parens S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 4242 4242 0 -1 4194560 500 0 0 0 -5 50 0"} {
		if _, err := parseStatCPU([]byte(bad)); !errors.Is(err, errProcFormat) {
			t.Errorf("parseStatCPU(%q) = %v, want errProcFormat", bad, err)
		}
	}
}

// TestProcOfThisProcess reads the real /proc files of the test binary.
func TestProcOfThisProcess(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	if rss, err := processRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Errorf("processRSS(self) = %d, %v", rss, err)
	}
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Errorf("processCPU(self): %v", err)
	}
	if _, err := selfCPU(); err != nil {
		t.Errorf("selfCPU: %v", err)
	}
	if err := checkPID(0); err != nil {
		t.Errorf("checkPID(0) = %v, want nil: no broker pid given", err)
	}
	if err := checkPID(1 << 30); err == nil {
		t.Error("checkPID accepted a pid beyond pid_max")
	}
}
