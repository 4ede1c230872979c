package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// zkv validator refuses a keymanager token file that others can read, and an address without a
// token file, before it connects to anything.
func TestValidatorKeymanagerFlags(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	tok := filepath.Join(dir, "token")
	if err := os.WriteFile(pw, []byte("password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tok, []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"validator", "--beacon-node", "http://127.0.0.1:1", "--keystores", dir, "--db", filepath.Join(dir, "db"), "--password-file", pw}
	out := runZKV(t, 1, append(base, "--keymanager-token-file", tok)...)
	if !strings.Contains(out, "group or others") || !strings.Contains(out, "0600") {
		t.Fatalf("a 0644 token file: %s", out)
	}
	out = runZKV(t, 2, append(base, "--keymanager-address", "127.0.0.1:0")...)
	if !strings.Contains(out, "--keymanager-token-file") {
		t.Fatalf("an address without a token file: %s", out)
	}
}
