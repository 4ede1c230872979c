package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Every scenario of every suite runs for real in quick mode and produces sane figures.
func TestScenariosRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario; the CLI test covers one in short mode")
	}
	var progress bytes.Buffer
	rep, err := Run(context.Background(), All(), Options{Quick: true, Duration: time.Millisecond, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	quick := 0
	for _, s := range All() {
		if s.Skip == nil || s.Skip(true) == "" {
			quick++
		}
	}
	checkReport(t, rep, quick)
	checkOutputs(t, rep)
}

func TestSelectSuites(t *testing.T) {
	for _, want := range []string{"bls", "prover", "pool", "slashing", "keys", "transport"} {
		sc, err := Select([]string{want})
		if err != nil || len(sc) == 0 {
			t.Fatalf("suite %s: %v, %d scenarios", want, err, len(sc))
		}
		for _, s := range sc {
			if suiteOf(s.Name) != want || s.Unit == "" || s.Setup == nil {
				t.Fatalf("suite %s holds %q (unit %q)", want, s.Name, s.Unit)
			}
		}
	}
	two, err := Select([]string{"bls", "keys"})
	if err != nil || len(two) != len(BLSScenarios())+len(KeysScenarios()) {
		t.Fatalf("bls,keys: %v, %d scenarios", err, len(two))
	}
	for _, bad := range [][]string{{"nope"}, {"bls", ""}} {
		if _, err := Select(bad); err == nil || !strings.Contains(err.Error(), "have: bls") {
			t.Fatalf("Select(%q): %v, want an error listing the suites", bad, err)
		}
	}
	// Every peer names a scenario of the same suite.
	names := map[string]bool{}
	for _, s := range All() {
		names[s.Name] = true
	}
	for _, s := range All() {
		if s.Peer != "" && (!names[s.Peer] || suiteOf(s.Peer) != suiteOf(s.Name)) {
			t.Fatalf("%s: peer %q is not a scenario of its suite", s.Name, s.Peer)
		}
	}
}

func TestRunFilterAndJSON(t *testing.T) {
	rep, err := Run(context.Background(), All(), Options{Quick: true, Duration: time.Millisecond, Runs: 4, Filter: "bls/verify"})
	if err != nil {
		t.Fatal(err)
	}
	// bls/verify, and bls/verify-blst in a binary with blst.
	want := 0
	for _, s := range All() {
		if strings.Contains(s.Name, "bls/verify") {
			want++
		}
	}
	checkReport(t, rep, want)
	if r := rep.Results[0]; r.Runs != 4 || len(r.RunsNs) != 4 || r.P99 <= 0 || r.Suite != "bls" || r.CPUs != runtime.GOMAXPROCS(0) {
		t.Fatalf("result %+v", r)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(bytes.NewReader(buf.Bytes()))
	if err != nil || len(back.Results) != want || back.Results[0].Name != "bls/verify" || back.SchemaVersion != SchemaVersion {
		t.Fatalf("JSON round trip: %v %+v", err, back)
	}
	if back.Machine.NumCPU != runtime.NumCPU() || back.Machine.GoVersion != runtime.Version() || back.Machine.CPUModel == "" {
		t.Fatalf("machine %+v", back.Machine)
	}
	buf.Reset()
	WriteTable(&buf, rep)
	if !strings.Contains(buf.String(), "bls/verify") {
		t.Fatalf("table lacks the scenario:\n%s", buf.String())
	}
	if _, err := Run(context.Background(), All(), Options{Filter: "no-such"}); err == nil {
		t.Fatal("a filter matching nothing must be an error")
	}
}

// The validator accepts a written report and rejects each documented way to break one.
func TestValidateJSONSchema(t *testing.T) {
	rep := syntheticReport([]int{1, 2})
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if err := ValidateJSON(buf.Bytes()); err != nil {
		t.Fatalf("a written report fails validation: %v", err)
	}
	breakers := map[string]func(doc map[string]any){
		"old version":       func(d map[string]any) { d["schema_version"] = 1 },
		"no machine":        func(d map[string]any) { delete(d, "machine") },
		"no cpu model":      func(d map[string]any) { delete(d["machine"].(map[string]any), "cpu_model") },
		"cores as string":   func(d map[string]any) { d["machine"].(map[string]any)["num_cpu"] = "2" },
		"no results":        func(d map[string]any) { d["results"] = []any{} },
		"no median":         func(d map[string]any) { delete(res0(d), "median") },
		"min above median":  func(d map[string]any) { res0(d)["min"] = res0(d)["max"].(float64) * 2 },
		"runs_ns too short": func(d map[string]any) { res0(d)["runs_ns"] = []any{1.0} },
		"wrong unit":        func(d map[string]any) { res0(d)["unit"] = "ms" },
		"ratio off":         func(d map[string]any) { res0(d)["ratio"] = 42.0 },
		"peer without name": func(d map[string]any) { delete(res0(d)["peer"].(map[string]any), "name") },
		"suite mismatch":    func(d map[string]any) { res0(d)["suite"] = "keys" },
		"series as number":  func(d map[string]any) { res0(d)["series"] = 3.0 },
		"not json":          nil,
	}
	for name, brk := range breakers {
		raw := []byte("{not json")
		if brk != nil {
			var doc map[string]any
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			brk(doc)
			raw, _ = json.Marshal(doc)
		}
		if err := ValidateJSON(raw); !errors.Is(err, ErrSchema) {
			t.Errorf("%s: %v, want ErrSchema", name, err)
		}
	}
}

// res0 is the first result of a decoded report: prover/depth-8/zkv-warm, which has a peer.
func res0(d map[string]any) map[string]any { return d["results"].([]any)[0].(map[string]any) }

func TestRunFailsOnBrokenScenario(t *testing.T) {
	broken := Scenario{Name: "broken/op", Unit: "op", Setup: func(context.Context, bool) (Prepared, error) {
		return Prepared{Op: func() error { return errInvalid }, Items: 1}, nil
	}}
	if _, err := Run(context.Background(), []Scenario{broken}, Options{Duration: time.Millisecond}); err == nil {
		t.Fatal("a failing operation must fail the run")
	}
	closed := false
	empty := Scenario{Name: "broken/empty", Unit: "op", Setup: func(context.Context, bool) (Prepared, error) {
		return Prepared{Close: func() { closed = true }}, nil
	}}
	if _, err := Run(context.Background(), []Scenario{empty}, Options{Duration: time.Millisecond}); err == nil || !closed {
		t.Fatalf("a scenario without an operation: %v, closed %v", err, closed)
	}
}

// hashWork is real work of a size proportional to n, for scenarios whose ratio is known.
func hashWork(name, peer string, n int) Scenario {
	return Scenario{Name: name, Unit: "hash", Peer: peer, Setup: func(context.Context, bool) (Prepared, error) {
		buf := make([]byte, 4096)
		return Prepared{Op: func() error {
			for range n {
				s := sha256.Sum256(buf)
				buf[0] = s[0]
			}
			return nil
		}, Items: 1}, nil
	}}
}

// A scenario's peer figure comes from the same run and the ratio is their quotient.
func TestPeerFromSameRun(t *testing.T) {
	sc := []Scenario{hashWork("t/zkv", "t/peer", 50), hashWork("t/peer", "", 200)}
	rep, err := Run(context.Background(), sc, Options{Duration: 20 * time.Millisecond, Runs: 3})
	if err != nil {
		t.Fatal(err)
	}
	z, p := rep.Results[0], rep.Results[1]
	if z.Peer == nil || z.Peer.Name != "t/peer" || z.Peer.Median != p.Median || z.Ratio != z.Median/p.Median || p.Peer != nil {
		t.Fatalf("peer not linked: %+v / %+v", z, p)
	}
	if z.Ratio >= 1 { // four times less work; even a loaded machine keeps it below 1
		t.Fatalf("ratio %.2f for a quarter of the work", z.Ratio)
	}
}

// Both protocols answer a real request on 127.0.0.1, and QUIC's figure has HTTP/2's beside it.
func TestTransportRoundTrips(t *testing.T) {
	sc, err := Select([]string{"transport"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), sc, Options{Duration: 5 * time.Millisecond, Runs: 2, Filter: "-1KB"})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, rep, 2)
	if q := rep.Results[0]; q.Name != "transport/quic-roundtrip-1KB" || q.Peer == nil || q.Peer.Name != "transport/h2-tls-roundtrip-1KB" || q.P99 <= 0 {
		t.Fatalf("QUIC figure %+v", q)
	}
}

func syntheticResult(name string, cpus int, runs ...float64) Result {
	r := Result{Name: name, Suite: suiteOf(name), Description: "synthetic", Unit: "ns/op", ItemUnit: "op", ItemsPerOp: 1,
		CPUs: cpus, Runs: len(runs), Ops: len(runs), RunsNs: runs}
	r.Min, r.Max = runs[0], runs[0]
	for _, v := range runs {
		r.Min, r.Max = min(r.Min, v), max(r.Max, v)
	}
	r.Median = runs[len(runs)/2]
	r.PerSecond = 1e9 / r.Median
	return r
}

// syntheticReport has a figure for every registered suite at every count, a peer and p99s.
func syntheticReport(cpus []int) Report {
	rep := NewReport(true)
	var sc []Scenario
	for _, s := range Suites() {
		sc = append(sc, s.Scenarios()[0])
	}
	// The prover's first scenario is stock gnark at the quick depth; add zkv-warm, its peer's.
	for _, s := range ProverScenarios() {
		if s.Name == "prover/depth-8/zkv-warm" {
			sc = append(sc, s)
		}
	}
	for _, s := range sc {
		for _, c := range cpus {
			base := 1000.0 * float64(len(s.Name)) / float64(c)
			r := syntheticResult(s.Name, c, base*0.95, base, base*1.1)
			r.P99 = base * 1.3
			rep.Results = append(rep.Results, r)
		}
	}
	// zkv-warm first: res0 relies on it having a peer.
	for i, r := range rep.Results {
		if r.Name == "prover/depth-8/zkv-warm" {
			rep.Results[0], rep.Results[i] = rep.Results[i], rep.Results[0]
			break
		}
	}
	LinkPeers(&rep, sc)
	return rep
}

func TestCompareFlagsSlowdownIgnoresNoise(t *testing.T) {
	old := NewReport(false)
	old.Results = []Result{
		syntheticResult("bls/verify", 2, 980, 1000, 1010, 1030, 995),
		syntheticResult("keys/load-dir", 2, 5.0e6, 5.2e6, 4.9e6, 5.1e6, 5.0e6),
		syntheticResult("bls/sign", 2, 300, 310, 305, 299, 302),
		syntheticResult("pool/batch-verify", 2, 2e6, 2.1e6, 2.05e6),
	}
	cur := NewReport(false)
	cur.Results = []Result{
		syntheticResult("bls/verify", 2, 990, 1020, 1005, 1040, 985),             // noise: overlaps
		syntheticResult("keys/load-dir", 2, 6.5e6, 6.6e6, 6.4e6, 6.55e6, 6.45e6), // injected +30%
		syntheticResult("bls/sign", 2, 200, 205, 210, 199, 202),                  // faster
		syntheticResult("slashing/epoch-10k", 2, 1e8, 1.1e8, 1.05e8),             // new
	}
	c := Compare(old, cur)
	sig := c.Significant()
	if len(c.Changes) != 3 || len(sig) != 2 || sig[0].Name != "keys/load-dir" || sig[0].Percent < 25 || sig[1].Name != "bls/sign" || sig[1].Percent > -25 {
		t.Fatalf("changes %+v, significant %+v", c.Changes, sig)
	}
	if len(c.OnlyOld) != 1 || len(c.OnlyNew) != 1 {
		t.Fatalf("only old %v, only new %v", c.OnlyOld, c.OnlyNew)
	}
	var buf bytes.Buffer
	WriteComparison(&buf, c)
	out := buf.String()
	for _, want := range []string{"keys/load-dir", "SLOWER", "FASTER", "2 of 3 figures", "only in the old report"} {
		if !strings.Contains(out, want) {
			t.Fatalf("comparison lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "bls/verify") && !strings.Contains(line, "within run-to-run spread") {
			t.Fatalf("noise flagged: %s", line)
		}
	}
	// Figures at another GOMAXPROCS are other figures.
	cur.Results[1].CPUs = 1
	if c := Compare(old, cur); len(c.Significant()) != 1 {
		t.Fatalf("a figure matched across GOMAXPROCS: %+v", c.Significant())
	}
}

func TestParseCPUs(t *testing.T) {
	got, err := ParseCPUs("1")
	if err != nil || len(got) != 1 || got[0] != 1 {
		t.Fatalf("1: %v %v", got, err)
	}
	for _, bad := range []string{"", "0", "-1", "a", "1,1", "1,,2", "100000"} {
		if _, err := ParseCPUs(bad); err == nil {
			t.Errorf("ParseCPUs(%q) accepted", bad)
		}
	}
	if _, err := ParseCPUs("100000"); err == nil || !strings.Contains(err.Error(), "only") {
		t.Fatalf("above NumCPU: %v", err)
	}
}

// RunCPUs merges one report per count, links peers per count and yields speed-ups.
func TestRunCPUsMerges(t *testing.T) {
	sc := []Scenario{hashWork("t/zkv", "t/peer", 10), hashWork("t/peer", "", 20)}
	var asked []int
	child := func(ctx context.Context, n int) (Report, error) {
		asked = append(asked, n)
		rep := NewReport(false)
		for _, s := range sc {
			// As a child process at GOMAXPROCS n would report: base time over n.
			r := syntheticResult(s.Name, n, 900/float64(n), 1000/float64(n), 1100/float64(n))
			rep.Results = append(rep.Results, r)
		}
		// A scenario that sizes its batch by the cores (as keys/load-dir does): the same time
		// per operation for n times the items is an n-fold speed-up.
		sized := syntheticResult("t/sized", n, 900, 1000, 1100)
		sized.ItemsPerOp, sized.PerSecond = n, float64(n)*1e9/1000
		rep.Results = append(rep.Results, sized)
		return rep, nil
	}
	rep, err := RunCPUs(context.Background(), []int{1, 2}, sc, false, child)
	if err != nil {
		t.Fatal(err)
	}
	if sp := rep.Speedups()[key{"t/sized", 2}]; sp != 2 {
		t.Fatalf("speed-up of a batch sized by cores %v, want 2 (per item)", sp)
	}
	if len(asked) != 2 || len(rep.Results) != 6 || rep.Results[0].Name != "t/zkv" || rep.Results[1].Name != "t/zkv" || rep.Results[1].CPUs != 2 {
		t.Fatalf("asked %v, merged %+v", asked, rep.Results)
	}
	if sp := rep.Speedups()[key{"t/zkv", 2}]; sp != 2 {
		t.Fatalf("speed-up %v, want 2", sp)
	}
	if rep.Results[1].Peer == nil || rep.Results[1].Peer.Median != 500 {
		t.Fatalf("peer at 2 CPUs: %+v", rep.Results[1].Peer)
	}
	var buf bytes.Buffer
	WriteTable(&buf, rep)
	if !strings.Contains(buf.String(), "2.00x") {
		t.Fatalf("table lacks the speed-up:\n%s", buf.String())
	}
	liar := func(ctx context.Context, n int) (Report, error) {
		r, _ := child(ctx, n)
		r.Results[0].CPUs = n + 1
		return r, nil
	}
	if _, err := RunCPUs(context.Background(), []int{1}, sc, false, liar); err == nil {
		t.Fatal("a child reporting another GOMAXPROCS must be refused")
	}
}

// The page renders every suite it was given, with the plots its figures call for.
func TestReportRendersEverySuite(t *testing.T) {
	for _, cpus := range [][]int{{2}, {1, 2}} {
		rep := syntheticReport(cpus)
		var page bytes.Buffer
		if err := WriteHTML(&page, rep); err != nil {
			t.Fatal(err)
		}
		if err := ValidateHTML(page.Bytes(), rep); err != nil {
			t.Fatalf("cpus %v: %v", cpus, err)
		}
		for _, s := range SuiteNames() {
			if !strings.Contains(page.String(), `<section id="suite-`+s+`"`) {
				t.Fatalf("no section for suite %s", s)
			}
		}
		if got := strings.Count(page.String(), `class="plot-scaling"`); (len(cpus) > 1) != (got == len(SuiteNames())) {
			t.Fatalf("cpus %v: %d scaling plots", cpus, got)
		}
		if !strings.Contains(page.String(), "one epoch extrapolated") {
			t.Fatal("the pool section does not state its extrapolation")
		}
		// The validator notices a missing suite and a page that needs the network.
		missing := strings.Replace(page.String(), `<section id="suite-keys"`, `<section id="suite-gone"`, 1)
		if err := ValidateHTML([]byte(missing), rep); !errors.Is(err, ErrReport) {
			t.Fatalf("missing suite: %v", err)
		}
		remote := strings.Replace(page.String(), "</body>", `<img src="https://example.org/x.png"></body>`, 1)
		if err := ValidateHTML([]byte(remote), rep); !errors.Is(err, ErrReport) {
			t.Fatalf("remote image: %v", err)
		}
	}
	dir := t.TempDir()
	if _, err := WriteReportDir(dir, syntheticReport([]int{1})); err != nil {
		t.Fatal(err)
	}
}

func checkReport(t *testing.T, rep Report, want int) {
	t.Helper()
	if len(rep.Results) != want {
		t.Fatalf("%d results, want %d", len(rep.Results), want)
	}
	for _, r := range rep.Results {
		if r.Runs < 1 || r.Ops < r.Runs || r.Min <= 0 || r.Min > r.Median || r.Median > r.Max || r.PerSecond <= 0 {
			t.Fatalf("implausible result %+v", r)
		}
	}
}

// checkOutputs writes rep as JSON and as the HTML page, checks both against the schema and
// the report's structure, and returns the page.
func checkOutputs(t *testing.T, rep Report) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	if err := ValidateJSON(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	if err := WriteHTML(&page, rep); err != nil {
		t.Fatal(err)
	}
	if err := ValidateHTML(page.Bytes(), rep); err != nil {
		t.Fatal(err)
	}
	return &page
}
