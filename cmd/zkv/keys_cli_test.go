package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runZKV(t *testing.T, wantCode int, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), args, &out, &errOut); code != wantCode {
		t.Fatalf("zkv %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out.String(), errOut.String())
	}
	return out.String() + errOut.String()
}

// zkv keys as an operator uses it: new shows a mnemonic once, list shows pubkeys and EIP-2334
// paths, recover from that mnemonic gives the same keys, import copies keystores after
// checking the password and refuses a wrong one.
func TestKeysCLI(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	out := runZKV(t, 0, "keys", "new", "--dir", a, "--count", "2", "--password-file", pw, "--kdf", "pbkdf2")
	var mnemonic string
	for _, line := range strings.Split(out, "\n") {
		if len(strings.Fields(line)) == 24 {
			mnemonic = strings.TrimSpace(line)
		}
	}
	if mnemonic == "" {
		t.Fatalf("no 24-word mnemonic in output:\n%s", out)
	}
	listA := runZKV(t, 0, "keys", "list", "--dir", a)
	if !strings.Contains(listA, "m/12381/3600/0/0/0") || !strings.Contains(listA, "m/12381/3600/1/0/0") {
		t.Fatalf("list lacks EIP-2334 paths:\n%s", listA)
	}
	files, _ := filepath.Glob(filepath.Join(a, "keystore-*.json"))
	if len(files) != 2 {
		t.Fatalf("%d keystores, want 2", len(files))
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v, want 0600 (%v)", f, st.Mode().Perm(), err)
		}
	}

	mf := filepath.Join(dir, "mnemonic")
	if err := os.WriteFile(mf, []byte(mnemonic+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runZKV(t, 0, "keys", "recover", "--mnemonic-file", mf, "--dir", b, "--count", "2", "--password-file", pw, "--kdf", "pbkdf2")
	if pubkeys(runZKV(t, 0, "keys", "list", "--dir", b)) != pubkeys(listA) {
		t.Fatal("recovered keys differ from the originals")
	}

	bad := filepath.Join(dir, "badpw")
	if err := os.WriteFile(bad, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runZKV(t, 1, append([]string{"keys", "import", "--dir", c, "--password-file", bad}, files...)...)
	if got, _ := filepath.Glob(filepath.Join(c, "*.json")); len(got) != 0 {
		t.Fatalf("a refused import left %d files", len(got))
	}
	runZKV(t, 0, append([]string{"keys", "import", "--dir", c, "--password-file", pw}, files...)...)
	if pubkeys(runZKV(t, 0, "keys", "list", "--dir", c)) != pubkeys(listA) {
		t.Fatal("imported keys differ from the originals")
	}
}

func pubkeys(list string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "0x") {
			out = append(out, f[0])
		}
	}
	return strings.Join(out, ",")
}

// zkv slashing-protection: an EIP-3076 interchange imports, exports the same records, and a file
// for another network is refused without changing the database.
func TestSlashingProtectionCLI(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	gvr := "0x" + strings.Repeat("04", 32)
	pubkey := "0xb845089a1457f811bfc000588fbb4e713669be8ce060ea6be3c6ece09afc3794106c91ca73acda5e5457122d58723bed"
	interchange := `{"metadata":{"interchange_format_version":"5","genesis_validators_root":"` + gvr + `"},
	 "data":[{"pubkey":"` + pubkey + `","signed_blocks":[{"slot":"81952","signing_root":"0x` + strings.Repeat("11", 32) + `"}],
	 "signed_attestations":[{"source_epoch":"2290","target_epoch":"3007","signing_root":"0x` + strings.Repeat("22", 32) + `"}]}]}`
	in := filepath.Join(dir, "in.json")
	if err := os.WriteFile(in, []byte(interchange), 0o600); err != nil {
		t.Fatal(err)
	}
	// A malformed file, or one for another network than the flag names, is refused before
	// the database is created; so is an export of a database that does not exist.
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(interchange[:len(interchange)/2]), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"import", "--db", db, "--file", broken, "--genesis-validators-root", gvr},
		{"import", "--db", db, "--file", in, "--genesis-validators-root", "0x" + strings.Repeat("05", 32)},
		{"import", "--db", db, "--file", in}, // a new database needs the network named
		{"export", "--db", db},
	} {
		runZKV(t, 1, append([]string{"slashing-protection"}, args...)...)
		if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("zkv slashing-protection %s left a database behind (%v)", strings.Join(args, " "), err)
		}
	}
	runZKV(t, 0, "slashing-protection", "import", "--db", db, "--file", in, "--genesis-validators-root", gvr)

	out := filepath.Join(dir, "out.json")
	runZKV(t, 0, "slashing-protection", "export", "--db", db, "--out", out)
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Metadata struct {
			Version string `json:"interchange_format_version"`
			GVR     string `json:"genesis_validators_root"`
		}
		Data []struct {
			Pubkey       string `json:"pubkey"`
			SignedBlocks []struct {
				Slot string `json:"slot"`
			} `json:"signed_blocks"`
			SignedAttestations []struct {
				Source string `json:"source_epoch"`
				Target string `json:"target_epoch"`
			} `json:"signed_attestations"`
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("export is not JSON: %v\n%s", err, raw)
	}
	if doc.Metadata.Version != "5" || doc.Metadata.GVR != gvr || len(doc.Data) != 1 || doc.Data[0].Pubkey != pubkey ||
		len(doc.Data[0].SignedBlocks) != 1 || doc.Data[0].SignedBlocks[0].Slot != "81952" ||
		len(doc.Data[0].SignedAttestations) != 1 || doc.Data[0].SignedAttestations[0].Target != "3007" {
		t.Fatalf("export does not hold the imported records:\n%s", raw)
	}

	other := strings.Replace(interchange, gvr, "0x"+strings.Repeat("05", 32), 1)
	other = strings.Replace(other, "81952", "90000", 1)
	if err := os.WriteFile(in, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	runZKV(t, 1, "slashing-protection", "import", "--db", db, "--file", in)
	runZKV(t, 0, "slashing-protection", "export", "--db", db, "--out", filepath.Join(dir, "again.json"))
	again, _ := os.ReadFile(filepath.Join(dir, "again.json"))
	if bytes.Contains(again, []byte("90000")) {
		t.Fatal("a refused import changed the database")
	}
}

// hasMnemonic reports whether output holds a 24-word line.
func hasMnemonic(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		if len(strings.Fields(line)) == 24 {
			return true
		}
	}
	return false
}

// zkv keys new checks its inputs before it makes and shows a mnemonic: a bad count or range is a
// usage error, an unusable directory a runtime one, and neither prints a mnemonic no keystore
// will use.
func TestKeysNewChecksBeforeMnemonic(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := filepath.Join(dir, "keys")
	for _, args := range [][]string{
		{"--count", "0"},
		{"--count", "-3"},
		{"--start-index", "4294967295", "--count", "2"},
		{"--count", "2000000000"},
	} {
		out := runZKV(t, 2, append([]string{"keys", "new", "--dir", d, "--password-file", pw}, args...)...)
		if hasMnemonic(out) {
			t.Fatalf("%v: a mnemonic was shown:\n%s", args, out)
		}
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	out := runZKV(t, 1, "keys", "new", "--dir", filepath.Join(file, "keys"), "--password-file", pw, "--kdf", "pbkdf2")
	if hasMnemonic(out) {
		t.Fatalf("unusable --dir: a mnemonic was shown:\n%s", out)
	}
}

// The mnemonic is still printed off a terminal (scripts read it), with a warning on stderr.
func TestKeysNewWarnsOffTerminal(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"keys", "new", "--dir", filepath.Join(dir, "k"), "--password-file", pw, "--kdf", "pbkdf2"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !hasMnemonic(out.String()) || !strings.Contains(errOut.String(), "warning: standard output is not a terminal") {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	}
}

// A flag after a source would be read as a source: refused as a usage error. A staking deposit
// CLI folder (keystores beside deposit_data-*.json) imports.
func TestKeysImportArgs(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("correct horse battery\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, dst := filepath.Join(dir, "validator_keys"), filepath.Join(dir, "dst")
	runZKV(t, 0, "keys", "new", "--dir", src, "--password-file", pw, "--kdf", "pbkdf2")
	os.WriteFile(filepath.Join(src, "deposit_data-1700000000.json"), []byte(`[{"amount": 32000000000}]`), 0o600)
	out := runZKV(t, 2, "keys", "import", "--dir", dst, src, "--password-file", pw)
	if !strings.Contains(out, "put the flags before the sources") {
		t.Fatalf("%s", out)
	}
	out = runZKV(t, 0, "keys", "import", "--dir", dst, "--password-file", pw, src)
	if !strings.Contains(out, "deposit_data-1700000000.json") || len(strings.Split(pubkeys(runZKV(t, 0, "keys", "list", "--dir", dst)), ",")) != 1 {
		t.Fatalf("%s", out)
	}
}
