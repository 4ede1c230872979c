package mev

import (
	"sync"

	"github.com/zkvlabs/zkv/crypto/bls"
)

// groupVerifier verifies signature sets in batches when they queue up, with no goroutine of its
// own: the first caller to find no batch running verifies everything pending (its own set
// included) with one crypto/bls batch (N+1 Miller loops, one final exponentiation), hands out
// the results, and repeats while sets keep arriving; the others wait for their answer. One
// submission alone costs one plain verification. A failed batch bisects (bls.Verifier.Invalid),
// so a bad signature fails only its own submission. Pending sets are bounded by the callers
// themselves (each waits for its answer), hence by the HTTP server's concurrency.
type groupVerifier struct {
	mu      sync.Mutex
	running bool
	pending []verifyReq
	// maxBatch bounds one batch.
	maxBatch int
}

type verifyReq struct {
	set bls.SignatureSet
	ok  chan bool
}

func newGroupVerifier(maxBatch int) *groupVerifier { return &groupVerifier{maxBatch: maxBatch} }

// verify reports whether set verifies.
func (g *groupVerifier) verify(set bls.SignatureSet) bool {
	req := verifyReq{set: set, ok: make(chan bool, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, req)
	if g.running {
		g.mu.Unlock()
		return <-req.ok
	}
	g.running = true
	for len(g.pending) > 0 {
		n := min(len(g.pending), g.maxBatch)
		batch := g.pending[:n:n]
		g.pending = append([]verifyReq(nil), g.pending[n:]...)
		g.mu.Unlock()
		g.run(batch)
		g.mu.Lock()
	}
	g.running = false
	g.mu.Unlock()
	return <-req.ok
}

func (g *groupVerifier) run(batch []verifyReq) {
	if len(batch) == 1 {
		s := batch[0].set
		batch[0].ok <- bls.Verify(s.PublicKey, s.Message, s.Signature)
		return
	}
	v := bls.NewVerifier(len(batch))
	for _, r := range batch {
		v.Add(r.set)
	}
	if v.Verify() {
		for _, r := range batch {
			r.ok <- true
		}
		return
	}
	bad := map[int]bool{}
	for _, i := range v.Invalid() {
		bad[i] = true
	}
	for i, r := range batch {
		r.ok <- !bad[i]
	}
}
