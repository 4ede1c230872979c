package prover

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// ProofSize is the length of an encoded proof: A, B, C compressed.
const ProofSize = bn254.SizeOfG1AffineCompressed + bn254.SizeOfG2AffineCompressed + bn254.SizeOfG1AffineCompressed

// Proof is a plain Groth16 proof over BN254: A and C in G1, B in G2.
//
// Verification needs B in the prime-order subgroup of the twist, a check that costs about as
// much as a fifth of a batch verification. Proofs from ProofFromBytes, ClaimFromSnarkjs and
// the provers were checked (or made) that way and carry a mark that lets Verify and
// BatchVerify skip it; a Proof assembled by hand, or whose B is changed, is checked in full.
type Proof struct {
	A bn254.G1Affine
	B bn254.G2Affine
	C bn254.G1Affine

	bChecked bn254.G2Affine // B when it was last found in G2
}

// Bytes encodes the proof as A | B | C in gnark-crypto's compressed point encoding (the
// zcash/arkworks-style flags in the top bits of the first byte of each point).
func (p *Proof) Bytes() [ProofSize]byte {
	var out [ProofSize]byte
	a, b, c := p.A.Bytes(), p.B.Bytes(), p.C.Bytes()
	n := copy(out[:], a[:])
	n += copy(out[n:], b[:])
	copy(out[n:], c[:])
	return out
}

// ProofFromBytes decodes a proof written by Bytes. It refuses points off the curve, outside
// the prime-order subgroup, or at infinity: gnark-crypto's Miller loop skips pairs with a point
// at infinity, so such a point must never reach a pairing. (gnark-crypto's SetBytes solves the
// curve equation and checks the subgroup; the infinity check is this package's.)
func ProofFromBytes(b []byte) (*Proof, error) {
	if len(b) != ProofSize {
		return nil, fmt.Errorf("%w: proof of %d bytes, want %d", ErrMalformed, len(b), ProofSize)
	}
	var p Proof
	n, err := p.A.SetBytes(b)
	if err != nil || n != bn254.SizeOfG1AffineCompressed {
		return nil, fmt.Errorf("%w: proof point A: %v", ErrMalformed, err)
	}
	b = b[n:]
	if n, err = p.B.SetBytes(b); err != nil || n != bn254.SizeOfG2AffineCompressed {
		return nil, fmt.Errorf("%w: proof point B: %v", ErrMalformed, err)
	}
	b = b[n:]
	if n, err = p.C.SetBytes(b); err != nil || n != bn254.SizeOfG1AffineCompressed {
		return nil, fmt.Errorf("%w: proof point C: %v", ErrMalformed, err)
	}
	if p.A.IsInfinity() || p.B.IsInfinity() || p.C.IsInfinity() {
		return nil, fmt.Errorf("%w: proof point at infinity", ErrMalformed)
	}
	p.bChecked = p.B
	return &p, nil
}

// check refuses points at infinity and points off the curve or outside their subgroup (G1 of
// BN254 has cofactor 1, so being on the curve is enough there).
func (p *Proof) check() error {
	switch {
	case p.A.IsInfinity(), p.B.IsInfinity(), p.C.IsInfinity():
		return fmt.Errorf("%w: proof point at infinity", ErrMalformed)
	case !p.A.IsOnCurve(), !p.C.IsOnCurve():
		return fmt.Errorf("%w: proof point off the curve", ErrMalformed)
	case p.bChecked != p.B && !p.B.IsInSubGroup():
		return fmt.Errorf("%w: proof point B outside G2", ErrMalformed)
	}
	return nil
}

// gnark returns the proof in gnark's type, for gnark's verifier and Solidity calldata.
func (p *Proof) gnark() *groth16bn254.Proof {
	return &groth16bn254.Proof{Ar: p.A, Bs: p.B, Krs: p.C}
}

// proofFromGnark wraps a proof gnark's prover made: B is in G2 by construction.
func proofFromGnark(g *groth16bn254.Proof) *Proof {
	return &Proof{A: g.Ar, B: g.Bs, C: g.Krs, bChecked: g.Bs}
}
