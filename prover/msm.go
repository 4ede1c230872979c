package prover

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Fixed-base multi-scalar multiplication.
//
// The bases of every MSM of a Groth16 prover are the proving key's, fixed for the life of the
// keys. Pippenger's method pays, per c-bit window, a pass over the points plus a bucket
// reduction and c doublings; with the multiples 2^(c·j)·Pᵢ of every base precomputed, all
// windows share one set of buckets: Σᵢ sᵢ·Pᵢ = Σᵢ Σⱼ dᵢⱼ·(2^(c·j)·Pᵢ) with signed c-bit digits
// dᵢⱼ, which is one pass of n·W bucket additions and a single reduction, no doublings. The
// bucket additions are affine and batched (one field inversion per batch, Montgomery's trick),
// about six multiplications each, against eleven for a mixed Jacobian addition.
//
// Memory: W = ⌊254/c⌋+1 points per base.

// signedDigits writes the W signed c-bit digits of s (regular form), least significant first,
// each in [-2^(c-1), 2^(c-1)).
//
// The top digit must absorb the last carry: a digit at or above 2^(c-1) becomes negative and
// carries one into the next window, and above the top window there is none. With
// W = windowsFor(c) (c·W >= 255) and s below r, the top digit stays below 2^(c-1) for every c
// from 2 to 32 (it is (r-1+Σ 2^(c-1)·2^(c·j)) >> c·(W-1) at most: 3 of 4 for c = 3, the
// tightest). A change of the window count or of the field could break that, so a lost carry,
// or bits above the windows, panic instead of giving a wrong MSM.
func signedDigits(s *fr.Element, c uint, out []int32) {
	if uint(len(out))*c < fr.Bits {
		panic(fmt.Sprintf("prover: %d windows of %d bits do not cover a %d-bit scalar", len(out), c, fr.Bits))
	}
	limbs := s.Bits()
	half := int64(1) << (c - 1)
	full := int64(1) << c
	var carry int64
	for j := range out {
		bit := uint(j) * c
		word, off := bit/64, bit%64
		var v uint64
		if word < fr.Limbs {
			v = limbs[word] >> off
			if off+c > 64 && word+1 < fr.Limbs {
				v |= limbs[word+1] << (64 - off)
			}
		}
		d := int64(v&uint64(full-1)) + carry
		carry = 0
		if d >= half {
			d -= full
			carry = 1
		}
		out[j] = int32(d)
	}
	if carry != 0 {
		panic(fmt.Sprintf("prover: the top signed digit of %d windows of %d bits lost a carry", len(out), c))
	}
}

func windowsFor(c uint) int { return fr.Bits/int(c) + 1 }

// windowBits picks the window of a fixed-base MSM of n points by a cost model in field
// multiplications: n·W affine additions of about 6 multiplications plus the batch's share of
// an inversion (about 130), and 2^(c-1) buckets reduced with two Jacobian additions of about
// 13 each. It matches measurements at 374 points (c = 10) and 4095 (c = 12 or 13).
func windowBits(n int) uint {
	best, bestCost := uint(2), -1.0
	for c := uint(2); c <= 16; c++ {
		nb := 1 << (c - 1)
		add := 6 + 130/float64(batchSizeFor(nb))
		cost := float64(n*windowsFor(c))*add + 26*float64(nb)
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// fixedBaseG1 holds 2^(c·j)·Pᵢ for every base Pᵢ and window j, base-major.
type fixedBaseG1 struct {
	c       uint
	windows int
	n       int
	table   []bn254.G1Affine
}

func newFixedBaseG1(bases []bn254.G1Affine, c uint) *fixedBaseG1 {
	f := &fixedBaseG1{c: c, windows: windowsFor(c), n: len(bases)}
	jac := make([]bn254.G1Jac, len(bases)*f.windows)
	for i := range bases {
		var p bn254.G1Jac
		p.FromAffine(&bases[i])
		for j := 0; j < f.windows; j++ {
			jac[i*f.windows+j] = p
			for k := uint(0); k < c; k++ {
				p.DoubleAssign()
			}
		}
	}
	f.table = bn254.BatchJacobianToAffineG1(jac)
	return f
}

// msmScratchG1 is one goroutine's working memory for fixedBaseG1.multiExp.
type msmScratchG1 struct {
	digits  []int32
	buckets []bn254.G1Affine // affine buckets; (0,0) is empty
	side    []bn254.G1Jac    // buckets for the rare cases the affine batch cannot take
	inBatch []bool
	batchR  []int32 // bucket of each pending addition
	batchP  []bn254.G1Affine
	denom   []fp.Element
	prefix  []fp.Element
	queue   []queuedG1
}

type queuedG1 struct {
	bucket int32
	p      bn254.G1Affine
}

// multiExp returns Σ scalars[i]·bases[i].
func (f *fixedBaseG1) multiExp(scalars []fr.Element, s *msmScratchG1) bn254.G1Jac {
	f.accumulate(scalars, s, false)
	return s.reduce(1 << (f.c - 1))
}

// accumulate adds every scalar's digits' table points into s's buckets, leaving their
// reduction (Σ (k+1)·bucket[k]) to the caller: reduce, or reduceManyG1 with other MSMs.
// With keep, it adds on top of the buckets s holds, which must be at least as many as f's:
// every table point carries its window's weight 2^(c·j), so MSMs of any window size can share
// buckets and one reduction, as long as their sums are only wanted together.
func (f *fixedBaseG1) accumulate(scalars []fr.Element, s *msmScratchG1, keep bool) {
	if len(scalars) != f.n {
		panic("prover: fixed-base MSM with the wrong number of scalars")
	}
	nb := 1 << (f.c - 1)
	batch := batchSizeFor(nb)
	s.prepare(nb, batch, f.windows, keep)
	digits := s.digits[:f.windows]
	for i := range scalars {
		if scalars[i].IsZero() {
			continue
		}
		signedDigits(&scalars[i], f.c, digits)
		row := f.table[i*f.windows : (i+1)*f.windows]
		for j, d := range digits {
			if d == 0 || row[j].IsInfinity() {
				continue
			}
			var b int32
			p := row[j]
			if d > 0 {
				b = d - 1
			} else {
				b = -d - 1
				p.Neg(&p)
			}
			s.add(b, &p, batch)
		}
	}
	s.execute()
	for len(s.queue) > 0 {
		s.drainQueue(batch)
		s.execute()
	}
}

// clearBucketsG1 empties buckets and side buckets.
func clearBucketsG1(buckets []bn254.G1Affine, side []bn254.G1Jac) {
	clear(buckets)
	for i := range side {
		side[i] = bn254.G1Jac{}
		side[i].Z.SetZero()
	}
}

func batchSizeFor(buckets int) int {
	b := buckets / 4
	if b < 16 {
		b = 16
	}
	if b > 512 {
		b = 512
	}
	return b
}

func (s *msmScratchG1) prepare(nb, batch, windows int, keep bool) {
	if keep {
		if len(s.buckets) < nb || len(s.side) < nb {
			panic("prover: shared buckets fewer than the MSM's")
		}
		if len(s.inBatch) < nb {
			s.inBatch = make([]bool, nb) // all false between accumulations
		}
	} else {
		// Each slice on its own: the group sums hand the accumulation another MSM's buckets.
		s.buckets, s.side, s.inBatch = resize(s.buckets, nb), resize(s.side, nb), resize(s.inBatch, nb)
		clearBucketsG1(s.buckets, s.side)
		clear(s.inBatch)
	}
	if cap(s.batchR) < batch {
		s.batchR = make([]int32, 0, batch)
		s.batchP = make([]bn254.G1Affine, 0, batch)
		s.denom = make([]fp.Element, batch)
		s.prefix = make([]fp.Element, batch)
		s.queue = make([]queuedG1, 0, batch)
	}
	s.batchR, s.batchP, s.queue = s.batchR[:0], s.batchP[:0], s.queue[:0]
	if cap(s.digits) < windows {
		s.digits = make([]int32, windows)
	}
}

// add schedules buckets[b] += p.
func (s *msmScratchG1) add(b int32, p *bn254.G1Affine, batch int) {
	if s.inBatch[b] {
		if len(s.queue) == cap(s.queue) {
			// Many conflicts: the input is far from random; add the queue the slow way.
			for _, q := range s.queue {
				s.side[q.bucket].AddMixed(&q.p)
			}
			s.queue = s.queue[:0]
		}
		s.queue = append(s.queue, queuedG1{b, *p})
		return
	}
	s.schedule(b, p)
	if len(s.batchR) == batch {
		s.execute()
		s.drainQueue(batch)
	}
}

// schedule puts buckets[b] += p in the batch, or does it at once when the affine formula does
// not apply (empty bucket, p = ±bucket).
func (s *msmScratchG1) schedule(b int32, p *bn254.G1Affine) {
	bk := &s.buckets[b]
	switch {
	case bk.IsInfinity():
		*bk = *p
		return
	case bk.X.Equal(&p.X):
		if bk.Y.Equal(&p.Y) {
			s.side[b].AddMixed(p) // doubling: rare, leave it to Jacobian arithmetic
		} else {
			*bk = bn254.G1Affine{} // p = -bucket
		}
		return
	}
	s.inBatch[b] = true
	s.batchR = append(s.batchR, b)
	s.batchP = append(s.batchP, *p)
}

func (s *msmScratchG1) drainQueue(batch int) {
	kept := s.queue[:0]
	for _, q := range s.queue {
		if len(s.batchR) < batch && !s.inBatch[q.bucket] {
			s.schedule(q.bucket, &q.p)
			continue
		}
		kept = append(kept, q)
	}
	s.queue = kept
}

// execute performs the pending affine additions with one inversion.
func (s *msmScratchG1) execute() {
	m := len(s.batchR)
	if m == 0 {
		return
	}
	d, pre := s.denom[:m], s.prefix[:m]
	for t := 0; t < m; t++ {
		d[t].Sub(&s.batchP[t].X, &s.buckets[s.batchR[t]].X)
		if t == 0 {
			pre[0] = d[0]
		} else {
			pre[t].Mul(&pre[t-1], &d[t])
		}
	}
	var inv, tmp fp.Element
	inv.Inverse(&pre[m-1])
	for t := m - 1; t >= 0; t-- {
		// inv = 1/(d[0]·…·d[t]); 1/d[t] = inv·pre[t-1]
		if t > 0 {
			tmp.Mul(&inv, &pre[t-1])
			inv.Mul(&inv, &d[t])
		} else {
			tmp = inv
		}
		bk := &s.buckets[s.batchR[t]]
		p := &s.batchP[t]
		var lambda, x3, y3 fp.Element
		lambda.Sub(&p.Y, &bk.Y).Mul(&lambda, &tmp)
		x3.Square(&lambda).Sub(&x3, &bk.X).Sub(&x3, &p.X)
		y3.Sub(&bk.X, &x3).Mul(&y3, &lambda).Sub(&y3, &bk.Y)
		bk.X, bk.Y = x3, y3
		s.inBatch[s.batchR[t]] = false
	}
	s.batchR, s.batchP = s.batchR[:0], s.batchP[:0]
}

// reduce returns Σ (k+1)·bucket[k] by a running sum from the top bucket down.
func (s *msmScratchG1) reduce(nb int) bn254.G1Jac {
	var running, total bn254.G1Jac
	running.Z.SetZero()
	total.Z.SetZero()
	for k := nb - 1; k >= 0; k-- {
		if !s.buckets[k].IsInfinity() {
			running.AddMixed(&s.buckets[k])
		}
		if !s.side[k].Z.IsZero() {
			running.AddAssign(&s.side[k])
		}
		total.AddAssign(&running)
	}
	return total
}
