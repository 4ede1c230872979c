package bls

import (
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// Component costs behind Verify and BatchVerify, to see where time goes. A 2-pair Miller loop
// (shared squarings) costs less CPU than two 1-pair loops, but Verify still hashes on one core
// while the signature-side loop runs on another: on real cores the critical path (hash, one
// loop, final exponentiation) is shorter; BenchmarkVerifyModes compares the two.
func BenchmarkComponents(b *testing.B) {
	sk, _ := GenerateSecretKey()
	msg := []byte("component benchmark message.....")
	sig := sk.Sign(msg)
	pk := sk.PublicKey()
	h := hashToG2(msg)
	b.Run("MillerLoop1", func(b *testing.B) {
		for b.Loop() {
			bls12381.MillerLoop([]bls12381.G1Affine{pk.p}, []bls12381.G2Affine{h})
		}
	})
	b.Run("MillerLoop2", func(b *testing.B) {
		for b.Loop() {
			bls12381.MillerLoop([]bls12381.G1Affine{pk.p, g1GenNeg}, []bls12381.G2Affine{h, sig.p})
		}
	})
	ml, _ := bls12381.MillerLoop([]bls12381.G1Affine{pk.p}, []bls12381.G2Affine{h})
	b.Run("FinalExp", func(b *testing.B) {
		for b.Loop() {
			bls12381.FinalExponentiation(&ml)
		}
	})
	v := NewVerifier(512)
	for i := 0; i < 512; i++ {
		v.Add(SignatureSet{PublicKey: pk, Message: msg, Signature: sig})
	}
	order := make([]int, 512)
	for i := range order {
		order[i] = i
	}
	r := randomScalars(512)
	b.Run("WeightedSignatures512", func(b *testing.B) {
		for b.Loop() {
			v.weightedSignatures(order, r)
		}
	})
}

func BenchmarkVerifyModes(b *testing.B) {
	sk, _ := GenerateSecretKey()
	msg := []byte("component benchmark message.....")
	sig := sk.Sign(msg)
	pk := sk.PublicKey()
	b.Run("sequential", func(b *testing.B) {
		for b.Loop() {
			h := hashToG2(msg)
			if !pairingProductIsOne([]bls12381.G1Affine{pk.p, g1GenNeg}, []bls12381.G2Affine{h, sig.p}) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		for b.Loop() {
			if !verifyPoint(&pk.p, msg, &sig.p) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("hash", func(b *testing.B) {
		for b.Loop() {
			hashToG2(msg)
		}
	})
}
