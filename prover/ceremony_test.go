package prover

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
)

// runCeremony runs a ceremony in dir: init, p1 contributions, the phase-1 beacon, p2
// contributions, and the phase-2 beacon when cacheDir is not empty.
func runCeremony(t testing.TB, dir string, depths []int, p1, p2 int, cacheDir string) (*CeremonyTranscript, *CeremonyKeys) {
	t.Helper()
	tr, keys, err := runCeremonyErr(dir, depths, p1, p2, cacheDir)
	if err != nil {
		t.Fatal(err)
	}
	return tr, keys
}

func runCeremonyErr(dir string, depths []int, p1, p2 int, cacheDir string) (*CeremonyTranscript, *CeremonyKeys, error) {
	if _, err := InitCeremony(dir, depths); err != nil {
		return nil, nil, err
	}
	for i := range p1 {
		if _, err := ContributeCeremony(dir, []byte{byte(i)}); err != nil {
			return nil, nil, fmt.Errorf("phase 1 contribution %d: %w", i+1, err)
		}
	}
	if _, _, err := FinalizeCeremony(dir, []byte("beacon one"), ""); err != nil {
		return nil, nil, fmt.Errorf("seal phase 1: %w", err)
	}
	for i := range p2 {
		if _, err := ContributeCeremony(dir, nil); err != nil {
			return nil, nil, fmt.Errorf("phase 2 contribution %d: %w", i+1, err)
		}
	}
	if cacheDir == "" {
		tr, err := VerifyCeremony(dir)
		return tr, nil, err
	}
	tr, keys, err := FinalizeCeremony(dir, []byte("beacon two"), cacheDir)
	if err != nil {
		return nil, nil, fmt.Errorf("seal phase 2: %w", err)
	}
	return tr, keys, nil
}

// A three-party ceremony at depth 4: the transcript verifies and chains, its keys land in the
// key cache marked as ceremony keys, and proofs made with them verify (gnark's verifier,
// zkv's pairing check, the snarkjs export, the identity proof).
func TestCeremonyThreeParties(t *testing.T) {
	if testing.Short() {
		t.Skip("a full ceremony takes about a minute (gnark's phase-2 initialisation); the phase-1 tests run in short mode")
	}
	dir, cache := t.TempDir(), t.TempDir()
	tr, ck := runCeremony(t, dir, []int{4}, 3, 3, cache)

	if tr.Phase != 3 || tr.Contributions(1) != 3 || tr.Contributions(2) != 3 {
		t.Fatalf("phase %d, %d and %d contributions; want 3, 3 and 3", tr.Phase, tr.Contributions(1), tr.Contributions(2))
	}
	// 1 + 3 + beacon in phase 1, then 1 + 3 + beacon per circuit (attestation, identity).
	if len(tr.Records) != 5+2*5 {
		t.Fatalf("%d records, want 15", len(tr.Records))
	}
	// Every chain links: each record names its predecessor's hash; phase 2 starts from the
	// phase-1 beacon.
	var p1Beacon [32]byte
	prev := map[string][32]byte{}
	for _, r := range tr.Records {
		switch {
		case r.Phase == 1 && r.Index == 0:
			if r.Prev != ([32]byte{}) {
				t.Fatalf("%s: the first record has a predecessor", r.Path)
			}
		case r.Phase == 2 && r.Index == 0:
			if r.Prev != p1Beacon {
				t.Fatalf("%s: phase 2 does not start from the phase-1 beacon", r.Path)
			}
		default:
			if r.Prev != prev[r.Circuit] {
				t.Fatalf("%s: does not chain to its predecessor", r.Path)
			}
		}
		prev[r.Circuit] = r.Hash
		if r.Phase == 1 && r.Kind == "beacon" {
			p1Beacon = r.Hash
		}
	}

	keys, info, err := LoadKeys(KeyConfig{Depth: 4, CacheDir: cache, CacheOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !info.FromCache || !keys.Origin().Ceremony || keys.Origin().Transcript != tr.Final[CeremonyCircuit{Depth: 4}] {
		t.Fatalf("cache keys: from cache %v, origin %+v; want the ceremony's transcript %x", info.FromCache, keys.Origin(), tr.Final[CeremonyCircuit{Depth: 4}])
	}
	if keys.Origin().Transcript != prev["attestation-d4"] {
		t.Fatal("the keys' transcript hash is not the last record of their chain")
	}
	if len(ck.Attestation) != 1 || len(ck.Paths) != 2 {
		t.Fatalf("finalize returned %d attestation keys and %d files", len(ck.Attestation), len(ck.Paths))
	}

	vs := newTestValidators(5)
	treeOf := testRegistry(t, 4, vs)
	req := testRequest(treeOf, vs, 3, 9, "ceremony vote")
	proof, st, err := keys.ProveStock(&req)
	if err != nil {
		t.Fatal(err)
	}
	vk := keys.VerifyingKey()
	if err := vk.VerifyGnark(proof, &st); err != nil {
		t.Fatalf("gnark rejects a proof of the ceremony keys: %v", err)
	}
	if err := vk.VerifyPairing(proof, &st); err != nil {
		t.Fatalf("zkv rejects a proof of the ceremony keys: %v", err)
	}
	// zkv's own prover, whose layout and tables come from the proving key, agrees.
	p, err := NewProver(keys, ProverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	proof2, st2, err := p.Prove(&req)
	if err != nil {
		t.Fatal(err)
	}
	if err := vk.VerifyPairing(proof2, &st2); err != nil {
		t.Fatalf("zkv's prover with ceremony keys: %v", err)
	}
	// The snarkjs verification key (what 'zkv prover export --snarkjs' writes) accepts the
	// proof, and the devnet keys' snarkjs key does not: the export is the ceremony's.
	vkJSON, err := json.Marshal(vk.Snarkjs())
	if err != nil {
		t.Fatal(err)
	}
	var sv SnarkjsVerifyingKey
	if err := json.Unmarshal(vkJSON, &sv); err != nil {
		t.Fatal(err)
	}
	vk2, err := VerifyingKeyFromSnarkjs(&sv)
	if err != nil {
		t.Fatal(err)
	}
	pj, err := json.Marshal(proof.Snarkjs(&st))
	if err != nil {
		t.Fatal(err)
	}
	var sp SnarkjsProof
	if err := json.Unmarshal(pj, &sp); err != nil {
		t.Fatal(err)
	}
	claim, err := ClaimFromSnarkjs(&sp, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := vk2.VerifyPairing(&claim.Proof, &claim.Statement); err != nil {
		t.Fatalf("the exported snarkjs key rejects the proof: %v", err)
	}
	if err := mustKeys(t).VerifyingKey().VerifyPairing(&claim.Proof, &claim.Statement); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("a single-party key accepts the ceremony's proof: %v", err)
	}
	var sol bytes.Buffer
	if err := vk.ExportSolidity(&sol); err != nil || !strings.Contains(sol.String(), "verifyProof") {
		t.Fatalf("Solidity export of ceremony keys: %v", err)
	}

	ik, err := LoadIdentityKeys(cache, true)
	if err != nil {
		t.Fatal(err)
	}
	if !ik.Origin().Ceremony || ik.Origin().Transcript != tr.Final[CeremonyCircuit{Identity: true}] {
		t.Fatalf("identity keys origin %+v", ik.Origin())
	}
	var secret, binding fr.Element
	secret.SetUint64(7)
	binding.SetUint64(11)
	ip, err := ik.ProveIdentity(secret, binding)
	if err != nil {
		t.Fatal(err)
	}
	if err := ik.VerifyingKey().VerifyIdentity(ip, IdentityCommitment(secret), binding); err != nil {
		t.Fatalf("identity proof with ceremony keys: %v", err)
	}

	// A finalized ceremony takes nothing more.
	if _, err := ContributeCeremony(dir, nil); !errors.Is(err, ErrBadInput) {
		t.Fatalf("contribute after finalize = %v, want ErrBadInput", err)
	}
	if _, _, err := FinalizeCeremony(dir, []byte("again"), cache); !errors.Is(err, ErrBadInput) {
		t.Fatalf("finalize twice = %v, want ErrBadInput", err)
	}
	// Setup on the same cache reads the ceremony keys and keeps them.
	again, info, err := LoadKeys(KeyConfig{Depth: 4, CacheDir: cache})
	if err != nil || !info.FromCache || !again.Origin().Ceremony {
		t.Fatalf("LoadKeys over ceremony keys: from cache %v, origin %+v, %v", info.FromCache, again.Origin(), err)
	}
}

// Single-party keys are marked as such; a version-1 cache file (before the origin was
// recorded) still loads as single-party keys; an unknown origin is a corrupt cache.
func TestSinglePartyKeysOrigin(t *testing.T) {
	cache := t.TempDir()
	k, info, err := LoadKeys(KeyConfig{Depth: 2, CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	only := KeyConfig{Depth: 2, CacheDir: cache, CacheOnly: true}
	k2, info2, err := LoadKeys(only)
	if err != nil || !info2.FromCache || k2.Origin().Ceremony {
		t.Fatalf("devnet keys: from cache %v, origin %+v, %v", info2.FromCache, k2.Origin(), err)
	}
	data, err := os.ReadFile(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	rewrite := func(magic [8]byte, payload []byte) {
		sum := sha256.Sum256(payload)
		file := append(append(magic[:], sum[:]...), payload...)
		if err := os.WriteFile(info.Path, file, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	payload := data[len(cacheMagic)+sha256.Size:]
	header := len(k.cacheHeader())
	v1 := append(slices.Clone(payload[:header]), payload[header+originSize:]...)
	rewrite(cacheMagicV1, v1)
	if k3, info3, err := LoadKeys(only); err != nil || !info3.FromCache || k3.Origin().Ceremony {
		t.Fatalf("version-1 cache: from cache %v, %v", info3.FromCache, err)
	}
	bad := slices.Clone(payload)
	bad[header] = 7
	rewrite(cacheMagic, bad)
	if _, _, err := LoadKeys(only); !errors.Is(err, ErrCorruptCache) {
		t.Fatalf("unknown origin: %v, want ErrCorruptCache", err)
	}
}

func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out = append(out, p+":"+string(b[:min(len(b), 200)]))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// sealedCeremony makes a small ceremony (depth 2) in phase 2, with two contributions to
// each phase.
func sealedCeremony(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	runCeremony(t, dir, []int{2}, 2, 2, "")
	return dir
}

// phase1Ceremony makes a ceremony with n contributions to phase 1.
func phase1Ceremony(t *testing.T, depths []int, n int) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := InitCeremony(dir, depths); err != nil {
		t.Fatal(err)
	}
	for range n {
		if _, err := ContributeCeremony(dir, nil); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// forger who knows the format would.
func rewrite(t *testing.T, path string, edit func(h *recordHeader, payload []byte) []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, payload, err := parseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	payload = edit(&h, slices.Clone(payload))
	file, _ := makeRecord(h, payload)
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
}

func recordHashOf(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := parseRecord(data)
	if err != nil {
		t.Fatal(err)
	}
	return h.hash
}

// Each kind of bad record is refused with ErrBadTranscript, by verify, contribute and
// finalize alike, and neither writes anything.
func TestCeremonyRefusesBadRecords(t *testing.T) {
	// Phase-1 records are checked against a ceremony in phase 1 (quick); phase-2 records need
	// a sealed phase 1, whose phase-2 initialisation takes a while, so not in short mode.
	p1Good := phase1Ceremony(t, []int{2}, 2)
	other := phase1Ceremony(t, []int{2}, 2)  // another ceremony of the same circuits
	deeper := phase1Ceremony(t, []int{4}, 2) // a ceremony for another depth
	if _, err := VerifyCeremony(p1Good); err != nil {
		t.Fatal(err)
	}
	var p2Good string
	if !testing.Short() {
		p2Good = sealedCeremony(t) // verified by runCeremony
	}
	const (
		p1c2 = "phase1/0002.zkvc"
		p2c2 = "phase2-attestation-d2/0002.zkvc"
	)
	cases := []struct {
		name   string
		phase2 bool
		spoil  func(t *testing.T, dir string)
		want   string
	}{
		{"truncated phase-1 contribution", false, func(t *testing.T, dir string) {
			p := filepath.Join(dir, p1c2)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:len(b)-100], 0o644)
		}, "truncated"},
		{"truncated header", true, func(t *testing.T, dir string) {
			p := filepath.Join(dir, p2c2)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, b[:50], 0o644)
		}, "truncated"},
		{"flipped byte", true, func(t *testing.T, dir string) {
			p := filepath.Join(dir, p2c2)
			b, _ := os.ReadFile(p)
			b[len(b)-500] ^= 1
			os.WriteFile(p, b, 0o644)
		}, "hash mismatch"},
		{"phase-1 powers swapped, hash recomputed", false, func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, p1c2), func(_ *recordHeader, p []byte) []byte {
				// Three update proofs (G1 and G2, compressed), N, [β]₂, then [τ¹]₁ and [τ²]₁.
				off := 3*(32+64) + 8 + 64
				a, b := slices.Clone(p[off:off+32]), slices.Clone(p[off+32:off+64])
				copy(p[off:], b)
				copy(p[off+32:], a)
				return p
			})
		}, "contribution 2"},
		{"phase-2 δ doubled, hash recomputed", true, func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, p2c2), func(_ *recordHeader, p []byte) []byte {
				var ph mpcsetup.Phase2
				if err := decodeGnark(p, &ph); err != nil {
					t.Fatal(err)
				}
				ph.Parameters.G1.Delta.Double(&ph.Parameters.G1.Delta)
				out, err := encodeGnark(&ph)
				if err != nil {
					t.Fatal(err)
				}
				return out
			})
		}, "δ"},
		{"built on another ceremony's record", false, func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(other, p1c2))
			os.WriteFile(filepath.Join(dir, p1c2), b, 0o644)
		}, "built on"},
		{"built on another record, chain fields forged", false, func(t *testing.T, dir string) {
			want := recordHashOf(t, filepath.Join(dir, "phase1/0001.zkvc"))
			b, _ := os.ReadFile(filepath.Join(other, p1c2))
			p := filepath.Join(dir, p1c2)
			os.WriteFile(p, b, 0o644)
			rewrite(t, p, func(h *recordHeader, p []byte) []byte { h.prev = want; return p })
		}, "challenge does not match"},
		{"phase-2 record of another circuit", true, func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "phase2-identity/0002.zkvc"))
			os.WriteFile(filepath.Join(dir, p2c2), b, 0o644)
		}, "another circuit"},
		{"phase-1 record of a ceremony of another depth", false, func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(deeper, p1c2))
			os.WriteFile(filepath.Join(dir, p1c2), b, 0o644)
		}, "another ceremony"},
		{"record under another index", false, func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, "phase1/0001.zkvc"))
			os.WriteFile(filepath.Join(dir, p1c2), b, 0o644)
		}, "index"},
		{"missing record", true, func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "phase2-identity/0001.zkvc"))
		}, "missing"},
		{"initial record of other powers", false, func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, "phase1/0000.zkvc"), func(_ *recordHeader, p []byte) []byte {
				b, _ := os.ReadFile(filepath.Join(dir, "phase1/0001.zkvc"))
				_, q, _ := parseRecord(b)
				return q[:len(p)]
			})
		}, "initial"},
		{"beacon replaced, hash recomputed", true, func(t *testing.T, dir string) {
			rewrite(t, filepath.Join(dir, "phase1/beacon.zkvc"), func(_ *recordHeader, p []byte) []byte { return []byte("another beacon") })
		}, "built on"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			good := p1Good
			if c.phase2 {
				if p2Good == "" {
					t.Skip("phase-2 records need a sealed phase 1: not in short mode")
				}
				good = p2Good
			}
			dir := copyTree(t, good)
			c.spoil(t, dir)
			before := listTree(t, dir)
			_, err := VerifyCeremony(dir)
			if !errors.Is(err, ErrBadTranscript) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify = %v, want ErrBadTranscript mentioning %q", err, c.want)
			}
			if _, err := ContributeCeremony(dir, nil); !errors.Is(err, ErrBadTranscript) {
				t.Fatalf("contribute = %v, want ErrBadTranscript", err)
			}
			cache := t.TempDir()
			if _, _, err := FinalizeCeremony(dir, []byte("b"), cache); !errors.Is(err, ErrBadTranscript) {
				t.Fatalf("finalize = %v, want ErrBadTranscript", err)
			}
			if after := listTree(t, dir); !slices.Equal(before, after) {
				t.Fatal("a refused step changed the transcript")
			}
			if entries, _ := os.ReadDir(cache); len(entries) != 0 {
				t.Fatal("a refused finalize wrote keys")
			}
		})
	}
}

// Finalizing needs a beacon and at least one contribution in the phase; init needs a
// fresh directory and valid depths.
func TestCeremonyRefusesBadSteps(t *testing.T) {
	dir := t.TempDir()
	if _, err := InitCeremony(dir, []int{3}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("init at depth 3 = %v", err)
	}
	if _, err := InitCeremony(dir, nil); !errors.Is(err, ErrBadInput) {
		t.Fatalf("init without depths = %v", err)
	}
	if _, err := VerifyCeremony(dir); !errors.Is(err, ErrBadTranscript) {
		t.Fatalf("verify of an empty directory = %v", err)
	}
	if _, err := InitCeremony(dir, []int{2}); err != nil {
		t.Fatal(err)
	}
	if _, err := InitCeremony(dir, []int{2}); err == nil {
		t.Fatal("init over a transcript succeeded")
	}
	if _, _, err := FinalizeCeremony(dir, []byte("b"), ""); !errors.Is(err, ErrBadInput) {
		t.Fatalf("finalize without contributions = %v, want ErrBadInput", err)
	}
	if _, err := ContributeCeremony(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := FinalizeCeremony(dir, nil, ""); !errors.Is(err, ErrBadInput) {
		t.Fatalf("finalize without a beacon = %v, want ErrBadInput", err)
	}
	if testing.Short() {
		return // sealing phase 1 initialises phase 2, which takes a while
	}
	if _, _, err := FinalizeCeremony(dir, []byte("b"), ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := FinalizeCeremony(dir, []byte("b"), t.TempDir()); !errors.Is(err, ErrBadInput) {
		t.Fatalf("phase 2 finalize without contributions = %v, want ErrBadInput", err)
	}
	if _, err := ContributeCeremony(dir, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := FinalizeCeremony(dir, []byte("b"), ""); !errors.Is(err, ErrBadInput) {
		t.Fatalf("phase 2 finalize without a cache directory = %v, want ErrBadInput", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

var _ io.Reader = zeroReader{}

// The contributor's entropy reaches the contribution: with the system's randomness held
// fixed, the same entropy gives the same record and other entropy another, in both phases.
// (It also shows that gnark draws every secret of a contribution from crypto/rand.Reader.)
func TestCeremonyEntropy(t *testing.T) {
	bases := []string{phase1Ceremony(t, []int{2}, 0)}
	if !testing.Short() {
		bases = append(bases, sealedCeremony(t)) // in phase 2
	}
	systemRand = zeroReader{}
	t.Cleanup(func() { systemRand = rand0 })
	for _, base := range bases {
		contribute := func(entropy string) []byte {
			dir := copyTree(t, base)
			recs, err := ContributeCeremony(dir, []byte(entropy))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(recs[0].Path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := VerifyCeremony(dir); err != nil {
				t.Fatalf("a contribution with entropy does not verify: %v", err)
			}
			return b
		}
		a1, a2, b := contribute("dice: 3 1 4 1 5"), contribute("dice: 3 1 4 1 5"), contribute("dice: 2 7 1 8 2")
		if !bytes.Equal(a1, a2) {
			t.Fatal("the same entropy and system randomness gave two contributions: gnark draws from elsewhere")
		}
		if bytes.Equal(a1, b) {
			t.Fatal("other entropy gave the same contribution: the entropy is ignored")
		}
	}
}

var rand0 = systemRand

// FuzzCeremonyRecord: parseRecord never panics, and a record it accepts re-encodes to the
// same bytes (one encoding per record, so a record's hash names exactly one file).
func FuzzCeremonyRecord(f *testing.F) {
	h := recordHeader{phase: 2, kind: kindContribution, circuit: codeAttestation, depth: 4, depths: depthMask([]int{4}),
		size: 2048, index: 3, prev: [32]byte{1, 2, 3}}
	good, _ := makeRecord(h, []byte("payload"))
	f.Add(good)
	f.Add(good[:ceremonyHeaderSize])
	f.Add(good[:50])
	f.Fuzz(func(t *testing.T, data []byte) {
		h, payload, err := parseRecord(data)
		if err != nil {
			return
		}
		again, sum := makeRecord(h, payload)
		if !bytes.Equal(again, data) || sum != h.hash {
			t.Fatalf("record re-encodes differently")
		}
	})
}
