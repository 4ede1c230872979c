package prover

import (
	"sort"

	"github.com/consensys/gnark-crypto/ecc/bn254"
)

// This file is msm_reduce.go's reduceManyG1 for G2, line for line: keep the two in step.

// minBatchReduceG2 is minBatchReduce for G2: an Fp² inversion costs a few multiplications
// more than an Fp one, but each Jacobian addition it saves costs three to four times more, so
// smaller batches pay.
const minBatchReduceG2 = 6

// bucketsG2 are the buckets an MSM's accumulation left: buckets[k] and side[k] both hold
// multiples of weight k+1 (side takes the rare additions the affine batch cannot).
type bucketsG2 struct {
	buckets []bn254.G2Affine
	side    []bn254.G2Jac
}

// reduceScratchG2 is one goroutine's working memory for reduceManyG2.
type reduceScratchG2 struct {
	order  []int
	runJ   []bn254.G2Jac
	totJ   []bn254.G2Jac
	runA   []bn254.G2Affine
	totA   []bn254.G2Affine
	dst    []*bn254.G2Affine
	src    []*bn254.G2Affine
	denom  []bn254.E2
	prefix []bn254.E2
	out    []bn254.G2Jac
	runs   []bn254.G2Jac
}

// reduceManyG2 sets out[i] = Σₖ (k+1)·(ms[i].buckets[k] + ms[i].side[k]) for every i, and
// runs[i] = Σₖ (ms[i].buckets[k] + ms[i].side[k]) unless runs is nil.
func reduceManyG2(ms []bucketsG2, out, runs []bn254.G2Jac, rs *reduceScratchG2) {
	n := len(ms)
	if n == 0 {
		return
	}
	// Widest first: the MSMs active at bucket index k are then a prefix of order.
	rs.order = rs.order[:0]
	for i := range ms {
		rs.order = append(rs.order, i)
	}
	sort.SliceStable(rs.order, func(a, b int) bool { return len(ms[rs.order[a]].buckets) > len(ms[rs.order[b]].buckets) })
	rs.runJ = resize(rs.runJ, n)
	rs.totJ = resize(rs.totJ, n)
	rs.runA = resize(rs.runA, n)
	rs.totA = resize(rs.totA, n)
	for i := range rs.runJ {
		rs.runJ[i] = bn254.G2Jac{}
		rs.runJ[i].Z.SetZero()
		rs.totJ[i] = rs.runJ[i]
	}
	top := len(ms[rs.order[0]].buckets)
	active := 0
	affine := false
	for k := top - 1; k >= 0; k-- {
		for active < n && len(ms[rs.order[active]].buckets) > k {
			active++
		}
		if !affine && active >= minBatchReduceG2 {
			// Switch to affine: convert every running sum and total with one inversion (the
			// MSMs not yet active hold infinity, which converts to (0,0)).
			copy(rs.runA, batchToAffineG2(rs.runJ))
			copy(rs.totA, batchToAffineG2(rs.totJ))
			affine = true
		}
		if !affine {
			for a := 0; a < active; a++ {
				i := rs.order[a]
				if b := &ms[i].buckets[k]; !b.IsInfinity() {
					rs.runJ[a].AddMixed(b)
				}
				rs.totJ[a].AddAssign(&rs.runJ[a])
			}
			continue
		}
		rs.dst, rs.src = rs.dst[:0], rs.src[:0]
		for a := 0; a < active; a++ {
			rs.dst = append(rs.dst, &rs.runA[a])
			rs.src = append(rs.src, &ms[rs.order[a]].buckets[k])
		}
		rs.addPairs()
		rs.dst, rs.src = rs.dst[:0], rs.src[:0]
		for a := 0; a < active; a++ {
			rs.dst = append(rs.dst, &rs.totA[a])
			rs.src = append(rs.src, &rs.runA[a])
		}
		rs.addPairs()
	}
	for a, i := range rs.order {
		if affine {
			out[i].FromAffine(&rs.totA[a])
		} else {
			out[i] = rs.totJ[a]
		}
		run, tot := sideSumsG2(ms[i].side)
		out[i].AddAssign(tot)
		if runs != nil {
			if affine {
				runs[i].FromAffine(&rs.runA[a])
			} else {
				runs[i] = rs.runJ[a]
			}
			runs[i].AddAssign(run)
		}
	}
}

// sideSumsG2 returns Σₖ side[k] and Σₖ (k+1)·side[k], infinity (fast) when every side
// bucket is empty, as it nearly always is.
func sideSumsG2(side []bn254.G2Jac) (run, total *bn254.G2Jac) {
	var running, tot bn254.G2Jac
	running.Z.SetZero()
	tot.Z.SetZero()
	top := -1
	for k := range side {
		if !side[k].Z.IsZero() {
			top = k
		}
	}
	for k := top; k >= 0; k-- {
		if !side[k].Z.IsZero() {
			running.AddAssign(&side[k])
		}
		tot.AddAssign(&running)
	}
	return &running, &tot
}

// joinSegmentsG2 returns the reduction Σₖ (k+1)·bucket[k] of a bucket set reduced as
// segments of l buckets (a power of two), from each segment's reduction tot[s] and sum run[s]:
// bucket k = s·l + k' has weight (k'+1) + s·l, so the set's is Σ tot[s] + l·Σ s·run[s].
func joinSegmentsG2(tot, run []bn254.G2Jac, l int) bn254.G2Jac {
	var acc, sum, res bn254.G2Jac
	acc.Z.SetZero()
	sum.Z.SetZero()
	res.Z.SetZero()
	for s := len(run) - 1; s >= 1; s-- {
		acc.AddAssign(&run[s])
		sum.AddAssign(&acc)
	}
	for ; l > 1; l >>= 1 {
		sum.DoubleAssign()
	}
	for s := range tot {
		res.AddAssign(&tot[s])
	}
	res.AddAssign(&sum)
	return res
}

// addPairs sets *dst[t] += *src[t] for every t (the dst distinct), the generic cases in one
// batch of affine additions, the others (an infinity, equal or opposite points) at once.
func (rs *reduceScratchG2) addPairs() {
	m := 0
	for t := range rs.dst {
		d, s := rs.dst[t], rs.src[t]
		switch {
		case s.IsInfinity():
			continue
		case d.IsInfinity():
			*d = *s
			continue
		case d.X.Equal(&s.X):
			if d.Y.Equal(&s.Y) {
				var j bn254.G2Jac
				j.FromAffine(d)
				j.DoubleAssign()
				d.FromJacobian(&j)
			} else {
				*d = bn254.G2Affine{}
			}
			continue
		}
		rs.dst[m], rs.src[m] = d, s
		m++
	}
	if m == 0 {
		return
	}
	rs.denom = resize(rs.denom, m)
	rs.prefix = resize(rs.prefix, m)
	d, pre := rs.denom, rs.prefix
	for t := 0; t < m; t++ {
		d[t].Sub(&rs.src[t].X, &rs.dst[t].X)
		if t == 0 {
			pre[0] = d[0]
		} else {
			pre[t].Mul(&pre[t-1], &d[t])
		}
	}
	var inv, tmp bn254.E2
	inv.Inverse(&pre[m-1])
	for t := m - 1; t >= 0; t-- {
		if t > 0 {
			tmp.Mul(&inv, &pre[t-1])
			inv.Mul(&inv, &d[t])
		} else {
			tmp = inv
		}
		a, p := rs.dst[t], rs.src[t]
		var lambda, x3, y3 bn254.E2
		lambda.Sub(&p.Y, &a.Y).Mul(&lambda, &tmp)
		x3.Square(&lambda).Sub(&x3, &a.X).Sub(&x3, &p.X)
		y3.Sub(&a.X, &x3).Mul(&y3, &lambda).Sub(&y3, &a.Y)
		a.X, a.Y = x3, y3
	}
}
