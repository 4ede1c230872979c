package prover

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
