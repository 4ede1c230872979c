// Package bench is the benchmark suite behind `zkv bench`: named suites of scenarios that
// exercise zkv's real code paths on generated inputs, a measurement discipline (warm-up, repeated
// runs, median with min/max and p99), a peer figure from the same run where zkv has one in its
// binary (stock gnark for proving), and reports: a table for people, versioned JSON for machines
// (schema.go), a comparison against an earlier run (compare.go) and a self-contained HTML page
// (report.go).
//
// blst, the BLS peer, is cgo and built in only with `-tags blst` (bls_blst.go; `make bench`
// builds bin/zkv-blst so); without the tag the bls figures carry a note instead of a peer.
package bench

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Prepared is a scenario ready to time: Op is one operation over Items items; Close, if set,
// releases what Setup made (databases, servers, goroutines) once the scenario is measured.
type Prepared struct {
	Op    func() error
	Items int
	// Reset, if set, runs before every operation (the warm-up's too) outside the timed region:
	// it puts back the state an operation must start from (a new epoch, an empty cache), when
	// making that state costs more than the operation would show. Each run's figure is then
	// the sum of its operations' own times.
	Reset func() error
	Close func()
}

// Scenario is one benchmark of a suite. Setup prepares inputs outside the timed region.
type Scenario struct {
	Name        string // suite/name, unique
	Description string
	// Unit names one item (signature, proof, key); throughput is Unit per second.
	Unit string
	// Latency marks scenarios whose single-operation latency matters: their p99 is reported.
	Latency bool
	// Peer, if set, is the name of the scenario in the same suite that measures another
	// implementation of the same work; its per-item median is this one's peer figure.
	Peer string
	// Note is printed under the table and kept in the JSON: how a figure is derived (for
	// example an extrapolation from a sample).
	Note string
	// Series, if set, names a line of scenarios that do the same work at different batch sizes
	// (Items): the report plots their throughput against batch size.
	Series string
	Setup  func(ctx context.Context, quick bool) (Prepared, error)
	// Skip, if set, says why the scenario does not run in this mode ("" to run it): a suite
	// that measures other inputs in quick mode than in the full run.
	Skip func(quick bool) string
}

// Suite is a named group of scenarios, selected with `zkv bench --suite NAME`.
type Suite struct {
	Name        string
	Description string
	Scenarios   func() []Scenario
}

// Suites is the registry, in report order. A package's suite joins here when it lands.
func Suites() []Suite {
	return []Suite{
		{"bls", "BLS signing, verification, batch verification and aggregation (crypto/bls)", BLSScenarios},
		{"prover", "private attestation proofs: zkv's prover against stock gnark groth16.Prove", ProverScenarios},
		{"pool", "batch verification of real proofs, extrapolated to an epoch of attestations", PoolScenarios},
		{"slashing", "EIP-3076 slashing protection: one epoch of 10,000 keys on a synced badger", SlashingScenarios},
		{"keys", "EIP-2335 keystore decryption on every core (validator/keys)", KeysScenarios},
		{"transport", "request round trip on 127.0.0.1: zkv's QUIC transport against HTTP/2 over TLS", TransportScenarios},
		{"relay", "the mev relay on 127.0.0.1: getHeader under load, submissions over QUIC and HTTP, to top bid", RelayScenarios},
		{"validator", "validator client duty latency per slot on the devnet beacon node (1 s slots, recorded, replayed)", ValidatorScenarios},
		{"devnet", "the whole devnet live: slots kept, attestations included, private proofs verified", DevnetScenarios},
	}
}

// SuiteNames lists the registered suites.
func SuiteNames() []string {
	var out []string
	for _, s := range Suites() {
		out = append(out, s.Name)
	}
	return out
}

// Select returns the scenarios of the named suites (all suites when names is empty), in
// registry order, or an error naming an unknown suite and the known ones.
func Select(names []string) ([]Scenario, error) {
	known := SuiteNames()
	want := map[string]bool{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, fmt.Errorf("empty suite name (have: %s)", strings.Join(known, ", "))
		}
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown suite %q (have: %s)", n, strings.Join(known, ", "))
		}
		want[n] = true
	}
	var out []Scenario
	for _, s := range Suites() {
		if len(want) == 0 || want[s.Name] {
			out = append(out, s.Scenarios()...)
		}
	}
	return out, nil
}

// All returns every scenario of every suite, in report order.
func All() []Scenario {
	all, _ := Select(nil)
	return all
}

// Options tune a run. The zero value runs every scenario with five timed runs of 200ms each.
type Options struct {
	Quick    bool          // smaller inputs and shorter runs, for `make bench-quick` and smoke tests
	Duration time.Duration // time per scenario over all runs; default 1s, or 300ms when Quick
	Runs     int           // timed runs per scenario; default 5, or 3 when Quick
	Filter   string        // run only scenarios whose name contains this
	Progress io.Writer     // one line per scenario as it finishes; nil for none (see Progress)
	// KeyCache is the directory where the prover and pool suites keep the proving keys they
	// set up, so that a later run reads them instead of spending seconds to minutes on a
	// setup; "" keeps them in memory for this process only.
	KeyCache string
}

// Run measures each selected scenario: Setup, one warm-up operation (untimed: it fills caches
// and pools as a long-running node would have), then Runs timed runs of at least one operation
// each, until Duration is spent. Each run's figure is its time per operation; a result keeps the
// median, min and max of those, and the p99 of every single operation. Peer figures and ratios
// are filled in afterwards from the same run. Scenarios whose Skip gives a reason are left out;
// Progress says how many and why.
func Run(ctx context.Context, scenarios []Scenario, o Options) (Report, error) {
	if o.Duration <= 0 {
		o.Duration = time.Second
		if o.Quick {
			o.Duration = 300 * time.Millisecond
		}
	}
	if o.Runs <= 0 {
		o.Runs = 5
		if o.Quick {
			o.Runs = 3
		}
	}
	rep := NewReport(o.Quick)
	ctx = withKeyCache(ctx, o.KeyCache)
	var todo []Scenario
	skipped := map[string][]string{} // reason -> scenarios
	var reasons []string
	for _, s := range scenarios {
		if o.Filter != "" && !strings.Contains(s.Name, o.Filter) {
			continue
		}
		if s.Skip != nil {
			if why := s.Skip(o.Quick); why != "" {
				if skipped[why] == nil {
					reasons = append(reasons, why)
				}
				skipped[why] = append(skipped[why], s.Name)
				continue
			}
		}
		todo = append(todo, s)
	}
	if len(todo) == 0 && len(reasons) > 0 {
		return rep, fmt.Errorf("every scenario matching %q is skipped in this mode (%s)", o.Filter, strings.Join(reasons, "; "))
	}
	if len(todo) == 0 {
		return rep, fmt.Errorf("no scenario matches %q (have: %s)", o.Filter, strings.Join(Names(scenarios), ", "))
	}
	if o.Progress != nil {
		for _, why := range reasons {
			fmt.Fprintf(o.Progress, "  skipping %d scenarios: %s\n", len(skipped[why]), why)
		}
	}
	for i, s := range todo {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if st, ok := o.Progress.(starter); ok {
			st.Start(i+1, len(todo), s.Name)
		}
		r, err := measure(ctx, s, o)
		if err != nil {
			return rep, fmt.Errorf("scenario %s: %w", s.Name, err)
		}
		rep.Results = append(rep.Results, r)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "  %-34s %3d runs, %5d ops, median %s/op\n", r.Name, r.Runs, r.Ops, round(time.Duration(r.Median)))
		}
	}
	LinkPeers(&rep, scenarios)
	return rep, nil
}

func measure(ctx context.Context, s Scenario, o Options) (Result, error) {
	setupStart := time.Now()
	p, err := s.Setup(ctx, o.Quick)
	if err != nil {
		return Result{}, fmt.Errorf("setup: %w", err)
	}
	if p.Close != nil {
		defer p.Close()
	}
	if p.Items <= 0 || p.Op == nil {
		return Result{}, fmt.Errorf("setup returned no operation")
	}
	setup := time.Since(setupStart)
	reset := func() error {
		if p.Reset == nil {
			return nil
		}
		if err := p.Reset(); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		return nil
	}
	if err := reset(); err != nil {
		return Result{}, err
	}
	if err := p.Op(); err != nil { // warm-up
		return Result{}, fmt.Errorf("warm-up: %w", err)
	}
	per := o.Duration / time.Duration(o.Runs)
	var runs []float64
	var lat []time.Duration
	for range o.Runs {
		start := time.Now()
		n := 0
		var timed time.Duration
		for n == 0 || time.Since(start) < per {
			if err := ctx.Err(); err != nil {
				return Result{}, err
			}
			if err := reset(); err != nil {
				return Result{}, err
			}
			t0 := time.Now()
			if err := p.Op(); err != nil {
				return Result{}, err
			}
			d := time.Since(t0)
			timed += d
			lat = append(lat, d)
			n++
		}
		if p.Reset == nil {
			timed = time.Since(start)
		}
		runs = append(runs, float64(timed.Nanoseconds())/float64(n))
	}
	slices.Sort(runs)
	slices.Sort(lat)
	r := Result{
		Name: s.Name, Suite: suiteOf(s.Name), Description: s.Description, Note: s.Note, Series: s.Series,
		Unit: "ns/op", ItemUnit: s.Unit, ItemsPerOp: p.Items, CPUs: runtime.GOMAXPROCS(0),
		Runs: len(runs), Ops: len(lat), RunsNs: runs,
		Median: median(runs), Min: runs[0], Max: runs[len(runs)-1],
		SetupNs: float64(setup.Nanoseconds()),
	}
	if s.Latency {
		r.P99 = float64(percentile(lat, 0.99).Nanoseconds())
	}
	r.PerSecond = float64(p.Items) * 1e9 / r.Median
	return r, nil
}

// LinkPeers fills each result's peer figure and ratio from the peer scenario's result at the
// same GOMAXPROCS: ratio is zkv's time per item over the peer's (below 1: zkv is faster).
func LinkPeers(rep *Report, scenarios []Scenario) {
	peerOf := map[string]string{}
	for _, s := range scenarios {
		if s.Peer != "" {
			peerOf[s.Name] = s.Peer
		}
	}
	byKey := map[key]Result{}
	for _, r := range rep.Results {
		byKey[key{r.Name, r.CPUs}] = r
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		p, ok := byKey[key{peerOf[r.Name], r.CPUs}]
		if !ok {
			continue
		}
		r.Peer = &Peer{Name: p.Name, Median: p.Median / float64(p.ItemsPerOp) * float64(r.ItemsPerOp)}
		r.Ratio = r.Median / r.Peer.Median
	}
}

// Names lists scenario names in order.
func Names(scenarios []Scenario) []string {
	out := make([]string, len(scenarios))
	for i, s := range scenarios {
		out[i] = s.Name
	}
	return out
}

func suiteOf(name string) string {
	suite, _, _ := strings.Cut(name, "/")
	return suite
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
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

// WriteTable prints the report for people: per figure the median time per operation with the
// run-to-run min..max, p99 where latency matters, throughput, the peer's figure and the ratio,
// and the speed-up over the fewest cores when the report has several GOMAXPROCS.
func WriteTable(w io.Writer, rep Report) {
	m := rep.Machine
	fmt.Fprintf(w, "zkv bench — %s, %s, %d CPUs, %.1f GiB, GOMAXPROCS %v%s\n\n", m.GoVersion, m.CPUModel, m.NumCPU,
		float64(m.MemoryBytes)/(1<<30), rep.CPUCounts(), map[bool]string{true: ", quick mode", false: ""}[rep.Quick])
	nw := nameWidth(rep.Results)
	fmt.Fprintf(w, "%-*s %4s %11s %23s %11s %22s %11s %6s %7s\n", nw, "scenario", "cpus", "median/op", "min..max", "p99", "throughput", "peer/op", "ratio", "speedup")
	speed := rep.Speedups()
	for _, r := range rep.Results {
		d := func(ns float64) string { return round(time.Duration(ns)).String() }
		p99, peer, ratio, sp := "-", "-", "-", "-"
		if r.P99 > 0 {
			p99 = d(r.P99)
		}
		if r.Peer != nil {
			peer, ratio = d(r.Peer.Median), fmt.Sprintf("%.2f", r.Ratio)
		}
		if s, ok := speed[resultKey(r)]; ok {
			sp = fmt.Sprintf("%.2fx", s)
		}
		fmt.Fprintf(w, "%-*s %4d %11s %23s %11s %22s %11s %6s %7s\n", nw, r.Name, r.CPUs, d(r.Median),
			d(r.Min)+".."+d(r.Max), p99, fmt.Sprintf("%.1f %s/s", r.PerSecond, r.ItemUnit), peer, ratio, sp)
	}
	seen := map[string]bool{}
	for _, r := range rep.Results {
		// A note several figures share (the bls suite's missing peer) is printed once.
		if r.Note != "" && !seen[r.Name] && !seen["note "+r.Note] {
			seen[r.Name], seen["note "+r.Note] = true, true
			fmt.Fprintf(w, "\n%s: %s", r.Name, r.Note)
		}
		if r.Name == "pool/batch-verify" {
			fmt.Fprintf(w, "\n%s", epochLine(r))
		}
		if r.Peer != nil && !seen["peer "+r.Name] {
			seen["peer "+r.Name] = true
			fmt.Fprintf(w, "\n%s: peer is %s (ratio = zkv/peer time per item; below 1, zkv is faster)", r.Name, r.Peer.Name)
		}
	}
	for _, line := range proverEpochLines(rep) {
		fmt.Fprintf(w, "\n%s", line)
	}
	fmt.Fprintln(w)
}

// nameWidth is the width of the table's scenario column: the longest name, 34 at least.
func nameWidth(rs []Result) int {
	w := 34
	for _, r := range rs {
		w = max(w, len(r.Name))
	}
	return w
}
