package prover

import (
	"github.com/consensys/gnark-crypto/ecc/bn254"
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

// msmScratchG2 is one goroutine's working memory for fixedBaseG2.multiExp.
type msmScratchG2 struct {
	digits  []int32
	buckets []bn254.G2Affine // affine buckets; (0,0) is empty
	side    []bn254.G2Jac    // buckets for the rare cases the affine batch cannot take
	inBatch []bool
	batchR  []int32 // bucket of each pending addition
	batchP  []bn254.G2Affine
	denom   []bn254.E2
	prefix  []bn254.E2
	queue   []queuedG2
}

type queuedG2 struct {
	bucket int32
	p      bn254.G2Affine
}

// multiExp returns Σ scalars[i]·bases[i].
func (f *fixedBaseG2) multiExp(scalars []fr.Element, s *msmScratchG2) bn254.G2Jac {
	f.accumulate(scalars, s, false)
	return s.reduce(1 << (f.c - 1))
}

// accumulate adds every scalar's digits' table points into s's buckets, leaving their
// reduction to the caller: reduce, or reduceManyG2 with other MSMs. With keep, it adds on
// top of the buckets s holds (see fixedBaseG1.accumulate).
func (f *fixedBaseG2) accumulate(scalars []fr.Element, s *msmScratchG2, keep bool) {
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

// clearBucketsG2 empties buckets and side buckets.
func clearBucketsG2(buckets []bn254.G2Affine, side []bn254.G2Jac) {
	clear(buckets)
	for i := range side {
		side[i] = bn254.G2Jac{}
		side[i].Z.SetZero()
	}
}

func (s *msmScratchG2) prepare(nb, batch, windows int, keep bool) {
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
		clearBucketsG2(s.buckets, s.side)
		clear(s.inBatch)
	}
	if cap(s.batchR) < batch {
		s.batchR = make([]int32, 0, batch)
		s.batchP = make([]bn254.G2Affine, 0, batch)
		s.denom = make([]bn254.E2, batch)
		s.prefix = make([]bn254.E2, batch)
		s.queue = make([]queuedG2, 0, batch)
	}
	s.batchR, s.batchP, s.queue = s.batchR[:0], s.batchP[:0], s.queue[:0]
	if cap(s.digits) < windows {
		s.digits = make([]int32, windows)
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
	if len(s.batchR) == batch {
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

// execute performs the pending affine additions with one inversion.
func (s *msmScratchG2) execute() {
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
	var inv, tmp bn254.E2
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
		var lambda, x3, y3 bn254.E2
		lambda.Sub(&p.Y, &bk.Y).Mul(&lambda, &tmp)
		x3.Square(&lambda).Sub(&x3, &bk.X).Sub(&x3, &p.X)
		y3.Sub(&bk.X, &x3).Mul(&y3, &lambda).Sub(&y3, &bk.Y)
		bk.X, bk.Y = x3, y3
		s.inBatch[s.batchR[t]] = false
	}
	s.batchR, s.batchP = s.batchR[:0], s.batchP[:0]
}

// reduce returns Σ (k+1)·bucket[k] by a running sum from the top bucket down.
func (s *msmScratchG2) reduce(nb int) bn254.G2Jac {
	var running, total bn254.G2Jac
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
