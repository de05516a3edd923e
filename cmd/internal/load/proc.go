package load

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// clockTicksPerSec is USER_HZ, the unit of /proc/<pid>/stat's CPU times.
// Linux fixes it at 100 on every architecture it exports to user space.
const clockTicksPerSec = 100

// errProcFormat reports a /proc file this code cannot read.
var errProcFormat = errors.New("load: unexpected /proc format")

// checkPID fails when pid (0: none) names no process whose /proc this
// process can read, so that a wrong --broker-pid stops a run before it
// starts rather than leaving its figures empty.
func checkPID(pid int) error {
	if pid == 0 {
		return nil
	}
	if _, err := processRSS(pid); err != nil {
		return fmt.Errorf("load: broker pid %d: %w", pid, err)
	}
	return nil
}

// processRSS returns the resident memory of process pid: VmRSS in
// /proc/<pid>/status.
func processRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	return parseVmRSS(b)
}

// parseVmRSS reads the VmRSS line of a /proc/<pid>/status file, such as
// "VmRSS:\t    5120 kB", and returns it in bytes.
func parseVmRSS(status []byte) (int64, error) {
	for line := range bytes.Lines(status) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) != 2 || string(fields[1]) != "kB" {
			return 0, fmt.Errorf("%w: VmRSS line %q", errProcFormat, bytes.TrimSpace(line))
		}
		kb, err := strconv.ParseInt(string(fields[0]), 10, 64)
		if err != nil || kb < 0 {
			return 0, fmt.Errorf("%w: VmRSS line %q", errProcFormat, bytes.TrimSpace(line))
		}
		return kb << 10, nil
	}
	// Kernel threads and zombies have no VmRSS line.
	return 0, fmt.Errorf("%w: no VmRSS line (a zombie or kernel thread?)", errProcFormat)
}

// processCPU returns the processor time, user and system, that every thread
// of process pid has used: utime + stime in /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("load: %w", err)
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime, fields 14 and 15, from a
// /proc/<pid>/stat line. The command name, field 2, is in parentheses and
// may hold spaces and parentheses itself, so fields are counted from the
// last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: stat without a command name", errProcFormat)
	}
	fields := bytes.Fields(stat[i+1:]) // fields[0] is field 3, the state
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("%w: stat has %d fields after the command name", errProcFormat, len(fields))
	}
	var ticks int64
	for _, f := range [][]byte{fields[utime], fields[stime]} {
		n, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: stat CPU time %q", errProcFormat, f)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / clockTicksPerSec), nil
}

// selfCPU returns the processor time, user and system, this process has used.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("load: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
