package bls

import (
	"runtime"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// Verify reports whether sig is a valid signature of msg under pk (CoreVerify of the
// ciphersuite). A nil or identity key or signature is never valid.
func Verify(pk *PublicKey, msg []byte, sig *Signature) bool {
	if pk == nil || sig == nil || pk.p.IsInfinity() || sig.p.IsInfinity() {
		return false
	}
	return verifyPoint(&pk.p, msg, &sig.p)
}

// verifyPoint checks e(pk, H(msg)) * e(-G1, sig) == 1. With more than one core it hashes the
// message while the signature-side Miller loop runs; on one core a single two-pair Miller loop
// (shared squarings) is cheaper than two separate ones.
func verifyPoint(pk *bls12381.G1Affine, msg []byte, sig *bls12381.G2Affine) bool {
	if runtime.GOMAXPROCS(0) == 1 {
		h := hashToG2(msg)
		return pairingProductIsOne([]bls12381.G1Affine{*pk, g1GenNeg}, []bls12381.G2Affine{h, *sig})
	}
	sigSide := make(chan bls12381.GT, 1)
	go func() {
		ml, err := bls12381.MillerLoop([]bls12381.G1Affine{g1GenNeg}, []bls12381.G2Affine{*sig})
		if err != nil {
			panic("bls: miller loop on equal-length inputs failed: " + err.Error())
		}
		sigSide <- ml
	}()
	h := hashToG2(msg)
	if h.IsInfinity() {
		<-sigSide
		return false
	}
	ml, err := bls12381.MillerLoop([]bls12381.G1Affine{*pk}, []bls12381.G2Affine{h})
	if err != nil {
		panic("bls: miller loop on equal-length inputs failed: " + err.Error())
	}
	s := <-sigSide
	ml.Mul(&ml, &s)
	fe := bls12381.FinalExponentiation(&ml)
	return fe.IsOne()
}

// Aggregate adds signatures (the ciphersuite's Aggregate). It is an error to aggregate nothing.
func Aggregate(sigs []*Signature) (*Signature, error) {
	if len(sigs) == 0 {
		return nil, ErrEmpty
	}
	var acc bls12381.G2Jac
	for i, s := range sigs {
		if s == nil {
			return nil, ErrInvalidSignature
		}
		if i == 0 {
			acc.FromAffine(&s.p)
		} else {
			acc.AddMixed(&s.p)
		}
	}
	var out Signature
	out.p.FromJacobian(&acc)
	return &out, nil
}

// AggregatePublicKeys adds public keys, for FastAggregateVerify-style checks by callers that
// reuse an aggregate. It is an error to aggregate nothing; the sum may be the identity, which
// then never verifies.
func AggregatePublicKeys(pks []*PublicKey) (*PublicKey, error) {
	p, err := sumPublicKeys(pks)
	if err != nil {
		return nil, err
	}
	return &PublicKey{p: p}, nil
}

func sumPublicKeys(pks []*PublicKey) (bls12381.G1Affine, error) {
	var out bls12381.G1Affine
	if len(pks) == 0 {
		return out, ErrEmpty
	}
	var acc bls12381.G1Jac
	for i, pk := range pks {
		if pk == nil || pk.p.IsInfinity() {
			return out, ErrInvalidPublicKey
		}
		if i == 0 {
			acc.FromAffine(&pk.p)
		} else {
			acc.AddMixed(&pk.p)
		}
	}
	out.FromJacobian(&acc)
	return out, nil
}

// FastAggregateVerify reports whether sig is the aggregate of signatures of msg by every key in
// pks (the same message). False for an empty list, and when the keys sum to the identity.
func FastAggregateVerify(pks []*PublicKey, msg []byte, sig *Signature) bool {
	if sig == nil || sig.p.IsInfinity() {
		return false
	}
	agg, err := sumPublicKeys(pks)
	if err != nil || agg.IsInfinity() {
		return false
	}
	return verifyPoint(&agg, msg, &sig.p)
}

// AggregateVerify reports whether sig aggregates signatures of msgs[i] by pks[i]. The
// proof-of-possession scheme does not require distinct messages. False for empty or mismatched
// lists.
func AggregateVerify(pks []*PublicKey, msgs [][]byte, sig *Signature) bool {
	if len(pks) == 0 || len(pks) != len(msgs) || sig == nil || sig.p.IsInfinity() {
		return false
	}
	ps := make([]bls12381.G1Affine, len(pks)+1)
	qs := make([]bls12381.G2Affine, len(pks)+1)
	for i, pk := range pks {
		if pk == nil || pk.p.IsInfinity() {
			return false
		}
		ps[i] = pk.p
	}
	parallelChunks(len(msgs), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			qs[i] = hashToG2(msgs[i])
		}
	})
	ps[len(pks)] = g1GenNeg
	qs[len(pks)] = sig.p
	return pairingProductIsOne(ps, qs)
}
