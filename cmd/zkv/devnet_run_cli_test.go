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

// `zkv devnet --help` explains the network to a newcomer: the parts, what each column of the
// live view means, the exit status, the JSON summary's fields and what is not there yet.
func TestDevnetRunHelp(t *testing.T) {
	for _, args := range [][]string{{"devnet", "--help"}, {"devnet", "run", "--help"}, {"devnet", "-h"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, want := range []string{"make run", "proposer", "local (n bids)", "finalized", "exits 0 only", "--json", "participation",
			"Private attestations", "--equivocate", "--prover-keys", "--restart-pool-at", "zkv devnet beacon", "Ctrl-C"} {
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("%v: help does not mention %q", args, want)
			}
		}
	}
}

// Bad flags are usage errors (exit 2) that name the flag, and start nothing.
func TestDevnetRunBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"devnet", "--relays", "3"}, "--relays"},
		{[]string{"devnet", "run", "--builders", "0"}, "--builders"},
		{[]string{"devnet", "--validators", "0"}, "--validators"},
		{[]string{"devnet", "--epochs", "0"}, "--epochs"},
		{[]string{"devnet", "--slots", "-1"}, "--slots"},
		{[]string{"devnet", "--slot-time", "1500ms"}, "--slot-time"},
		{[]string{"devnet", "--slot-time", "0s"}, "--slot-time"},
		{[]string{"devnet", "--no-bid-share", "2"}, "--no-bid-share"},
		{[]string{"devnet", "--equivocate", "64"}, "--equivocate"},
		{[]string{"devnet", "--equivocate", "-2"}, "--equivocate"},
		{[]string{"devnet", "--log-level", "loud"}, "--log-level"},
		{[]string{"devnet", "--private=false", "--restart-pool-at", "3"}, "--restart-pool-at"},
		{[]string{"devnet", "run", "extra"}, "unexpected argument"},
		{[]string{"devnet", "--no-such-flag"}, "no-such-flag"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message about %s", tc.args, code, errOut.String(), tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: started something: %q", tc.args, out.String())
		}
	}
}

// A run too short to finalize exits 1, writes the JSON summary it promises, and says NOT OK.
func TestDevnetRunShortDoesNotFinalize(t *testing.T) {
	dir := t.TempDir()
	jsonFile := filepath.Join(dir, "summary.json")
	var out, errOut syncBuffer
	code := run(context.Background(), []string{"devnet", "--validators", "4", "--slots", "2", "--slot-time", "1s", "--relays", "1",
		"--builders", "1", "--dir", filepath.Join(dir, "data"), "--json", jsonFile, "--equivocate", "3", "--prover-keys", filepath.Join(dir, "keys")}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (not finalized)\n%s\n%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "NOT OK") || !strings.Contains(out.String(), "private attestations:") {
		t.Errorf("output:\n%s", out.String())
	}
	b, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"blocks", "builders", "participation", "finalized_epoch", "node", "private", "ok", "slots", "equivocate"} {
		if _, ok := s[k]; !ok {
			t.Errorf("summary JSON has no %q", k)
		}
	}
	priv, _ := s["private"].(map[string]any)
	if s["ok"] != false || s["last_slot"] != float64(2) || s["equivocate"] != float64(3) || priv == nil {
		t.Errorf("summary: ok %v last_slot %v equivocate %v private %v", s["ok"], s["last_slot"], s["equivocate"], s["private"])
	}
	// Validator 3 attests in neither of the two slots run (one duty each epoch): no evidence,
	// so equivocation_caught is false, which alone makes the run not OK.
	if priv != nil && (priv["equivocation_caught"] != false || priv["proofs_refused"] != float64(0)) {
		t.Errorf("private summary: %v", priv)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "validator-2", "db")); err != nil {
		t.Errorf("--dir was not used: %v", err)
	}
}
