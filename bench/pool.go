package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zkvlabs/zkv/prover"
)

// EpochValidators are the validator counts the pool suite extrapolates one epoch of private
// attestations to: every validator attests once per epoch, so the pool verifies that many proofs.
var EpochValidators = []int{10_000, 100_000, 1_000_000}

// benchDepth is the pool suite's registry depth: QuickDepth in quick mode, the default 20 otherwise.
func benchDepth(quick bool) int {
	if quick {
		return QuickDepth
	}
	return prover.DefaultDepth
}

// validators is the size of the pool suite's registry, each of whom proves every round.
const validators = 16

// PoolScenarios time what a private-attestation pool spends per epoch: batch verification (random
// linear combination, one multi-pairing) of real proofs from a small registry. Proving an epoch's
// worth is out of reach of a benchmark, so the figure is measured on a sample and extrapolated;
// the report says so. pool/batch-verify is the whole sample in one batch; the smaller batches of
// the same series show what batching gains.
func PoolScenarios() []Scenario {
	const series = "batch verify, real proofs"
	main := Scenario{
		Name:        "pool/batch-verify",
		Description: "verify a sample of real proofs in one batch (random linear combination): 32 in quick mode, 128 otherwise",
		Series:      series,
		Unit:        "proof",
		Note: "measured on a sample of real proofs (registry depth 8 in quick mode, 20 otherwise); an epoch is " +
			"extrapolated linearly as validators x median per proof (the batch's cost is one Miller loop per " +
			"proof plus one shared final exponentiation, so per-proof cost falls slightly with size: the " +
			"extrapolation is an upper bound)",
		Setup: func(ctx context.Context, quick bool) (Prepared, error) { return poolBatch(ctx, quick, 0) },
	}
	out := []Scenario{main}
	for _, n := range []int{8, 32} {
		out = append(out, Scenario{
			Name:        fmt.Sprintf("pool/batch-verify-%d", n),
			Description: fmt.Sprintf("verify %d of the same real proofs in one batch", n),
			Series:      series,
			Unit:        "proof",
			Skip: func(quick bool) string {
				if quick && n >= poolSampleSize(true) {
					return "quick mode's sample is 32 proofs: the smaller pool batches only"
				}
				return ""
			},
			Setup: func(ctx context.Context, quick bool) (Prepared, error) { return poolBatch(ctx, quick, n) },
		})
	}
	return out
}

// poolSampleSize is how many proofs the pool suite makes: rounds of every validator proving.
func poolSampleSize(quick bool) int {
	if quick {
		return 2 * validators
	}
	return 8 * validators
}

// poolClaims keeps the sample per mode for the process: making it proves every validator for
// several epochs, and every batch size verifies the same proofs.
var poolClaims struct {
	mu sync.Mutex
	m  map[bool][]prover.Claim
}

// poolBatch verifies the first n proofs of the sample (all of them for n = 0) as one batch.
func poolBatch(ctx context.Context, quick bool, n int) (Prepared, error) {
	poolClaims.mu.Lock()
	defer poolClaims.mu.Unlock()
	keys, err := loadKeys(ctx, benchDepth(quick))
	if err != nil {
		return Prepared{}, err
	}
	claims := poolClaims.m[quick]
	if len(claims) < poolSampleSize(quick) {
		a, err := newAttesters(ctx, benchDepth(quick), validators)
		if err != nil {
			return Prepared{}, err
		}
		if err := a.newProver(prover.ProverConfig{}); err != nil {
			return Prepared{}, err
		}
		for len(claims) < poolSampleSize(quick) {
			if err := a.nextEpoch(); err != nil {
				return Prepared{}, err
			}
			c, err := a.proveAll(ctx)
			if err != nil {
				return Prepared{}, err
			}
			claims = append(claims, c...)
		}
		if poolClaims.m == nil {
			poolClaims.m = map[bool][]prover.Claim{}
		}
		poolClaims.m[quick] = claims
	}
	if n == 0 || n > len(claims) {
		n = len(claims)
	}
	batch := claims[:n]
	vk := keys.VerifyingKey()
	return Prepared{Op: func() error { return vk.BatchVerifyPairing(batch) }, Items: n}, nil
}

// EpochEstimate is the extrapolated time to verify one epoch of n validators' proofs from a
// pool/batch-verify result.
func EpochEstimate(r Result, n int) time.Duration {
	return time.Duration(r.Median / float64(r.ItemsPerOp) * float64(n))
}

func epochLine(r Result) string {
	s := fmt.Sprintf("%s at %d cpus, one epoch extrapolated:", r.Name, r.CPUs)
	for _, n := range EpochValidators {
		name := fmt.Sprintf("%dk", n/1000)
		if n >= 1_000_000 {
			name = fmt.Sprintf("%dM", n/1_000_000)
		}
		s += fmt.Sprintf(" %s validators %s;", name, round(EpochEstimate(r, n)))
	}
	return s
}
