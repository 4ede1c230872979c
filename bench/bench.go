// Package bench is the benchmark suite behind `zkv bench`: named scenarios that exercise zkv's
// real code paths on generated inputs, timed operation by operation, and a report (a table for
// people, JSON for machines).
//
// It owns the scenarios, timing and reporting; peer comparisons against other implementations
// (blst for BLS) live in the packages' `go test -bench` benchmarks, because peers are test-only
// dependencies that the zkv binary does not link.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Scenario is one benchmark: Setup prepares inputs outside the timed region and returns the
// operation to time and how many items (signatures, proofs) one operation handles.
type Scenario struct {
	Name        string
	Description string
	Setup       func(ctx context.Context, quick bool) (op func() error, items int, err error)
}

// Result is one scenario's measurement.
type Result struct {
	Name        string        `json:"name"`
	Description string        `json:"description"`
	Ops         int           `json:"ops"`
	ItemsPerOp  int           `json:"items_per_op"`
	Mean        time.Duration `json:"mean_ns"`
	P50         time.Duration `json:"p50_ns"`
	P99         time.Duration `json:"p99_ns"`
	ItemsPerSec float64       `json:"items_per_sec"`
	SetupTime   time.Duration `json:"setup_ns"`
}

// Report is a whole run.
type Report struct {
	Started    time.Time `json:"started"`
	GoVersion  string    `json:"go_version"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	NumCPU     int       `json:"num_cpu"`
	Quick      bool      `json:"quick"`
	Results    []Result  `json:"results"`
}

// Options tune a run. The zero value runs every scenario for a second each.
type Options struct {
	Quick    bool          // smaller inputs and shorter runs, for `make run` and smoke tests
	Duration time.Duration // time per scenario; defaults to 1s, or 300ms when Quick
	Filter   string        // run only scenarios whose name contains this
	Progress io.Writer     // one line per scenario as it finishes; nil for none
}

// Run times each selected scenario: at least three operations, then more until the duration
// is spent, each operation timed on its own for the percentiles.
func Run(ctx context.Context, scenarios []Scenario, o Options) (Report, error) {
	if o.Duration <= 0 {
		o.Duration = time.Second
		if o.Quick {
			o.Duration = 300 * time.Millisecond
		}
	}
	rep := Report{Started: time.Now().UTC(), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), Quick: o.Quick}
	ran := 0
	for _, s := range scenarios {
		if o.Filter != "" && !strings.Contains(s.Name, o.Filter) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		ran++
		setupStart := time.Now()
		op, items, err := s.Setup(ctx, o.Quick)
		if err != nil {
			return rep, fmt.Errorf("scenario %s: setup: %w", s.Name, err)
		}
		setup := time.Since(setupStart)
		var lat []time.Duration
		start := time.Now()
		for len(lat) < 3 || time.Since(start) < o.Duration {
			if err := ctx.Err(); err != nil {
				return rep, err
			}
			t0 := time.Now()
			if err := op(); err != nil {
				return rep, fmt.Errorf("scenario %s: %w", s.Name, err)
			}
			lat = append(lat, time.Since(t0))
		}
		total := time.Duration(0)
		for _, d := range lat {
			total += d
		}
		slices.Sort(lat)
		r := Result{
			Name: s.Name, Description: s.Description, Ops: len(lat), ItemsPerOp: items,
			Mean: total / time.Duration(len(lat)), P50: percentile(lat, 0.50), P99: percentile(lat, 0.99),
			ItemsPerSec: float64(items*len(lat)) / total.Seconds(), SetupTime: setup,
		}
		rep.Results = append(rep.Results, r)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "  %-30s %6d ops in %s\n", r.Name, r.Ops, round(total))
		}
	}
	if ran == 0 {
		return rep, fmt.Errorf("no scenario matches %q (have: %s)", o.Filter, strings.Join(Names(scenarios), ", "))
	}
	return rep, nil
}

// Names lists scenario names in order.
func Names(scenarios []Scenario) []string {
	out := make([]string, len(scenarios))
	for i, s := range scenarios {
		out[i] = s.Name
	}
	return out
}

// percentile of sorted durations, nearest rank.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(p*float64(len(sorted))+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

func round(d time.Duration) time.Duration {
	switch {
	case d > time.Second:
		return d.Round(time.Millisecond)
	case d > time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(100 * time.Nanosecond)
	}
}

// WriteTable prints the report for people.
func WriteTable(w io.Writer, rep Report) {
	fmt.Fprintf(w, "zkv bench — %s, GOMAXPROCS=%d of %d CPUs%s\n\n", rep.GoVersion, rep.GOMAXPROCS, rep.NumCPU, map[bool]string{true: ", quick mode", false: ""}[rep.Quick])
	fmt.Fprintf(w, "%-28s %12s %12s %12s %14s  %s\n", "scenario", "mean/op", "p50", "p99", "throughput", "what")
	for _, r := range rep.Results {
		fmt.Fprintf(w, "%-28s %12s %12s %12s %10.1f/s  %s\n", r.Name, round(r.Mean), round(r.P50), round(r.P99), r.ItemsPerSec, r.Description)
	}
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
