package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"tributary/cluster"
)

// cliTimeout bounds one admin request of the mappings command.
const cliTimeout = 15 * time.Second

// runMappings is `tributary mappings list|set|delete`: it changes a
// running node's mappings through its HTTP admin endpoint.
func runMappings(args []string, stdout, stderr io.Writer) int {
	fs, addr, rest, code := parseAdminArgs("mappings", args, stderr, mappingsUsage)
	if rest == nil {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	base := "http://" + addr + "/admin/mappings"
	var err error
	switch {
	case rest[0] == "list" && len(rest) == 1:
		err = listMappings(ctx, base, stdout)
	case rest[0] == "set" && len(rest) == 2:
		err = setMappings(ctx, base, rest[1], stdout)
	case rest[0] == "delete" && len(rest) == 2:
		err = adminRequest(ctx, http.MethodDelete, base+"/"+url.PathEscape(rest[1]), nil, nil)
		if err == nil {
			fmt.Fprintf(stdout, "deleted %s\n", rest[1])
		}
	default:
		fs.Usage()
		return exitUsage
	}
	if err != nil {
		fmt.Fprintf(stderr, "tributary: mappings: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// parseAdminArgs parses the flags of an admin command named name (its
// --http-addr) and returns the flag set, the address, and the arguments
// after the flags; when those are missing or the flags are wrong (or
// --help was asked), rest is nil and code is the exit code.
func parseAdminArgs(name string, args []string, stderr io.Writer, usage func(io.Writer, *flag.FlagSet)) (fs *flag.FlagSet, addr string, rest []string, code int) {
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := fs.String("http-addr", defaultConfig().HTTPAddr, "host:port of any node's HTTP endpoint")
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return fs, "", nil, exitOK
		}
		return fs, "", nil, exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fs, "", nil, exitUsage
	}
	return fs, *a, fs.Args(), exitOK
}

func mappingsUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage:
  tributary mappings [--http-addr HOST:PORT] list          print every mapping (YAML)
  tributary mappings [--http-addr HOST:PORT] set FILE      add or replace the mappings in a YAML or JSON file (one or a list)
  tributary mappings [--http-addr HOST:PORT] delete NAME   remove a mapping (its Kafka topic stays)

A mapping file holds what the config file's "mappings" list holds, for example:
  name: telemetry
  mqtt_to_kafka: {filters: ["sensors/+/temp"], kafka_topic: telemetry, partitions: 8}

`)
	fs.PrintDefaults()
}

func listMappings(ctx context.Context, base string, out io.Writer) error {
	var specs []cluster.MappingSpec
	if err := adminRequest(ctx, http.MethodGet, base, nil, &specs); err != nil {
		return err
	}
	b, err := yaml.Marshal(specs)
	if err != nil {
		return fmt.Errorf("print: %w", err)
	}
	_, err = out.Write(b)
	return err
}

// setMappings reads one mapping or a list from path (YAML, and so JSON)
// and sets each.
func setMappings(ctx context.Context, base, path string, out io.Writer) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var specs []cluster.MappingSpec
	if err := strictYAML(data, &specs); err != nil {
		var one cluster.MappingSpec
		if err1 := strictYAML(data, &one); err1 != nil {
			return fmt.Errorf("%s: %w", path, err1)
		}
		specs = []cluster.MappingSpec{one}
	}
	for _, s := range specs {
		body, err := json.Marshal(s)
		if err != nil {
			return err
		}
		if err := adminRequest(ctx, http.MethodPut, base+"/"+url.PathEscape(s.Name), body, nil); err != nil {
			return fmt.Errorf("mapping %q: %w", s.Name, err)
		}
		fmt.Fprintf(out, "set %s\n", s.Name)
	}
	return nil
}

func strictYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// maxAdminAnswerBytes bounds what the CLI reads of an answer.
const maxAdminAnswerBytes = 16 << 20

// adminRequest sends one admin request and decodes a JSON answer into
// answer (when not nil); a non-2xx status is an error with the body text.
func adminRequest(ctx context.Context, method, u string, body []byte, answer any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminAnswerBytes))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(data))
	}
	if answer == nil {
		return nil
	}
	return json.Unmarshal(data, answer)
}
