package bls

import (
	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fp"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/hash_to_curve"
)

// hashToG2 is the ciphersuite's hash_to_curve (RFC 9380, BLS12381G2_XMD:SHA-256_SSWU_RO_) with
// the POP DST.
//
// It computes the same points as gnark-crypto's HashToG2 but about twice as fast: gnark-crypto
// takes square roots with the RFC's constant-time sqrt_ratio, a generic square-and-multiply
// exponentiation in Fp2. Messages are public (signing roots), so the map here may branch on
// them: it tests squareness with a binary-GCD Legendre symbol and takes one Fp2 square root
// through two Fp addition-chain exponentiations. TestMapToCurveMatchesGnark pins the result to
// gnark-crypto's map, and the RFC 9380 vectors to the standard.
func hashToG2(msg []byte) bls12381.G2Affine {
	return hashToG2DST(msg, DST)
}

func hashToG2DST(msg, dst []byte) bls12381.G2Affine {
	u, err := fp.Hash(msg, dst, 4)
	if err != nil {
		// fp.Hash only fails for a DST over 255 bytes; ours are constants.
		panic("bls: hash to field: " + err.Error())
	}
	q0 := mapToCurve2(&bls12381.E2{A0: u[0], A1: u[1]})
	q1 := mapToCurve2(&bls12381.E2{A0: u[2], A1: u[3]})
	hash_to_curve.G2Isogeny(&q0.X, &q0.Y)
	hash_to_curve.G2Isogeny(&q1.X, &q1.Y)
	var j0, j1 bls12381.G2Jac
	j0.FromAffine(&q0)
	j1.FromAffine(&q1).AddAssign(&j0)
	j1.ClearCofactor(&j1)
	var out bls12381.G2Affine
	out.FromJacobian(&j1)
	return out
}

var sswuA, sswuB, sswuZ, sswuBOverZA, sswuMinusBOverA bls12381.E2

func init() {
	sswuA, sswuB = hash_to_curve.G2SSWUIsogenyCurveCoefficients()
	sswuZ = hash_to_curve.G2SSWUIsogenyZ()
	var za, ia bls12381.E2
	za.Mul(&sswuZ, &sswuA)
	sswuBOverZA.Div(&sswuB, &za)
	ia.Inverse(&sswuA)
	sswuMinusBOverA.Mul(&sswuB, &ia).Neg(&sswuMinusBOverA)
}

// mapToCurve2 is the simplified SWU map onto the curve 3-isogenous to G2's (RFC 9380 section
// 6.6.2), in its straightforward variable-time form.
func mapToCurve2(u *bls12381.E2) bls12381.G2Affine {
	var tv1, tv2, x1, gx, y bls12381.E2
	tv1.Square(u)
	hash_to_curve.G2MulByZ(&tv1, &tv1) // Z*u^2
	tv2.Square(&tv1).Add(&tv2, &tv1)   // Z^2*u^4 + Z*u^2
	if tv2.IsZero() {
		x1 = sswuBOverZA // exceptional case
	} else {
		var one bls12381.E2
		one.SetOne()
		tv2.Inverse(&tv2).Add(&tv2, &one)
		x1.Mul(&sswuMinusBOverA, &tv2)
	}
	curveRHS(&gx, &x1)
	x := x1
	if gx.Legendre() < 0 {
		// g(Z*u^2*x1) = (Z*u^2)^3 * g(x1), and it is then a square.
		x.Mul(&tv1, &x1)
		var t3 bls12381.E2
		t3.Square(&tv1).Mul(&t3, &tv1)
		gx.Mul(&gx, &t3)
	}
	y.Sqrt(&gx)
	if hash_to_curve.G2Sgn0(u) != hash_to_curve.G2Sgn0(&y) {
		y.Neg(&y)
	}
	return bls12381.G2Affine{X: x, Y: y}
}

// curveRHS sets z = x^3 + A*x + B on the isogenous curve.
func curveRHS(z, x *bls12381.E2) {
	var t bls12381.E2
	t.Square(x).Add(&t, &sswuA).Mul(&t, x)
	z.Add(&t, &sswuB)
}
