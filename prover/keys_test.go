package prover

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr/fft"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/pedersen"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

func TestKeyCache(t *testing.T) {
	dir := t.TempDir()
	cfg := KeyConfig{Depth: 4, CacheDir: dir}
	k1, info, err := LoadKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if info.FromCache || info.CacheError != nil || info.Setup == 0 {
		t.Fatalf("first load: %+v", info)
	}
	if !strings.Contains(filepath.Base(info.Path), "-d4-") {
		t.Fatalf("cache file %s does not name the depth", info.Path)
	}
	k2, info2, err := LoadKeys(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !info2.FromCache || info2.Path != info.Path {
		t.Fatalf("second load not from the cache: %+v", info2)
	}
	// Keys from the cache prove and verify together with the keys that wrote it.
	vs := newTestValidators(3)
	tr := testRegistry(t, 4, vs)
	req := testRequest(tr, vs, 1, 5, "m")
	proof, st, err := k2.ProveStock(&req)
	if err != nil {
		t.Fatal(err)
	}
	if err := k1.VerifyingKey().VerifyGnark(proof, &st); err != nil {
		t.Fatalf("proof from cached keys: %v", err)
	}

	// CacheOnly reads the same keys, and never makes new ones in place of a missing or damaged
	// file: the file is left as it was.
	only := KeyConfig{Depth: 4, CacheDir: dir, CacheOnly: true}
	if _, got, err := LoadKeys(only); err != nil || !got.FromCache {
		t.Fatalf("CacheOnly over a good cache: %+v, %v", got, err)
	}
	if _, _, err := LoadKeys(KeyConfig{Depth: 4, CacheDir: t.TempDir(), CacheOnly: true}); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("CacheOnly over an empty directory: %v, want ErrNoKeys", err)
	}
	good, err := os.ReadFile(info.Path)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good[:len(good)/2]...)
	if err := os.WriteFile(info.Path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadKeys(only); !errors.Is(err, ErrNoKeys) || !errors.Is(err, ErrCorruptCache) {
		t.Fatalf("CacheOnly over a damaged file: %v, want ErrNoKeys wrapping ErrCorruptCache", err)
	}
	if b, _ := os.ReadFile(info.Path); !bytes.Equal(b, bad) {
		t.Fatal("CacheOnly rewrote the damaged cache file")
	}
	if err := os.WriteFile(info.Path, good, 0o644); err != nil {
		t.Fatal(err)
	}

	spoil := map[string]func(b []byte) []byte{
		"flipped byte": func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)-100] },
		"wrong magic":  func(b []byte) []byte { b[0] = 'X'; return b },
		"empty":        func(b []byte) []byte { return nil },
	}
	for name, f := range spoil {
		if testing.Short() && name != "flipped byte" {
			continue // each case runs a new setup
		}
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(info.Path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(info.Path, f(b), 0o644); err != nil {
				t.Fatal(err)
			}
			_, got, err := LoadKeys(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got.FromCache || !errors.Is(got.CacheError, ErrCorruptCache) {
				t.Fatalf("corrupt cache not detected: %+v", got)
			}
			_, again, err := LoadKeys(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !again.FromCache {
				t.Fatalf("regenerated cache not used: %+v", again)
			}
		})
	}
}

func TestLoadKeysRejectsDepth(t *testing.T) {
	for _, d := range []int{-2, 1, 3, 34} {
		if _, _, err := LoadKeys(KeyConfig{Depth: d}); !errors.Is(err, ErrBadInput) {
			t.Errorf("depth %d: %v", d, err)
		}
	}
}

// A cache file whose checksum is right (anyone can recompute it) but whose proving key does not
// have the circuit's shape is ErrCorruptCache, not keys that make NewProver or gnark's prover
// index out of range.
func TestKeyCacheShape(t *testing.T) {
	keys := mustKeys(t)
	clone := func(pk groth16bn254.ProvingKey) *groth16bn254.ProvingKey { return &pk }
	spoil := map[string]func(pk *groth16bn254.ProvingKey){
		"G1.A short":       func(pk *groth16bn254.ProvingKey) { pk.G1.A = pk.G1.A[:len(pk.G1.A)-1] },
		"G1.B short":       func(pk *groth16bn254.ProvingKey) { pk.G1.B = pk.G1.B[:len(pk.G1.B)-1] },
		"G2.B short":       func(pk *groth16bn254.ProvingKey) { pk.G2.B = pk.G2.B[:len(pk.G2.B)-1] },
		"G1.K short":       func(pk *groth16bn254.ProvingKey) { pk.G1.K = pk.G1.K[:len(pk.G1.K)-1] },
		"G1.Z long":        func(pk *groth16bn254.ProvingKey) { pk.G1.Z = append(slices.Clone(pk.G1.Z), pk.G1.Z[0]) },
		"G1.Z short":       func(pk *groth16bn254.ProvingKey) { pk.G1.Z = pk.G1.Z[:len(pk.G1.Z)-1] },
		"InfinityB short":  func(pk *groth16bn254.ProvingKey) { pk.InfinityB = pk.InfinityB[:len(pk.InfinityB)-1] },
		"InfinityA flag":   func(pk *groth16bn254.ProvingKey) { pk.InfinityA = flipFirst(pk.InfinityA, false) },
		"InfinityB flag":   func(pk *groth16bn254.ProvingKey) { pk.InfinityB = flipFirst(pk.InfinityB, true) },
		"NbInfinityA":      func(pk *groth16bn254.ProvingKey) { pk.NbInfinityA++ },
		"NbInfinityB":      func(pk *groth16bn254.ProvingKey) { pk.NbInfinityB-- },
		"larger domain":    func(pk *groth16bn254.ProvingKey) { pk.Domain = *fft.NewDomain(2 * pk.Domain.Cardinality) },
		"commitment keys":  func(pk *groth16bn254.ProvingKey) { pk.CommitmentKeys = make([]pedersen.ProvingKey, 1) },
		"unchanged (good)": func(pk *groth16bn254.ProvingKey) {},
	}
	for name, f := range spoil {
		t.Run(name, func(t *testing.T) {
			bad := *keys
			bad.pk = clone(*keys.pk)
			f(bad.pk)
			path := filepath.Join(t.TempDir(), "keys")
			if err := bad.writeCache(path); err != nil {
				t.Fatal(err)
			}
			fresh := &Keys{depth: keys.depth, ccs: keys.ccs, circuitHash: keys.circuitHash}
			err := fresh.readCache(path)
			if name == "unchanged (good)" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrCorruptCache) {
				t.Fatalf("readCache = %v, want ErrCorruptCache", err)
			}
		})
	}
}

// flipFirst returns a copy of flags with the first flag equal to from turned over.
func flipFirst(flags []bool, from bool) []bool {
	out := slices.Clone(flags)
	for i := range out {
		if out[i] == from {
			out[i] = !from
			break
		}
	}
	return out
}

// A cache file whose proving and verifying keys come from two setups (a valid checksum, a
// right shape) is refused: its proofs would fail its own verifier. Issue 13's "also weigh".
func TestKeyCacheMismatchedKeys(t *testing.T) {
	a, _, err := LoadKeys(KeyConfig{Depth: 2})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := LoadKeys(KeyConfig{Depth: 2})
	if err != nil {
		t.Fatal(err)
	}
	mixed := *a
	mixed.vk = b.vk
	dir := t.TempDir()
	if err := mixed.writeCache(filepath.Join(dir, mixed.cacheName())); err != nil {
		t.Fatal(err)
	}
	_, info, err := LoadKeys(KeyConfig{Depth: 2, CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if info.FromCache || !errors.Is(info.CacheError, ErrCorruptCache) {
		t.Fatalf("mismatched keys taken from the cache: from cache %v, error %v", info.FromCache, info.CacheError)
	}
}
