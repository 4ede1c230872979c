package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHelpListsCommands(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--help"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for name := range commands {
		if !strings.Contains(out.String(), name) {
			t.Errorf("--help does not list %q", name)
		}
	}
	if code := run(context.Background(), []string{"no-such-command"}, &out, &errOut); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
}

// Every command answers --help with exit 0 and a usage text.
func TestEveryCommandHasHelp(t *testing.T) {
	for name := range commands {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{name, "--help"}, &out, &errOut); code != 0 {
			t.Errorf("%s --help: exit %d", name, code)
		}
		if !strings.Contains(out.String()+errOut.String(), "Usage: zkv "+name) {
			t.Errorf("%s --help printed no usage", name)
		}
	}
}

func TestBenchQuickWritesReport(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.json")
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"bench", "--quick", "--only", "bls/verify", "--duration", "1ms", "--json", report}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "bls/verify") {
		t.Fatalf("no result in output:\n%s", out.String())
	}
	raw, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct{ Results []struct{ Name string } }
	if err := json.Unmarshal(raw, &rep); err != nil || len(rep.Results) != 1 {
		t.Fatalf("report: %v %s", err, raw)
	}
	if code := run(context.Background(), []string{"bench", "--duration", "-1s"}, &out, &errOut); code != 2 {
		t.Fatalf("negative duration: exit %d, want 2", code)
	}
	if code := run(context.Background(), []string{"bench", "--bogus"}, &out, &errOut); code != 2 {
		t.Fatalf("bad flag: exit %d, want 2", code)
	}
}
