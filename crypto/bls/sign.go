package bls

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"math/big"
	"math/bits"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

// Sign returns the signature of msg under sk: [sk]H(msg), H the ciphersuite's hash to G2.
// The scalar multiplication is blinded and runs a fixed sequence of group operations (see the
// package documentation).
func (sk *SecretKey) Sign(msg []byte) *Signature {
	h := hashToG2(msg)
	return &Signature{p: g2MulSecret(&h, sk.s)}
}

var (
	g1Gen bls12381.G1Affine
	g2Gen bls12381.G2Affine
	// g1GenNeg is -G1, the fixed first argument of the signature-side pairing e(-G1, sig).
	g1GenNeg bls12381.G1Affine

	// seedAbs is |z| for the BLS parameter z = -0xd201000000010000. On G2, psi(P) = [z]P, so
	// [|z|]P = -psi(P): a scalar written in base |z| needs only psi, never a multiplication.
	seedAbs uint64 = 0xd201000000010000

	// psiX, psiY: psi(x, y) = (psiX * conj(x), psiY * conj(y)) on the twist. Derived from the
	// generator at start-up (psi(G) = [z]G) rather than transcribed, and checked on random
	// points in the tests.
	psiX, psiY bls12381.E2

	// blindBits is the size of the random multiple of r added to the secret scalar. With
	// r < 2^255 the blinded scalar stays below |z|^5 (about 2^318.6), so it has five base-|z|
	// digits.
	blindBits = 62

	// rLimbs is the group order r as little-endian 64-bit limbs.
	rLimbs [4]uint64
)

func init() {
	_, _, g1Gen, g2Gen = bls12381.Generators()
	g1GenNeg.Neg(&g1Gen)

	var zg bls12381.G2Affine
	zg.ScalarMultiplication(&g2Gen, new(big.Int).SetUint64(seedAbs))
	zg.Neg(&zg) // [z]G with z negative
	var cx, cy bls12381.E2
	cx.Conjugate(&g2Gen.X)
	cy.Conjugate(&g2Gen.Y)
	psiX.Div(&zg.X, &cx)
	psiY.Div(&zg.Y, &cy)

	r := fr.Modulus()
	for i, w := range r.Bits() {
		rLimbs[i] = uint64(w)
	}
}

// psiAffine sets p = psi(q) for an affine point (infinity stays (0,0), which psi maps to itself).
func psiAffine(p, q *bls12381.G2Affine) {
	var x, y bls12381.E2
	x.Conjugate(&q.X).Mul(&x, &psiX)
	y.Conjugate(&q.Y).Mul(&y, &psiY)
	p.X, p.Y = x, y
}

// blindScalar returns s + k*r as little-endian limbs for a fresh random k < 2^blindBits, so that
// the digits a multiplication walks through differ at every call even for the same key.
func blindScalar(s *fr.Element) [5]uint64 {
	var kb [8]byte
	if _, err := rand.Read(kb[:]); err != nil {
		panic("bls: crypto/rand failed: " + err.Error()) // the platform's randomness is gone
	}
	k := binary.LittleEndian.Uint64(kb[:]) >> (64 - blindBits)
	reg := s.Bits() // regular (non-Montgomery) limbs, little-endian
	var out [5]uint64
	var carry uint64
	for i := 0; i < 4; i++ {
		hi, lo := bits.Mul64(k, rLimbs[i])
		var c1, c2 uint64
		lo, c1 = bits.Add64(lo, reg[i], 0)
		lo, c2 = bits.Add64(lo, carry, 0)
		out[i] = lo
		carry = hi + c1 + c2
	}
	out[4] = carry
	return out
}

// baseSeedDigits writes the 5-limb value v in base |z|: v = sum a[i]*|z|^i, each a[i] < |z|.
func baseSeedDigits(v [5]uint64) (a [5]uint64) {
	for d := 0; d < 5; d++ {
		var rem uint64
		for i := 4; i >= 0; i-- {
			v[i], rem = bits.Div64(rem, v[i], seedAbs)
		}
		a[d] = rem
	}
	return a
}

// windowBits is the width of the signed odd digits of the fixed-pattern multiplications.
const windowBits = 4

// recodeOdd rewrites an odd value (little-endian limbs) as top*16^n + sum d[i]*16^i with every
// d[i] odd in [-15, 15] and top odd and positive (Joye-Tunstall regular recoding): every window
// then adds a non-identity table point, so the ladder's operation sequence is fixed.
// n must be 16*len(v) or more for top to fit in a window.
func recodeOdd(v []uint64, d []int8) (top int8) {
	for i := range d {
		d[i] = int8(v[0]&31) - 16
		// v - d[i] has its low five bits equal to 16: clear them, set bit 4, shift. No carry.
		v[0] = (v[0] &^ 31) | 16
		for j := 0; j < len(v)-1; j++ {
			v[j] = v[j]>>windowBits | v[j+1]<<(64-windowBits)
		}
		v[len(v)-1] >>= windowBits
	}
	return int8(v[0])
}

// digitParts splits an odd signed digit into its table index (|d|-1)/2 and a sign flag 0/1,
// without branching on the digit.
func digitParts(d int8) (idx int, neg int) {
	m := int(d) >> 7 // all ones when negative
	abs := (int(d) ^ m) - m
	return abs >> 1, m & 1
}

// g2Lookup sets p = sign*table[idx] by scanning every entry with constant-time moves.
func g2Lookup(p *bls12381.G2Affine, table *[8]bls12381.G2Affine, idx, neg int) {
	for j := range table {
		eq := subtle.ConstantTimeEq(int32(j), int32(idx))
		p.X.Select(eq, &p.X, &table[j].X)
		p.Y.Select(eq, &p.Y, &table[j].Y)
	}
	var ny bls12381.E2
	ny.Neg(&p.Y)
	p.Y.Select(neg, &p.Y, &ny)
}

// g1Lookup is g2Lookup on G1.
func g1Lookup(p *bls12381.G1Affine, table *[8]bls12381.G1Affine, idx, neg int) {
	for j := range table {
		eq := subtle.ConstantTimeEq(int32(j), int32(idx))
		p.X.Select(eq, &p.X, &table[j].X)
		p.Y.Select(eq, &p.Y, &table[j].Y)
	}
	ny := p.Y
	ny.Neg(&ny)
	p.Y.Select(neg, &p.Y, &ny)
}

// g2OddMultiples returns [1]P, [3]P, ..., [15]P in affine form with one field inversion.
func g2OddMultiples(p *bls12381.G2Affine) (t [8]bls12381.G2Affine) {
	var jac [8]bls12381.G2Jac
	var two bls12381.G2Jac
	jac[0].FromAffine(p)
	two.Double(&jac[0])
	for i := 1; i < 8; i++ {
		jac[i].Set(&jac[i-1]).AddAssign(&two)
	}
	// Montgomery's batch inversion of the Z coordinates.
	var acc [8]bls12381.E2
	acc[0] = jac[0].Z
	for i := 1; i < 8; i++ {
		acc[i].Mul(&acc[i-1], &jac[i].Z)
	}
	var inv bls12381.E2
	inv.Inverse(&acc[7])
	for i := 7; i >= 0; i-- {
		var zi bls12381.E2
		if i > 0 {
			zi.Mul(&inv, &acc[i-1])
			inv.Mul(&inv, &jac[i].Z)
		} else {
			zi = inv
		}
		var zi2, zi3 bls12381.E2
		zi2.Square(&zi)
		zi3.Mul(&zi2, &zi)
		t[i].X.Mul(&jac[i].X, &zi2)
		t[i].Y.Mul(&jac[i].Y, &zi3)
	}
	return t
}

// g2MulSecret returns [s]P for a secret scalar s with a fixed operation sequence: blinded
// scalar, five base-|z| digits applied through psi, odd signed 4-bit windows.
func g2MulSecret(p *bls12381.G2Affine, s *fr.Element) bls12381.G2Affine {
	a := baseSeedDigits(blindScalar(s))

	// Make every digit odd for the regular recoding; remember which were bumped (e[i] = 1) and
	// take the extra base point back out at the end.
	var e [5]int
	for i := range a {
		e[i] = int(1 - a[i]&1)
		a[i] += uint64(e[i]) // a[i] < |z| < 2^64, so no overflow
	}

	// Tables for the bases B_i = (-psi)^i (P): [|z|^i]P = (-psi)^i(P).
	var tables [5][8]bls12381.G2Affine
	tables[0] = g2OddMultiples(p)
	for i := 1; i < 5; i++ {
		for j := range tables[i] {
			psiAffine(&tables[i][j], &tables[i-1][j])
			tables[i][j].Y.Neg(&tables[i][j].Y)
		}
	}

	const nDigits = 64 / windowBits
	var digits [5][nDigits]int8
	var tops [5]int8
	for i := range a {
		v := []uint64{a[i]}
		tops[i] = recodeOdd(v, digits[i][:])
	}

	var acc bls12381.G2Jac
	var pt bls12381.G2Affine
	for i := range tables {
		idx, neg := digitParts(tops[i])
		g2Lookup(&pt, &tables[i], idx, neg)
		if i == 0 {
			acc.FromAffine(&pt)
		} else {
			acc.AddMixed(&pt)
		}
	}
	for w := nDigits - 1; w >= 0; w-- {
		for k := 0; k < windowBits; k++ {
			acc.DoubleAssign()
		}
		for i := range tables {
			idx, neg := digitParts(digits[i][w])
			g2Lookup(&pt, &tables[i], idx, neg)
			acc.AddMixed(&pt)
		}
	}
	for i := range tables {
		var fixed bls12381.G2Jac
		fixed.Set(&acc)
		var b bls12381.G2Affine
		b.Neg(&tables[i][0])
		fixed.AddMixed(&b)
		acc.X.Select(e[i], &acc.X, &fixed.X)
		acc.Y.Select(e[i], &acc.Y, &fixed.Y)
		acc.Z.Select(e[i], &acc.Z, &fixed.Z)
	}
	var out bls12381.G2Affine
	out.FromJacobian(&acc)
	return out
}

// g1MulSecret returns [s]P on G1 with the same blinding and regular recoding, without an
// endomorphism split: it derives public keys, which is rare.
func g1MulSecret(p *bls12381.G1Affine, s *fr.Element) bls12381.G1Affine {
	v := blindScalar(s)
	// Make the blinded scalar odd for the regular recoding by adding r when it is even: r is odd,
	// and adding it does not change the scalar modulo r.
	even := 1 - v[0]&1
	var c uint64
	for i := 0; i < 4; i++ {
		v[i], c = bits.Add64(v[i], rLimbs[i]&-even, c)
	}
	v[4] += c

	var jac [8]bls12381.G1Jac
	var two bls12381.G1Jac
	jac[0].FromAffine(p)
	two.Double(&jac[0])
	for i := 1; i < 8; i++ {
		jac[i].Set(&jac[i-1]).AddAssign(&two)
	}
	var table [8]bls12381.G1Affine
	copy(table[:], bls12381.BatchJacobianToAffineG1(jac[:]))

	const nDigits = 5 * 64 / windowBits
	var digits [nDigits]int8
	top := recodeOdd(v[:], digits[:])

	var acc bls12381.G1Jac
	var pt bls12381.G1Affine
	idx, neg := digitParts(top)
	g1Lookup(&pt, &table, idx, neg)
	acc.FromAffine(&pt)
	for w := nDigits - 1; w >= 0; w-- {
		for k := 0; k < windowBits; k++ {
			acc.DoubleAssign()
		}
		idx, neg := digitParts(digits[w])
		g1Lookup(&pt, &table, idx, neg)
		acc.AddMixed(&pt)
	}
	var out bls12381.G1Affine
	out.FromJacobian(&acc)
	return out
}
