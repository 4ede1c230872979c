package prover

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fp"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
)

// VerifyingKey verifies proofs of one circuit, alone or in batches. It is safe for concurrent
// use.
//
// Groth16 check: e(A, B) = e(α, β) · e(vk_x, γ) · e(C, δ), with vk_x = IC₀ + Σⱼ pubⱼ·ICⱼ₊₁.
// β, γ and δ are fixed, so their Miller-loop lines are computed once here.
type VerifyingKey struct {
	vk    *groth16bn254.VerifyingKey
	alpha bn254.G1Affine
	ic    []bn254.G1Affine // NumPublic+1 points
	lines [3][2][len(bn254.LoopCounter)]bn254.LineEvaluationAff
	eAB   bn254.GT // e(α, β)
}

// Line indices into VerifyingKey.lines.
const (
	lineBeta = iota
	lineGamma
	lineDelta
)

func newVerifyingKey(vk *groth16bn254.VerifyingKey) (*VerifyingKey, error) {
	if len(vk.G1.K) != NumPublic+1 {
		return nil, fmt.Errorf("%w: verifying key has %d public points, want %d", ErrMalformed, len(vk.G1.K), NumPublic+1)
	}
	if len(vk.CommitmentKeys) != 0 || len(vk.PublicAndCommitmentCommitted) != 0 {
		return nil, fmt.Errorf("%w: verifying key uses commitments", ErrMalformed)
	}
	for _, p := range append([]bn254.G1Affine{vk.G1.Alpha}, vk.G1.K...) {
		if p.IsInfinity() || !p.IsOnCurve() {
			return nil, fmt.Errorf("%w: verifying key G1 point at infinity or off the curve", ErrMalformed)
		}
	}
	for _, q := range []bn254.G2Affine{vk.G2.Beta, vk.G2.Gamma, vk.G2.Delta} {
		if q.IsInfinity() || !q.IsInSubGroup() {
			return nil, fmt.Errorf("%w: verifying key G2 point at infinity or outside G2", ErrMalformed)
		}
	}
	if err := vk.Precompute(); err != nil { // gnark's own Verify needs it after decoding
		return nil, fmt.Errorf("verifying key: %w", err)
	}
	k := &VerifyingKey{vk: vk, alpha: vk.G1.Alpha, ic: vk.G1.K}
	k.lines[lineBeta] = bn254.PrecomputeLines(vk.G2.Beta)
	k.lines[lineGamma] = bn254.PrecomputeLines(vk.G2.Gamma)
	k.lines[lineDelta] = bn254.PrecomputeLines(vk.G2.Delta)
	eAB, err := bn254.Pair([]bn254.G1Affine{vk.G1.Alpha}, []bn254.G2Affine{vk.G2.Beta})
	if err != nil {
		return nil, fmt.Errorf("verifying key: %w", err)
	}
	k.eAB = eAB
	return k, nil
}

// fixedLines returns a copy of the precomputed lines [from, to): gnark-crypto's
// MillerLoopFixedQ evaluates the lines at P in place, so the originals must never reach it.
func (vk *VerifyingKey) fixedLines(from, to int) [][2][len(bn254.LoopCounter)]bn254.LineEvaluationAff {
	out := make([][2][len(bn254.LoopCounter)]bn254.LineEvaluationAff, to-from)
	copy(out, vk.lines[from:to])
	return out
}

// Claim is a proof with the statement it claims.
type Claim struct {
	Proof     Proof
	Statement Statement
}

// vkX returns Σᵢ cᵢ·vk_x(statementᵢ) = (Σ cᵢ)·IC₀ + Σⱼ (Σᵢ cᵢ·pubᵢⱼ)·ICⱼ₊₁, a 7-point MSM
// whatever the number of statements.
func (vk *VerifyingKey) vkX(coeffs []fr.Element, sts []*Statement) bn254.G1Affine {
	var scalars [NumPublic + 1]fr.Element
	var t fr.Element
	for i, st := range sts {
		pub := st.Public()
		scalars[0].Add(&scalars[0], &coeffs[i])
		for j := range pub {
			t.Mul(&coeffs[i], &pub[j])
			scalars[j+1].Add(&scalars[j+1], &t)
		}
	}
	var acc bn254.G1Affine
	if _, err := acc.MultiExp(vk.ic, scalars[:], ecc.MultiExpConfig{NbTasks: 1}); err != nil {
		panic(err) // the slices have equal lengths
	}
	return acc
}

// VerifyPairing checks one proof against its statement with a single multi-Miller loop and
// final exponentiation. It returns ErrInvalidProof (or ErrMalformed for unusable points).
//
// It is the bare Groth16 check: it says nothing about whether the statement's root is the
// registry's, its network this one or its x that of an attestation. Verifier.Verify checks
// a proof as an attestation.
func (vk *VerifyingKey) VerifyPairing(p *Proof, st *Statement) error {
	if err := p.check(); err != nil {
		return err
	}
	one := []fr.Element{fr.One()}
	x := vk.vkX(one, []*Statement{st})
	var negX, negC bn254.G1Affine
	negX.Neg(&x)
	negC.Neg(&p.C)
	ml, err := bn254.MillerLoop([]bn254.G1Affine{p.A}, []bn254.G2Affine{p.B})
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	fixed, err := bn254.MillerLoopFixedQ([]bn254.G1Affine{negX, negC}, vk.fixedLines(lineGamma, lineDelta+1))
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	ml.Mul(&ml, &fixed)
	if res := bn254.FinalExponentiation(&ml); !res.Equal(&vk.eAB) {
		return fmt.Errorf("%w: pairing check failed", ErrInvalidProof)
	}
	return nil
}

// BatchVerifyPairing checks many proofs at once, their pairings only (see VerifyPairing;
// Verifier.FindInvalid checks attestations). With random rᵢ of 128 bits of entropy
// (randomCoefficients) it checks
//
//	Πᵢ e(rᵢ·Aᵢ, Bᵢ) · e(-Σ rᵢ·vk_xᵢ, γ) · e(-Σ rᵢ·Cᵢ, δ) · e(-(Σ rᵢ)·α, β) = 1
//
// which costs N+3 Miller-loop pairs and one final exponentiation instead of N of each. The
// Miller loops run on all cores. A nil result means every proof is valid except with
// probability about 2⁻¹²⁸; ErrInvalidProof means at least one is not (FindInvalid says which).
// An empty batch is ErrBadInput: it proves nothing, and a caller that lost its proofs on the
// way should not read success (bls.BatchVerify of nothing is false too).
func (vk *VerifyingKey) BatchVerifyPairing(claims []Claim) error {
	if len(claims) == 0 {
		return fmt.Errorf("%w: empty batch", ErrBadInput)
	}
	idx := make([]int, len(claims))
	for i := range idx {
		idx[i] = i
	}
	ok, err := vk.batch(claims, idx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: batch of %d proofs failed", ErrInvalidProof, len(claims))
	}
	return nil
}

// FindInvalid returns the indices, in increasing order, of the claims whose proofs do not
// verify (the pairing check only), or none. It bisects: a failing batch is split in halves, a half that passes is
// cleared, and when the left half passes the right one is split without being checked again
// (the parent's failure already blames it), so k bad proofs among N cost O(k·log N) batches.
func (vk *VerifyingKey) FindInvalid(claims []Claim) ([]int, error) {
	idx := make([]int, len(claims))
	for i := range idx {
		idx[i] = i
	}
	var bad []int
	var search func(idx []int, knownBad bool) error
	search = func(idx []int, knownBad bool) error {
		if len(idx) == 0 {
			return nil
		}
		if len(idx) == 1 {
			if knownBad {
				bad = append(bad, idx[0])
				return nil
			}
			c := &claims[idx[0]]
			if err := vk.VerifyPairing(&c.Proof, &c.Statement); err != nil {
				bad = append(bad, idx[0])
			}
			return nil
		}
		if !knownBad {
			ok, err := vk.batch(claims, idx)
			if err != nil {
				return err
			}
			if ok {
				return nil
			}
		}
		left, right := idx[:len(idx)/2], idx[len(idx)/2:]
		before := len(bad)
		if err := search(left, false); err != nil {
			return err
		}
		// If left is clean, the failure lies in right.
		return search(right, len(bad) == before)
	}
	if err := search(idx, false); err != nil {
		return nil, err
	}
	return bad, nil
}

// batch runs the randomized check on claims[idx...]. Malformed proofs (at infinity, off the
// curve) fail the batch rather than being skipped by the Miller loop.
//
// The proofs are cut into chunks that the cores take from a shared counter, so a core slowed
// by other work does not hold the batch up; each chunk costs one extra Fp¹² multiplication.
func (vk *VerifyingKey) batch(claims []Claim, idx []int) (bool, error) {
	n := len(idx)
	for _, i := range idx {
		if err := claims[i].Proof.check(); err != nil {
			return false, nil
		}
	}
	coeffs, halves, err := randomCoefficients(n)
	if err != nil {
		return false, err
	}

	// Chunks of at least 32 proofs keep a chunk's own Miller-loop squarings and inversion small
	// against its proofs, but a batch under 32 per core would then run on one core: a pool
	// verifying as proofs arrive sends batches of tens. Such a batch is cut into one chunk per
	// core instead (zkv bench --cpus 1,2 --suite pool, 2 cores: 32 proofs 5.9 -> 3.6 ms, 8 proofs
	// 2.0 -> 1.6 ms; 1 core and 128 proofs unchanged).
	workers := runtime.GOMAXPROCS(0)
	chunk := max((n+4*workers-1)/(4*workers), min(32, (n+workers-1)/workers))
	nChunks := (n + chunk - 1) / chunk
	if workers > nChunks {
		workers = nChunks
	}
	type part struct {
		ml   bn254.GT
		sumC bn254.G1Jac
		err  error
	}
	parts := make([]part, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range parts {
		wg.Add(1)
		go func(pt *part) {
			defer wg.Done()
			pt.ml.SetOne()
			g := endomorphism()
			aj := make([]bn254.G1Jac, chunk)
			bs := make([]bn254.G2Affine, chunk)
			// Σ rᵢ·Cᵢ = Σ aᵢ·Cᵢ + bᵢ·φ(Cᵢ): an MSM of twice the points with 64-bit scalars,
			// less than half the work of 254-bit ones.
			cs := make([]bn254.G1Affine, 2*chunk)
			ks := make([]fr.Element, 2*chunk)
			for {
				c := int(next.Add(1)) - 1
				if c >= nChunks || pt.err != nil {
					return
				}
				lo, hi := c*chunk, min((c+1)*chunk, n)
				m := hi - lo
				for k := lo; k < hi; k++ {
					p := &claims[idx[k]].Proof
					mulGLV64(&aj[k-lo], &p.A, halves[k])
					bs[k-lo] = p.B
					cs[k-lo] = p.C
					cs[m+k-lo].X.Mul(&p.C.X, &g.omega)
					cs[m+k-lo].Y = p.C.Y
					ks[k-lo].SetUint64(halves[k][0])
					ks[m+k-lo].SetUint64(halves[k][1])
				}
				as := bn254.BatchJacobianToAffineG1(aj[:m])
				var sumC bn254.G1Jac
				if _, err := sumC.MultiExp(cs[:2*m], ks[:2*m], ecc.MultiExpConfig{NbTasks: 1}); err != nil {
					pt.err = err
					return
				}
				pt.sumC.AddAssign(&sumC)
				ml, err := bn254.MillerLoop(as, bs[:m])
				if err != nil {
					pt.err = err
					return
				}
				pt.ml.Mul(&pt.ml, &ml)
			}
		}(&parts[w])
	}

	sts := make([]*Statement, n)
	var sumR fr.Element
	for k, i := range idx {
		sts[k] = &claims[i].Statement
		sumR.Add(&sumR, &coeffs[k])
	}
	x := vk.vkX(coeffs, sts)
	var negX, negAlpha bn254.G1Affine
	negX.Neg(&x)
	var sr big.Int
	negAlpha.ScalarMultiplication(&vk.alpha, sumR.BigInt(&sr))
	negAlpha.Neg(&negAlpha)
	wg.Wait()

	var sumC bn254.G1Jac
	acc := bn254.GT{}
	acc.SetOne()
	for i := range parts {
		if parts[i].err != nil {
			return false, fmt.Errorf("batch verify: %w", parts[i].err)
		}
		sumC.AddAssign(&parts[i].sumC)
		acc.Mul(&acc, &parts[i].ml)
	}
	var negC bn254.G1Affine
	negC.FromJacobian(&sumC)
	negC.Neg(&negC)
	fixed, err := bn254.MillerLoopFixedQ([]bn254.G1Affine{negAlpha, negX, negC}, vk.fixedLines(lineBeta, lineDelta+1))
	if err != nil {
		return false, fmt.Errorf("batch verify: %w", err)
	}
	acc.Mul(&acc, &fixed)
	res := bn254.FinalExponentiation(&acc)
	return res.IsOne(), nil
}

// randomCoefficients returns n random coefficients rᵢ = aᵢ + λ·bᵢ (mod r), with aᵢ, bᵢ
// independent uniform 64-bit integers from crypto/rand and λ the eigenvalue of G1's
// endomorphism φ(x, y) = (ω·x, y) = λ·(x, y). The map (a, b) -> a + λ·b is injective on
// 64-bit pairs (the shortest vectors of the lattice {(a, b): a + λ·b = 0 mod r} have
// 127-bit entries), so rᵢ takes 2¹²⁸ values with equal probability: a batch holding an
// invalid proof passes with probability at most 2⁻¹²⁸. The split makes rᵢ·Aᵢ a 64-bit
// double-scalar multiplication, aᵢ·Aᵢ + bᵢ·φ(Aᵢ), half the doublings of a 128-bit one.
// A zero coefficient is replaced by one so that no proof drops out of the combination.
func randomCoefficients(n int) ([]fr.Element, [][2]uint64, error) {
	buf := make([]byte, 16*n)
	if _, err := rand.Read(buf); err != nil {
		return nil, nil, fmt.Errorf("batch verify: randomness: %w", err)
	}
	g := endomorphism()
	out := make([]fr.Element, n)
	halves := make([][2]uint64, n)
	for i := range out {
		a, b := binary.LittleEndian.Uint64(buf[16*i:]), binary.LittleEndian.Uint64(buf[16*i+8:])
		if a == 0 && b == 0 {
			a = 1
		}
		halves[i] = [2]uint64{a, b}
		var fa, fb fr.Element
		fa.SetUint64(a)
		fb.SetUint64(b)
		out[i].Mul(&fb, &g.lambda).Add(&out[i], &fa)
	}
	return out, halves, nil
}

// glvEndomorphism is G1's endomorphism φ(x, y) = (ω·x, y) = λ·(x, y), with ω a cube root of
// unity in Fp and λ the matching one in Fr.
type glvEndomorphism struct {
	omega  fp.Element
	lambda fr.Element
}

// endomorphism finds ω and λ: the roots of X² + X + 1 in each field, paired by testing on the
// generator.
var endomorphism = sync.OnceValue(func() glvEndomorphism {
	var three, two, one fp.Element
	three.SetUint64(3)
	two.SetUint64(2)
	one.SetOne()
	var sq fp.Element
	sq.Neg(&three)
	if sq.Sqrt(&sq) == nil {
		panic("prover: -3 is not a square in Fp")
	}
	var omegas [2]fp.Element
	omegas[0].Sub(&sq, &one).Div(&omegas[0], &two)
	omegas[1].Neg(&sq).Sub(&omegas[1], &one).Div(&omegas[1], &two)

	var three2, two2, one2, sr fr.Element
	three2.SetUint64(3)
	two2.SetUint64(2)
	one2.SetOne()
	sr.Neg(&three2)
	if sr.Sqrt(&sr) == nil {
		panic("prover: -3 is not a square in Fr")
	}
	var lambdas [2]fr.Element
	lambdas[0].Sub(&sr, &one2).Div(&lambdas[0], &two2)
	lambdas[1].Neg(&sr).Sub(&lambdas[1], &one2).Div(&lambdas[1], &two2)

	_, _, g1, _ := bn254.Generators()
	for _, w := range omegas {
		for _, l := range lambdas {
			var phi, lg bn254.G1Affine
			phi.X.Mul(&g1.X, &w)
			phi.Y = g1.Y
			var lb big.Int
			lg.ScalarMultiplication(&g1, l.BigInt(&lb))
			if phi.Equal(&lg) {
				return glvEndomorphism{omega: w, lambda: l}
			}
		}
	}
	panic("prover: no matching G1 endomorphism eigenvalue")
})

// mulGLV64 sets p = a·q + b·φ(q) = (a + λ·b)·q for k = {a, b}, by a joint NAF double-and-add
// over 65 bits with mixed additions of ±q and ±φ(q) (φ(q) is affine at the cost of one
// multiplication).
func mulGLV64(p *bn254.G1Jac, q *bn254.G1Affine, k [2]uint64) {
	g := endomorphism()
	var pts [2][2]bn254.G1Affine // [q, φq][+, -]
	pts[0][0] = *q
	pts[1][0].X.Mul(&q.X, &g.omega)
	pts[1][0].Y = q.Y
	pts[0][1].Neg(&pts[0][0])
	pts[1][1].Neg(&pts[1][0])
	var nafs [2][66]int8
	var lens [2]int
	for j := range k {
		lens[j] = ecc.NafDecomposition(new(big.Int).SetUint64(k[j]), nafs[j][:])
	}
	*p = bn254.G1Jac{}
	for i := max(lens[0], lens[1]) - 1; i >= 0; i-- {
		p.DoubleAssign()
		for j := range nafs {
			switch nafs[j][i] {
			case 1:
				p.AddMixed(&pts[j][0])
			case -1:
				p.AddMixed(&pts[j][1])
			}
		}
	}
}

// VerifyGnark verifies one proof with gnark's groth16.Verify: the reference this package's
// Verify and BatchVerify are tested against, and the per-proof baseline of the benchmarks.
func (vk *VerifyingKey) VerifyGnark(p *Proof, st *Statement) error {
	pub := st.Public()
	if err := groth16bn254.Verify(p.gnark(), vk.vk, fr.Vector(pub[:])); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidProof, err)
	}
	return nil
}
