package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zkvlabs/zkv/bench"
)

func init() {
	register(&command{
		name:  "bench",
		short: "run the benchmark suite and print a report (make run uses --quick)",
		run:   runBench,
	})
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", "bench [--quick] [--only NAME] [--duration D] [--json FILE]", `
Runs zkv's benchmark scenarios on this machine with generated inputs and prints a table:
time per operation (mean, p50, p99) and throughput. The scenarios run zkv's real code: BLS
signing, verification, batch verification and aggregation; private attestation proofs (zkv's
prover, with stock gnark's groth16.Prove beside it for comparison) and their batch verification.

Figures depend on GOMAXPROCS: run 'GOMAXPROCS=1 zkv bench' and 'GOMAXPROCS=2 zkv bench' in
separate processes to see how a scenario scales. Comparisons with other implementations (blst)
are in 'make bench-bls'.

Scenarios: `+strings.Join(bench.Names(bench.All()), ", "), stderr)
	quick := fs.Bool("quick", false, "shorter runs on smaller inputs: 300ms a scenario and the prover at registry depth 8 instead of 20 (BLS inputs stay the same)")
	only := fs.String("only", "", "run only scenarios whose name contains this text")
	duration := fs.Duration("duration", 0, "time spent on each scenario (default 1s, 300ms with --quick)")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "zkv bench: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if *duration < 0 {
		fmt.Fprintf(stderr, "zkv bench: --duration %v: must not be negative\n", *duration)
		return errUsage
	}
	fmt.Fprintln(stdout, "running benchmark scenarios...")
	rep, err := bench.Run(ctx, bench.All(), bench.Options{Quick: *quick, Duration: *duration, Filter: *only, Progress: stdout})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	bench.WriteTable(stdout, rep)
	if *jsonOut != "" {
		f, err := os.Create(*jsonOut)
		if err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		if err := bench.WriteJSON(f, rep); err != nil {
			f.Close()
			return fmt.Errorf("write report %s: %w", *jsonOut, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("write report %s: %w", *jsonOut, err)
		}
		fmt.Fprintf(stdout, "\nreport written to %s\n", *jsonOut)
	}
	return nil
}
