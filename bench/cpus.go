package bench

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// ParseCPUs parses a --cpus list ("1,2,4") of GOMAXPROCS counts, refusing counts below 1,
// repeats, and counts above this machine's CPUs (runtime.NumCPU): more threads than cores
// would measure the scheduler, not the code.
func ParseCPUs(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("cpu count %q is not a number", f)
		}
		if n < 1 {
			return nil, fmt.Errorf("cpu count %d: must be at least 1", n)
		}
		if n > runtime.NumCPU() {
			return nil, fmt.Errorf("cpu count %d: this machine has only %d CPUs", n, runtime.NumCPU())
		}
		if slices.Contains(out, n) {
			return nil, fmt.Errorf("cpu count %d given twice", n)
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

// Child runs the benchmark at one GOMAXPROCS and returns its report. `zkv bench` re-executes
// itself, because gnark and the keystore loader size their worker pools from the CPU count
// when they start, so changing GOMAXPROCS inside one process would not measure the same thing.
type Child func(ctx context.Context, cpus int) (Report, error)

// RunCPUs runs child once per count, in its own process, and merges the reports into one: the
// machine of this process, every figure tagged with the GOMAXPROCS it ran at, peers linked per
// count. Speed-ups follow from the merged report (Report.Speedups).
func RunCPUs(ctx context.Context, counts []int, scenarios []Scenario, quick bool, child Child) (Report, error) {
	rep := NewReport(quick)
	for _, n := range counts {
		r, err := child(ctx, n)
		if err != nil {
			return rep, fmt.Errorf("GOMAXPROCS=%d: %w", n, err)
		}
		for _, res := range r.Results {
			if res.CPUs != n {
				return rep, fmt.Errorf("GOMAXPROCS=%d: child measured %s at %d", n, res.Name, res.CPUs)
			}
			rep.Results = append(rep.Results, res)
		}
	}
	// Group each scenario's figures together, ascending cores, in the child's order.
	order := map[string]int{}
	for i, r := range rep.Results {
		if _, ok := order[r.Name]; !ok {
			order[r.Name] = i
		}
	}
	slices.SortStableFunc(rep.Results, func(a, b Result) int {
		if c := order[a.Name] - order[b.Name]; c != 0 {
			return c
		}
		return a.CPUs - b.CPUs
	})
	LinkPeers(&rep, scenarios)
	return rep, nil
}
