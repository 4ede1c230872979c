package prover

import (
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// This file is msm.go for G2, line for line: the same algorithm over Fp² coordinates. Keep
// the two in step.

// fixedBaseG2 is fixedBaseG1 in G2, with coordinates in Fp².
type fixedBaseG2 struct {
	c       uint
	windows int
	n       int
	table   []bn254.G2Affine
}

func newFixedBaseG2(bases []bn254.G2Affine, c uint) *fixedBaseG2 {
	f := &fixedBaseG2{c: c, windows: windowsFor(c), n: len(bases)}
	jac := make([]bn254.G2Jac, len(bases)*f.windows)
	for i := range bases {
		var p bn254.G2Jac
		p.FromAffine(&bases[i])
		for j := 0; j < f.windows; j++ {
			jac[i*f.windows+j] = p
			for k := uint(0); k < c; k++ {
				p.DoubleAssign()
			}
		}
	}
	f.table = batchToAffineG2(jac)
	return f
}

// msmScratchG2 is one goroutine's working memory for fixed-base MSMs in G2.
type msmScratchG2 struct {
	digits  []int32
	buckets []bn254.G2Affine // affine buckets; (0,0) is empty
	side    []bn254.G2Jac    // buckets for the rare cases the affine batch cannot take
	inBatch []bool
	batchR  []int32 // bucket of each pending addition
	batchP  []bn254.G2Affine
	queue   []queuedG2
	vec     vecScratchG2
}

type queuedG2 struct {
	bucket int32
	p      bn254.G2Affine
}

// addInto schedules the additions of Σ scalars[i]·bases[i] into s's buckets from off on, in
// batches of batch: the sum is complete once s is flushed. Several MSMs can be in flight in
// one bucket array at different offsets, so that their additions share batches and inversions.
func (f *fixedBaseG2) addInto(scalars []fr.Element, s *msmScratchG2, off int32, batch int) {
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
func (s *msmScratchG2) begin(batch int) {
	if len(s.inBatch) < len(s.buckets) {
		s.inBatch = make([]bool, len(s.buckets)) // all false between accumulations
	}
	s.grow(batch)
}

// flush performs every scheduled addition.
func (s *msmScratchG2) flush(batch int) {
	s.execute()
	for len(s.queue) > 0 {
		s.drainQueue(batch)
		s.execute()
	}
}

// clearBucketsG2 empties buckets and side buckets.
func clearBucketsG2(buckets []bn254.G2Affine, side []bn254.G2Jac) {
	clear(buckets)
	for i := range side {
		side[i] = bn254.G2Jac{}
		side[i].Z.SetZero()
	}
}

// add schedules buckets[b] += p.
func (s *msmScratchG2) add(b int32, p *bn254.G2Affine, batch int) {
	if s.inBatch[b] {
		if len(s.queue) == cap(s.queue) {
			// Many conflicts: the input is far from random; add the queue the slow way.
			for _, q := range s.queue {
				s.side[q.bucket].AddMixed(&q.p)
			}
			s.queue = s.queue[:0]
		}
		s.queue = append(s.queue, queuedG2{b, *p})
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
func (s *msmScratchG2) schedule(b int32, p *bn254.G2Affine) {
	bk := &s.buckets[b]
	switch {
	case bk.IsInfinity():
		*bk = *p
		return
	case bk.X.Equal(&p.X):
		if bk.Y.Equal(&p.Y) {
			s.side[b].AddMixed(p) // doubling: rare, leave it to Jacobian arithmetic
		} else {
			*bk = bn254.G2Affine{} // p = -bucket
		}
		return
	}
	s.inBatch[b] = true
	s.batchR = append(s.batchR, b)
	s.batchP = append(s.batchP, *p)
}

func (s *msmScratchG2) drainQueue(batch int) {
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
// operations over the batch's coordinates (see msmScratchG1.execute). An element of E2 is
// a0 + a1·u with u² = -1, held as two vectors of its coordinates.
func (s *msmScratchG2) execute() {
	m := len(s.batchR)
	if m == 0 {
		return
	}
	v := &s.vec
	v.grow(m)
	bx, by, px, py := v.bx.prefix(m), v.by.prefix(m), v.px.prefix(m), v.py.prefix(m)
	for t, b := range s.batchR {
		bk := &s.buckets[b]
		bx.a0[t], bx.a1[t], by.a0[t], by.a1[t] = bk.X.A0, bk.X.A1, bk.Y.A0, bk.Y.A1
		p := &s.batchP[t]
		px.a0[t], px.a1[t], py.a0[t], py.a1[t] = p.X.A0, p.X.A1, p.Y.A0, p.Y.A1
	}
	d, inv, lam, x3, t0, t1, t2 := v.d.prefix(m), v.inv.prefix(m), v.lam.prefix(m), v.x3.prefix(m), v.t0[:m], v.t1[:m], v.t2[:m]
	d.sub(px, bx)
	// 1/(a0 + a1·u) = (a0 - a1·u)/(a0² + a1²): one batch of inversions in the base field.
	t0.Mul(d.a0, d.a0)
	t1.Mul(d.a1, d.a1)
	t0.Add(t0, t1)
	v.batchInvert(t1, t0)
	inv.a0.Mul(d.a0, t1)
	inv.a1.Mul(d.a1, t1)
	neg(inv.a1)
	d.sub(py, by) // d is free again: Δy
	lam.mul(d, inv, t0, t1, t2)
	x3.square(lam, t0, t1)
	x3.sub(x3, bx)
	x3.sub(x3, px)
	d.sub(bx, x3)
	d.mul(d, lam, t0, t1, t2)
	d.sub(d, by) // y3
	for t, b := range s.batchR {
		bk := &s.buckets[b]
		bk.X.A0, bk.X.A1, bk.Y.A0, bk.Y.A1 = x3.a0[t], x3.a1[t], d.a0[t], d.a1[t]
		s.inBatch[b] = false
	}
	s.batchR, s.batchP = s.batchR[:0], s.batchP[:0]
}

// e2Vec is a vector of E2 elements as the vectors of their two coordinates.
type e2Vec struct{ a0, a1 fp.Vector }

func (x e2Vec) prefix(m int) e2Vec { return e2Vec{x.a0[:m], x.a1[:m]} }

func (x e2Vec) sub(a, b e2Vec) {
	x.a0.Sub(a.a0, b.a0)
	x.a1.Sub(a.a1, b.a1)
}

// mul sets x = a·b (Karatsuba: three multiplications); t0, t1, t2 are scratch and x may be a or b.
func (x e2Vec) mul(a, b e2Vec, t0, t1, t2 fp.Vector) {
	t0.Mul(a.a0, b.a0)
	t1.Mul(a.a1, b.a1)
	t2.Add(a.a0, a.a1)
	x.a1.Add(b.a0, b.a1)
	x.a1.Mul(x.a1, t2)
	x.a1.Sub(x.a1, t0)
	x.a1.Sub(x.a1, t1)
	x.a0.Sub(t0, t1)
}

// square sets x = a² = (a0+a1)(a0-a1) + 2·a0·a1·u; x may be a.
func (x e2Vec) square(a e2Vec, t0, t1 fp.Vector) {
	t0.Add(a.a0, a.a1)
	t1.Sub(a.a0, a.a1)
	x.a1.Mul(a.a0, a.a1)
	x.a1.Add(x.a1, x.a1)
	x.a0.Mul(t0, t1)
}

// neg sets x = -x.
func neg(x fp.Vector) {
	for i := range x {
		x[i].Neg(&x[i])
	}
}

// vecScratchG2 holds a G2 batch's coordinates as vectors.
type vecScratchG2 struct {
	bx, by, px, py, d, inv, lam, x3 e2Vec
	t0, t1, t2                      fp.Vector
	inverter
}

func (v *vecScratchG2) grow(m int) {
	if len(v.t0) >= m {
		return
	}
	for _, e := range []*e2Vec{&v.bx, &v.by, &v.px, &v.py, &v.d, &v.inv, &v.lam, &v.x3} {
		*e = e2Vec{make(fp.Vector, m), make(fp.Vector, m)}
	}
	v.t0, v.t1, v.t2 = make(fp.Vector, m), make(fp.Vector, m), make(fp.Vector, m)
}

// batchToAffineG2 converts Jacobian points to affine with one Fp² inversion in all
// (gnark-crypto has the batch conversion for G1 only). Points at infinity map to (0,0).
func batchToAffineG2(jac []bn254.G2Jac) []bn254.G2Affine {
	out := make([]bn254.G2Affine, len(jac))
	pre := make([]bn254.E2, len(jac))
	var acc bn254.E2
	acc.SetOne()
	for i := range jac {
		pre[i] = acc
		if !jac[i].Z.IsZero() {
			acc.Mul(&acc, &jac[i].Z)
		}
	}
	var inv bn254.E2
	inv.Inverse(&acc)
	for i := len(jac) - 1; i >= 0; i-- {
		if jac[i].Z.IsZero() {
			continue
		}
		var zInv, zInv2 bn254.E2
		zInv.Mul(&inv, &pre[i])
		inv.Mul(&inv, &jac[i].Z)
		zInv2.Square(&zInv)
		out[i].X.Mul(&jac[i].X, &zInv2)
		out[i].Y.Mul(&jac[i].Y, &zInv2).Mul(&out[i].Y, &zInv)
	}
	return out
}

// grow readies s's batch for up to batch additions, emptying it.
func (s *msmScratchG2) grow(batch int) {
	if cap(s.batchR) < batch {
		s.batchR = make([]int32, 0, batch)
		s.batchP = make([]bn254.G2Affine, 0, batch)
		s.queue = make([]queuedG2, 0, batch)
	}
	s.batchR, s.batchP, s.queue = s.batchR[:0], s.batchP[:0], s.queue[:0]
}

// addSigned schedules buckets[b] += p, or -p with neg; an infinity p adds nothing.
func (s *msmScratchG2) addSigned(b int32, p *bn254.G2Affine, neg bool, batch int) {
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
