package bls

import (
	"runtime"
	"sync"

	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
)

// workers is how many goroutines a batch operation splits into.
func workers(n int) int {
	w := runtime.GOMAXPROCS(0)
	if w > n {
		w = n
	}
	if w < 1 {
		w = 1
	}
	return w
}

// parallelChunks runs f over [0, n) split into at most workers(n) contiguous chunks and waits.
func parallelChunks(n int, f func(lo, hi int)) {
	w := workers(n)
	if w <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	size := (n + w - 1) / w
	for lo := 0; lo < n; lo += size {
		hi := min(lo+size, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}

// pairingProductIsOne reports whether prod e(p[i], q[i]) == 1, with the multi-Miller loop split
// over the cores and a single final exponentiation. Every point must have been checked not to
// be at infinity: gnark-crypto's MillerLoop drops such pairs silently.
func pairingProductIsOne(p []bls12381.G1Affine, q []bls12381.G2Affine) bool {
	if len(p) == 0 || len(p) != len(q) {
		return false
	}
	for i := range p {
		if p[i].IsInfinity() || q[i].IsInfinity() {
			return false
		}
	}
	ml := millerLoop(p, q)
	fe := bls12381.FinalExponentiation(&ml)
	return fe.IsOne()
}

// millerLoop computes the product of Miller loops over all pairs, in parallel chunks. Chunks
// smaller than minPairsPerWorker are not worth a goroutine: the multi-Miller loop shares its
// squarings between the pairs of one chunk.
func millerLoop(p []bls12381.G1Affine, q []bls12381.G2Affine) bls12381.GT {
	const minPairsPerWorker = 4
	w := workers(len(p) / minPairsPerWorker)
	if w <= 1 {
		ml, err := bls12381.MillerLoop(p, q)
		if err != nil {
			panic("bls: miller loop on equal-length inputs failed: " + err.Error())
		}
		return ml
	}
	parts := make([]bls12381.GT, w)
	size := (len(p) + w - 1) / w
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := i*size, min((i+1)*size, len(p))
		if lo >= hi {
			parts[i].SetOne()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ml, err := bls12381.MillerLoop(p[lo:hi], q[lo:hi])
			if err != nil {
				panic("bls: miller loop on equal-length inputs failed: " + err.Error())
			}
			parts[i] = ml
		}()
	}
	wg.Wait()
	acc := parts[0]
	for i := 1; i < w; i++ {
		acc.Mul(&acc, &parts[i])
	}
	return acc
}
