package prover

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254"
)

// ProofRawSize is the length of a proof in the uncompressed encoding: A, B, C with both
// coordinates of every point.
const ProofRawSize = bn254.SizeOfG1AffineUncompressed + bn254.SizeOfG2AffineUncompressed + bn254.SizeOfG1AffineUncompressed

// RawBytes encodes the proof as A | B | C in gnark-crypto's uncompressed point encoding (x then
// y, big-endian; G2 coordinates imaginary part first). It is 128 bytes longer than Bytes and
// decodes without the square roots that decompression needs (ProofsFromRawBytes): the form
// for a receiver that decodes proofs by the million, such as a pool.
func (p *Proof) RawBytes() [ProofRawSize]byte {
	var out [ProofRawSize]byte
	a, b, c := p.A.RawBytes(), p.B.RawBytes(), p.C.RawBytes()
	n := copy(out[:], a[:])
	n += copy(out[n:], b[:])
	copy(out[n:], c[:])
	return out
}

// ProofFromRawBytes decodes one proof written by RawBytes, with the checks of
// ProofsFromRawBytes.
func ProofFromRawBytes(b []byte) (*Proof, error) {
	ps, errs := ProofsFromRawBytes([][]byte{b})
	if errs[0] != nil {
		return nil, errs[0]
	}
	return ps[0], nil
}

// ProofsFromRawBytes decodes many proofs written by RawBytes and returns, per input, the proof
// or the reason it was refused (ErrMalformed): a wrong length, a coordinate that is not a
// canonical field element, a point at infinity, off its curve, or B outside G2.
//
// G1 of BN254 has cofactor 1, so an on-curve check is A's and C's subgroup check. B's G2
// subgroup checks are batched (gnark-crypto's IsInSubGroupBatchG2): from 160 points on it
// checks 64 random subset sums instead of every point, each sum costing half an addition per
// point. A point with a component outside G2 survives one random subset with probability at
// most 1/2 (given the other choices, at most one of "in" and "out" cancels it), so a batch
// with a bad point passes with probability at most 2⁻⁶⁴. Every point is checked on the
// curve first (the sums are only meaningful for points of the twist). When the batch check
// fails, each point is checked alone to name the bad ones.
func ProofsFromRawBytes(bufs [][]byte) ([]*Proof, []error) {
	proofs := make([]*Proof, len(bufs))
	errs := make([]error, len(bufs))
	bs := make([]bn254.G2Affine, 0, len(bufs))
	idx := make([]int, 0, len(bufs))
	for i, b := range bufs {
		p, err := rawProofPoints(b)
		if err != nil {
			errs[i] = err
			continue
		}
		proofs[i] = p
		bs = append(bs, p.B)
		idx = append(idx, i)
	}
	if len(bs) > 0 && !bn254.IsInSubGroupBatchG2(bs) {
		for k, i := range idx {
			if !bs[k].IsInSubGroup() {
				proofs[i] = nil
				errs[i] = fmt.Errorf("%w: proof point B outside G2", ErrMalformed)
			}
		}
	}
	for _, i := range idx {
		if p := proofs[i]; p != nil {
			p.bChecked = p.B
		}
	}
	return proofs, errs
}

// rawProofPoints decodes the three points of an uncompressed proof and checks each on its
// curve and not at infinity; B's subgroup is left to the caller.
func rawProofPoints(b []byte) (*Proof, error) {
	if len(b) != ProofRawSize {
		return nil, fmt.Errorf("%w: raw proof of %d bytes, want %d", ErrMalformed, len(b), ProofRawSize)
	}
	// Every uncompressed point starts with the two flag bits clear (x is below 2^254); the
	// compressed and infinity forms are refused here rather than decoded with square roots.
	const g1, g2 = bn254.SizeOfG1AffineUncompressed, bn254.SizeOfG2AffineUncompressed
	for _, off := range [3]int{0, g1, g1 + g2} {
		if b[off]&0xc0 != 0 {
			return nil, fmt.Errorf("%w: raw proof point at offset %d is not in uncompressed form", ErrMalformed, off)
		}
	}
	var p Proof
	if err := p.A.X.SetBytesCanonical(b[0:32]); err != nil {
		return nil, fmt.Errorf("%w: proof point A: %v", ErrMalformed, err)
	}
	if err := p.A.Y.SetBytesCanonical(b[32:64]); err != nil {
		return nil, fmt.Errorf("%w: proof point A: %v", ErrMalformed, err)
	}
	o := g1
	if err := p.B.X.A1.SetBytesCanonical(b[o : o+32]); err != nil {
		return nil, fmt.Errorf("%w: proof point B: %v", ErrMalformed, err)
	}
	if err := p.B.X.A0.SetBytesCanonical(b[o+32 : o+64]); err != nil {
		return nil, fmt.Errorf("%w: proof point B: %v", ErrMalformed, err)
	}
	if err := p.B.Y.A1.SetBytesCanonical(b[o+64 : o+96]); err != nil {
		return nil, fmt.Errorf("%w: proof point B: %v", ErrMalformed, err)
	}
	if err := p.B.Y.A0.SetBytesCanonical(b[o+96 : o+128]); err != nil {
		return nil, fmt.Errorf("%w: proof point B: %v", ErrMalformed, err)
	}
	o += g2
	if err := p.C.X.SetBytesCanonical(b[o : o+32]); err != nil {
		return nil, fmt.Errorf("%w: proof point C: %v", ErrMalformed, err)
	}
	if err := p.C.Y.SetBytesCanonical(b[o+32 : o+64]); err != nil {
		return nil, fmt.Errorf("%w: proof point C: %v", ErrMalformed, err)
	}
	switch {
	case p.A.IsInfinity(), p.B.IsInfinity(), p.C.IsInfinity():
		return nil, fmt.Errorf("%w: proof point at infinity", ErrMalformed)
	case !p.A.IsOnCurve():
		return nil, fmt.Errorf("%w: proof point A off the curve", ErrMalformed)
	case !p.C.IsOnCurve():
		return nil, fmt.Errorf("%w: proof point C off the curve", ErrMalformed)
	case !p.B.IsOnCurve():
		return nil, fmt.Errorf("%w: proof point B off the twist", ErrMalformed)
	}
	return &p, nil
}
