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
// dᵢⱼ, which is one pass of n·W bucket additions and a single reduction, no doublings.
//
// The bucket additions are affine and batched: one field inversion per batch and about six
// multiplications an addition, against eleven for a mixed Jacobian addition. A batch runs as
// vector operations over its coordinates (execute): gnark-crypto's fp.Vector multiplies eight
// elements at once with AVX-512 IFMA where the CPU has it (about 8 ns an element against
// 14 ns one at a time here) and one at a time where it has not, and the batch's inversions
// use a product tree (inverter) whose levels are vector operations too, where Montgomery's
// running product would wait on each multiplication.
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

// msmScratchG1 is one goroutine's working memory for fixed-base MSMs in G1.
type msmScratchG1 struct {
	digits  []int32
	buckets []bn254.G1Affine // affine buckets; (0,0) is empty
	side    []bn254.G1Jac    // buckets for the rare cases the affine batch cannot take
	inBatch []bool
	batchR  []int32 // bucket of each pending addition
	batchP  []bn254.G1Affine
	queue   []queuedG1
	vec     vecScratch
}

type queuedG1 struct {
	bucket int32
	p      bn254.G1Affine
}

// addInto schedules the additions of Σ scalars[i]·bases[i] into s's buckets from off on, in
// batches of batch: the sum is complete once s is flushed (begin readies s). MSMs at different
// offsets of one bucket array share batches and inversions; MSMs at the same offset share
// buckets and one reduction, whatever their window sizes (every table point carries its
// window's weight 2^(c·j)), as long as only their sum is wanted.
func (f *fixedBaseG1) addInto(scalars []fr.Element, s *msmScratchG1, off int32, batch int) {
	if len(scalars) != f.n {
		panic("prover: fixed-base MSM with the wrong number of scalars")
	}
	if int(off)+1<<(f.c-1) > len(s.buckets) {
		panic("prover: fixed-base MSM past the end of its buckets")
	}
	if cap(s.digits) < f.windows {
		s.digits = make([]int32, f.windows)
	}
	digits := s.digits[:f.windows]
	for i := range scalars {
		if scalars[i].IsZero() {
			continue
		}
		signedDigits(&scalars[i], f.c, digits)
		row := f.table[i*f.windows : (i+1)*f.windows]
		for j, d := range digits {
			if d != 0 {
				b, neg := digitBucket(d)
				s.addSigned(off+b, &row[j], neg, batch)
			}
		}
	}
}

// begin readies s to schedule additions (addInto) into the buckets it holds, as they are.
func (s *msmScratchG1) begin(batch int) {
	if len(s.inBatch) < len(s.buckets) {
		s.inBatch = make([]bool, len(s.buckets)) // all false between accumulations
	}
	s.grow(batch)
}

// flush performs every scheduled addition.
func (s *msmScratchG1) flush(batch int) {
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
	return min(max(buckets/4, 16), maxBatch)
}

// maxBatch bounds the affine additions that share an inversion: past it the inversion's share
// is small and the conflicts (a bucket already in the batch) grow.
const maxBatch = 1024

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
	if len(s.batchR) >= batch {
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

// execute performs the pending affine additions with one batched inversion, in vector
// operations over the batch (gnark-crypto's fp.Vector uses AVX-512 IFMA where the CPU has it).
func (s *msmScratchG1) execute() {
	m := len(s.batchR)
	if m == 0 {
		return
	}
	v := &s.vec
	v.grow(m)
	bx, by, px, py := v.bx[:m], v.by[:m], v.px[:m], v.py[:m]
	for t, b := range s.batchR {
		bk := &s.buckets[b]
		bx[t], by[t] = bk.X, bk.Y
		px[t], py[t] = s.batchP[t].X, s.batchP[t].Y
	}
	d, inv, lam, x3 := v.d[:m], v.inv[:m], v.lam[:m], v.x3[:m]
	d.Sub(px, bx)
	v.batchInvert(inv, d)
	d.Sub(py, by) // d is free again: Δy
	lam.Mul(d, inv)
	x3.Mul(lam, lam)
	x3.Sub(x3, bx)
	x3.Sub(x3, px)
	d.Sub(bx, x3)
	d.Mul(d, lam)
	d.Sub(d, by) // y3
	for t, b := range s.batchR {
		bk := &s.buckets[b]
		bk.X, bk.Y = x3[t], d[t]
		s.inBatch[b] = false
	}
	s.batchR, s.batchP = s.batchR[:0], s.batchP[:0]
}

// vecScratch holds a batch's coordinates as vectors.
type vecScratch struct {
	bx, by, px, py, d, inv, lam, x3 fp.Vector
	inverter
}

func (v *vecScratch) grow(m int) {
	if len(v.bx) >= m {
		return
	}
	for _, p := range []*fp.Vector{&v.bx, &v.by, &v.px, &v.py, &v.d, &v.inv, &v.lam, &v.x3} {
		*p = make(fp.Vector, m)
	}
}

// inverter inverts a batch of field elements by a product tree: each level multiplies the
// first half of the level below by its second half, elementwise, so that all but the few
// multiplications of the top levels are vector operations; then one inversion and the way
// back down. Montgomery's running product needs as many multiplications, but each waits for
// the last and none is a vector operation.
type inverter struct {
	bufs   []fp.Vector // storage of the levels above the input
	lv     []fp.Vector // the levels of one call, lv[0] the input
	up, dn fp.Vector   // ping-pong storage of the inverses on the way down
}

// batchInvert sets dst[i] = 1/src[i]. Every src[i] must be nonzero.
func (iv *inverter) batchInvert(dst, src fp.Vector) {
	n := len(src)
	if n == 0 {
		return
	}
	iv.lv = append(iv.lv[:0], src)
	for k := 0; len(iv.lv[k]) > 1; k++ {
		cur := iv.lv[k]
		h := len(cur) / 2
		nl := h + len(cur)&1
		if len(iv.bufs) <= k {
			iv.bufs = append(iv.bufs, nil)
		}
		if cap(iv.bufs[k]) < nl {
			iv.bufs[k] = make(fp.Vector, nl)
		}
		next := iv.bufs[k][:nl]
		vmul(next[:h], cur[:h], cur[h:2*h])
		if len(cur)&1 == 1 {
			next[h] = cur[2*h]
		}
		iv.lv = append(iv.lv, next)
	}
	half := n/2 + 1
	if len(iv.up) < half {
		iv.up, iv.dn = make(fp.Vector, half), make(fp.Vector, half)
	}
	top := len(iv.lv) - 1
	up := iv.up[:1]
	up[0].Inverse(&iv.lv[top][0])
	for k := top - 1; k >= 0; k-- {
		cur := iv.lv[k]
		var dn fp.Vector
		if k == 0 {
			dn = dst[:len(cur)]
		} else {
			dn = iv.dn[:len(cur)]
		}
		h := len(cur) / 2
		vmul(dn[:h], up[:h], cur[h:2*h])
		vmul(dn[h:2*h], up[:h], cur[:h])
		if len(cur)&1 == 1 {
			dn[2*h] = up[h]
		}
		iv.up, iv.dn = iv.dn, iv.up
		up = dn
	}
	if top == 0 {
		dst[0] = up[0]
	}
}

// vmul sets dst = a⊙b elementwise.
func vmul(dst, a, b fp.Vector) { dst.Mul(a, b) }

// grow readies s's batch for up to batch additions, emptying it.
func (s *msmScratchG1) grow(batch int) {
	if cap(s.batchR) < batch {
		s.batchR = make([]int32, 0, batch)
		s.batchP = make([]bn254.G1Affine, 0, batch)
		s.queue = make([]queuedG1, 0, batch)
	}
	s.batchR, s.batchP, s.queue = s.batchR[:0], s.batchP[:0], s.queue[:0]
}

// addSigned schedules buckets[b] += p, or -p with neg; an infinity p adds nothing.
func (s *msmScratchG1) addSigned(b int32, p *bn254.G1Affine, neg bool, batch int) {
	if p.IsInfinity() {
		return
	}
	if !neg {
		s.add(b, p, batch)
		return
	}
	q := *p
	q.Neg(&q)
	s.add(b, &q, batch)
}

// digitBucket maps a nonzero signed digit d to its bucket, |d|-1, and whether the table point
// is subtracted (d < 0).
func digitBucket(d int32) (b int32, neg bool) {
	if d < 0 {
		return -d - 1, true
	}
	return d - 1, false
}
