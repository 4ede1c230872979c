package prover

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Evidence shows that a validator equivocated: two valid proofs of one epoch with the same
// nullifier for different attestations. Both lie on the validator's line y = s + a1·x for
// the epoch, so
//
//	a1 = (y₁ - y₂) / (x₁ - x₂),   s = y₁ - a1·x₁,
//
// and s gives the identity commitment H(TAG_ID, s), which the registry maps to the
// validator's BLS key and leaf. Evidence carries everything needed to check it; Check
// recomputes it all from the two proofs.
type Evidence struct {
	First, Second Claim
	Secret        fr.Element // the validator's ZK secret, recovered
	Identity      fr.Element // IdentityCommitment(Secret)
}

// RecoverSecret returns the secret and the epoch slope shared by two statements with the same
// epoch and nullifier and different x. It checks that the recovered values reproduce the
// nullifier, so a secret it returns is the one the proofs were made with.
func RecoverSecret(a, b *Statement) (secret, a1 fr.Element, err error) {
	switch {
	case a.Epoch != b.Epoch:
		return secret, a1, fmt.Errorf("%w: epochs %d and %d", ErrNoEquivocation, a.Epoch, b.Epoch)
	case !a.Nullifier.Equal(&b.Nullifier):
		return secret, a1, fmt.Errorf("%w: different nullifiers", ErrNoEquivocation)
	case a.X.Equal(&b.X):
		return secret, a1, fmt.Errorf("%w: same attestation (equal x)", ErrNoEquivocation)
	}
	var dx, dy fr.Element
	dx.Sub(&a.X, &b.X)
	dy.Sub(&a.Y, &b.Y)
	a1.Div(&dy, &dx)
	secret.Mul(&a1, &a.X)
	secret.Sub(&a.Y, &secret)
	// The circuit binds a1 to s and the epoch and the nullifier to a1; a pair of statements
	// that does not reproduce them was not made by one validator.
	if got := A1(secret, a.Epoch); !got.Equal(&a1) {
		return secret, a1, fmt.Errorf("%w: recovered slope is not H(TAG_A1, s, epoch)", ErrNoEquivocation)
	}
	if n := Nullifier(a1); !n.Equal(&a.Nullifier) {
		return secret, a1, fmt.Errorf("%w: recovered slope does not give the nullifier", ErrNoEquivocation)
	}
	return secret, a1, nil
}

// NewEvidence verifies both claims and builds the evidence of their equivocation. It returns
// ErrInvalidProof if a proof does not verify and ErrNoEquivocation if the claims are not an
// equivocation.
func NewEvidence(vk *VerifyingKey, first, second Claim) (*Evidence, error) {
	for i, c := range []*Claim{&first, &second} {
		if err := vk.Verify(&c.Proof, &c.Statement); err != nil {
			return nil, fmt.Errorf("equivocation evidence: proof %d: %w", i+1, err)
		}
	}
	s, _, err := RecoverSecret(&first.Statement, &second.Statement)
	if err != nil {
		return nil, err
	}
	return &Evidence{First: first, Second: second, Secret: s, Identity: IdentityCommitment(s)}, nil
}

// Check verifies the evidence from scratch: both proofs, the equivocation, the secret and the
// identity.
func (e *Evidence) Check(vk *VerifyingKey) error {
	fresh, err := NewEvidence(vk, e.First, e.Second)
	if err != nil {
		return err
	}
	if !fresh.Secret.Equal(&e.Secret) {
		return fmt.Errorf("%w: evidence names a secret the proofs do not give", ErrNoEquivocation)
	}
	if !fresh.Identity.Equal(&e.Identity) {
		return fmt.Errorf("%w: evidence names an identity the secret does not give", ErrNoEquivocation)
	}
	return nil
}

// Leaf returns the registry leaf of the equivocating validator for its registered weight
// (the proofs do not reveal the weight; the registry entry of Identity does).
func (e *Evidence) Leaf(weight uint64) fr.Element {
	return Leaf(e.Identity, weight)
}
