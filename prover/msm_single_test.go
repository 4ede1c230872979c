package prover

import (
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// One fixed-base MSM on its own, into fresh buckets of a scratch, for the tests of the batch
// and reduction machinery against gnark-crypto's MSMs. The prover runs many MSMs in one
// bucket array instead (wireSums: begin, addInto, flush, then reduceManyG1 and reduceManyG2).

// multiExp returns Σ scalars[i]·bases[i].
func (f *fixedBaseG1) multiExp(scalars []fr.Element, s *msmScratchG1) bn254.G1Jac {
	f.accumulate(scalars, s)
	return s.reduce(1 << (f.c - 1))
}

// accumulate adds every scalar's digits' table points into fresh buckets of s, leaving
// their reduction (Σ (k+1)·bucket[k]) to the caller: reduce, or reduceManyG1 with other
// MSMs.
func (f *fixedBaseG1) accumulate(scalars []fr.Element, s *msmScratchG1) {
	nb := 1 << (f.c - 1)
	batch := batchSizeFor(nb)
	s.buckets, s.side, s.inBatch = resize(s.buckets, nb), resize(s.side, nb), resize(s.inBatch, nb)
	clearBucketsG1(s.buckets, s.side)
	clear(s.inBatch)
	s.grow(batch)
	f.addInto(scalars, s, 0, batch)
	s.flush(batch)
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

// multiExp returns Σ scalars[i]·bases[i].
func (f *fixedBaseG2) multiExp(scalars []fr.Element, s *msmScratchG2) bn254.G2Jac {
	f.accumulate(scalars, s)
	return s.reduce(1 << (f.c - 1))
}

// accumulate adds every scalar's digits' table points into fresh buckets of s, leaving
// their reduction (Σ (k+1)·bucket[k]) to the caller: reduce, or reduceManyG2 with other MSMs.
func (f *fixedBaseG2) accumulate(scalars []fr.Element, s *msmScratchG2) {
	nb := 1 << (f.c - 1)
	batch := batchSizeFor(nb)
	s.buckets, s.side, s.inBatch = resize(s.buckets, nb), resize(s.side, nb), resize(s.inBatch, nb)
	clearBucketsG2(s.buckets, s.side)
	clear(s.inBatch)
	s.grow(batch)
	f.addInto(scalars, s, 0, batch)
	s.flush(batch)
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
