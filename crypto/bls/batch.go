package bls

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/consensys/gnark-crypto/ecc"
	bls12381 "github.com/consensys/gnark-crypto/ecc/bls12-381"
	"github.com/consensys/gnark-crypto/ecc/bls12-381/fr"
)

// SignatureSet is one (public key, message, signature) triple to verify.
type SignatureSet struct {
	PublicKey *PublicKey
	Message   []byte
	Signature *Signature
}

// BatchVerify reports whether every set is valid, verifying them together: sets that share a
// message share one hash and one Miller-loop pair. False for an empty slice.
func BatchVerify(sets []SignatureSet) bool {
	if len(sets) == 0 {
		return false
	}
	v := NewVerifier(len(sets))
	for _, s := range sets {
		v.Add(s)
	}
	return v.Verify()
}

// Verifier batches signature sets. Add sets as they arrive, then call Verify for a yes/no
// answer or Invalid for the indices of the bad sets. Each Add is cheap (grouping only); the
// hashing, aggregation and pairing work happens in Verify and Invalid, spread over
// GOMAXPROCS cores.
//
// Soundness: each set i is weighted by an independent random non-zero 64-bit scalar r_i from
// crypto/rand, drawn at verification time, and the batch checks
//
//	prod_m e(sum_{i: msg_i = m} r_i*pk_i, H(m)) * e(-G1, sum_i r_i*sig_i) == 1,
//
// so a batch with an invalid set passes with probability about 2^-64. Without the weights the
// errors of two forged sets can cancel (the "forged signature set" vector).
//
// A Verifier is not safe for concurrent use; VerifyStream feeds one from a channel.
type Verifier struct {
	sets     []SignatureSet
	group    []int32 // set index -> message group
	msgs     [][]byte
	byMsg    map[string]int32
	hashes   []bls12381.G2Affine // per group, computed on first use and kept for bisection
	hashDone []bool
	broken   []bool // sets refused before any pairing (nil or identity points)
}

// NewVerifier returns an empty verifier sized for about n sets.
func NewVerifier(n int) *Verifier {
	return &Verifier{
		sets:  make([]SignatureSet, 0, n),
		group: make([]int32, 0, n),
		byMsg: make(map[string]int32, n),
	}
}

// Add queues a set. Sets with a nil or identity key or signature are kept and reported
// invalid, so indices stay those of the caller. The message is copied: a caller may reuse its
// buffer for the next set, as streaming decoders do, without changing what this set verifies.
func (v *Verifier) Add(s SignatureSet) {
	bad := s.PublicKey == nil || s.Signature == nil || s.PublicKey.p.IsInfinity() || s.Signature.p.IsInfinity()
	g, ok := v.byMsg[string(s.Message)]
	if !ok {
		g = int32(len(v.msgs))
		v.byMsg[string(s.Message)] = g
		v.msgs = append(v.msgs, bytes.Clone(s.Message))
	}
	s.Message = v.msgs[g]
	v.sets = append(v.sets, s)
	v.group = append(v.group, g)
	if bad {
		if v.broken == nil {
			v.broken = make([]bool, len(v.sets)-1, cap(v.sets))
		}
	}
	if v.broken != nil {
		v.broken = append(v.broken, bad)
	}
}

// Len returns the number of queued sets.
func (v *Verifier) Len() int { return len(v.sets) }

// Messages returns the number of distinct messages queued.
func (v *Verifier) Messages() int { return len(v.msgs) }

// Reset empties the verifier, keeping its memory.
func (v *Verifier) Reset() {
	v.sets = v.sets[:0]
	v.group = v.group[:0]
	v.msgs = v.msgs[:0]
	clear(v.byMsg)
	v.hashes = v.hashes[:0]
	v.hashDone = v.hashDone[:0]
	v.broken = nil
}

// Verify reports whether every queued set is valid. False when nothing is queued.
func (v *Verifier) Verify() bool {
	if len(v.sets) == 0 || v.broken != nil {
		return false
	}
	v.prepare()
	idx := make([]int, len(v.sets))
	for i := range idx {
		idx[i] = i
	}
	return v.verifySubset(idx)
}

// Invalid returns the indices (in Add order) of the invalid sets, nil when all are valid. It
// verifies the whole batch first and, on failure, bisects: a half that verifies is cleared at
// once, so k bad sets among n cost about 2k*log2(n/k) extra batch checks.
func (v *Verifier) Invalid() []int {
	if len(v.sets) == 0 {
		return nil
	}
	v.prepare()
	var bad []int
	idx := make([]int, 0, len(v.sets))
	for i := range v.sets {
		if v.broken != nil && v.broken[i] {
			bad = append(bad, i)
			continue
		}
		idx = append(idx, i)
	}
	var bisect func(s []int)
	bisect = func(s []int) {
		if len(s) == 0 || v.verifySubset(s) {
			return
		}
		if len(s) == 1 {
			bad = append(bad, s[0])
			return
		}
		bisect(s[:len(s)/2])
		bisect(s[len(s)/2:])
	}
	bisect(idx)
	if len(bad) == 0 {
		return nil
	}
	sortInts(bad)
	return bad
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// prepare sizes the per-message hash cache before a verification.
func (v *Verifier) prepare() {
	n := len(v.msgs)
	for len(v.hashes) < n {
		v.hashes = append(v.hashes, bls12381.G2Affine{})
		v.hashDone = append(v.hashDone, false)
	}
}

// randomScalars returns n independent uniformly random non-zero 64-bit scalars.
func randomScalars(n int) []uint64 {
	buf := make([]byte, 8*n)
	if _, err := rand.Read(buf); err != nil {
		panic("bls: crypto/rand failed: " + err.Error())
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[8*i:])
		for out[i] == 0 {
			var b [8]byte
			if _, err := rand.Read(b[:]); err != nil {
				panic("bls: crypto/rand failed: " + err.Error())
			}
			out[i] = binary.LittleEndian.Uint64(b[:])
		}
	}
	return out
}

// verifySubset runs one randomised batch check over the given sets (all well-formed).
//
// The work is split by message group and handed out in chunks from a shared counter, so a core
// that finishes early takes more and no phase waits for the slowest core: each chunk hashes its
// messages (once per Verifier: bisection reuses them), sums its weighted keys per message, and
// runs one multi-Miller loop over its pairs into the worker's running product. One worker first
// sums the weighted signatures. One final exponentiation closes the batch.
func (v *Verifier) verifySubset(idx []int) bool {
	r := randomScalars(len(idx))

	// Order the subset by message group so each group's keys are contiguous. r is random, so
	// indexing it by position in this order keeps every set's weight independent.
	order := make([]int, len(idx))
	copy(order, idx)
	sortByGroup(order, v.group)
	starts := make([]int, 0, len(v.msgs)+1)
	for i := range order {
		if i == 0 || v.group[order[i]] != v.group[order[i-1]] {
			starts = append(starts, i)
		}
	}
	starts = append(starts, len(order))
	nGroups := len(starts) - 1

	w := workers(max(nGroups, len(order)/sigChunkMin))
	chunk := max(1, min(32, nGroups/(4*w)))
	// The signature side is cut into chunks too, taken first, so that with many cores it is
	// not one core's multi-exponentiation that everyone waits for.
	sigChunk := max(sigChunkMin, (len(order)+2*w-1)/(2*w))
	nSig := (len(order) + sigChunk - 1) / sigChunk
	sigParts := make([]bls12381.G2Jac, nSig)
	var nextSig, next atomic.Int64
	partial := make([]bls12381.GT, w)
	ok := make([]bool, w)
	var wg sync.WaitGroup
	for wi := 0; wi < w; wi++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c := int(nextSig.Add(1)) - 1
				if c >= nSig {
					break
				}
				lo, hi := c*sigChunk, min((c+1)*sigChunk, len(order))
				sigParts[c] = v.weightedSignatures(order[lo:hi], r[lo:hi])
			}
			partial[wi].SetOne()
			ps := make([]bls12381.G1Affine, 0, chunk)
			qs := make([]bls12381.G2Affine, 0, chunk)
			jac := make([]bls12381.G1Jac, chunk)
			var t bls12381.G1Jac
			for {
				lo := int(next.Add(int64(chunk))) - chunk
				if lo >= nGroups {
					break
				}
				hi := min(lo+chunk, nGroups)
				qs = qs[:0]
				for g := lo; g < hi; g++ {
					msgGroup := v.group[order[starts[g]]]
					if !v.hashDone[msgGroup] {
						v.hashes[msgGroup] = hashToG2(v.msgs[msgGroup])
						v.hashDone[msgGroup] = true
					}
					qs = append(qs, v.hashes[msgGroup])
					for k := starts[g]; k < starts[g+1]; k++ {
						g1MulUint64(&t, &v.sets[order[k]].PublicKey.p, r[k])
						if k == starts[g] {
							jac[g-lo] = t
						} else {
							jac[g-lo].AddAssign(&t)
						}
					}
				}
				ps = append(ps[:0], bls12381.BatchJacobianToAffineG1(jac[:hi-lo])...)
				for i := range ps {
					if ps[i].IsInfinity() || qs[i].IsInfinity() {
						return // ok[wi] stays false: MillerLoop would drop the pair
					}
				}
				ml, err := bls12381.MillerLoop(ps, qs)
				if err != nil {
					return
				}
				partial[wi].Mul(&partial[wi], &ml)
			}
			ok[wi] = true
		}()
	}
	wg.Wait()
	for _, o := range ok {
		if !o {
			return false
		}
	}
	for i := 1; i < nSig; i++ {
		sigParts[0].AddAssign(&sigParts[i])
	}
	var sigAgg bls12381.G2Affine
	sigAgg.FromJacobian(&sigParts[0])
	if sigAgg.IsInfinity() {
		return false
	}
	acc, err := bls12381.MillerLoop([]bls12381.G1Affine{g1GenNeg}, []bls12381.G2Affine{sigAgg})
	if err != nil {
		return false
	}
	for i := range partial {
		acc.Mul(&acc, &partial[i])
	}
	fe := bls12381.FinalExponentiation(&acc)
	return fe.IsOne()
}

// sigChunkMin is the smallest slice of signatures worth its own multi-exponentiation.
const sigChunkMin = 64

// weightedSignatures returns sum r[k] * sig(order[k]) as one multi-exponentiation on the calling
// goroutine (the other workers are busy with other chunks).
func (v *Verifier) weightedSignatures(order []int, r []uint64) bls12381.G2Jac {
	points := make([]bls12381.G2Affine, len(order))
	scalars := make([]fr.Element, len(order))
	for k, i := range order {
		points[k] = v.sets[i].Signature.p
		scalars[k].SetUint64(r[k])
	}
	var acc bls12381.G2Jac
	if _, err := acc.MultiExp(points, scalars, ecc.MultiExpConfig{NbTasks: 1}); err != nil {
		panic("bls: multi-exponentiation on equal-length inputs failed: " + err.Error())
	}
	return acc
}

// sortByGroup sorts set indices by message group with a counting sort (groups are dense).
func sortByGroup(order []int, group []int32) {
	maxG := int32(0)
	for _, i := range order {
		maxG = max(maxG, group[i])
	}
	count := make([]int, maxG+2)
	for _, i := range order {
		count[group[i]+1]++
	}
	for g := 1; g < len(count); g++ {
		count[g] += count[g-1]
	}
	out := make([]int, len(order))
	for _, i := range order {
		g := group[i]
		out[count[g]] = i
		count[g]++
	}
	copy(order, out)
}

// Result is the outcome of one batch from VerifyStream.
type Result struct {
	Sets    []SignatureSet
	Invalid []int // indices into Sets of the invalid ones; nil when all are valid
}

// VerifyStream verifies sets read from in, in batches of up to maxBatch: a batch closes when it
// is full or when no further set is waiting, so latency stays low under light load and batches
// grow under heavy load. It calls report for every batch, in order, and returns when in is
// closed (nil) or ctx ends (its error).
func VerifyStream(ctx context.Context, in <-chan SignatureSet, maxBatch int, report func(Result)) error {
	if maxBatch < 1 {
		maxBatch = 1
	}
	v := NewVerifier(maxBatch)
	for {
		var first SignatureSet
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case first, ok = <-in:
			if !ok {
				return nil
			}
		}
		v.Reset()
		v.Add(first)
	fill:
		for v.Len() < maxBatch {
			select {
			case s, ok := <-in:
				if !ok {
					break fill
				}
				v.Add(s)
			default:
				break fill
			}
		}
		sets := make([]SignatureSet, len(v.sets))
		copy(sets, v.sets)
		report(Result{Sets: sets, Invalid: v.Invalid()})
	}
}

// g1MulUint64 sets p = [k]q for a public 64-bit k (a batch weight) with a NAF double-and-add in
// Jacobian coordinates. gnark-crypto's small-scalar path converts its input to affine first,
// one field inversion per call, which costs more than the multiplication saves.
func g1MulUint64(p *bls12381.G1Jac, q *bls12381.G1Affine, k uint64) {
	var naf [66]int8
	n := 0
	var hi uint64 // bit 64, set when rounding k up carries out
	for k != 0 || hi != 0 {
		if k&1 == 1 {
			if k&3 == 1 {
				naf[n] = 1
				k--
			} else {
				naf[n] = -1
				var c uint64
				k, c = bits.Add64(k, 1, 0)
				hi += c
			}
		}
		k = k>>1 | hi<<63
		hi = 0
		n++
	}
	var neg bls12381.G1Affine
	neg.Neg(q)
	p.X.SetOne()
	p.Y.SetOne()
	p.Z.SetZero()
	for i := n - 1; i >= 0; i-- {
		p.DoubleAssign()
		switch naf[i] {
		case 1:
			p.AddMixed(q)
		case -1:
			p.AddMixed(&neg)
		}
	}
}
