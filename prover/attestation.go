package prover

import (
	"fmt"
	"slices"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Roots gives the registry root sealed for an epoch, and an error for an epoch that has none
// yet. registry.Registry implements it.
type Roots interface {
	Root(epoch uint64) (fr.Element, error)
}

// Verifier verifies proofs as attestations: a valid pairing is not enough, the statement must
// be the one an attestation of this network and registry has. A proof verified by a bare
// pairing check (VerifyingKey.VerifyPairing) may carry any root, any network and any x: a
// key outside the registry proves against a registry of its own.
//
// Its callers see ErrWrongStatement (the statement is not of this network, registry or
// attestation), ErrInvalidProof and ErrMalformed.
type Verifier struct {
	Key     *VerifyingKey
	Network fr.Element // Network.ID of the chain the attestations are for
	Roots   Roots      // the registry's sealed roots
	// MinWeight is the least minimum weight a proof must show; 0 takes any.
	MinWeight uint64
}

// CheckStatement checks that st is a statement of this verifier's attestations: its network,
// its root the registry's sealed root of its epoch, its minimum weight at least MinWeight,
// and, when signingRoot is not nil, its x the MessageX of that signing root.
func (v *Verifier) CheckStatement(st *Statement, signingRoot *[32]byte) error {
	if v.Roots == nil {
		return fmt.Errorf("%w: verifier without registry roots", ErrBadInput)
	}
	if !st.Network.Equal(&v.Network) {
		return fmt.Errorf("%w: network %s, want %s", ErrWrongStatement, HexField(&st.Network), HexField(&v.Network))
	}
	root, err := v.Roots.Root(st.Epoch)
	if err != nil {
		return fmt.Errorf("%w: epoch %d: %w", ErrWrongStatement, st.Epoch, err)
	}
	if !st.Root.Equal(&root) {
		return fmt.Errorf("%w: root %s, the registry's root of epoch %d is %s", ErrWrongStatement, HexField(&st.Root), st.Epoch, HexField(&root))
	}
	if st.MinWeight < v.MinWeight {
		return fmt.Errorf("%w: minimum weight %d, want at least %d", ErrWrongStatement, st.MinWeight, v.MinWeight)
	}
	if signingRoot != nil {
		if x := MessageX(*signingRoot); !st.X.Equal(&x) {
			return fmt.Errorf("%w: x is not that of signing root %x", ErrWrongStatement, signingRoot[:])
		}
	}
	return nil
}

// Verify checks one claim as an attestation: CheckStatement, then the proof.
func (v *Verifier) Verify(c *Claim, signingRoot *[32]byte) error {
	if err := v.CheckStatement(&c.Statement, signingRoot); err != nil {
		return err
	}
	return v.Key.VerifyPairing(&c.Proof, &c.Statement)
}

// FindInvalid returns the indices, in increasing order, of the claims that are not valid
// attestations: a statement CheckStatement refuses (with signingRoots[i] when signingRoots is
// not nil; it then has one entry per claim) or a proof that does not verify. The proofs of
// the others are batch-verified (VerifyingKey.FindInvalid). reasons maps each bad index to
// why.
func (v *Verifier) FindInvalid(claims []Claim, signingRoots []*[32]byte) (bad []int, reasons map[int]error, err error) {
	if signingRoots != nil && len(signingRoots) != len(claims) {
		return nil, nil, fmt.Errorf("%w: %d signing roots for %d claims", ErrBadInput, len(signingRoots), len(claims))
	}
	reasons = map[int]error{}
	var rest []Claim
	var restIdx []int
	for i := range claims {
		var sr *[32]byte
		if signingRoots != nil {
			sr = signingRoots[i]
		}
		if err := v.CheckStatement(&claims[i].Statement, sr); err != nil {
			reasons[i] = err
			continue
		}
		rest = append(rest, claims[i])
		restIdx = append(restIdx, i)
	}
	if len(rest) > 0 {
		badProofs, err := v.Key.FindInvalid(rest)
		if err != nil {
			return nil, nil, err
		}
		for _, j := range badProofs {
			reasons[restIdx[j]] = fmt.Errorf("%w: pairing check failed", ErrInvalidProof)
		}
	}
	for i := range reasons {
		bad = append(bad, i)
	}
	slices.Sort(bad)
	return bad, reasons, nil
}
