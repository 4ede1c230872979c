package bench

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The prover suite in quick mode: every depth-8 scenario runs for real on keys it saves to the
// key cache, each zkv figure against stock gnark's, the deeper ones skipped with a reason; the
// JSON validates and the page and table carry the derived per-epoch table.
func TestBenchProverQuick(t *testing.T) {
	sc, err := Select([]string{"prover"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var progress bytes.Buffer
	rep, err := Run(context.Background(), sc, Options{Quick: true, Duration: time.Millisecond, Runs: 1, KeyCache: dir, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"stock-gnark", "zkv-cold", "zkv-fresh", "zkv-warm", "zkv-grown"}
	checkReport(t, rep, len(want))
	for i, r := range rep.Results {
		if r.Name != "prover/depth-8/"+want[i] || r.ItemsPerOp != proofsPerOp(true) {
			t.Fatalf("figure %d: %s, %d proofs per op", i, r.Name, r.ItemsPerOp)
		}
		if (i == 0) != (r.Peer == nil) || (r.Peer != nil && r.Peer.Name != "prover/depth-8/stock-gnark") {
			t.Fatalf("%s: peer %+v", r.Name, r.Peer)
		}
	}
	if !strings.Contains(progress.String(), "skipping 20 scenarios: prover depths [16 20 24 32] are measured in the full run only") {
		t.Fatalf("progress does not say what it skipped:\n%s", progress.String())
	}
	files, _ := filepath.Glob(filepath.Join(dir, "zkv-groth16-bn254-d8-*.keys"))
	if len(files) != 1 {
		t.Fatalf("key cache holds %v, want the depth-8 keys", files)
	}

	page := checkOutputs(t, rep)
	if !strings.Contains(page.String(), `class="epoch-derived"`) || !strings.Contains(page.String(), "DERIVED, not measured") {
		t.Fatal("the page lacks the derived per-epoch table")
	}
	var buf bytes.Buffer
	WriteTable(&buf, rep)
	for _, want := range []string{"prover/depth-8/zkv-grown", "DERIVED, not measured: one epoch of proofs at depth 8", "100k keys"} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

// The full run's scenarios are the depths of ProverDepths, each with its five figures, and none
// of them runs in quick mode.
func TestBenchProverScenarioNames(t *testing.T) {
	full := map[string]bool{}
	for _, s := range ProverScenarios() {
		if s.Skip(false) == "" {
			full[s.Name] = true
			if s.Skip(true) == "" {
				t.Fatalf("%s runs in both modes", s.Name)
			}
		}
	}
	if len(full) != 5*len(ProverDepths) {
		t.Fatalf("%d full-run scenarios", len(full))
	}
	for _, n := range []string{"prover/depth-16/zkv-cold", "prover/depth-20/zkv-fresh", "prover/depth-24/zkv-warm", "prover/depth-32/zkv-grown", "prover/depth-32/stock-gnark"} {
		if !full[n] {
			t.Fatalf("no %s", n)
		}
	}
}

// The per-epoch figures are keys times the median per proof, at depth 20 when the report has
// it, per GOMAXPROCS.
func TestBenchEpochDerivation(t *testing.T) {
	rep := NewReport(false)
	add := func(name string, cpus int, perProofSeconds float64) {
		r := syntheticResult(name, cpus, 16*perProofSeconds*1e9)
		r.ItemsPerOp = 16
		rep.Results = append(rep.Results, r)
	}
	add("prover/depth-16/zkv-warm", 2, 0.001) // another depth: ignored
	add("prover/depth-20/stock-gnark", 2, 0.5)
	add("prover/depth-20/zkv-warm", 2, 0.01)
	add("prover/depth-20/zkv-fresh", 2, 0.05)
	add("prover/depth-20/zkv-warm", 1, 0.02)
	tables := epochTables(rep)
	if len(tables) != 2 || tables[0].cpus != 1 || tables[1].depth != 20 {
		t.Fatalf("tables %+v", tables)
	}
	two := tables[1].seconds
	// 100k keys at 10 ms a proof: 1000 s; stock's 0.5 s a proof: 50,000 s; cold not measured.
	if math.Abs(two[2][3]-1000) > 1e-6 || math.Abs(two[2][0]-50_000) > 1e-6 || two[2][1] != 0 || math.Abs(two[0][2]-50) > 1e-6 {
		t.Fatalf("100k keys row %v, 1k row %v", two[2], two[0])
	}
	lines := strings.Join(proverEpochLines(rep), "\n")
	for _, want := range []string{"at depth 20 on 2 cpus", "against the 6m24s epoch budget", "16m40s (260%)", "50s (13%)", "than the 16 validators"} {
		if !strings.Contains(lines, want) {
			t.Fatalf("derived lines lack %q:\n%s", want, lines)
		}
	}
	if page := string(proverEpochHTML(rep)); !strings.Contains(page, `style="color:#c00"`) {
		t.Fatal("an epoch over budget is not marked")
	}
	if epochTables(NewReport(false)) != nil {
		t.Fatal("a report without prover figures has a derived table")
	}
}

// The key cache is reused: a second load of the same depth and directory in a new process
// reads the file (here: after forgetting this process's copy).
func TestBenchKeyCacheReused(t *testing.T) {
	dir := t.TempDir()
	ctx := withKeyCache(context.Background(), dir)
	if _, err := loadKeys(ctx, 4); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.keys"))
	if len(files) != 1 {
		t.Fatalf("key cache holds %v", files)
	}
	before, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	keysMu.Lock()
	delete(keysByDepth, keysAt{dir, 4})
	keysMu.Unlock()
	if _, err := loadKeys(ctx, 4); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(files[0])
	if err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("the cache file was written again: %v", err)
	}
	// A key cache that is a file is an error naming it, not a panic or a silent setup.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadKeys(withKeyCache(context.Background(), file), 4); err == nil || !strings.Contains(err.Error(), "keys of depth 4") {
		t.Fatalf("key cache on a file: %v", err)
	}
}
