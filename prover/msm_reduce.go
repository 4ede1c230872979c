package prover

import (
	"sort"

	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// Bucket reductions of many G1 MSMs at once.
//
// A fixed-base MSM ends with Σₖ (k+1)·bucket[k], a running sum from the top bucket down: two
// Jacobian additions per bucket (a mixed one of about 11 multiplications and a full one of
// about 16). One proof reduces the buckets of three G1 MSMs (A, B₁, K) per wire group, some
// forty of them at depth 20, and that was about a fifth of the group sums. The reductions are
// independent, so they can walk down their buckets in step: at each bucket index every MSM's
// running sum takes its bucket, then every total takes its running sum, each step one batch of
// affine additions sharing one field inversion (Montgomery's trick): about 6 multiplications
// an addition plus the batch's share of the inversion.
//
// MSMs of different window sizes have different bucket counts; at the top only the widest
// are active, and a batch of a few additions would pay an inversion for little. Those steps
// run in Jacobian coordinates until minBatchReduce MSMs are active, then every running sum
// and total is converted to affine at once (one more inversion) and the rest runs batched.

// minBatchReduce is the number of active MSMs from which a reduction step is batched affine.
const minBatchReduce = 12

// bucketsG1 are the buckets an MSM's accumulation left: buckets[k] and side[k] both hold
// multiples of weight k+1 (side takes the rare additions the affine batch cannot).
type bucketsG1 struct {
	buckets []bn254.G1Affine
	side    []bn254.G1Jac
}

// reduceScratchG1 is one goroutine's working memory for reduceManyG1.
type reduceScratchG1 struct {
	order  []int
	runJ   []bn254.G1Jac
	totJ   []bn254.G1Jac
	runA   []bn254.G1Affine
	totA   []bn254.G1Affine
	dst    []*bn254.G1Affine
	src    []*bn254.G1Affine
	denom  []fp.Element
	prefix []fp.Element
	out    []bn254.G1Jac
}

// reduceManyG1 sets out[i] = Σₖ (k+1)·(ms[i].buckets[k] + ms[i].side[k]) for every i.
func reduceManyG1(ms []bucketsG1, out []bn254.G1Jac, rs *reduceScratchG1) {
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
		rs.runJ[i] = bn254.G1Jac{}
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
		if !affine && active >= minBatchReduce {
			// Switch to affine: convert every running sum and total with one inversion (the
			// MSMs not yet active hold infinity, which converts to (0,0)).
			copy(rs.runA, bn254.BatchJacobianToAffineG1(rs.runJ))
			copy(rs.totA, bn254.BatchJacobianToAffineG1(rs.totJ))
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
		out[i].AddAssign(sideSumG1(ms[i].side))
	}
}

// sideSumG1 returns Σₖ (k+1)·side[k], infinity (fast) when every side bucket is empty, as it
// nearly always is.
func sideSumG1(side []bn254.G1Jac) *bn254.G1Jac {
	var running, total bn254.G1Jac
	running.Z.SetZero()
	total.Z.SetZero()
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
		total.AddAssign(&running)
	}
	return &total
}

// addPairs sets *dst[t] += *src[t] for every t (the dst distinct), the generic cases in one
// batch of affine additions, the others (an infinity, equal or opposite points) at once.
func (rs *reduceScratchG1) addPairs() {
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
				var j bn254.G1Jac
				j.FromAffine(d)
				j.DoubleAssign()
				d.FromJacobian(&j)
			} else {
				*d = bn254.G1Affine{}
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
	var inv, tmp fp.Element
	inv.Inverse(&pre[m-1])
	for t := m - 1; t >= 0; t-- {
		if t > 0 {
			tmp.Mul(&inv, &pre[t-1])
			inv.Mul(&inv, &d[t])
		} else {
			tmp = inv
		}
		a, p := rs.dst[t], rs.src[t]
		var lambda, x3, y3 fp.Element
		lambda.Sub(&p.Y, &a.Y).Mul(&lambda, &tmp)
		x3.Square(&lambda).Sub(&x3, &a.X).Sub(&x3, &p.X)
		y3.Sub(&a.X, &x3).Mul(&y3, &lambda).Sub(&y3, &a.Y)
		a.X, a.Y = x3, y3
	}
}

// resize returns s with length n, reallocated only when its capacity is short.
func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// groupSumsMany sets sums[gi] to the partial sums of groups[gi] for every gi of todo, on one
// core: every group's MSMs are accumulated first, then the G1 ones reduced all together
// (reduceManyG1), and the G2 ones likewise (reduceManyG2).
func (sc *scratch) groupSumsMany(groups []wireGroup, todo []int, w []fr.Element, sums []groupSums) {
	nm := 3 * len(todo)
	if cap(sc.bkts) < nm {
		sc.bkts = append(sc.bkts[:cap(sc.bkts)], make([]bucketsG1, nm-cap(sc.bkts))...)
	}
	ms := sc.bkts[:nm]
	ownB, ownS := sc.g1.buckets, sc.g1.side
	acc := func(t *fixedBaseG1, m *bucketsG1) {
		// The accumulation runs in m's bucket storage, kept from proof to proof.
		sc.g1.buckets, sc.g1.side = m.buckets, m.side
		t.accumulate(sc.scalars, &sc.g1)
		m.buckets, m.side = sc.g1.buckets, sc.g1.side
	}
	if cap(sc.bkts2) < len(todo) {
		sc.bkts2 = append(sc.bkts2[:cap(sc.bkts2)], make([]bucketsG2, len(todo)-cap(sc.bkts2))...)
	}
	ms2 := sc.bkts2[:len(todo)]
	ownB2, ownS2 := sc.g2.buckets, sc.g2.side
	for t, gi := range todo {
		g := &groups[gi]
		sc.gather(w, g.aWires)
		acc(g.aTab, &ms[3*t])
		sc.gather(w, g.bWires)
		acc(g.b1Tab, &ms[3*t+1])
		m2 := &ms2[t]
		sc.g2.buckets, sc.g2.side = m2.buckets, m2.side
		g.b2Tab.accumulate(sc.scalars, &sc.g2)
		m2.buckets, m2.side = sc.g2.buckets, sc.g2.side
		sc.gather(w, g.kWires)
		acc(g.kTab, &ms[3*t+2])
	}
	// The scratch's own storage back, so that the next MSM does not write into the last
	// group's buckets.
	sc.g1.buckets, sc.g1.side = ownB, ownS
	sc.g2.buckets, sc.g2.side = ownB2, ownS2
	out2 := resize(sc.red2.out, len(todo))
	sc.red2.out = out2
	reduceManyG2(ms2, out2, &sc.red2)
	aff2 := batchToAffineG2(out2)
	for t, gi := range todo {
		sums[gi].b2 = aff2[t]
	}
	out := resize(sc.red.out, nm)
	sc.red.out = out
	reduceManyG1(ms, out, &sc.red)
	aff := bn254.BatchJacobianToAffineG1(out)
	for t, gi := range todo {
		sums[gi].a, sums[gi].b1, sums[gi].k = aff[3*t], aff[3*t+1], aff[3*t+2]
	}
}
