package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/zkvlabs/zkv/bench"
)

// childEnv makes the test binary act as zkv: `zkv bench --cpus` re-executes os.Executable(),
// which under `go test` is this binary.
const childEnv = "ZKV_TEST_ACT_AS_ZKV"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func TestBenchBadFlags(t *testing.T) {
	dir := t.TempDir()
	notJSON := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(notJSON, []byte(`{"schema_version": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tooMany := strconv.Itoa(runtime.NumCPU() + 1)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--suite", "nope"}, `unknown suite "nope" (have: bls, prover`},
		{[]string{"--suite", "bls,"}, "empty suite name"},
		{[]string{"--cpus", "0"}, "must be at least 1"},
		{[]string{"--cpus", "1," + tooMany}, "this machine has only " + strconv.Itoa(runtime.NumCPU()) + " CPUs"},
		{[]string{"--cpus", "one"}, `"one" is not a number`},
		{[]string{"--cpus", "1,1"}, "given twice"},
		{[]string{"--runs", "-1"}, "must not be negative"},
		{[]string{"--duration", "-1s"}, "must not be negative"},
		{[]string{"--compare", filepath.Join(dir, "missing.json")}, "--compare"},
		{[]string{"--compare", notJSON}, "schema_version 1, want 2"},
		{[]string{"--check"}, "--check needs --json or --report"},
		{[]string{"--report", notJSON}, "not a directory"},
		{[]string{"stray"}, `unexpected argument "stray"`},
		{[]string{"--from", notJSON}, "schema_version 1, want 2"},
		{[]string{"--from", notJSON, "--cpus", "1"}, "--cpus does not apply"},
		{[]string{"--key-cache", notJSON}, "--key-cache " + notJSON + ": not a directory"},
		{[]string{"--key-cache", filepath.Join(notJSON, "keys")}, "not a directory"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"bench"}, c.args...), &out, &errOut)
		if code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", c.args, code, errOut.String(), c.want)
		}
		if strings.Contains(out.String(), "running") {
			t.Errorf("%v: measured before refusing", c.args)
		}
	}
}

// One figure through --json, --report and --check, then --compare against that file and
// against a copy with an injected 100x speed-up, whose comparison must flag the slowdown.
func TestBenchJSONReportCompare(t *testing.T) {
	dir := t.TempDir()
	first, page := filepath.Join(dir, "first.json"), filepath.Join(dir, "report")
	base := []string{"bench", "--suite", "bls", "--only", "bls/verify", "--duration", "3ms", "--runs", "3"}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), append(base, "--json", first, "--report", page, "--check"), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"follows schema version", "renders every suite run (1 figures)"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	html, err := os.ReadFile(filepath.Join(page, bench.ReportFile))
	if err != nil || !strings.Contains(string(html), `<section id="suite-bls"`) {
		t.Fatalf("report: %v", err)
	}

	raw, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	r := doc["results"].([]any)[0].(map[string]any)
	for _, k := range []string{"median", "min", "max", "p99"} {
		r[k] = r[k].(float64) / 100
	}
	fast := filepath.Join(dir, "fast.json")
	raw, _ = json.Marshal(doc)
	if err := os.WriteFile(fast, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run(context.Background(), append(base, "--compare", fast), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "SLOWER (outside spread)") || !strings.Contains(out.String(), "1 of 1 figures changed") {
		t.Fatalf("a 100x slowdown is not flagged:\n%s", out.String())
	}
	// Saved figures compare and re-render without measuring: a file against itself is all noise.
	out.Reset()
	again := filepath.Join(dir, "again")
	if code := run(context.Background(), []string{"bench", "--from", first, "--compare", first, "--report", again, "--check"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "running") || !strings.Contains(out.String(), "0 of 1 figures changed") || !strings.Contains(out.String(), "renders every suite") {
		t.Fatalf("--from:\n%s", out.String())
	}
}

// --cpus measures in child processes (this test binary acting as zkv) and merges their figures.
func TestBenchCPUsChildProcesses(t *testing.T) {
	t.Setenv(childEnv, "1")
	counts := "1"
	if runtime.NumCPU() >= 2 {
		counts = "1,2"
	}
	out := filepath.Join(t.TempDir(), "cpus.json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"bench", "--suite", "bls", "--only", "bls/sign", "--duration", "2ms", "--cpus", counts, "--json", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := bench.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(counts, ",")
	if len(rep.Results) != len(want) {
		t.Fatalf("%d figures for counts %s", len(rep.Results), counts)
	}
	for i, r := range rep.Results {
		if strconv.Itoa(r.CPUs) != want[i] || r.Name != "bls/sign" {
			t.Fatalf("figure %d: %s at %d CPUs", i, r.Name, r.CPUs)
		}
	}
	if !strings.Contains(stdout.String(), "GOMAXPROCS=1 (own process)") {
		t.Fatalf("no child ran:\n%s", stdout.String())
	}
	if len(want) > 1 && !strings.Contains(stdout.String(), "1.00x") {
		t.Fatalf("no speed-up column:\n%s", stdout.String())
	}
}

// The prover suite in quick mode through the CLI: its depth-8 figures in the JSON, each zkv
// figure with stock gnark as its peer, the report checked, the derived per-epoch table in the
// table and the keys saved in --key-cache.
func TestBenchProverQuickCLI(t *testing.T) {
	dir := t.TempDir()
	keyDir, out := filepath.Join(dir, "keys"), filepath.Join(dir, "prover.json")
	args := []string{"bench", "--quick", "--suite", "prover", "--duration", "1ms", "--runs", "1", "--key-cache", keyDir,
		"--json", out, "--report", filepath.Join(dir, "report"), "--check"}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	for _, want := range []string{"skipping 20 scenarios", "DERIVED, not measured", "renders every suite run (5 figures)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stderr.String(), "\r") {
		t.Fatalf("a bar on a stderr that is not a terminal: %q", stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := bench.ReadJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]*bench.Peer{}
	for _, r := range rep.Results {
		names[r.Name] = r.Peer
	}
	for _, m := range []string{"zkv-cold", "zkv-fresh", "zkv-warm", "zkv-grown"} {
		p, ok := names["prover/depth-8/"+m]
		if !ok || p == nil || p.Name != "prover/depth-8/stock-gnark" {
			t.Fatalf("%s: present %v, peer %+v", m, ok, p)
		}
	}
	keys, _ := filepath.Glob(filepath.Join(keyDir, "*.keys"))
	if len(keys) != 1 {
		t.Fatalf("--key-cache holds %v", keys)
	}
}
