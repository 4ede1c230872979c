package prover

import (
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

func randomG1(t testing.TB, n int) []bn254.G1Affine {
	_, _, g1, _ := bn254.Generators()
	sc := make([]fr.Element, n)
	for i := range sc {
		if _, err := sc[i].SetRandom(); err != nil {
			t.Fatal(err)
		}
	}
	return bn254.BatchScalarMultiplicationG1(&g1, sc)
}

func TestSignedDigits(t *testing.T) {
	// Every window windowBits may choose: with c = 3 the top window of r-1 holds 3 and takes a
	// carry to 4 = 2^(c-1), which the digits used to lose.
	for c := uint(2); c <= 16; c++ {
		for trial := 0; trial < 50; trial++ {
			var s fr.Element
			switch trial {
			case 0:
				s.SetZero()
			case 1:
				s.SetOne()
			case 2:
				s.SetOne().Neg(&s) // r - 1, the largest scalar
			default:
				s.SetRandom()
			}
			d := make([]int32, windowsFor(c))
			signedDigits(&s, c, d)
			var acc, pow, t2 fr.Element
			pow.SetOne()
			var base fr.Element
			base.SetUint64(1 << c)
			for j, v := range d {
				lo, hi := int32(-(1 << (c - 1))), int32(1<<(c-1)-1)
				if j == len(d)-1 {
					lo, hi = 0, 1<<(c-1) // the top digit takes the last carry
				}
				if v < lo || v > hi {
					t.Fatalf("c=%d: digit %d = %d out of [%d, %d]", c, j, v, lo, hi)
				}
				t2.SetInt64(int64(v)).Mul(&t2, &pow)
				acc.Add(&acc, &t2)
				pow.Mul(&pow, &base)
			}
			if !acc.Equal(&s) {
				t.Fatalf("c=%d: digits of %s recompose to %s", c, s.String(), acc.String())
			}
		}
	}
}

func TestFixedBaseMSMG1(t *testing.T) {
	bases := randomG1(t, 300)
	// Repeated and opposite bases drive buckets through doubling and cancellation.
	bases[7] = bases[3]
	bases[8].Neg(&bases[3])
	bases[9] = bn254.G1Affine{} // infinity
	for _, c := range []uint{4, 8, 11} {
		f := newFixedBaseG1(bases, c)
		var s msmScratchG1
		for trial := 0; trial < 3; trial++ {
			sc := make([]fr.Element, len(bases))
			for i := range sc {
				sc[i].SetRandom()
			}
			sc[5].SetZero()
			sc[6].SetOne()
			sc[7] = sc[3]
			sc[8] = sc[3]
			if trial == 2 {
				for i := range sc {
					sc[i].SetUint64(uint64(i % 3)) // tiny scalars: many equal digits
				}
			}
			got := f.multiExp(sc, &s)
			var want bn254.G1Jac
			if _, err := want.MultiExp(bases, sc, ecc.MultiExpConfig{NbTasks: 1}); err != nil {
				t.Fatal(err)
			}
			if !got.Equal(&want) {
				t.Fatalf("c=%d trial %d: fixed-base MSM differs from gnark-crypto", c, trial)
			}
		}
	}
}

func TestFixedBaseMSMG2(t *testing.T) {
	_, _, _, g2 := bn254.Generators()
	bases := make([]bn254.G2Affine, 200)
	for i := range bases {
		var s fr.Element
		s.SetRandom()
		var b big.Int
		bases[i].ScalarMultiplication(&g2, s.BigInt(&b))
	}
	bases[7] = bases[3]
	bases[8].Neg(&bases[3])
	bases[9] = bn254.G2Affine{}
	for _, c := range []uint{4, 9} {
		f := newFixedBaseG2(bases, c)
		var s msmScratchG2
		for trial := 0; trial < 2; trial++ {
			sc := make([]fr.Element, len(bases))
			for i := range sc {
				sc[i].SetRandom()
			}
			sc[5].SetZero()
			sc[7] = sc[3]
			sc[8] = sc[3]
			if trial == 1 {
				for i := range sc {
					sc[i].SetUint64(uint64(i % 3))
				}
			}
			got := f.multiExp(sc, &s)
			var want bn254.G2Jac
			if _, err := want.MultiExp(bases, sc, ecc.MultiExpConfig{NbTasks: 1}); err != nil {
				t.Fatal(err)
			}
			if !got.Equal(&want) {
				t.Fatalf("c=%d trial %d: fixed-base G2 MSM differs from gnark-crypto", c, trial)
			}
		}
	}
}

func TestMulGLV64(t *testing.T) {
	p := randomG1(t, 1)[0]
	g := endomorphism()
	var phi, lp bn254.G1Affine
	phi.X.Mul(&p.X, &g.omega)
	phi.Y = p.Y
	var lb big.Int
	lp.ScalarMultiplication(&p, g.lambda.BigInt(&lb))
	if !phi.Equal(&lp) {
		t.Fatal("φ(P) != λ·P")
	}
	for _, k := range [][2]uint64{{0, 0}, {1, 0}, {0, 1}, {7, 3}, {^uint64(0), ^uint64(0)}, {1 << 63, 12345}} {
		var got, want bn254.G1Jac
		mulGLV64(&got, &p, k)
		var fa, fb, r fr.Element
		fa.SetUint64(k[0])
		fb.SetUint64(k[1])
		r.Mul(&fb, &g.lambda).Add(&r, &fa)
		var pj bn254.G1Jac
		pj.FromAffine(&p)
		var rb big.Int
		want.ScalarMultiplication(&pj, r.BigInt(&rb))
		if !got.Equal(&want) {
			t.Fatalf("mulGLV64(%v) differs from (a + λb)·P", k)
		}
	}
}

// Too few windows for a scalar must not give wrong digits in silence: c = 2 with 127 windows
// covers 254 bits, but the top digit of r-1 wraps and its carry has nowhere to go; 31 windows
// of 8 bits leave bits 248 and up unread.
func TestSignedDigitsGuard(t *testing.T) {
	var s fr.Element
	s.SetOne().Neg(&s) // r - 1
	for _, tc := range []struct {
		c       uint
		windows int
	}{{2, 127}, {8, 31}, {3, 84}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("c=%d, %d windows: no panic", tc.c, tc.windows)
				}
			}()
			signedDigits(&s, tc.c, make([]int32, tc.windows))
		}()
	}
}
