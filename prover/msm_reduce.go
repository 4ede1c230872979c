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
// about 16). The reductions of a proof's MSMs are independent, so they can walk down their
// buckets in step: at each bucket index every MSM's running sum takes its bucket, then every
// total takes its running sum, each step one batch of affine additions sharing one field
// inversion (Montgomery's trick): about 6 multiplications an addition plus the batch's share
// of the inversion. A proof with the cache on reduces two G1 MSMs (A, K) per group it computes
// on its own, some forty at depth 20. The merged sums have few but large bucket sets (4096
// buckets at c = 13); wireSums cuts each into segments reduced as MSMs of their own and joins
// them (joinSegmentsG1).
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
	runs   []bn254.G1Jac
}

// reduceManyG1 sets out[i] = Σₖ (k+1)·(ms[i].buckets[k] + ms[i].side[k]) for every i, and
// runs[i] = Σₖ (ms[i].buckets[k] + ms[i].side[k]) unless runs is nil.
func reduceManyG1(ms []bucketsG1, out, runs []bn254.G1Jac, rs *reduceScratchG1) {
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
		run, tot := sideSumsG1(ms[i].side)
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

// sideSumsG1 returns Σₖ side[k] and Σₖ (k+1)·side[k], infinity (fast) when every side
// bucket is empty, as it nearly always is.
func sideSumsG1(side []bn254.G1Jac) (run, total *bn254.G1Jac) {
	var running, tot bn254.G1Jac
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

// joinSegmentsG1 returns the reduction Σₖ (k+1)·bucket[k] of a bucket set reduced as
// segments of l buckets (a power of two), from each segment's reduction tot[s] and sum run[s]:
// bucket k = s·l + k' has weight (k'+1) + s·l, so the set's is Σ tot[s] + l·Σ s·run[s].
func joinSegmentsG1(tot, run []bn254.G1Jac, l int) bn254.G1Jac {
	var acc, sum, res bn254.G1Jac
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

// wireSums are a proof's sums: Σ wA, Σ wB (in G2), and Σ wK + h(τ)t(τ)/δ for C.
type wireSums struct {
	a, k bn254.G1Jac
	b2   bn254.G2Jac
}

// wireSums computes, on one core, the sums of the groups of todo, each on its own into
// sums[gi] (for the cache), and the sums of the groups of merged together with the quotient
// term h, which it returns.
//
// The merged groups take the layout's full tables and share one bucket set per sum, the
// quotient's MSM the K one (see fixedBaseG1.accumulate): without a cache every group is
// merged, and a cold proof reduces three bucket sets. The todo groups take their own tables
// and bucket sets. All the G1 bucket sets are slices of one array (the G2 ones of another),
// so that the proof's additions run as one stream of batches: no partial batch at the end of
// each MSM, and batches drawn from several bucket sets have few conflicts. Each wire's
// digits are computed once for its three sums. The bucket sets are then reduced together
// (reduceManyG1, reduceManyG2).
func (sc *scratch) wireSums(l *layout, todo, merged []int, w []fr.Element, zTab *fixedBaseG1, h []fr.Element, sums []groupSums) wireSums {
	groups := l.groups
	// G1: the A and K bucket sets of each group of todo, then the merged A and K (with h),
	// each in segments of segmentBuckets (see below).
	// The merged sets are as wide as the full tables' window, which the quotient's table
	// shares (NewProver).
	nbFull := 1 << (l.full.c - 1)
	segs := max(nbFull/segmentBuckets, 1)
	nt := 2 * len(todo)
	nm := nt + 2*segs
	if cap(sc.bkts) < nm {
		sc.bkts = append(sc.bkts[:cap(sc.bkts)], make([]bucketsG1, nm-cap(sc.bkts))...)
	}
	ms := sc.bkts[:nm]
	nm2 := len(todo) + segs
	if cap(sc.bkts2) < nm2 {
		sc.bkts2 = append(sc.bkts2[:cap(sc.bkts2)], make([]bucketsG2, nm2-cap(sc.bkts2))...)
	}
	ms2 := sc.bkts2[:nm2]

	// Where each bucket set starts in the arrays, and its size.
	sc.offs, sc.offs2 = sc.offs[:0], sc.offs2[:0]
	total, total2 := 0, 0
	for _, gi := range todo {
		nb := 1 << (groups[gi].own.c - 1)
		sc.offs = append(sc.offs, [2]int{total, nb}, [2]int{total + nb, nb})
		total += 2 * nb
		sc.offs2 = append(sc.offs2, [2]int{total2, nb})
		total2 += nb
	}
	mergedA, mergedK, mergedB2 := total, total+nbFull, total2
	total += 2 * nbFull
	total2 += nbFull
	// The merged sets are reduced as segments, each an MSM of its own for reduceManyG1, so
	// that their running sums advance in one batch of affine additions instead of one
	// Jacobian addition at a time (joinSegments puts them back together).
	segments := func(offs [][2]int, start, nb, n int) [][2]int {
		for i := 0; i < n; i++ {
			offs = append(offs, [2]int{start + i*nb/n, nb / n})
		}
		return offs
	}
	sc.offs = segments(sc.offs, mergedA, nbFull, segs)
	sc.offs = segments(sc.offs, mergedK, nbFull, segs)
	sc.offs2 = segments(sc.offs2, mergedB2, nbFull, segs)
	sc.allB, sc.allS = resize(sc.allB, total), resize(sc.allS, total)
	clearBucketsG1(sc.allB, sc.allS)
	sc.allB2, sc.allS2 = resize(sc.allB2, total2), resize(sc.allS2, total2)
	clearBucketsG2(sc.allB2, sc.allS2)
	for i, o := range sc.offs {
		ms[i].buckets, ms[i].side = sc.allB[o[0]:o[0]+o[1]], sc.allS[o[0]:o[0]+o[1]]
	}
	for i, o := range sc.offs2 {
		ms2[i].buckets, ms2[i].side = sc.allB2[o[0]:o[0]+o[1]], sc.allS2[o[0]:o[0]+o[1]]
	}

	// The accumulations run in the arrays; the scratch's own storage goes back after.
	ownB, ownS := sc.g1.buckets, sc.g1.side
	ownB2, ownS2 := sc.g2.buckets, sc.g2.side
	sc.g1.buckets, sc.g1.side = sc.allB, sc.allS
	sc.g2.buckets, sc.g2.side = sc.allB2, sc.allS2
	sc.g1.begin(maxBatch)
	sc.g2.begin(maxBatch)
	for t, gi := range todo {
		g := &groups[gi]
		o := [3]int32{int32(sc.offs[2*t][0]), int32(sc.offs[2*t+1][0]), int32(sc.offs2[t][0])}
		nb := sc.offs[2*t][1]
		sc.accumulateGroup(w, g.wires, g.ownRows, &g.own, o, batchSizeFor(2*nb), batchSizeFor(nb))
	}
	o := [3]int32{int32(mergedA), int32(mergedK), int32(mergedB2)}
	for _, gi := range merged {
		g := &groups[gi]
		sc.accumulateGroup(w, g.wires, g.fullRows, &l.full, o, batchSizeFor(2*nbFull), batchSizeFor(nbFull))
	}
	zTab.addInto(h, &sc.g1, o[1], batchSizeFor(nbFull))
	sc.g1.flush(batchSizeFor(nbFull))
	sc.g2.flush(batchSizeFor(nbFull))
	sc.g1.buckets, sc.g1.side = ownB, ownS
	sc.g2.buckets, sc.g2.side = ownB2, ownS2

	out, runs := resize(sc.red.out, nm), resize(sc.red.runs, nm)
	sc.red.out, sc.red.runs = out, runs
	reduceManyG1(ms, out, runs, &sc.red)
	out2, runs2 := resize(sc.red2.out, nm2), resize(sc.red2.runs, nm2)
	sc.red2.out, sc.red2.runs = out2, runs2
	reduceManyG2(ms2, out2, runs2, &sc.red2)
	if len(todo) > 0 {
		aff := bn254.BatchJacobianToAffineG1(out[:nt])
		aff2 := batchToAffineG2(out2[:len(todo)])
		for t, gi := range todo {
			sums[gi].a, sums[gi].k = aff[2*t], aff[2*t+1]
			sums[gi].b2 = aff2[t]
		}
	}
	return wireSums{
		a:  joinSegmentsG1(out[nt:nt+segs], runs[nt:nt+segs], nbFull/segs),
		k:  joinSegmentsG1(out[nt+segs:], runs[nt+segs:], nbFull/segs),
		b2: joinSegmentsG2(out2[len(todo):], runs2[len(todo):], nbFull/segs),
	}
}

// segmentBuckets is the size of the segments the merged bucket sets are reduced in: 64
// segments of a 4096-bucket set make batches of 128 G1 additions.
const segmentBuckets = 64

// accumulateGroup schedules the additions of a group's sums into the A, K and B₂ buckets
// at offsets off, from the tables ts in which the group's wires have the rows rows: each
// wire's digits once, then its table points for each nonzero digit.
func (sc *scratch) accumulateGroup(w []fr.Element, wires []int, rows []wireRows, ts *tableSet, off [3]int32, batch1, batch2 int) {
	nw := ts.aTab.windows
	if cap(sc.g1.digits) < nw {
		sc.g1.digits = make([]int32, nw)
	}
	digits := sc.g1.digits[:nw]
	for i, wi := range wires {
		s := &w[wi]
		if s.IsZero() {
			continue
		}
		r := rows[i]
		signedDigits(s, ts.c, digits)
		var rowA, rowK []bn254.G1Affine
		var rowB2 []bn254.G2Affine
		if r.a >= 0 {
			rowA = ts.aTab.table[int(r.a)*nw:][:nw]
		}
		if r.b >= 0 {
			rowB2 = ts.b2Tab.table[int(r.b)*nw:][:nw]
		}
		if r.k >= 0 {
			rowK = ts.kTab.table[int(r.k)*nw:][:nw]
		}
		for j, d := range digits {
			if d == 0 {
				continue
			}
			b, neg := digitBucket(d)
			if rowA != nil {
				sc.g1.addSigned(off[0]+b, &rowA[j], neg, batch1)
			}
			if rowK != nil {
				sc.g1.addSigned(off[1]+b, &rowK[j], neg, batch1)
			}
			if rowB2 != nil {
				sc.g2.addSigned(off[2]+b, &rowB2[j], neg, batch2)
			}
		}
	}
}
