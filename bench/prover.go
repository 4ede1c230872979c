package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/consensys/gnark/logger"

	"github.com/zkvlabs/zkv/crypto/bls"
	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
)

// attesters is a registry of n validators sealed at epoch 1, with a Prover and one proving
// request per validator: the state of an operator about to prove its attestations.
type attesters struct {
	keys   *prover.Keys
	prover *prover.Prover
	reqs   []prover.Request
	epoch  uint64
}

func newAttesters(depth, n int) (*attesters, error) {
	logger.Disable()
	keys, err := loadKeys(depth)
	if err != nil {
		return nil, err
	}
	network := prover.Network{GenesisForkVersion: [4]byte{0x10, 0x00, 0x00, 0x38}} // any fixed network
	domain := registry.ComputeDomain(network)
	ik, err := prover.LoadIdentityKeys("", false)
	if err != nil {
		return nil, err
	}
	reg, err := registry.Open(registry.NewMemStore(), registry.Config{Depth: depth, Network: network, IdentityKey: ik.VerifyingKey()})
	if err != nil {
		return nil, err
	}
	const weight = 32_000_000_000 // 32 ETH effective balance in gwei
	sks := make([]*bls.SecretKey, n)
	for i := range sks {
		if sks[i], err = bls.GenerateSecretKey(); err != nil {
			return nil, err
		}
		r, err := registry.Sign(ik, sks[i], weight, domain)
		if err != nil {
			return nil, err
		}
		if err := reg.Register(r); err != nil {
			return nil, err
		}
	}
	if _, err := reg.Seal(1); err != nil {
		return nil, err
	}
	a := &attesters{keys: keys, epoch: 1}
	for _, sk := range sks {
		m, err := reg.Member(sk.PublicKey().Bytes())
		if err != nil {
			return nil, err
		}
		a.reqs = append(a.reqs, prover.Request{
			Secret: prover.SecretFromBLS(sk), Weight: weight, Path: m.Path, Root: m.Root,
			Epoch: m.Epoch, MinWeight: weight, Network: network.ID(),
		})
	}
	if a.prover, err = prover.NewProver(keys, prover.ProverConfig{}); err != nil {
		return nil, err
	}
	return a, nil
}

// keysByDepth holds the proving keys a run has set up: a circuit's setup takes seconds, and
// three scenarios (prover and pool) use the same depth. Keys are read-only once made.
var (
	keysMu      sync.Mutex
	keysByDepth = map[int]*prover.Keys{}
)

func loadKeys(depth int) (*prover.Keys, error) {
	keysMu.Lock()
	defer keysMu.Unlock()
	if k, ok := keysByDepth[depth]; ok {
		return k, nil
	}
	k, _, err := prover.LoadKeys(prover.KeyConfig{Depth: depth})
	if err != nil {
		return nil, err
	}
	keysByDepth[depth] = k
	return k, nil
}

// nextEpoch moves every request to a new epoch and a fresh attestation signing root, as each
// validator's next attestation would.
func (a *attesters) nextEpoch() error {
	a.epoch++
	for i := range a.reqs {
		a.reqs[i].Epoch = a.epoch
		if _, err := rand.Read(a.reqs[i].SigningRoot[:]); err != nil {
			return err
		}
	}
	return nil
}

func (a *attesters) proveAll(ctx context.Context) ([]prover.Claim, error) {
	res, err := a.prover.ProveMany(ctx, a.reqs)
	if err != nil {
		return nil, err
	}
	claims := make([]prover.Claim, len(res))
	for i, r := range res {
		if r.Err != nil {
			return nil, fmt.Errorf("proof %d: %w", i, r.Err)
		}
		claims[i] = prover.Claim{Proof: *r.Proof, Statement: r.Statement}
	}
	return claims, nil
}

// ProverScenarios time private attestation proofs: proving with zkv's prover and with stock
// gnark (its peer, from the same run). Quick mode uses a depth-8 registry (256 validators); the full
// run uses the default depth 20 (about a million).
// benchDepth is the registry depth: 8 (256 validators) in quick mode, the default 20 otherwise.
func benchDepth(quick bool) int {
	if quick {
		return 8
	}
	return prover.DefaultDepth
}

const validators = 16

func ProverScenarios() []Scenario {
	return []Scenario{
		{
			Name:        "prover/prove-many",
			Description: fmt.Sprintf("%d validators each prove their next epoch's attestation (zkv prover, all cores)", validators),
			Unit:        "proof",
			Peer:        "prover/prove-stock-gnark",
			Setup: func(ctx context.Context, quick bool) (Prepared, error) {
				a, err := newAttesters(benchDepth(quick), validators)
				if err != nil {
					return Prepared{}, err
				}
				// The first round fills the per-validator caches, as the first epoch would.
				if _, err := a.proveAll(ctx); err != nil {
					return Prepared{}, err
				}
				return Prepared{Op: func() error {
					if err := a.nextEpoch(); err != nil {
						return err
					}
					_, err := a.proveAll(ctx)
					return err
				}, Items: validators}, nil
			},
		},
		{
			Name:        "prover/prove-stock-gnark",
			Description: "one proof with gnark's own groth16.Prove, for comparison",
			Unit:        "proof",
			Latency:     true,
			Setup: func(ctx context.Context, quick bool) (Prepared, error) {
				a, err := newAttesters(benchDepth(quick), 1)
				if err != nil {
					return Prepared{}, err
				}
				return Prepared{Op: func() error {
					if err := a.nextEpoch(); err != nil {
						return err
					}
					_, _, err := a.keys.ProveStock(&a.reqs[0])
					return err
				}, Items: 1}, nil
			},
		},
	}
}
