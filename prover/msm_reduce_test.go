package prover

import (
	"math/big"

	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
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
			f.accumulate(sc, &s)
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
			reduceManyG1(ms, out, nil, &rs)
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
			f.accumulate(sc, &s)
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
			reduceManyG2(ms, out, nil, &rs)
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

// TestSharedBuckets checks the prover's own accumulation path: MSMs of different window
// sizes scheduled into one bucket set (addInto at one offset) reduce to the sum of their
// results, MSMs at other offsets of the same array to their own, in G1 and G2, with one
// stream of batches flushed once; and that addInto refuses an MSM past the array's end.
func TestSharedBuckets(t *testing.T) {
	g1 := randomG1(t, 40)
	g2 := randomG2(t, 40)
	const set = 1 << 10
	var s1 msmScratchG1
	var s2 msmScratchG2
	s1.buckets, s1.side = make([]bn254.G1Affine, 2*set), make([]bn254.G1Jac, 2*set)
	s2.buckets, s2.side = make([]bn254.G2Affine, 2*set), make([]bn254.G2Jac, 2*set)
	clearBucketsG1(s1.buckets, s1.side)
	clearBucketsG2(s2.buckets, s2.side)
	s1.begin(64)
	s2.begin(64)
	var want1 [2]bn254.G1Jac
	var want2 [2]bn254.G2Jac
	for i := range want1 {
		want1[i].Z.SetZero()
		want2[i].Z.SetZero()
	}
	var ss1 msmScratchG1
	var ss2 msmScratchG2
	for i, c := range []uint{11, 3, 8, 8, 5} {
		sc := make([]fr.Element, len(g1))
		for i := range sc {
			sc[i].SetRandom()
		}
		sc[0].SetZero()
		sc[1].SetOne()
		f1, f2 := newFixedBaseG1(g1, c), newFixedBaseG2(g2, c)
		r1 := f1.multiExp(sc, &ss1)
		r2 := f2.multiExp(sc, &ss2)
		// Alternate between the two sets of the array, one MSM at a time.
		k := i % 2
		want1[k].AddAssign(&r1)
		want2[k].AddAssign(&r2)
		f1.addInto(sc, &s1, int32(k*set), 64)
		f2.addInto(sc, &s2, int32(k*set), 64)
	}
	s1.flush(64)
	s2.flush(64)
	for k := range want1 {
		sub1 := msmScratchG1{buckets: s1.buckets[k*set : (k+1)*set], side: s1.side[k*set : (k+1)*set]}
		if got := sub1.reduce(set); !got.Equal(&want1[k]) {
			t.Fatalf("G1 set %d: shared buckets reduce to the wrong sum", k)
		}
		sub2 := msmScratchG2{buckets: s2.buckets[k*set : (k+1)*set], side: s2.side[k*set : (k+1)*set]}
		if got := sub2.reduce(set); !got.Equal(&want2[k]) {
			t.Fatalf("G2 set %d: shared buckets reduce to the wrong sum", k)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("addInto accepted an MSM past the end of its buckets")
		}
	}()
	var small msmScratchG1
	small.buckets, small.side = make([]bn254.G1Affine, 4), make([]bn254.G1Jac, 4)
	small.begin(16)
	newFixedBaseG1(g1, 8).addInto(make([]fr.Element, len(g1)), &small, 0, 16)
}

// TestJoinSegments checks that reducing a bucket set as segments (reduceManyG1 and
// reduceManyG2 with their running sums, then joinSegments) gives the set's reduction.
func TestJoinSegments(t *testing.T) {
	const nb, seg = 256, 16
	g1 := randomG1(t, nb)
	g2 := randomG2(t, nb)
	g1[3] = bn254.G1Affine{} // empty buckets
	g2[3] = bn254.G2Affine{}
	whole1 := msmScratchG1{buckets: g1, side: make([]bn254.G1Jac, nb)}
	whole2 := msmScratchG2{buckets: g2, side: make([]bn254.G2Jac, nb)}
	clearBucketsG1(nil, whole1.side)
	clearBucketsG2(nil, whole2.side)
	// A side bucket, as the rare additions the batch cannot take leave.
	whole1.side[200].FromAffine(&g1[17])
	whole2.side[200].FromAffine(&g2[17])
	want1, want2 := whole1.reduce(nb), whole2.reduce(nb)
	ms1 := make([]bucketsG1, nb/seg)
	ms2 := make([]bucketsG2, nb/seg)
	for i := range ms1 {
		ms1[i] = bucketsG1{buckets: g1[i*seg : (i+1)*seg], side: whole1.side[i*seg : (i+1)*seg]}
		ms2[i] = bucketsG2{buckets: g2[i*seg : (i+1)*seg], side: whole2.side[i*seg : (i+1)*seg]}
	}
	out1, runs1 := make([]bn254.G1Jac, len(ms1)), make([]bn254.G1Jac, len(ms1))
	out2, runs2 := make([]bn254.G2Jac, len(ms2)), make([]bn254.G2Jac, len(ms2))
	var rs1 reduceScratchG1
	var rs2 reduceScratchG2
	reduceManyG1(ms1, out1, runs1, &rs1)
	reduceManyG2(ms2, out2, runs2, &rs2)
	if got := joinSegmentsG1(out1, runs1, seg); !got.Equal(&want1) {
		t.Fatal("G1: joined segments differ from the whole set's reduction")
	}
	if got := joinSegmentsG2(out2, runs2, seg); !got.Equal(&want2) {
		t.Fatal("G2: joined segments differ from the whole set's reduction")
	}
}

// TestBatchInvert checks the product-tree inversion at the sizes its halving meets: odd and
// even levels, a single element, and the batch sizes the prover uses.
func TestBatchInvert(t *testing.T) {
	var iv inverter
	for _, m := range []int{1, 2, 3, 5, 7, 8, 9, 16, 17, 100, 129, 1024} {
		src := make(fp.Vector, m)
		src.MustSetRandom()
		dst := make(fp.Vector, m)
		iv.batchInvert(dst, src)
		for i := range src {
			var p fp.Element
			p.Mul(&src[i], &dst[i])
			if !p.IsOne() {
				t.Fatalf("batch of %d: element %d times its inverse is not one", m, i)
			}
		}
	}
}
