package prover

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
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
	// same node (two generations of CacheSize groups, about 7 MiB at the default; see
	// sharedSums). 0 means DefaultCacheSize; negative disables both.
	CacheSize int
}

// DefaultCacheSize covers an operator with 10,000 keys. An entry costs about 290 bytes per
// wire group (two G1 sums, one G2 sum and a digest), about 7 KiB at depth 20.
const DefaultCacheSize = 10_240

// Prover computes Groth16 proofs of the circuit with the proving key of Keys. Its proofs are
// as gnark's prover's (gnark's verifier accepts them, and they are distributed as gnark's
// are, up to a statistical distance of 1/|F|), but it makes them differently, for throughput:
//
//   - It computes the proof without randomizers, A₀ = α + Σ wA, B₀ = β + Σ wB (G2),
//     C₀ = Σ wK + h(τ)t(τ)/δ, and rerandomizes it (rerandomize). gnark's randomizers r, s
//     need the r·B term in C, so Σ wB in G1 as well, an MSM the size of B's (about a sixth
//     of a cold proof); the rerandomization needs no such sum, and two G1 and two G2 scalar
//     multiplications where gnark's randomizers take five and one.
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
//     when the cache is off) take full tables of a wider window (c = 13) and share their
//     MSMs' buckets with the quotient's; every MSM of a proof runs in one stream of batched
//     affine additions, each batch vector operations (msm.go), and all the bucket reductions
//     run together in batches too (msm_reduce.go).
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
// witnesses) and builds the fixed-base tables of the proving key's bases: full tables for the
// sums it does not keep, and with the cache on the tables of each group whose sums it keeps.
// At depth 20 that takes about 1.6 s and keeps 44 MiB of tables, 1 s and 23 MiB with the
// cache off (BenchmarkNewProver).
func NewProver(keys *Keys, cfg ProverConfig) (*Prover, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	lay, err := newLayout(keys, cfg.CacheSize > 0)
	if err != nil {
		return nil, err
	}
	z := keys.pk.G1.Z
	p := &Prover{keys: keys, workers: cfg.Workers, layout: lay, zTab: newFixedBaseG1(z, fullWindowBits), keysID: keysID(keys, lay)}
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
	digest  []byte
	g1      msmScratchG1
	g2      msmScratchG2
	red     reduceScratchG1
	red2    reduceScratchG2
	bkts    []bucketsG1 // the G1 buckets of the groups being computed, for reduceManyG1
	bkts2   []bucketsG2 // and their G2 buckets, for reduceManyG2
	sums    []groupSums
	todo    []int    // groups whose sums are computed on their own, for the cache
	merged  []int    // groups whose sums go straight into the proof's
	offs    [][2]int // offset and size of each G1 bucket set in allB
	offs2   [][2]int
	allB    []bn254.G1Affine
	allS    []bn254.G1Jac
	allB2   []bn254.G2Affine
	allS2   []bn254.G2Jac
}

func newScratch(n int) *scratch {
	return &scratch{
		a: make([]fr.Element, n), b: make([]fr.Element, n), c: make([]fr.Element, n),
	}
}

// groupSums are a group's contributions to the proof's sums (see wireSums).
type groupSums struct {
	a, k bn254.G1Affine
	b2   bn254.G2Affine
}

func (p *Prover) prove(req *Request, sc *scratch) (*Proof, Statement, error) {
	base, st, err := p.proveBase(req, sc)
	if err != nil {
		return nil, Statement{}, err
	}
	var r1, r2 fr.Element
	for r1.IsZero() {
		if _, err := r1.SetRandom(); err != nil {
			return nil, Statement{}, fmt.Errorf("prove: randomness: %w", err)
		}
	}
	if _, err := r2.SetRandom(); err != nil {
		return nil, Statement{}, fmt.Errorf("prove: randomness: %w", err)
	}
	pk := p.keys.pk
	proof, err := rerandomize(base, &pk.G1.Delta, &pk.G2.Delta, &r1, &r2)
	if err != nil {
		return nil, Statement{}, err
	}
	return proof, st, nil
}

// baseProof is a proof without randomizers, in Jacobian coordinates:
// A₀ = α + Σ wA, B₀ = β + Σ wB (G2), C₀ = Σ wK + h(τ)t(τ)/δ.
type baseProof struct {
	a, c bn254.G1Jac
	b    bn254.G2Jac
}

// proveBase computes the proof of req without randomizers (r = s = 0), for rerandomize.
func (p *Prover) proveBase(req *Request, sc *scratch) (*baseProof, Statement, error) {
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
	ws := sc.wireSums(p.layout, todo, merged, s.W, p.zTab, h[:sizeH], sums)
	sumA, sumK, sumB2 := ws.a, ws.k, ws.b2
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
			sumK.AddMixed(&gs.k)
			sumB2.AddMixed(&gs.b2)
		}
		p.cache.put(key, fresh)
	}

	base := &baseProof{a: sumA, b: sumB2, c: sumK}
	base.a.AddMixed(&pk.G1.Alpha)
	base.b.AddMixed(&pk.G2.Beta)
	return base, st, nil
}

// rerandomize returns the proof
//
//	A = r₁⁻¹·A₀,  B = r₁·B₀ + (r₁r₂)·δ,  C = C₀ + r₂·A₀
//
// of the same statement as the valid proof (A₀, B₀, C₀), for r₁ ≠ 0: e(A, B) = e(A₀, B₀)·
// e(r₂·A₀, δ), so the pairing equation holds with C.
//
// The base proof has no randomizers and would give the witness's sums away; the rerandomized
// one gives away what gnark's does. A valid proof of a statement is fixed by the discrete
// logarithms (a, b) of A and B, and gnark's randomizers r, s make them uniform on F×F. Here,
// for a₀ ≠ 0, a = a₀/r₁ is uniform on F* and, given r₁, b = r₁·(b₀ + r₂·δ) is uniform on F:
// with r₁ uniform on F* and r₂ on F, the statistical distance to gnark's proofs is 1/|F|.
//
// A₀ at infinity (a₀ = 0, a witness whose A sum is -α: finding one would take a discrete
// logarithm relation between the keys' points) would give an A at infinity, which verifiers
// refuse. Then e(A₀, B₀) = 1, the equation reads e(α, β)·e(vk_x, γ)·e(C₀, δ) = 1, and
// (δ, [1]₂, C₀ + [1]₁) is another valid proof, as e(δ, [1]₂) = e([1]₁, δ). It is rerandomized
// in A₀'s place, with a = δ/r₁ and b = r₁·(1 + r₂·δ) distributed as above. (Falling back to
// gnark's formula with r = 1 would need the G1 sum of B, which this prover does not compute.)
func rerandomize(base *baseProof, delta1 *bn254.G1Affine, delta2 *bn254.G2Affine, r1, r2 *fr.Element) (*Proof, error) {
	if r1.IsZero() {
		return nil, errors.New("prove: rerandomization by r₁ = 0")
	}
	a, b, c := base.a, base.b, base.c
	if a.Z.IsZero() {
		_, _, g1, g2 := bn254.Generators()
		a.FromAffine(delta1)
		b.FromAffine(&g2)
		c.AddMixed(&g1)
	}
	var r1inv, r1r2 fr.Element
	r1inv.Inverse(r1)
	r1r2.Mul(r1, r2)
	var k big.Int
	var t bn254.G1Jac
	t.ScalarMultiplication(&a, r2.BigInt(&k))
	c.AddAssign(&t)
	a.ScalarMultiplication(&a, r1inv.BigInt(&k))

	var d2 bn254.G2Jac
	d2.FromAffine(delta2)
	d2.ScalarMultiplication(&d2, r1r2.BigInt(&k))
	b.ScalarMultiplication(&b, r1.BigInt(&k))
	b.AddAssign(&d2)

	proof := &Proof{}
	proof.A.FromJacobian(&a)
	proof.B.FromJacobian(&b)
	proof.C.FromJacobian(&c)
	proof.bChecked = proof.B // a combination of points of G2 (the keys' and the generator)
	return proof, nil
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
