package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
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

	secretFiles := writeBLSSecrets(t, dir, 2)
	for _, f := range secretFiles {
		zkv(0, append([]string{"prover", "register", "--registry", reg, "--bls-secret-file", f, "--cache-dir", cache}, depth...)...)
	}
	zkv(0, append([]string{"prover", "seal", "--registry", reg, "--epoch", "7"}, depth...)...)

	prove := func(root, out string) {
		zkv(0, append([]string{"prover", "prove", "--registry", reg, "--bls-secret-file", secretFiles[0],
			"--epoch", "7", "--signing-root", root, "--cache-dir", cache, "--out", out}, depth...)...)
	}
	p1 := filepath.Join(dir, "p1.json")
	prove(strings.Repeat("11", 32), p1)
	verify := func(code int, files ...string) string {
		return zkv(code, append([]string{"prover", "verify", "--cache-dir", cache, "--depth", "4", "--registry", reg}, files...)...)
	}
	verify(0, p1)
	zkv(0, "prover", "verify", "--cache-dir", cache, "--depth", "4", "--registry", reg, "--signing-root", strings.Repeat("11", 32), p1)
	// The attestation it is checked as is another one.
	zkv(1, "prover", "verify", "--cache-dir", cache, "--depth", "4", "--registry", reg, "--signing-root", strings.Repeat("12", 32), p1)
	// Without a registry, verify says what it needs.
	if out := zkv(1, "prover", "verify", "--cache-dir", cache, "--depth", "4", p1); !strings.Contains(out, "--pairing-only") {
		t.Fatalf("verify without a registry:\n%s", out)
	}

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
	if !ok || len(signals) != 7 {
		t.Fatalf("proof JSON has no seven publicSignals: %s", raw)
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
	zkv(0, "prover", "verify", "--vk", vk, "--registry", reg, "--depth", "4", p1)
}

// Finding 6 of issue 13: a key that never registered proves against a private registry of
// its own, at weight 2^64-1. The bare pairing check passes (and says that is all it checked);
// verified against the real registry, the proof is refused.
func TestProverVerifyOutsider(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "keys")
	reg, own := filepath.Join(dir, "registry.bin"), filepath.Join(dir, "own.bin")
	depth := []string{"--depth", "4"}
	zkv := func(wantCode int, args ...string) string {
		t.Helper()
		return runZKV(t, wantCode, append(append(args[:2:2], depth...), args[2:]...)...)
	}
	zkv(0, "prover", "setup", "--cache-dir", cache)
	secrets := writeBLSSecrets(t, dir, 2)
	zkv(0, "prover", "register", "--registry", reg, "--bls-secret-file", secrets[0], "--cache-dir", cache)
	zkv(0, "prover", "seal", "--registry", reg, "--epoch", "5")
	zkv(0, "prover", "register", "--registry", own, "--bls-secret-file", secrets[1], "--weight", "18446744073709551615", "--cache-dir", cache)
	zkv(0, "prover", "seal", "--registry", own, "--epoch", "5")
	proof := filepath.Join(dir, "p.json")
	zkv(0, "prover", "prove", "--registry", own, "--bls-secret-file", secrets[1], "--epoch", "5",
		"--signing-root", strings.Repeat("33", 32), "--min-weight", "18446744073709551615", "--cache-dir", cache, "--out", proof)
	if out := zkv(0, "prover", "verify", "--cache-dir", cache, "--pairing-only", proof); !strings.Contains(out, "pairing only") {
		t.Fatalf("the bare pairing check does not say what it checked:\n%s", out)
	}
	if out := zkv(1, "prover", "verify", "--cache-dir", cache, "--registry", reg, proof); !strings.Contains(out, "INVALID") {
		t.Fatalf("outsider's proof against the real registry:\n%s", out)
	}
	// The same proof on another network (same keys, same registry file content) is refused too.
	zkv(1, "prover", "verify", "--cache-dir", cache, "--registry", own, "--genesis-validators-root", strings.Repeat("01", 32), proof)
}

// The registry kept in the validator's database (--db) instead of a file: the same
// registrations give the same root as the file registry, survive between commands (each one
// opens and closes the database), and a proof from the database registry verifies.
func TestProverRegistryInDatabase(t *testing.T) {
	dir := t.TempDir()
	cache := filepath.Join(dir, "keys")
	dbDir, file := filepath.Join(dir, "db"), filepath.Join(dir, "registry.bin")
	depth := []string{"--depth", "4"}
	zkv := func(wantCode int, args ...string) string {
		t.Helper()
		return runZKV(t, wantCode, append(args, depth...)...)
	}
	secretFiles := writeBLSSecrets(t, dir, 3)
	// Registering before any setup is refused: the identity proof needs its keys.
	if out := zkv(1, "prover", "register", "--db", dbDir, "--bls-secret-file", secretFiles[0], "--cache-dir", cache); !strings.Contains(out, "zkv prover setup") {
		t.Fatalf("register without keys does not say to run setup:\n%s", out)
	}
	idOnly := filepath.Join(dir, "id-keys")
	zkv(0, "prover", "setup", "--cache-dir", idOnly)
	for _, f := range secretFiles {
		zkv(0, "prover", "register", "--db", dbDir, "--bls-secret-file", f, "--cache-dir", idOnly)
		zkv(0, "prover", "register", "--registry", file, "--bls-secret-file", f, "--cache-dir", idOnly)
	}
	inDB := zkv(0, "prover", "seal", "--db", dbDir, "--epoch", "3")
	inFile := zkv(0, "prover", "seal", "--registry", file, "--epoch", "3")
	if inDB != inFile || !strings.Contains(inDB, "3 validators") {
		t.Fatalf("database registry sealed %q, file registry %q: want the same root over 3 validators", inDB, inFile)
	}
	// Sealing the same epoch again is refused: the database remembers the seal.
	zkv(1, "prover", "seal", "--db", dbDir, "--epoch", "3")
	zkv(1, "prover", "seal", "--db", dbDir, "--registry", file, "--epoch", "4")

	// Proving before any setup is refused, and makes no keys of its own.
	out := zkv(1, "prover", "prove", "--db", dbDir, "--bls-secret-file", secretFiles[2],
		"--epoch", "3", "--signing-root", strings.Repeat("ab", 32), "--cache-dir", cache)
	if !strings.Contains(out, "zkv prover setup") {
		t.Fatalf("prove without keys does not say to run setup:\n%s", out)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 0 {
		t.Fatalf("prove without keys wrote %d files to the key cache", len(entries))
	}
	zkv(0, "prover", "setup", "--cache-dir", cache)
	proof := filepath.Join(dir, "p.json")
	zkv(0, "prover", "prove", "--db", dbDir, "--bls-secret-file", secretFiles[2],
		"--epoch", "3", "--signing-root", strings.Repeat("ab", 32), "--cache-dir", cache, "--out", proof)
	runZKV(t, 0, "prover", "verify", "--cache-dir", cache, "--depth", "4", "--db", dbDir, proof)
}

// A registration of a known key needs a later timestamp: the same one again, or an older one,
// is refused with a reason, and a newer one replaces it.
func TestProverRegisterTimestamp(t *testing.T) {
	dir := t.TempDir()
	reg, cache := filepath.Join(dir, "registry.bin"), filepath.Join(dir, "keys")
	secret := writeBLSSecrets(t, dir, 1)[0]
	runZKV(t, 0, "prover", "setup", "--depth", "4", "--cache-dir", cache)
	register := func(code int, ts, weight string) string {
		t.Helper()
		return runZKV(t, code, "prover", "register", "--registry", reg, "--bls-secret-file", secret,
			"--depth", "4", "--timestamp", ts, "--weight", weight, "--cache-dir", cache)
	}
	register(0, "1000", "32000000000")
	for _, ts := range []string{"1000", "999"} {
		if out := register(1, ts, "1"); !strings.Contains(out, "not newer") {
			t.Fatalf("stale registration at %s refused without saying why:\n%s", ts, out)
		}
	}
	if out := register(0, "1001", "16000000000"); !strings.Contains(out, "timestamp 1001") || !strings.Contains(out, "2 pending") {
		t.Fatalf("newer registration:\n%s", out)
	}
	// Without --timestamp the registration is signed now, long after 1001.
	register(0, "0", "16000000000")
}

// verify without proof files is a usage error that says what is missing, not an empty batch.
func TestProverVerifyNoFiles(t *testing.T) {
	if out := runZKV(t, 2, "prover", "verify", "--vk", "vk.json", "--pairing-only"); !strings.Contains(out, "no proof files") {
		t.Fatalf("verify without files:\n%s", out)
	}
}

// writeBLSSecrets writes n fresh BLS secret keys as hex files, as a user would hand them to
// zkv prover, and returns their paths.
func writeBLSSecrets(t *testing.T, dir string, n int) []string {
	t.Helper()
	var files []string
	for i := range n {
		sk, err := bls.GenerateSecretKey()
		if err != nil {
			t.Fatal(err)
		}
		b := sk.Bytes()
		f := filepath.Join(dir, fmt.Sprintf("bls-%d.hex", i))
		if err := os.WriteFile(f, []byte(hex.EncodeToString(b[:])), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}
