package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes. Scripts tell a refused configuration (fix the input) from a
// node that failed while running (look at the logs).
const (
	exitOK      = 0
	exitFailure = 1 // the node failed to start or stopped on an error
	exitUsage   = 2 // bad command line or configuration
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stderr)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	case "mappings":
		return runMappings(args[1:], stdout, stderr)
	case "ctl":
		return runCtl(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		return runHelp(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "tributary: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Tributary is an MQTT broker cluster that also speaks the Kafka wire protocol.

Usage:
  tributary serve [flags]   run a node (tributary help serve lists the flags)
  tributary bench [flags]   drive an MQTT broker with load and report rates and latency
  tributary mappings ...    list, set or delete a running node's MQTT<->Kafka mappings
  tributary ctl ...         list cluster members, remove a node, transfer leadership
  tributary help [command]  print this help, or a command's

`)
}

func runHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		usage(stdout)
		return exitOK
	case len(args) == 1 && args[0] == "serve":
		fs, _, _ := newServeFlags(stdout)
		fs.Usage()
		return exitOK
	case len(args) == 1 && args[0] == "bench":
		fs, _ := newBenchFlags(stdout)
		fs.Usage()
		return exitOK
	default:
		fmt.Fprintf(stderr, "tributary: no help for %q\n\n", args)
		usage(stderr)
		return exitUsage
	}
}

// runServe loads and validates the configuration, then runs the node until
// SIGTERM or SIGINT (exit 0) or a fatal error (exit 1).
func runServe(args []string, stderr io.Writer) int {
	cfg, err := loadServeConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		reportConfigError(stderr, err)
		return exitUsage
	}
	log := newLogger(cfg, stderr)
	// Libraries that write through the standard log package land in our
	// handler too, rather than on stderr in their own format.
	slog.SetDefault(log)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	return serve(cfg, log, sigs)
}

// reportConfigError prints each joined problem on its own line.
func reportConfigError(w io.Writer, err error) {
	var fe flagError
	if errors.As(err, &fe) {
		return // the flag package has already printed it with the usage
	}
	fmt.Fprintln(w, "tributary: invalid configuration:")
	for _, e := range unjoin(err) {
		fmt.Fprintf(w, "  - %s\n", strings.ReplaceAll(strings.TrimPrefix(e.Error(), "tributary: "), "\n", "\n    "))
	}
}

// unjoin flattens errors.Join trees into their leaves, in order.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}
