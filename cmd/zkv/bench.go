package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/zkvlabs/zkv/bench"
)

func init() {
	register(&command{
		name:  "bench",
		short: "run the benchmark suites and print, save, compare or plot the figures",
		run:   runBench,
	})
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "bench [--suite NAME,...] [--quick] [--cpus 1,2,...] [--json FILE] [--report DIR] [--compare OLD.json] [--from FILE] [--key-cache DIR]", `
Runs zkv's benchmark suites on this machine with generated inputs and prints a table. Every
figure is measured after a warm-up operation in repeated runs: the median time per operation,
the fastest and slowest run (min..max), the 99th percentile of single operations where latency
matters, throughput, and, where zkv has a peer in the same binary, the peer's figure from the
same run and the ratio zkv/peer: stock gnark groth16.Prove for the prover, and blst for bls in
a binary built with -tags blst ('make bench' builds bin/zkv-blst so and runs the full suite;
`+blstStatus()+`).

Suites: `+suiteList()+`

The prover suite measures registry depths `+fmt.Sprint(bench.ProverDepths)+` (depth `+fmt.Sprint(bench.QuickDepth)+` with --quick) and
derives the proving time of one epoch for 1k, 10k and 100k keys from its figures (marked
DERIVED). Its proving keys come from a single-party setup, made once and kept in --key-cache.

--cpus runs every figure once per GOMAXPROCS count, each in its own process (gnark and the
keystore loader size their work from the CPU count), and reports the speed-up over the fewest
cores. --json writes the figures in the versioned schema documented in package bench
(bench.SchemaVersion); --compare prints the change against such a file and flags changes
outside both runs' spread; --report writes a self-contained HTML page with plots.`, stderr)
	quick := fs.Bool("quick", false, "shorter runs on smaller inputs: 300ms a scenario, 3 runs, the prover and pool at registry depth 8 only")
	suites := fs.String("suite", "", "comma-separated suites to run (default: all)")
	only := fs.String("only", "", "run only scenarios whose name contains this text")
	duration := fs.Duration("duration", 0, "time spent on each scenario over all runs (default 1s, 300ms with --quick)")
	runs := fs.Int("runs", 0, "timed runs per scenario (default 5, 3 with --quick)")
	cpus := fs.String("cpus", "", "comma-separated GOMAXPROCS counts, each run in its own process (at most this machine's CPUs)")
	jsonOut := fs.String("json", "", "also write the figures as JSON to this file")
	reportDir := fs.String("report", "", "also write an HTML report (index.html, no network needed) to this directory")
	compare := fs.String("compare", "", "compare the figures with an earlier --json file")
	from := fs.String("from", "", "measure nothing: take the figures from an earlier --json file (to re-render --report or --compare two saved runs)")
	keyCache := fs.String("key-cache", defaultBenchKeyDir(), "directory where the prover and pool suites keep their proving keys between runs (\"\" keeps them in memory); not the prover's own key cache")
	check := fs.Bool("check", false, "validate the written --json file and --report page against the schema and the suites run (structure, not timings)")
	child := fs.Int("internal-gomaxprocs", 0, "internal: run as the child process of --cpus at this GOMAXPROCS, writing --json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	bad := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "zkv bench: "+format+"\n", a...)
		return errUsage
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	if *duration < 0 {
		return bad("--duration %v: must not be negative", *duration)
	}
	if *runs < 0 {
		return bad("--runs %d: must not be negative", *runs)
	}
	var names []string
	if *suites != "" {
		names = strings.Split(*suites, ",")
	}
	scenarios, err := bench.Select(names)
	if err != nil {
		return bad("--suite: %v", err)
	}
	var counts []int
	if *cpus != "" {
		if counts, err = bench.ParseCPUs(*cpus); err != nil {
			return bad("--cpus %s: %v", *cpus, err)
		}
	}
	if *check && *jsonOut == "" && *reportDir == "" {
		return bad("--check needs --json or --report: it validates what they write")
	}
	if *reportDir != "" {
		if fi, err := os.Stat(*reportDir); err == nil && !fi.IsDir() {
			return bad("--report %s: not a directory", *reportDir)
		}
	}
	if err := checkKeyCache(*keyCache); err != nil {
		return bad("--key-cache %s: %v", *keyCache, err)
	}
	var old bench.Report
	if *compare != "" {
		// Read it before spending minutes measuring: a bad file is a usage mistake.
		f, err := os.Open(*compare)
		if err != nil {
			return bad("--compare: %v", err)
		}
		old, err = bench.ReadJSON(f)
		f.Close()
		if err != nil {
			return bad("--compare %s: %v", *compare, err)
		}
	}
	var saved *bench.Report
	if *from != "" {
		if *cpus != "" || *child > 0 {
			return bad("--from takes saved figures: --cpus does not apply")
		}
		f, err := os.Open(*from)
		if err != nil {
			return bad("--from: %v", err)
		}
		rep, err := bench.ReadJSON(f)
		f.Close()
		if err != nil {
			return bad("--from %s: %v", *from, err)
		}
		saved = &rep
	}
	var bar io.Writer
	if isTerminal(stderr) {
		bar = stderr
	}
	progress := bench.NewProgress(stdout, bar)
	defer progress.Close()
	opts := bench.Options{Quick: *quick, Duration: *duration, Runs: *runs, Filter: *only, Progress: progress, KeyCache: *keyCache}

	if *child > 0 {
		// The child of --cpus: measure at the given GOMAXPROCS and hand the figures back.
		if *jsonOut == "" {
			return bad("--internal-gomaxprocs needs --json")
		}
		runtime.GOMAXPROCS(*child)
		rep, err := bench.Run(ctx, scenarios, opts)
		if err != nil {
			return err
		}
		return writeJSONFile(*jsonOut, rep)
	}

	var rep bench.Report
	if saved == nil {
		fmt.Fprintln(stdout, "running benchmark scenarios...")
	}
	if saved != nil {
		rep = *saved
	} else if len(counts) > 0 {
		// What to run and for how long goes to the children; the outputs stay here.
		childArgs := []string{"--quick=" + strconv.FormatBool(*quick), "--suite", *suites, "--only", *only,
			"--duration", duration.String(), "--runs", strconv.Itoa(*runs), "--key-cache", *keyCache}
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("--cpus needs to re-run zkv: %w", err)
		}
		rep, err = bench.RunCPUs(ctx, counts, scenarios, *quick, func(ctx context.Context, n int) (bench.Report, error) {
			fmt.Fprintf(stdout, "GOMAXPROCS=%d (own process)\n", n)
			return runChild(ctx, self, n, childArgs, stdout, stderr)
		})
	} else {
		rep, err = bench.Run(ctx, scenarios, opts)
	}
	progress.Close()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	bench.WriteTable(stdout, rep)
	if *compare != "" {
		fmt.Fprintf(stdout, "\nagainst %s (%s, %s):\n", *compare, old.Started.Format(time.RFC3339), old.Machine.CPUModel)
		bench.WriteComparison(stdout, bench.Compare(old, rep))
	}
	if *jsonOut != "" {
		if err := writeJSONFile(*jsonOut, rep); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nfigures written to %s\n", *jsonOut)
		if *check {
			f, err := os.Open(*jsonOut)
			if err != nil {
				return err
			}
			_, err = bench.ReadJSON(f)
			f.Close()
			if err != nil {
				return fmt.Errorf("check %s: %w", *jsonOut, err)
			}
			fmt.Fprintf(stdout, "%s follows schema version %d\n", *jsonOut, bench.SchemaVersion)
		}
	}
	if *reportDir != "" {
		path, err := bench.WriteReportDir(*reportDir, rep)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "report written to %s\n", path)
		if *check {
			page, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if err := bench.ValidateHTML(page, rep); err != nil {
				return fmt.Errorf("check %s: %w", path, err)
			}
			fmt.Fprintf(stdout, "%s renders every suite run (%d figures)\n", path, len(rep.Results))
		}
	}
	return nil
}

// defaultBenchKeyDir is beside the prover's own key cache (defaultKeyCacheDir), not in it: the
// bench's keys come from its own single-party setups, which no node should ever load.
func defaultBenchKeyDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "zkv", "bench-keys")
	}
	return ""
}

// checkKeyCache refuses a --key-cache that cannot be a directory, before any measuring: a
// file, or a path through a file. A missing directory is made when the first keys are saved.
func checkKeyCache(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return errors.New("not a directory")
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	return nil
}

func blstStatus() string {
	if bench.HasBlst() {
		return "this binary has blst"
	}
	return "this binary was built without it"
}

func suiteList() string {
	var b strings.Builder
	for _, s := range bench.Suites() {
		fmt.Fprintf(&b, "\n  %-9s %s", s.Name, s.Description)
	}
	return b.String()
}

func writeJSONFile(path string, rep bench.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write figures: %w", err)
	}
	if err := bench.WriteJSON(f, rep); err != nil {
		f.Close()
		return fmt.Errorf("write figures %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write figures %s: %w", path, err)
	}
	return nil
}

// runChild re-executes this binary as `zkv bench --internal-gomaxprocs N` with the parent's
// choice of scenarios and durations (childArgs), with GOMAXPROCS=N in its environment so that
// the runtime starts with N from the first instruction, and reads the figures it writes.
func runChild(ctx context.Context, self string, n int, childArgs []string, stdout, stderr io.Writer) (bench.Report, error) {
	dir, err := os.MkdirTemp("", "zkv-bench-child-")
	if err != nil {
		return bench.Report{}, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "figures.json")
	args := append([]string{"bench", "--internal-gomaxprocs", strconv.Itoa(n), "--json", out}, childArgs...)
	cmd := exec.CommandContext(ctx, self, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(n))
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		return bench.Report{}, fmt.Errorf("child process: %w", err)
	}
	f, err := os.Open(out)
	if err != nil {
		return bench.Report{}, err
	}
	defer f.Close()
	return bench.ReadJSON(f)
}
