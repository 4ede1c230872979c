package bls

import (
	"crypto/rand"
	"testing"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fp"
)

// The variable-time map must give exactly gnark-crypto's (RFC 9380) map, square and
// non-square branches and the exceptional inputs included.
func TestMapToCurveMatchesGnark(t *testing.T) {
	inputs := []bls12381.E2{{}, {A0: fp.One()}}
	var minusOne bls12381.E2
	minusOne.A0.SetOne()
	minusOne.Neg(&minusOne)
	inputs = append(inputs, minusOne)
	for i := 0; i < 300; i++ {
		var u bls12381.E2
		u.A0.SetRandom()
		u.A1.SetRandom()
		if i%10 == 0 {
			u.A1.SetZero() // purely real inputs take E2.Sqrt's special branch
		}
		inputs = append(inputs, u)
	}
	nonSquare := 0
	for i := range inputs {
		got := mapToCurve2(&inputs[i])
		want := bls12381.MapToCurve2(&inputs[i])
		if !got.Equal(&want) {
			t.Fatalf("input %d: map differs from gnark-crypto", i)
		}
		var gx, y2 bls12381.E2
		curveRHS(&gx, &got.X)
		if y2.Square(&got.Y); !y2.Equal(&gx) {
			t.Fatalf("input %d: image not on the isogenous curve", i)
		}
		if firstCandidateNonSquare(&inputs[i]) {
			nonSquare++
		}
	}
	if nonSquare == 0 || nonSquare == len(inputs) {
		t.Fatalf("only one branch of the map exercised (%d of %d non-square)", nonSquare, len(inputs))
	}
	for i := 0; i < 50; i++ {
		msg := make([]byte, i)
		rand.Read(msg)
		got := hashToG2(msg)
		want, err := bls12381.HashToG2(msg, DST)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(&want) {
			t.Fatalf("message %d: hash differs from gnark-crypto", i)
		}
	}
}

// firstCandidateNonSquare reports whether the map takes its second branch for u.
func firstCandidateNonSquare(u *bls12381.E2) bool {
	var tv1, tv2, x1, gx bls12381.E2
	tv1.Square(u)
	tv1.Mul(&tv1, &sswuZ)
	tv2.Square(&tv1).Add(&tv2, &tv1)
	if tv2.IsZero() {
		x1 = sswuBOverZA
	} else {
		var one bls12381.E2
		one.SetOne()
		tv2.Inverse(&tv2).Add(&tv2, &one)
		x1.Mul(&sswuMinusBOverA, &tv2)
	}
	curveRHS(&gx, &x1)
	return gx.Legendre() < 0
}
