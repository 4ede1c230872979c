package prover

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestIdentityProof: a proof of knowledge of s verifies for its identity and binding only, and
// the keys survive the cache (finding 3 of issue 13).
func TestIdentityProof(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadIdentityKeys(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("identity circuit: %d constraints", k.Constraints())
	s := newTestValidators(2)
	id := IdentityCommitment(s[0].secret)
	var domain [32]byte
	bind := IdentityBinding(domain, []byte("key A"))
	proof, err := k.ProveIdentity(s[0].secret, bind)
	if err != nil {
		t.Fatal(err)
	}
	vk := k.VerifyingKey()
	if err := vk.VerifyIdentity(proof, id, bind); err != nil {
		t.Fatal(err)
	}
	other := IdentityBinding(domain, []byte("key B"))
	if err := vk.VerifyIdentity(proof, id, other); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("proof for another key: %v", err)
	}
	domain[0] = 1
	if err := vk.VerifyIdentity(proof, id, IdentityBinding(domain, []byte("key A"))); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("proof for another network: %v", err)
	}
	if err := vk.VerifyIdentity(proof, IdentityCommitment(s[1].secret), bind); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("proof for another identity: %v", err)
	}
	// The cached keys are the same keys.
	k2, err := LoadIdentityKeys(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := k2.VerifyingKey().VerifyIdentity(proof, id, bind); err != nil {
		t.Fatalf("cached key: %v", err)
	}
	if _, err := LoadIdentityKeys(t.TempDir(), true); !errors.Is(err, ErrNoKeys) {
		t.Fatalf("cache only without keys: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "zkv-identity-*.keys"))
	if len(files) != 1 {
		t.Fatalf("%d cache files", len(files))
	}
	b, _ := os.ReadFile(files[0])
	b[len(b)/2] ^= 0x55
	os.WriteFile(files[0], b, 0o644)
	if _, err := LoadIdentityKeys(dir, true); !errors.Is(err, ErrCorruptCache) {
		t.Fatalf("damaged cache: %v", err)
	}
}
