// Package privatetest is an in-process private-attestation pool for tests and devnets: a real
// registry (prover/registry) behind private.Pool, and a real prover.Verifier that checks every
// proof it receives against the registry root of its epoch, as a pool does in production. It
// does no batching, stores nothing on disk and has no transport; package pool is the pool.
package privatetest

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/zkvlabs/zkv/prover"
	"github.com/zkvlabs/zkv/prover/registry"
)

// ErrDown is the connection failure of a pool set down (SetDown).
var ErrDown = errors.New("privatetest: pool down")

// Received is a proof the pool verified and accepted.
type Received struct {
	Claim       prover.Claim
	SigningRoot [32]byte
}

// Pool implements private.Pool over a registry and a verifier. It is safe for concurrent use.
type Pool struct {
	Registry *registry.Registry
	Verifier *prover.Verifier

	mu       sync.Mutex
	down     bool
	received []Received
	refused  []error
	seen     map[[prover.ProofSize]byte]bool
}

// New returns a pool over reg whose proofs verify with vk; the verifier takes reg's network
// and sealed roots.
func New(reg *registry.Registry, vk *prover.VerifyingKey) *Pool {
	return &Pool{Registry: reg, Verifier: &prover.Verifier{Key: vk, Network: reg.Network().ID(), Roots: reg},
		seen: map[[prover.ProofSize]byte]bool{}}
}

// SetDown makes every call fail with ErrDown (down) or work again.
func (p *Pool) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

func (p *Pool) isDown() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down
}

// Register implements private.Pool.
func (p *Pool) Register(_ context.Context, reg registry.Registration) error {
	if p.isDown() {
		return ErrDown
	}
	return p.Registry.Register(reg)
}

// Member implements private.Pool: the path of the registry's last seal when that seal's root
// is the root of epoch.
func (p *Pool) Member(_ context.Context, pubkey [48]byte, epoch uint64) (registry.Member, error) {
	if p.isDown() {
		return registry.Member{}, ErrDown
	}
	root, err := p.Registry.Root(epoch)
	if err != nil {
		return registry.Member{}, err
	}
	m, err := p.Registry.Member(pubkey)
	if err != nil {
		return registry.Member{}, err
	}
	if !m.Root.Equal(&root) {
		return registry.Member{}, fmt.Errorf("privatetest: epoch %d is not the last sealed epoch %d", epoch, m.Epoch)
	}
	return m, nil
}

// SubmitProofs implements private.Pool: each claim is verified as an attestation of its
// signing root; a proof received twice is accepted again without being recorded twice.
func (p *Pool) SubmitProofs(_ context.Context, claims []prover.Claim, roots [][32]byte) ([]error, error) {
	if p.isDown() {
		return nil, ErrDown
	}
	if len(claims) != len(roots) {
		return nil, fmt.Errorf("privatetest: %d claims, %d signing roots", len(claims), len(roots))
	}
	errs := make([]error, len(claims))
	for i := range claims {
		errs[i] = p.Verifier.Verify(&claims[i], &roots[i])
		p.mu.Lock()
		if errs[i] != nil {
			p.refused = append(p.refused, errs[i])
		} else if b := claims[i].Proof.Bytes(); !p.seen[b] {
			p.seen[b] = true
			p.received = append(p.received, Received{Claim: claims[i], SigningRoot: roots[i]})
		}
		p.mu.Unlock()
	}
	return errs, nil
}

// Received returns the proofs accepted so far, in order of arrival.
func (p *Pool) Received() []Received {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Received(nil), p.received...)
}

// Refused returns why proofs were refused, in order of arrival.
func (p *Pool) Refused() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.refused...)
}

// Claims returns the accepted claims of epoch.
func (p *Pool) Claims(epoch uint64) []prover.Claim {
	var out []prover.Claim
	for _, r := range p.Received() {
		if r.Claim.Statement.Epoch == epoch {
			out = append(out, r.Claim)
		}
	}
	return out
}
