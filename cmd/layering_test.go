// Package cmd_test holds the layering test: it reads every package's direct
// imports and fails when one goes against DESIGN.md's direction. It lives
// in cmd/ because cmd is the one package allowed to see all the others.
package cmd_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// module is this repository's module path.
const module = "tributary"

// layerRank orders the top-level packages (DESIGN.md, "Packages"): imports
// run from a higher rank to a strictly lower one, so
// cmd → wire → cluster → raftstore → {mqttcodec, kafkacodec}, and wire (or
// cmd) may also use the codecs directly. chaos is outside the order: it
// imports none of our packages and none imports it.
var layerRank = map[string]int{
	"cmd":        5,
	"wire":       4,
	"cluster":    3,
	"raftstore":  2,
	"mqttcodec":  1,
	"kafkacodec": 1,
	"chaos":      0,
}

// kafkacodecDeps are the non-standard imports kafkacodec may use: franz-go's
// message, error and binary-encoding packages, and compression codecs.
var kafkacodecDeps = []string{
	"github.com/twmb/franz-go/pkg/kmsg",
	"github.com/twmb/franz-go/pkg/kerr",
	"github.com/twmb/franz-go/pkg/kbin",
	"github.com/klauspost/compress/",
	"github.com/pierrec/lz4/",
	"github.com/golang/snappy",
}

// wireForbidden are the imports wire must never have: it reaches storage
// and raft only through callbacks and the interfaces raftstore adapts.
var wireForbidden = []string{
	"github.com/cockroachdb/pebble", // and pebble/v2
	"github.com/hashicorp/raft",
	"github.com/hashicorp/raft-",
}

// violations returns one message per import in imports (package path → its
// direct, non-test imports) that breaks the layering rules, sorted.
func violations(imports map[string][]string) []string {
	var out []string
	for pkg, deps := range imports {
		if !isOurs(pkg) {
			continue
		}
		top := topLevel(pkg)
		if _, ok := layerRank[top]; !ok {
			out = append(out, fmt.Sprintf("%s: top-level package %q is not one of DESIGN.md's", pkg, top))
			continue
		}
		for _, dep := range deps {
			if msg := checkImport(pkg, top, dep); msg != "" {
				out = append(out, fmt.Sprintf("%s imports %s: %s", pkg, dep, msg))
			}
		}
	}
	slices.Sort(out)
	return out
}

// checkImport returns why pkg (under top) may not import dep, or "".
func checkImport(pkg, top, dep string) string {
	if dep == "testing" || strings.HasPrefix(dep, "testing/") {
		return "only _test.go files may import the testing packages"
	}
	if isOurs(dep) {
		return checkOurImport(top, topLevel(dep))
	}
	switch {
	case isStd(dep):
		return ""
	case top == "mqttcodec":
		return "mqttcodec imports only the standard library"
	case top == "kafkacodec" && !hasAnyPrefix(dep, kafkacodecDeps):
		return "kafkacodec imports only the standard library, franz-go's kmsg/kerr/kbin and compression codecs"
	case top == "wire" && hasAnyPrefix(dep, wireForbidden):
		return "wire must not know Pebble or raft internals"
	}
	return ""
}

// checkOurImport applies the direction rule between two top-level packages.
func checkOurImport(from, to string) string {
	switch {
	case from == to:
		return "" // a package and its own sub-packages
	case from == "chaos":
		return "chaos talks to the system only over the network and through the binary"
	case to == "chaos":
		return "no package may import the chaos harness"
	case from == "wire" && to == "raftstore":
		return "wire reaches the replicated store only through cluster"
	}
	rank, known := layerRank[to]
	if !known {
		return fmt.Sprintf("top-level package %q is not one of DESIGN.md's", to)
	}
	if rank >= layerRank[from] {
		return fmt.Sprintf("imports run cmd → wire → cluster → raftstore → codecs; %s may not import %s", from, to)
	}
	return ""
}

func isOurs(path string) bool { return path == module || strings.HasPrefix(path, module+"/") }

// topLevel returns the first path element under the module ("wire" for
// tributary/wire/mqtt), or "" for the module root itself.
func topLevel(path string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
	top, _, _ := strings.Cut(rest, "/")
	return top
}

// isStd reports whether path is a standard-library package: its first
// element has no dot, as every module path outside the standard library
// must (cgo's "C" is not a package and is not standard).
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && path != "C" && !isOurs(path)
}

// hasAnyPrefix reports whether path is one of prefixes or lies under one.
// A prefix ending in "/" or "-" matches any path that starts with it, so
// "github.com/hashicorp/raft-" covers raft-boltdb and its kin.
func hasAnyPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasSuffix(p, "/") || strings.HasSuffix(p, "-") {
			if strings.HasPrefix(path, p) {
				return true
			}
		} else if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// moduleImports lists every package of the module with its direct imports,
// through `go list` (not -deps, which is transitive and would flag raft
// under wire because raftstore uses it).
func moduleImports(t *testing.T) map[string][]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the layering test needs the go command: %v", err)
	}
	gomod, err := exec.Command(goBin, "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	// -e lists a package even while another engineer's half-written file
	// keeps it from compiling: its import lines are still readable.
	cmd := exec.Command(goBin, "list", "-e", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	imports := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 0 {
			imports[fields[0]] = fields[1:]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read go list output: %v", err)
	}
	return imports
}

func TestLayering(t *testing.T) {
	imports := moduleImports(t)
	// Guard against a vacuous pass: the graph must hold packages that exist
	// and the edge that cmd certainly has.
	for _, pkg := range []string{"tributary/cmd/tributary", "tributary/wire"} {
		if _, ok := imports[pkg]; !ok {
			t.Fatalf("go list did not report %s; got %d packages", pkg, len(imports))
		}
	}
	if !slices.Contains(imports["tributary/cmd/tributary"], "tributary/wire") {
		t.Fatalf("go list reports no tributary/wire import for cmd/tributary: %v", imports["tributary/cmd/tributary"])
	}
	for _, v := range violations(imports) {
		t.Error(v)
	}
}

func TestViolations_AcceptsDesignGraph(t *testing.T) {
	t.Parallel()
	ok := map[string][]string{
		"tributary/cmd/tributary":      {"flag", "tributary/wire", "tributary/raftstore", "tributary/cluster", "go.yaml.in/yaml/v3"},
		"tributary/wire":               {"net", "github.com/prometheus/client_golang/prometheus"},
		"tributary/wire/mqtt":          {"tributary/wire", "tributary/cluster", "tributary/mqttcodec"},
		"tributary/wire/kafka":         {"tributary/wire", "tributary/kafkacodec", "github.com/twmb/franz-go/pkg/kmsg"},
		"tributary/cluster":            {"tributary/raftstore", "tributary/mqttcodec", "github.com/hashicorp/raft"},
		"tributary/raftstore":          {"tributary/raftstore/logstore", "tributary/mqttcodec", "github.com/hashicorp/raft"},
		"tributary/raftstore/logstore": {"github.com/cockroachdb/pebble/v2", "github.com/hashicorp/raft"},
		"tributary/mqttcodec":          {"errors", "unicode/utf8"},
		"tributary/kafkacodec":         {"hash/crc32", "github.com/twmb/franz-go/pkg/kmsg", "github.com/twmb/franz-go/pkg/kerr", "github.com/klauspost/compress/zstd", "github.com/pierrec/lz4/v4"},
		"tributary/chaos":              {"os/exec", "github.com/eclipse/paho.golang/paho"},
		"github.com/other/module":      {"testing", "tributary/chaos"}, // not ours: not judged
	}
	if got := violations(ok); len(got) != 0 {
		t.Fatalf("the graph DESIGN.md describes was refused:\n%s", strings.Join(got, "\n"))
	}
}

// TestViolations_RefusesEachBreak proves the layering test can fail: each
// graph breaks one rule, and the rule's message must come back.
func TestViolations_RefusesEachBreak(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		imports map[string][]string
		want    []string
	}{
		{"upward: raftstore imports cluster",
			map[string][]string{"tributary/raftstore": {"tributary/cluster"}},
			[]string{"tributary/raftstore imports tributary/cluster: imports run cmd → wire → cluster → raftstore → codecs; raftstore may not import cluster"}},
		{"upward from a sub-package: wire/mqtt imports cmd",
			map[string][]string{"tributary/wire/mqtt": {"tributary/cmd/tributary"}},
			[]string{"tributary/wire/mqtt imports tributary/cmd/tributary: imports run cmd → wire → cluster → raftstore → codecs; wire may not import cmd"}},
		{"sideways between codecs",
			map[string][]string{"tributary/kafkacodec": {"tributary/mqttcodec"}},
			[]string{"tributary/kafkacodec imports tributary/mqttcodec: imports run cmd → wire → cluster → raftstore → codecs; kafkacodec may not import mqttcodec"}},
		{"mqttcodec imports a module",
			map[string][]string{"tributary/mqttcodec/props": {"bytes", "github.com/valyala/bytebufferpool"}},
			[]string{"tributary/mqttcodec/props imports github.com/valyala/bytebufferpool: mqttcodec imports only the standard library"}},
		{"kafkacodec imports franz-go's client",
			map[string][]string{"tributary/kafkacodec": {"github.com/twmb/franz-go/pkg/kgo", "github.com/twmb/franz-go/pkg/kmsg"}},
			[]string{"tributary/kafkacodec imports github.com/twmb/franz-go/pkg/kgo: kafkacodec imports only the standard library, franz-go's kmsg/kerr/kbin and compression codecs"}},
		{"wire imports raft and pebble",
			map[string][]string{"tributary/wire/kafka": {
				"github.com/hashicorp/raft", "github.com/hashicorp/raft-boltdb/v2", "github.com/cockroachdb/pebble/v2/vfs",
				"github.com/hashicorp/raftish", // only a lookalike: allowed
			}},
			[]string{
				"tributary/wire/kafka imports github.com/cockroachdb/pebble/v2/vfs: wire must not know Pebble or raft internals",
				"tributary/wire/kafka imports github.com/hashicorp/raft-boltdb/v2: wire must not know Pebble or raft internals",
				"tributary/wire/kafka imports github.com/hashicorp/raft: wire must not know Pebble or raft internals",
			}},
		{"wire skips cluster",
			map[string][]string{"tributary/wire/mqtt": {"tributary/raftstore"}},
			[]string{"tributary/wire/mqtt imports tributary/raftstore: wire reaches the replicated store only through cluster"}},
		{"chaos imports ours",
			map[string][]string{"tributary/chaos": {"tributary/mqttcodec"}},
			[]string{"tributary/chaos imports tributary/mqttcodec: chaos talks to the system only over the network and through the binary"}},
		{"cmd imports chaos",
			map[string][]string{"tributary/cmd/tributary": {"tributary/chaos/report"}},
			[]string{"tributary/cmd/tributary imports tributary/chaos/report: no package may import the chaos harness"}},
		{"non-test file imports testing",
			map[string][]string{"tributary/raftstore/simtest": {"testing"}, "tributary/wire": {"testing/synctest"}},
			[]string{
				"tributary/raftstore/simtest imports testing: only _test.go files may import the testing packages",
				"tributary/wire imports testing/synctest: only _test.go files may import the testing packages",
			}},
		{"unknown top-level package",
			map[string][]string{"tributary/util": {"fmt"}, "tributary/wire": {"tributary/util"}},
			[]string{
				`tributary/util: top-level package "util" is not one of DESIGN.md's`,
				`tributary/wire imports tributary/util: top-level package "util" is not one of DESIGN.md's`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, violations(tc.imports)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}
