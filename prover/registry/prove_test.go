package registry

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/zkvlabs/zkv/prover"
)

// TestProveFromRegistry runs the whole path: BLS-signed registrations, a sealed epoch, a
// member's path, a proof from the BLS key alone, verification against the epoch's root, and
// the equivocation that identifies the registered key.
func TestProveFromRegistry(t *testing.T) {
	keys, _, err := prover.LoadKeys(prover.KeyConfig{Depth: 4})
	if err != nil {
		t.Fatal(err)
	}
	p, err := prover.NewProver(keys, prover.ProverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(NewMemStore(), Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := r.Register(mustSign(t, testKey(t, i), 32_000_000_000, testDomain)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Seal(100); err != nil {
		t.Fatal(err)
	}

	sk := testKey(t, 3)
	m, err := r.Member(sk.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	prove := func(epoch uint64, msg string) prover.Claim {
		t.Helper()
		root, err := r.Root(epoch)
		if err != nil {
			t.Fatal(err)
		}
		req := prover.Request{
			Secret: prover.SecretFromBLS(sk), Weight: m.Weight, Path: m.Path, Root: root,
			Epoch: epoch, SigningRoot: sha256.Sum256([]byte(msg)), MinWeight: 1, Network: testNetwork.ID(),
		}
		proof, st, err := p.Prove(&req)
		if err != nil {
			t.Fatal(err)
		}
		return prover.Claim{Proof: *proof, Statement: st}
	}
	vk := keys.VerifyingKey()
	v := &prover.Verifier{Key: vk, Network: testNetwork.ID(), Roots: r}
	a, b := prove(100, "source 99 target 100"), prove(100, "source 98 target 100")
	if bad, _, err := v.FindInvalid([]prover.Claim{a, b}, nil); err != nil || len(bad) != 0 {
		t.Fatal(bad, err)
	}
	ev, err := prover.NewEvidence(v, a, b)
	if err != nil {
		t.Fatal(err)
	}
	who, err := r.ByIdentity(ev.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if who.Pubkey != sk.PublicKey().Bytes() {
		t.Fatal("equivocation names another key")
	}

	// A key that never registered has no leaf; borrowing a member's path does not help.
	outsider := testKey(t, 42)
	req := prover.Request{
		Secret: prover.SecretFromBLS(outsider), Weight: m.Weight, Path: m.Path, Root: m.Root,
		Epoch: 100, SigningRoot: sha256.Sum256([]byte("x")), Network: testNetwork.ID(),
	}
	if _, _, err := p.Prove(&req); !errors.Is(err, prover.ErrNotMember) {
		t.Fatalf("outsider proof: %v", err)
	}
}
