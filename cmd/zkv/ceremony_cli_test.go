package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// zkv prover ceremony as its parties run it: init, two contributions, the phase-1 beacon, two
// contributions, verify (every hash a contributor was shown is listed), the phase-2 beacon;
// then setup loads the ceremony keys without the devnet warning, and register, seal, prove,
// verify and export (the snarkjs key verifying the proof on its own) work with them. A
// truncated record is then refused by verify and contribute, which writes nothing.
func TestProverCeremonyCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("a full ceremony takes about a minute (gnark's phase-2 initialisation)")
	}
	dir := t.TempDir()
	tr := filepath.Join(dir, "transcript")
	cache := filepath.Join(dir, "keys")
	reg := filepath.Join(dir, "registry.bin")
	zkv := func(wantCode int, args ...string) string {
		t.Helper()
		return runZKV(t, wantCode, args...)
	}
	hashRE := regexp.MustCompile(`contribution\s+#\d{4}\s+([0-9a-f]{64})`)
	var shown []string
	contribute := func(extra ...string) {
		t.Helper()
		out := zkv(0, append([]string{"prover", "ceremony", "contribute", "--dir", tr}, extra...)...)
		m := hashRE.FindAllStringSubmatch(out, -1)
		if len(m) == 0 {
			t.Fatalf("contribute printed no hash:\n%s", out)
		}
		for _, x := range m {
			shown = append(shown, x[1])
		}
	}

	zkv(0, "prover", "ceremony", "init", "--dir", tr, "--depths", "4")
	contribute("--entropy", "coin flips: HTTHHT")
	contribute()
	if out := zkv(0, "prover", "ceremony", "finalize", "--dir", tr, "--beacon", "0x"+strings.Repeat("ab", 32)); !strings.Contains(out, "phase 1 sealed") {
		t.Fatalf("finalize of phase 1:\n%s", out)
	}
	contribute()
	contribute("--entropy", "more dice: 6 2 3")
	out := zkv(0, "prover", "ceremony", "verify", "--dir", tr)
	if !strings.Contains(out, "transcript OK") || !strings.Contains(out, "2 contributions to phase 1, 2 to phase 2") {
		t.Fatalf("verify:\n%s", out)
	}
	if len(shown) != 2+2*2 {
		t.Fatalf("%d contribution hashes shown, want 6 (two in phase 1, two for each of two circuits)", len(shown))
	}
	for _, h := range shown {
		if !strings.Contains(out, h) {
			t.Fatalf("verify does not list contribution %s:\n%s", h, out)
		}
	}
	// A beacon that is not hex is refused before anything is done.
	zkv(1, "prover", "ceremony", "finalize", "--dir", tr, "--beacon", "next block", "--cache-dir", cache)
	out = zkv(0, "prover", "ceremony", "finalize", "--dir", tr, "--beacon", strings.Repeat("cd", 32), "--cache-dir", cache)
	if !strings.Contains(out, "ceremony finalized") || !strings.Contains(out, "wrote") {
		t.Fatalf("finalize of phase 2:\n%s", out)
	}
	final := regexp.MustCompile(`keys of attestation-d4: transcript hash ([0-9a-f]{64})`).FindStringSubmatch(out)
	if final == nil {
		t.Fatalf("finalize printed no transcript hash:\n%s", out)
	}

	depth := []string{"--depth", "4", "--cache-dir", cache}
	out = zkv(0, append([]string{"prover", "setup"}, depth...)...)
	if strings.Contains(out, "DEVNET") || !strings.Contains(out, "multi-party ceremony, transcript hash "+final[1]) {
		t.Fatalf("setup over ceremony keys:\n%s", out)
	}
	secretFiles := writeBLSSecrets(t, dir, 2)
	for _, f := range secretFiles {
		zkv(0, "prover", "register", "--registry", reg, "--bls-secret-file", f, "--cache-dir", cache, "--depth", "4")
	}
	zkv(0, "prover", "seal", "--registry", reg, "--epoch", "3", "--depth", "4")
	proof := filepath.Join(dir, "proof.json")
	out = zkv(0, append([]string{"prover", "prove", "--registry", reg, "--bls-secret-file", secretFiles[1],
		"--epoch", "3", "--signing-root", strings.Repeat("42", 32), "--out", proof}, depth...)...)
	if strings.Contains(out, "DEVNET") {
		t.Fatalf("prove with ceremony keys warns of a devnet setup:\n%s", out)
	}
	zkv(0, append(append([]string{"prover", "verify", "--registry", reg}, depth...), proof)...)
	vk := filepath.Join(dir, "vk.json")
	zkv(0, append([]string{"prover", "export", "--snarkjs", vk, "--solidity", filepath.Join(dir, "Verifier.sol")}, depth...)...)
	zkv(0, "prover", "verify", "--vk", vk, "--registry", reg, "--depth", "4", proof)

	// A truncated record: verify names it, contribute refuses and writes nothing.
	rec := filepath.Join(tr, "phase2-attestation-d4", "0002.zkvc")
	b, err := os.ReadFile(rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rec, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if out := zkv(1, "prover", "ceremony", "verify", "--dir", tr); !strings.Contains(out, "0002.zkvc") || !strings.Contains(out, "truncated") {
		t.Fatalf("verify of a truncated record:\n%s", out)
	}
	zkv(1, "prover", "ceremony", "contribute", "--dir", tr)
	if _, err := os.Stat(filepath.Join(tr, "phase2-attestation-d4", "0003.zkvc")); err == nil {
		t.Fatal("a refused contribution wrote a record")
	}
}
