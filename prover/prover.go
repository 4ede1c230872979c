package prover

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/fft"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
)

// ProverConfig configures a Prover. The zero value works: one worker per core and a cache
// for DefaultCacheSize validators.
type ProverConfig struct {
	// Workers is the number of proofs ProveMany computes at once, each on one core.
	// 0 means GOMAXPROCS.
	Workers int
	// CacheSize is the number of validators whose per-group partial sums are kept (least
	// recently used first out), and of the tree levels' sums kept for validators under the
	// same node (two generations of CacheSize groups, about 8 MiB at the default; see
	// sharedSums). 0 means DefaultCacheSize; negative disables both.
	CacheSize int
}

// DefaultCacheSize covers an operator with 10,000 keys. An entry costs about 350 bytes per
// wire group (Prover.Groups), about 8 KiB at depth 20.
const DefaultCacheSize = 10_240

// Prover computes Groth16 proofs of the circuit with the proving key of Keys. It produces
// exactly gnark's proofs (gnark's verifier accepts them) but schedules the work for
// throughput:
//
//   - Each proof runs on one core, and ProveMany runs one proof per core. The circuit is
//     small (a 4096-point domain at depth 20), and gnark's split of one proof across cores
//     spends much of its time waiting.
//   - The wire-dependent multi-scalar multiplications are split by wire group (see layout),
//     and each validator's per-group sums are cached: the next proof of the same validator
//     recomputes only the groups that changed (the epoch's a1, y and nullifier, and the tree
//     levels that new registrations reached). Reuse is guarded by a digest of the group's
//     wire values, so a cached sum is only used for exactly the values it was computed from.
//   - A validator the prover has not seen takes the sums of the tree levels it shares with
//     validators the prover has seen (those under the same node: sharedSums), so its first
//     proof computes its identity, its lowest level and the epoch's values, not the whole tree.
//   - Sums that are not kept (the groups that change with every attestation, or every group
//     when the cache is off) share their MSMs' buckets with the quotient's, and all the bucket
//     reductions of a proof run together in batches of affine additions (msm_reduce.go).
//
// A Prover is safe for concurrent use.
type Prover struct {
	keys     *Keys
	workers  int
	layout   *layout
	cache    *sumCache
	shared   *sharedSums // tree levels' sums by content, across validators (nil without cache)
	scratch  sync.Pool
	den      fr.Element   // 1 / (g^n - 1) on the coset of the quotient computation
	zTab     *fixedBaseG1 // the quotient's bases, [τⁱ·t(τ)/δ]₁
	keysID   [32]byte     // what exported cache entries are valid for (KeysID)
	reused   atomic.Int64 // groups whose cached sums a proof reused, for tests
	borrowed atomic.Int64 // groups whose sums a proof took from another validator's, for tests
}

// NewProver prepares a prover: it groups the circuit's wires (a few solves of random
// witnesses) and builds the fixed-base tables of the proving key's bases, group by group.
// At depth 20 that takes about 1.6 s and keeps some 35 MiB of tables (BenchmarkNewProver).
func NewProver(keys *Keys, cfg ProverConfig) (*Prover, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	lay, err := newLayout(keys)
	if err != nil {
		return nil, err
	}
	z := keys.pk.G1.Z
	p := &Prover{keys: keys, workers: cfg.Workers, layout: lay, zTab: newFixedBaseG1(z, windowBits(len(z))), keysID: keysID(keys, lay)}
	if cfg.CacheSize > 0 {
		p.cache = newSumCache(cfg.CacheSize)
		p.shared = newSharedSums(cfg.CacheSize)
	}
	n := keys.pk.Domain.Cardinality
	p.scratch.New = func() any { return newScratch(int(n)) }
	var one fr.Element
	one.SetOne()
	p.den.Exp(keys.pk.Domain.FrMultiplicativeGen, new(big.Int).SetUint64(n))
	p.den.Sub(&p.den, &one).Inverse(&p.den)
	return p, nil
}

// Prove proves one request on the calling goroutine.
func (p *Prover) Prove(req *Request) (*Proof, Statement, error) {
	sc := p.scratch.Get().(*scratch)
	defer p.scratch.Put(sc)
	return p.prove(req, sc)
}

// Result is the outcome of one request of ProveMany.
type Result struct {
	Proof     *Proof
	Statement Statement
	Err       error
}

// ProveMany proves every request, Workers at a time, and returns the results in request
// order. A request that fails has its Err set and does not stop the others. The work queue
// holds one request per worker; when the context ends, no further request starts (their
// results carry the context's error) and ProveMany returns that error after the running
// proofs finish.
func (p *Prover) ProveMany(ctx context.Context, reqs []Request) ([]Result, error) {
	results := make([]Result, len(reqs))
	jobs := make(chan int, p.workers)
	var skipped atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < p.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := p.scratch.Get().(*scratch)
			defer p.scratch.Put(sc)
			for i := range jobs {
				r := &results[i]
				// A job may wait in the queue after the context ends.
				if err := ctx.Err(); err != nil {
					r.Err = err
					skipped.Store(true)
					continue
				}
				r.Proof, r.Statement, r.Err = p.prove(&reqs[i], sc)
			}
		}()
	}
	for i := range reqs {
		// select picks at random among ready cases: with room in the queue, a send could win
		// over an ended context without this check.
		if ctx.Err() == nil {
			select {
			case jobs <- i:
				continue
			case <-ctx.Done():
			}
		}
		for j := i; j < len(reqs); j++ {
			results[j].Err = ctx.Err()
		}
		skipped.Store(true)
		break
	}
	close(jobs)
	wg.Wait()
	if skipped.Load() {
		return results, ctx.Err()
	}
	return results, nil
}

// scratch holds one worker's buffers, reused from proof to proof.
type scratch struct {
	a, b, c []fr.Element // quotient computation, domain size
	scalars []fr.Element
	digest  []byte
	g1      msmScratchG1
	g2      msmScratchG2
	red     reduceScratchG1
	red2    reduceScratchG2
	bkts    []bucketsG1 // the G1 buckets of the groups being computed, for reduceManyG1
	bkts2   []bucketsG2 // and their G2 buckets, for reduceManyG2
	sums    []groupSums
	todo    []int // groups whose sums are computed on their own, for the cache
	merged  []int // groups whose sums go straight into the proof's
}

func newScratch(n int) *scratch {
	return &scratch{
		a: make([]fr.Element, n), b: make([]fr.Element, n), c: make([]fr.Element, n),
	}
}

// groupSums are a group's contributions to the proof's sums.
type groupSums struct {
	a, b1, k bn254.G1Affine
	b2       bn254.G2Affine
}

func (p *Prover) prove(req *Request, sc *scratch) (*Proof, Statement, error) {
	st, err := req.Statement()
	if err != nil {
		return nil, Statement{}, err
	}
	if req.Path.Depth() != p.keys.depth {
		return nil, Statement{}, fmt.Errorf("%w: path of depth %d for keys of depth %d", ErrBadInput, req.Path.Depth(), p.keys.depth)
	}
	wit, err := frontend.NewWitness(req.assignment(&st), ecc.BN254.ScalarField())
	if err != nil {
		return nil, Statement{}, fmt.Errorf("prove: witness: %w", err)
	}
	sol, err := p.keys.ccs.Solve(wit, solver.WithNbTasks(1))
	if err != nil {
		return nil, Statement{}, fmt.Errorf("prove: solve: %w", err)
	}
	s := sol.(*cs.R1CSSolution)
	pk := p.keys.pk

	// Wire sums, group by group, reusing the validator's cached groups where unchanged.
	var key fr.Element
	var entry *cacheEntry
	if p.cache != nil {
		key = IdentityCommitment(req.Secret)
		entry = p.cache.get(key)
	}
	groups := p.layout.groups
	var fresh *cacheEntry
	if p.cache != nil {
		fresh = &cacheEntry{digests: make([][32]byte, len(groups)), sums: make([]groupSums, len(groups))}
	}
	sums := resize(sc.sums, len(groups))
	sc.sums = sums
	todo, merged := sc.todo[:0], sc.merged[:0]
	for gi := range groups {
		g := &groups[gi]
		if fresh == nil || g.volatile {
			// Its sums are not kept: straight into the proof's sums.
			merged = append(merged, gi)
			continue
		}
		d := sc.digestOf(s.W, g.wires)
		fresh.digests[gi] = d
		if entry != nil && entry.digests[gi] == d {
			sums[gi] = entry.sums[gi]
			p.reused.Add(1)
		} else if gs, ok := p.shared.get(gi, d, g.shared); ok {
			sums[gi] = gs
			p.borrowed.Add(1)
		} else {
			todo = append(todo, gi)
		}
	}
	sc.todo, sc.merged = todo, merged

	// Quotient h = (a·b - c) / (Xⁿ - 1), as gnark computes it, on one core; its MSM shares
	// the merged groups' K buckets.
	h := p.quotient(s.A, s.B, s.C, sc)
	sizeH := int(pk.Domain.Cardinality - 1) // deg h = n - 2
	ws := sc.wireSums(groups, todo, merged, s.W, p.zTab, h[:sizeH], sums)
	sumA, sumB1, sumK, sumB2 := ws.a, ws.b1, ws.k, ws.b2
	if fresh != nil {
		for _, gi := range todo {
			if groups[gi].shared {
				p.shared.put(gi, fresh.digests[gi], sums[gi])
			}
		}
		for gi := range groups {
			g, gs := &groups[gi], &sums[gi]
			if g.volatile {
				continue
			}
			fresh.sums[gi] = *gs
			sumA.AddMixed(&gs.a)
			sumB1.AddMixed(&gs.b1)
			sumK.AddMixed(&gs.k)
			sumB2.AddMixed(&gs.b2)
		}
		p.cache.put(key, fresh)
	}

	// Randomizers r, s: A = α + Σ wA + r·δ, B = β + Σ wB + s·δ,
	// C = Σ wK + h(τ)t(τ)/δ + s·A + r·B₁ - r·s·δ.
	var r, sr fr.Element
	if _, err := r.SetRandom(); err != nil {
		return nil, Statement{}, fmt.Errorf("prove: randomness: %w", err)
	}
	if _, err := sr.SetRandom(); err != nil {
		return nil, Statement{}, fmt.Errorf("prove: randomness: %w", err)
	}
	var rb, sb, rsb big.Int
	r.BigInt(&rb)
	sr.BigInt(&sb)
	var rs fr.Element
	rs.Mul(&r, &sr).Neg(&rs)
	rs.BigInt(&rsb)

	var delta1, t bn254.G1Jac
	delta1.FromAffine(&pk.G1.Delta)

	ar := sumA
	ar.AddMixed(&pk.G1.Alpha)
	t.ScalarMultiplication(&delta1, &rb)
	ar.AddAssign(&t)

	bs1 := sumB1
	bs1.AddMixed(&pk.G1.Beta)
	t.ScalarMultiplication(&delta1, &sb)
	bs1.AddAssign(&t)

	var delta2, t2 bn254.G2Jac
	delta2.FromAffine(&pk.G2.Delta)
	bs2 := sumB2
	bs2.AddMixed(&pk.G2.Beta)
	t2.ScalarMultiplication(&delta2, &sb)
	bs2.AddAssign(&t2)

	krs := sumK // Σ wK + h(τ)t(τ)/δ
	t.ScalarMultiplication(&ar, &sb)
	krs.AddAssign(&t)
	t.ScalarMultiplication(&bs1, &rb)
	krs.AddAssign(&t)
	t.ScalarMultiplication(&delta1, &rsb)
	krs.AddAssign(&t)

	proof := &Proof{}
	proof.A.FromJacobian(&ar)
	proof.B.FromJacobian(&bs2)
	proof.C.FromJacobian(&krs)
	proof.bChecked = proof.B // a sum of G2 points of the proving key
	return proof, st, nil
}

// quotient computes the coefficients of h = (a·b - c)/(Xⁿ - 1) in the bit-reversed order of
// gnark's proving key, from the constraint evaluations a, b, c: inverse FFT, FFT on the coset,
// pointwise (a·b - c)/(gⁿ - 1), inverse FFT on the coset.
func (p *Prover) quotient(a, b, c []fr.Element, sc *scratch) []fr.Element {
	d := &p.keys.pk.Domain
	one := fft.WithNbTasks(1)
	for i, src := range [3][]fr.Element{a, b, c} {
		dst := [3][]fr.Element{sc.a, sc.b, sc.c}[i]
		copy(dst, src)
		clear(dst[len(src):])
		d.FFTInverse(dst, fft.DIF, one)
		d.FFT(dst, fft.DIT, fft.OnCoset(), one)
	}
	for i := range sc.a {
		sc.a[i].Mul(&sc.a[i], &sc.b[i]).Sub(&sc.a[i], &sc.c[i]).Mul(&sc.a[i], &p.den)
	}
	d.FFTInverse(sc.a, fft.DIF, fft.OnCoset(), one)
	return sc.a
}

// digestOf hashes the values of the given wires (their Montgomery limbs: equal values have
// equal limbs).
func (sc *scratch) digestOf(w fr.Vector, wires []int) [32]byte {
	need := len(wires) * fr.Bytes
	if cap(sc.digest) < need {
		sc.digest = make([]byte, need)
	}
	buf := sc.digest[:need]
	for i, wi := range wires {
		for j := 0; j < fr.Limbs; j++ {
			binary.LittleEndian.PutUint64(buf[i*fr.Bytes+8*j:], w[wi][j])
		}
	}
	return sha256.Sum256(buf)
}

func (sc *scratch) gather(w fr.Vector, wires []int) {
	if cap(sc.scalars) < len(wires) {
		sc.scalars = make([]fr.Element, len(wires))
	}
	sc.scalars = sc.scalars[:len(wires)]
	for i, wi := range wires {
		sc.scalars[i] = w[wi]
	}
}

// ProveStock proves req with gnark's own groth16.Prove, for comparison with Prover and as a
// reference implementation: it uses every core for the one proof.
func (k *Keys) ProveStock(req *Request) (*Proof, Statement, error) {
	st, err := req.Statement()
	if err != nil {
		return nil, Statement{}, err
	}
	if req.Path.Depth() != k.depth {
		return nil, Statement{}, fmt.Errorf("%w: path of depth %d for keys of depth %d", ErrBadInput, req.Path.Depth(), k.depth)
	}
	wit, err := frontend.NewWitness(req.assignment(&st), ecc.BN254.ScalarField())
	if err != nil {
		return nil, Statement{}, fmt.Errorf("prove: witness: %w", err)
	}
	proof, err := groth16.Prove(k.ccs, k.pk, wit)
	if err != nil {
		return nil, Statement{}, fmt.Errorf("prove: %w", err)
	}
	return proofFromGnark(proof.(*groth16bn254.Proof)), st, nil
}

// sumCache is a bounded LRU map from a validator's identity commitment to its group sums.
type sumCache struct {
	mu      sync.Mutex
	max     int
	entries map[fr.Element]*cacheEntry
	head    *cacheEntry // most recently used
	tail    *cacheEntry
}

type cacheEntry struct {
	key        fr.Element
	digests    [][32]byte
	sums       []groupSums
	prev, next *cacheEntry
}

func newSumCache(max int) *sumCache {
	return &sumCache{max: max, entries: make(map[fr.Element]*cacheEntry)}
}

func (c *sumCache) get(key fr.Element) *cacheEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e != nil {
		c.unlink(e)
		c.pushFront(e)
	}
	return e
}

func (c *sumCache) put(key fr.Element, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.key = key
	if old := c.entries[key]; old != nil {
		c.unlink(old)
	}
	c.entries[key] = e
	c.pushFront(e)
	for len(c.entries) > c.max {
		last := c.tail
		c.unlink(last)
		delete(c.entries, last.key)
	}
}

func (c *sumCache) unlink(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *sumCache) pushFront(e *cacheEntry) {
	e.next = c.head
	if c.head != nil {
		c.head.prev = e
	}
	c.head = e
	if c.tail == nil {
		c.tail = e
	}
}

// Len returns the number of cached validators.
func (c *sumCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
