package prover

import (
	"math/big"

	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// TestReduceManyG1 checks the batched reductions against each MSM's own reduce and against a
// plain sum, for MSMs of mixed window sizes (some steps Jacobian, some batched) whose buckets
// hold infinity, equal points (the running sum doubles) and opposite points (it cancels).
func TestReduceManyG1(t *testing.T) {
	pts := randomG1(t, 64)
	widths := []uint{11, 10, 10, 10, 8, 6, 6, 6, 6, 6, 6, 6, 6, 6, 10, 10, 2}
	for _, count := range []int{1, 3, len(widths)} {
		var ms []bucketsG1
		var want []bn254.G1Jac
		for i := 0; i < count; i++ {
			c := widths[i]
			f := newFixedBaseG1(pts, c)
			sc := make([]fr.Element, len(pts))
			for j := range sc {
				sc[j].SetRandom()
			}
			sc[1].SetZero()
			sc[2].SetOne()
			sc[3].SetUint64(2)
			var s msmScratchG1
			f.accumulate(sc, &s, false)
			// Plant equal and opposite buckets, and a side bucket.
			nb := len(s.buckets)
			s.buckets[nb-1] = pts[i]
			s.buckets[nb-2] = pts[i]
			if nb > 3 {
				s.buckets[nb-3].Neg(&s.buckets[nb-2])
				s.buckets[0] = bn254.G1Affine{}
				s.side[1].FromAffine(&pts[i+1])
			}
			m := bucketsG1{buckets: append([]bn254.G1Affine(nil), s.buckets...), side: append([]bn254.G1Jac(nil), s.side...)}
			ms = append(ms, m)
			want = append(want, s.reduce(nb))
			// And by definition: Σ (k+1)·(bucket[k] + side[k]).
			var def, term bn254.G1Jac
			def.Z.SetZero()
			for k := range m.buckets {
				var b bn254.G1Jac
				b.FromAffine(&m.buckets[k])
				b.AddAssign(&m.side[k])
				term.ScalarMultiplication(&b, bigOf(uint64(k+1)))
				def.AddAssign(&term)
			}
			if !def.Equal(&want[i]) {
				t.Fatalf("msm %d: reduce disagrees with the definition", i)
			}
		}
		out := make([]bn254.G1Jac, count)
		var rs reduceScratchG1
		for rep := 0; rep < 2; rep++ { // the scratch is reused
			reduceManyG1(ms, out, &rs)
			for i := range out {
				if !out[i].Equal(&want[i]) {
					t.Fatalf("%d MSMs, rep %d: MSM %d (c=%d) reduced wrong", count, rep, i, widths[i])
				}
			}
		}
	}
}

// TestReduceManyG2 checks the batched reductions against each MSM's own reduce and against a
// plain sum, for MSMs of mixed window sizes (some steps Jacobian, some batched) whose buckets
// hold infinity, equal points (the running sum doubles) and opposite points (it cancels).
func TestReduceManyG2(t *testing.T) {
	pts := randomG2(t, 64)
	widths := []uint{11, 10, 10, 10, 8, 6, 6, 6, 2}
	for _, count := range []int{1, 3, len(widths)} {
		var ms []bucketsG2
		var want []bn254.G2Jac
		for i := 0; i < count; i++ {
			c := widths[i]
			f := newFixedBaseG2(pts, c)
			sc := make([]fr.Element, len(pts))
			for j := range sc {
				sc[j].SetRandom()
			}
			sc[1].SetZero()
			sc[2].SetOne()
			sc[3].SetUint64(2)
			var s msmScratchG2
			f.accumulate(sc, &s, false)
			// Plant equal and opposite buckets, and a side bucket.
			nb := len(s.buckets)
			s.buckets[nb-1] = pts[i]
			s.buckets[nb-2] = pts[i]
			if nb > 3 {
				s.buckets[nb-3].Neg(&s.buckets[nb-2])
				s.buckets[0] = bn254.G2Affine{}
				s.side[1].FromAffine(&pts[i+1])
			}
			m := bucketsG2{buckets: append([]bn254.G2Affine(nil), s.buckets...), side: append([]bn254.G2Jac(nil), s.side...)}
			ms = append(ms, m)
			want = append(want, s.reduce(nb))
			// And by definition: Σ (k+1)·(bucket[k] + side[k]).
			var def, term bn254.G2Jac
			def.Z.SetZero()
			for k := range m.buckets {
				var b bn254.G2Jac
				b.FromAffine(&m.buckets[k])
				b.AddAssign(&m.side[k])
				term.ScalarMultiplication(&b, bigOf(uint64(k+1)))
				def.AddAssign(&term)
			}
			if !def.Equal(&want[i]) {
				t.Fatalf("msm %d: reduce disagrees with the definition", i)
			}
		}
		out := make([]bn254.G2Jac, count)
		var rs reduceScratchG2
		for rep := 0; rep < 2; rep++ { // the scratch is reused
			reduceManyG2(ms, out, &rs)
			for i := range out {
				if !out[i].Equal(&want[i]) {
					t.Fatalf("%d MSMs, rep %d: MSM %d (c=%d) reduced wrong", count, rep, i, widths[i])
				}
			}
		}
	}
}

func randomG2(t testing.TB, n int) []bn254.G2Affine {
	_, _, _, g2 := bn254.Generators()
	out := make([]bn254.G2Affine, n)
	for i := range out {
		var s fr.Element
		if _, err := s.SetRandom(); err != nil {
			t.Fatal(err)
		}
		var b big.Int
		out[i].ScalarMultiplication(&g2, s.BigInt(&b))
	}
	return out
}

func bigOf(v uint64) *big.Int { return new(big.Int).SetUint64(v) }

// TestSharedBuckets checks that MSMs of different window sizes accumulated into one bucket
// set (keep) reduce to the sum of their results, in G1 and G2, and that keep refuses a
// bucket set smaller than the MSM's.
func TestSharedBuckets(t *testing.T) {
	g1 := randomG1(t, 40)
	g2 := randomG2(t, 40)
	var s1 msmScratchG1
	var s2 msmScratchG2
	var want1 bn254.G1Jac
	var want2 bn254.G2Jac
	want1.Z.SetZero()
	want2.Z.SetZero()
	s1.buckets, s1.side = make([]bn254.G1Affine, 1<<10), make([]bn254.G1Jac, 1<<10)
	s2.buckets, s2.side = make([]bn254.G2Affine, 1<<10), make([]bn254.G2Jac, 1<<10)
	clearBucketsG1(s1.buckets, s1.side)
	clearBucketsG2(s2.buckets, s2.side)
	var ss1 msmScratchG1
	var ss2 msmScratchG2
	for _, c := range []uint{11, 3, 8, 8} {
		sc := make([]fr.Element, len(g1))
		for i := range sc {
			sc[i].SetRandom()
		}
		sc[0].SetZero()
		sc[1].SetOne()
		f1, f2 := newFixedBaseG1(g1, c), newFixedBaseG2(g2, c)
		r1 := f1.multiExp(sc, &ss1)
		want1.AddAssign(&r1)
		r2 := f2.multiExp(sc, &ss2)
		want2.AddAssign(&r2)
		f1.accumulate(sc, &s1, true)
		f2.accumulate(sc, &s2, true)
	}
	if got := s1.reduce(len(s1.buckets)); !got.Equal(&want1) {
		t.Fatal("G1: shared buckets reduce to the wrong sum")
	}
	if got := s2.reduce(len(s2.buckets)); !got.Equal(&want2) {
		t.Fatal("G2: shared buckets reduce to the wrong sum")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("keep accepted fewer buckets than the MSM's")
		}
	}()
	var small msmScratchG1
	small.buckets, small.side = make([]bn254.G1Affine, 4), make([]bn254.G1Jac, 4)
	newFixedBaseG1(g1, 8).accumulate(make([]fr.Element, len(g1)), &small, true)
}
