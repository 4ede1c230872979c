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
// about 16). One proof reduces the buckets of two G1 MSMs (A and K) per wire group it computes
// on its own, and reduced one at a time they were about a fifth of the group sums. They are
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

// wireSums are a proof's sums: Σ wA, Σ wB (in G2 only: the proof without randomizers that the
// prover rerandomizes has no r·B term in C, the one use of the G1 copy), and Σ wK + h(τ)t(τ)/δ
// for C.
type wireSums struct {
	a, k bn254.G1Jac
	b2   bn254.G2Jac
}

// wireSums computes, on one core, the sums of the groups of todo, each on its own into
// sums[gi] (for the cache), and the sums of the groups of merged together with the quotient
// term h, which it returns. Every group's MSMs are accumulated first, then all the G1 bucket
// sets reduced together (reduceManyG1), and the G2 ones likewise (reduceManyG2). The merged
// groups and the quotient share one bucket set per sum (see fixedBaseG1.accumulate), so
// they cost one reduction in all instead of one each: without a cache every group is
// merged, and a cold proof reduces three bucket sets (A, K, B₂) instead of some fifty.
func (sc *scratch) wireSums(groups []wireGroup, todo, merged []int, w []fr.Element, zTab *fixedBaseG1, h []fr.Element, sums []groupSums) wireSums {
	// G1: two bucket sets per group of todo, then the merged A and K (with h).
	nm := 2*len(todo) + 2
	if cap(sc.bkts) < nm {
		sc.bkts = append(sc.bkts[:cap(sc.bkts)], make([]bucketsG1, nm-cap(sc.bkts))...)
	}
	ms := sc.bkts[:nm]
	if cap(sc.bkts2) < len(todo)+1 {
		sc.bkts2 = append(sc.bkts2[:cap(sc.bkts2)], make([]bucketsG2, len(todo)+1-cap(sc.bkts2))...)
	}
	ms2 := sc.bkts2[:len(todo)+1]
	mA, mK, mB2 := &ms[nm-2], &ms[nm-1], &ms2[len(todo)]
	nbA, nbB, nbK := 0, 0, 1<<(zTab.c-1)
	for _, gi := range merged {
		g := &groups[gi]
		nbA, nbB, nbK = max(nbA, 1<<(g.aTab.c-1)), max(nbB, 1<<(g.b2Tab.c-1)), max(nbK, 1<<(g.kTab.c-1))
	}
	for _, m := range []struct {
		m  *bucketsG1
		nb int
	}{{mA, nbA}, {mK, nbK}} {
		m.m.buckets, m.m.side = resize(m.m.buckets, m.nb), resize(m.m.side, m.nb)
		clearBucketsG1(m.m.buckets, m.m.side)
	}
	mB2.buckets, mB2.side = resize(mB2.buckets, nbB), resize(mB2.side, nbB)
	clearBucketsG2(mB2.buckets, mB2.side)

	// The accumulations run in the bucket sets' storage, kept from proof to proof.
	ownB, ownS := sc.g1.buckets, sc.g1.side
	ownB2, ownS2 := sc.g2.buckets, sc.g2.side
	acc := func(t *fixedBaseG1, scalars []fr.Element, m *bucketsG1, keep bool) {
		sc.g1.buckets, sc.g1.side = m.buckets, m.side
		t.accumulate(scalars, &sc.g1, keep)
		m.buckets, m.side = sc.g1.buckets, sc.g1.side
	}
	acc2 := func(t *fixedBaseG2, m *bucketsG2, keep bool) {
		sc.g2.buckets, sc.g2.side = m.buckets, m.side
		t.accumulate(sc.scalars, &sc.g2, keep)
		m.buckets, m.side = sc.g2.buckets, sc.g2.side
	}
	group := func(g *wireGroup, a, k *bucketsG1, b2 *bucketsG2, keep bool) {
		sc.gather(w, g.aWires)
		acc(g.aTab, sc.scalars, a, keep)
		sc.gather(w, g.bWires)
		acc2(g.b2Tab, b2, keep)
		sc.gather(w, g.kWires)
		acc(g.kTab, sc.scalars, k, keep)
	}
	for t, gi := range todo {
		group(&groups[gi], &ms[2*t], &ms[2*t+1], &ms2[t], false)
	}
	for _, gi := range merged {
		group(&groups[gi], mA, mK, mB2, true)
	}
	acc(zTab, h, mK, true)
	// The scratch's own storage back, so that the next MSM does not write into the last
	// bucket set.
	sc.g1.buckets, sc.g1.side = ownB, ownS
	sc.g2.buckets, sc.g2.side = ownB2, ownS2

	out := resize(sc.red.out, nm)
	sc.red.out = out
	reduceManyG1(ms, out, &sc.red)
	out2 := resize(sc.red2.out, len(ms2))
	sc.red2.out = out2
	reduceManyG2(ms2, out2, &sc.red2)
	if len(todo) > 0 {
		aff := bn254.BatchJacobianToAffineG1(out[:nm-2])
		aff2 := batchToAffineG2(out2[:len(todo)])
		for t, gi := range todo {
			sums[gi].a, sums[gi].k = aff[2*t], aff[2*t+1]
			sums[gi].b2 = aff2[t]
		}
	}
	return wireSums{a: out[nm-2], k: out[nm-1], b2: out2[len(todo)]}
}
