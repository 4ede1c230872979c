package registry

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/prover"
)

// signWithSecret signs a registration of sk for the identity of any secret it knows, with a
// valid identity proof, as a validator rotating its identity would.
func signWithSecret(t testing.TB, sk *bls.SecretKey, secret fr.Element, weight, timestamp uint64) Registration {
	t.Helper()
	r := Registration{Pubkey: sk.PublicKey().Bytes(), Identity: prover.IdentityCommitment(secret), Weight: weight, Timestamp: timestamp}
	proof, err := testIdentityKeys(t).ProveIdentity(secret, prover.IdentityBinding(testDomain, r.Pubkey[:]))
	if err != nil {
		t.Fatal(err)
	}
	r.IdentityProof = proof.Bytes()
	root := r.SigningRoot(testDomain)
	r.Signature = sk.Sign(root[:]).Bytes()
	return r
}

// TestKeyCannotEscapeItsNullifier is finding 1 of issue 13. The attack: prove in epoch N
// under the root Root(N) gave before N was sealed, re-register with a new identity, seal N,
// prove again with the new secret: two attestations, two nullifiers, no evidence. Each step
// is now refused: Root of an unsealed epoch, a second identity for a key, a second seal of
// an epoch Root has answered for.
func TestKeyCannotEscapeItsNullifier(t *testing.T) {
	r, err := Open(NewMemStore(), Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	sk := testKey(t, 1)
	now := uint64(time.Now().Unix())
	if err := r.Register(mustSignAt(t, sk, 32, now-10, testDomain)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seal(10); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Root(11); !errors.Is(err, ErrNoRoot) {
		t.Fatalf("Root of the unsealed epoch 11 answered: %v", err)
	}
	var s2 fr.Element
	s2.SetUint64(42)
	rotate := signWithSecret(t, sk, s2, 32, now-5)
	if err := r.Register(rotate); !errors.Is(err, ErrIdentityChange) {
		t.Fatalf("a key re-registered with another identity: %v", err)
	}
	// A weight change is still a registration.
	if err := r.Register(mustSignAt(t, sk, 64, now-4, testDomain)); err != nil {
		t.Fatal(err)
	}
	s11, err := r.Seal(11)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Root(11); err != nil || !got.Equal(&s11.Root) {
		t.Fatalf("Root(11) after its seal: %v", err)
	}
	if _, err := r.Seal(11); !errors.Is(err, ErrEpochOrder) {
		t.Fatalf("epoch 11 sealed twice: %v", err)
	}
	if m, err := r.Member(sk.PublicKey().Bytes()); err != nil || m.Weight != 64 {
		t.Fatalf("weight update: %+v %v", m, err)
	}
	// The rule holds for queued registrations too, and after a reopen of a log that breaks
	// it (written by an older zkv).
	sk2 := testKey(t, 2)
	if err := r.Register(mustSignAt(t, sk2, 1, now-3, testDomain)); err != nil {
		t.Fatal(err)
	}
	if err := r.Register(signWithSecret(t, sk2, s2, 1, now-2)); !errors.Is(err, ErrIdentityChange) {
		t.Fatalf("a queued key re-registered with another identity: %v", err)
	}
	st := NewMemStore()
	old, err := Open(st, Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Register(mustSignAt(t, sk, 1, now-9, testDomain)); err != nil {
		t.Fatal(err)
	}
	b := rotate.Bytes()
	if err := st.Set(seqKey(prefixLog, 1), b[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(st, Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)}); !errors.Is(err, ErrStoreInconsistent) || !errors.Is(err, ErrIdentityChange) {
		t.Fatalf("a log with an identity change: %v", err)
	}
}

// TestIdentityNeverReleased is finding 2 of issue 13: an identity, once registered, belongs
// to its key for the registry's whole history, so evidence that names it names that key.
func TestIdentityNeverReleased(t *testing.T) {
	r, err := Open(NewMemStore(), Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	a, b := testKey(t, 1), testKey(t, 2)
	now := uint64(time.Now().Unix())
	regA := mustSignAt(t, a, 32, now-10, testDomain)
	if err := r.Register(regA); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seal(1); err != nil {
		t.Fatal(err)
	}
	// A tries to move to another identity (refused), and B to take A's.
	var other fr.Element
	other.SetUint64(7)
	if err := r.Register(signWithSecret(t, a, other, 32, now-9)); !errors.Is(err, ErrIdentityChange) {
		t.Fatalf("rotation: %v", err)
	}
	// B knows A's secret (a colluder, or A itself moving keys): still not B's identity.
	if err := r.Register(signWithSecret(t, b, prover.SecretFromBLS(a), 32, now-8)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("another key registering a held identity: %v", err)
	}
	if _, err := r.Seal(2); err != nil {
		t.Fatal(err)
	}
	who, err := r.ByIdentity(regA.Identity)
	if err != nil || who.Pubkey != a.PublicKey().Bytes() {
		t.Fatalf("ByIdentity names %x, %v", who.Pubkey[:8], err)
	}
}

// TestRevoke is finding 5 of issue 13: published evidence reveals the secret, which is all a
// proof needs; revocation zeroes the leaf from the next seal on and bars the key for good.
// Evidence of another network is refused.
func TestRevoke(t *testing.T) {
	keys, _, err := prover.LoadKeys(prover.KeyConfig{Depth: 4})
	if err != nil {
		t.Fatal(err)
	}
	p, err := prover.NewProver(keys, prover.ProverConfig{})
	if err != nil {
		t.Fatal(err)
	}
	st := NewMemStore()
	cfg := Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)}
	r, err := Open(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := uint64(time.Now().Unix())
	for i := 0; i < 4; i++ {
		if err := r.Register(mustSignAt(t, testKey(t, i), 32_000_000_000, now-100, testDomain)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Seal(100); err != nil {
		t.Fatal(err)
	}
	sk := testKey(t, 2)
	secret := prover.SecretFromBLS(sk)
	prove := func(epoch uint64, msg string) (prover.Claim, error) {
		m, err := r.Member(sk.PublicKey().Bytes())
		if err != nil {
			return prover.Claim{}, err
		}
		root, err := r.Root(epoch)
		if err != nil {
			return prover.Claim{}, err
		}
		req := prover.Request{Secret: secret, Weight: m.Weight, Path: m.Path, Root: root, Epoch: epoch,
			SigningRoot: sha256.Sum256([]byte(msg)), Network: testNetwork.ID()}
		proof, st, err := p.Prove(&req)
		if err != nil {
			return prover.Claim{}, err
		}
		return prover.Claim{Proof: *proof, Statement: st}, nil
	}
	c1, err := prove(100, "head A")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := prove(100, "head B")
	if err != nil {
		t.Fatal(err)
	}
	v := &prover.Verifier{Key: keys.VerifyingKey(), Network: testNetwork.ID(), Roots: r}
	ev, err := prover.NewEvidence(v, c1, c2)
	if err != nil {
		t.Fatal(err)
	}

	// A registry of another network with the same keys and members refuses the evidence.
	sibling := cfg
	sibling.Network.GenesisValidatorsRoot[31] = 1
	r2, err := Open(NewMemStore(), sibling)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := r2.Register(mustSignAt(t, testKey(t, i), 32_000_000_000, now-100, ComputeDomain(sibling.Network))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r2.Seal(100); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Revoke(keys.VerifyingKey(), ev); !errors.Is(err, prover.ErrWrongStatement) {
		t.Fatalf("evidence of another network: %v", err)
	}

	m, err := r.Revoke(keys.VerifyingKey(), ev)
	if err != nil {
		t.Fatal(err)
	}
	if m.Pubkey != sk.PublicKey().Bytes() {
		t.Fatal("revocation names another key")
	}
	if _, err := r.Revoke(keys.VerifyingKey(), ev); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked twice: %v", err)
	}
	if err := r.Register(mustSignAt(t, sk, 1, now-50, testDomain)); !errors.Is(err, ErrRevoked) {
		t.Fatalf("a revoked key registered again: %v", err)
	}
	s101, err := r.Seal(101)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Member(sk.PublicKey().Bytes()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Member of a revoked key: %v", err)
	}
	// Anyone holding the published secret: no proof under the new root.
	old, err := r.ByIdentity(ev.Identity)
	if err != nil || !old.Revoked || old.Pubkey != sk.PublicKey().Bytes() {
		t.Fatalf("ByIdentity after the revocation: %+v %v", old, err)
	}
	req := prover.Request{Secret: ev.Secret, Weight: old.Weight, Path: old.Path, Root: s101.Root, Epoch: 101,
		SigningRoot: sha256.Sum256([]byte("later")), Network: testNetwork.ID()}
	if _, _, err := p.Prove(&req); !errors.Is(err, prover.ErrNotMember) {
		t.Fatalf("proof with the revealed secret after the revocation: %v", err)
	}
	other, err := r.Member(testKey(t, 3).PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := other.Path.Root(other.Leaf()); !got.Equal(&s101.Root) {
		t.Fatal("another member's path does not lead to the root after the revocation")
	}
	// The revocation survives a reopen.
	re, err := Open(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := re.Member(sk.PublicKey().Bytes()); !errors.Is(err, ErrRevoked) {
		t.Fatalf("Member of a revoked key after a reopen: %v", err)
	}
	if err := re.Register(mustSignAt(t, sk, 1, now-40, testDomain)); !errors.Is(err, ErrRevoked) {
		t.Fatalf("a revoked key registered again after a reopen: %v", err)
	}
}

// TestIdentitySquatting is finding 3 of issue 13: an identity commitment depends on the BLS
// key alone and is public on every network where the validator registered. A squatter that
// copies it (with the victim's identity proof, from this network or another) is refused, and
// the victim registers.
func TestIdentitySquatting(t *testing.T) {
	r, err := Open(NewMemStore(), Config{Depth: 4, Network: testNetwork, IdentityKey: testIdentityKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	victim, squatter := testKey(t, 5), testKey(t, 6)
	now := uint64(time.Now().Unix())
	elsewhere := testNetwork
	elsewhere.GenesisValidatorsRoot[5] = 9
	for name, seen := range map[string]Registration{
		"this network":    mustSignAt(t, victim, 32, now-10, testDomain),
		"another network": mustSignAt(t, victim, 32, now-10, ComputeDomain(elsewhere)),
	} {
		squat := Registration{Pubkey: squatter.PublicKey().Bytes(), Identity: seen.Identity, Weight: 32, Timestamp: now - 9, IdentityProof: seen.IdentityProof}
		root := squat.SigningRoot(testDomain)
		squat.Signature = squatter.Sign(root[:]).Bytes()
		if err := r.Register(squat); !errors.Is(err, ErrBadIdentityProof) {
			t.Fatalf("squatting with the victim's proof from %s: %v", name, err)
		}
	}
	if err := r.Register(mustSignAt(t, victim, 32, now-8, testDomain)); err != nil {
		t.Fatalf("the victim registers: %v", err)
	}
	bad := mustSignAt(t, squatter, 32, now-7, testDomain)
	bad.IdentityProof[3] ^= 1
	if err := r.Register(bad); !errors.Is(err, ErrBadIdentityProof) {
		t.Fatalf("a damaged identity proof: %v", err)
	}
}
