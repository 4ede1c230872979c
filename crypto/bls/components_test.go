package bls

import (
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// Component costs behind Verify and BatchVerify, to see where time goes.
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

func BenchmarkLines(b *testing.B) {
	sk, _ := GenerateSecretKey()
	msg := []byte("component benchmark message.....")
	sig := sk.Sign(msg)
	pk := sk.PublicKey()
	h := hashToG2(msg)
	b.Run("PrecomputeLines", func(b *testing.B) {
		for b.Loop() {
			bls12381.PrecomputeLines(h)
		}
	})
	lh := bls12381.PrecomputeLines(h)
	ls := bls12381.PrecomputeLines(sig.p)
	lines := [][2][len(bls12381.LoopCounter) - 1]bls12381.LineEvaluationAff{lh, ls}
	b.Run("MillerLoopFixedQ2", func(b *testing.B) {
		for b.Loop() {
			bls12381.MillerLoopFixedQ([]bls12381.G1Affine{pk.p, g1GenNeg}, lines)
		}
	})
}

func BenchmarkTwoCoreScaling(b *testing.B) {
	sk, _ := GenerateSecretKey()
	h := hashToG2([]byte("x"))
	pk := sk.PublicKey()
	ml := func() { bls12381.MillerLoop([]bls12381.G1Affine{pk.p}, []bls12381.G2Affine{h}) }
	b.Run("sequential2", func(b *testing.B) {
		for b.Loop() {
			ml()
			ml()
		}
	})
	b.Run("parallel2", func(b *testing.B) {
		for b.Loop() {
			done := make(chan struct{})
			go func() { ml(); close(done) }()
			ml()
			<-done
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
