// Package archtest keeps zkv's dependency arrows pointing down (DESIGN.md, "Layout and
// dependency direction"): cmd -> devnet -> {validator, mev} -> {pbs, pool} -> {prover,
// transport, db, crypto}. It has no code; its test reads the import graph with `go list`.
package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/zkvlabs/zkv/"

// allowed lists, per top-level folder, the top-level folders of zkv its packages may import
// (besides their own folder and internal/). prover imports crypto for BLS registrations.
var allowed = map[string][]string{
	"crypto":    {},
	"db":        {},
	"transport": {},
	"prover":    {"crypto"},
	"pbs":       {"prover", "transport", "db", "crypto"},
	"pool":      {"prover", "transport", "db", "crypto"},
	"validator": {"pbs", "pool", "prover", "transport", "db", "crypto"},
	"mev":       {"pbs", "pool", "prover", "transport", "db", "crypto"},
	"devnet":    {"validator", "mev", "pbs", "pool", "prover", "transport", "db", "crypto"},
	"bench":     {"devnet", "validator", "mev", "pbs", "pool", "prover", "transport", "db", "crypto"},
	"cmd":       {"bench", "devnet", "validator", "mev", "pbs", "pool", "prover", "transport", "db", "crypto"},
	"internal":  {},
}

func TestImportsPointDown(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		top := strings.SplitN(pkg, "/", 2)[0]
		ok, known := allowed[top]
		if !known {
			t.Errorf("%s: top-level folder %q is not in the layout of DESIGN.md", pkg, top)
			continue
		}
		checked++
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.SplitN(strings.TrimPrefix(imp, module), "/", 2)[0]
			if dep == top || dep == "internal" || contains(ok, dep) {
				continue
			}
			t.Errorf("%s imports %s: %s may not depend on %s", pkg, strings.TrimPrefix(imp, module), top, dep)
		}
	}
	if checked < 5 {
		t.Fatalf("checked only %d packages; go list output: %s", checked, out)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
