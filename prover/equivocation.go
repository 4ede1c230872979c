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
// validator's BLS key and leaf. Evidence carries everything needed to check it, the registry
// roots and the network in the proofs' statements included; Check recomputes it all from
// the two proofs and checks both as attestations of the verifier's network and registry, so
// evidence from one network is refused on another.
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
	case !a.Network.Equal(&b.Network):
		return secret, a1, fmt.Errorf("%w: two networks", ErrNoEquivocation)
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
	if got := A1(secret, a.Epoch, a.Network); !got.Equal(&a1) {
		return secret, a1, fmt.Errorf("%w: recovered slope is not H(TAG_A1, s, epoch)", ErrNoEquivocation)
	}
	if n := Nullifier(a1); !n.Equal(&a.Nullifier) {
		return secret, a1, fmt.Errorf("%w: recovered slope does not give the nullifier", ErrNoEquivocation)
	}
	return secret, a1, nil
}

// NewEvidence verifies both claims as attestations of v's network and registry and builds the
// evidence of their equivocation. It returns ErrWrongStatement or ErrInvalidProof if a claim
// does not verify and ErrNoEquivocation if the claims are not an equivocation.
func NewEvidence(v *Verifier, first, second Claim) (*Evidence, error) {
	for i, c := range []*Claim{&first, &second} {
		if err := v.Verify(c, nil); err != nil {
			return nil, fmt.Errorf("equivocation evidence: proof %d: %w", i+1, err)
		}
	}
	s, _, err := RecoverSecret(&first.Statement, &second.Statement)
	if err != nil {
		return nil, err
	}
	return &Evidence{First: first, Second: second, Secret: s, Identity: IdentityCommitment(s)}, nil
}

// Check verifies the evidence from scratch: both claims as attestations of v's network and
// registry, the equivocation, the secret and the identity.
func (e *Evidence) Check(v *Verifier) error {
	fresh, err := NewEvidence(v, e.First, e.Second)
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

// Epoch returns the epoch the evidence is of.
func (e *Evidence) Epoch() uint64 { return e.First.Statement.Epoch }

// Network returns the network identifier the evidence's proofs are bound to.
func (e *Evidence) Network() fr.Element { return e.First.Statement.Network }

// Equivocation names two claims of a list that equivocate, and the secret they reveal.
type Equivocation struct {
	First, Second int // indices into the claims
	Secret        fr.Element
	Identity      fr.Element
}

// FindEquivocations groups claims by (network, epoch, nullifier) and returns, for every group
// that holds more than one x, its first claim paired with the first claim of each other x:
// linear in the number of claims, where comparing every pair is quadratic. The claims are
// taken as verified (it checks no proof); a pair whose recovered secret does not reproduce
// the nullifier (RecoverSecret) is not reported.
func FindEquivocations(claims []Claim) []Equivocation {
	type key struct {
		network, nullifier fr.Element
		epoch              uint64
	}
	groups := map[key][]int{}
	var order []key
	for i := range claims {
		st := &claims[i].Statement
		k := key{network: st.Network, nullifier: st.Nullifier, epoch: st.Epoch}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	var out []Equivocation
	for _, k := range order {
		idx := groups[k]
		first := &claims[idx[0]].Statement
		seen := map[fr.Element]bool{first.X: true}
		for _, j := range idx[1:] {
			st := &claims[j].Statement
			if seen[st.X] {
				continue
			}
			seen[st.X] = true
			s, _, err := RecoverSecret(first, st)
			if err != nil {
				continue
			}
			out = append(out, Equivocation{First: idx[0], Second: j, Secret: s, Identity: IdentityCommitment(s)})
		}
	}
	return out
}
