package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// zkv prover used as a newcomer would: setup, register two validators, seal, prove, verify,
// export; a tampered proof fails, and two proofs of one epoch for different attestations are
// reported as an equivocation.
func TestProverCLIEndToEnd(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "keys")
	reg := filepath.Join(dir, "registry.bin")
	zkv := func(wantCode int, args ...string) string {
		t.Helper()
		return runZKV(t, wantCode, args...)
	}
	depth := []string{"--depth", "4"}

	zkv(0, append([]string{"prover", "setup", "--cache-dir", cache}, depth...)...)

	var secretFiles []string
	for i := 0; i < 2; i++ {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			t.Fatal(err)
		}
		b := sk.Bytes()
		f := filepath.Join(dir, "bls-"+string(rune('a'+i)))
		if err := os.WriteFile(f, []byte(hex.EncodeToString(b[:])), 0o600); err != nil {
			t.Fatal(err)
		}
		secretFiles = append(secretFiles, f)
		zkv(0, append([]string{"prover", "register", "--registry", reg, "--bls-secret-file", f}, depth...)...)
	}
	zkv(0, append([]string{"prover", "seal", "--registry", reg, "--epoch", "7"}, depth...)...)

	prove := func(root, out string) {
		zkv(0, append([]string{"prover", "prove", "--registry", reg, "--bls-secret-file", secretFiles[0],
			"--epoch", "7", "--signing-root", root, "--cache-dir", cache, "--out", out}, depth...)...)
	}
	p1 := filepath.Join(dir, "p1.json")
	prove(strings.Repeat("11", 32), p1)
	verify := func(code int, files ...string) string {
		return zkv(code, append([]string{"prover", "verify", "--cache-dir", cache, "--depth", "4"}, files...)...)
	}
	verify(0, p1)

	// Tamper with a public signal (epoch): verification must fail with exit 1.
	raw, err := os.ReadFile(p1)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	signals, ok := doc["publicSignals"].([]any)
	if !ok || len(signals) != 6 {
		t.Fatalf("proof JSON has no six publicSignals: %s", raw)
	}
	signals[1] = "8"
	bad, _ := json.Marshal(doc)
	pBad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(pBad, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	verify(1, p1, pBad)

	// A second attestation in the same epoch: both proofs valid, the equivocation named.
	p2 := filepath.Join(dir, "p2.json")
	prove(strings.Repeat("22", 32), p2)
	out := verify(0, p1, p2)
	if !strings.Contains(strings.ToLower(out), "equivocat") {
		t.Fatalf("no equivocation reported:\n%s", out)
	}

	sol, vk := filepath.Join(dir, "Verifier.sol"), filepath.Join(dir, "vk.json")
	zkv(0, append([]string{"prover", "export", "--cache-dir", cache, "--solidity", sol, "--snarkjs", vk}, depth...)...)
	if b, err := os.ReadFile(sol); err != nil || !bytes.Contains(b, []byte("verifyProof")) {
		t.Fatalf("solidity verifier: %v", err)
	}
	// The exported snarkjs key verifies the proof on its own, without the cache.
	zkv(0, "prover", "verify", "--vk", vk, p1)
}
