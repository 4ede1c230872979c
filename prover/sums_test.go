package prover

import (
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/constraint/solver"
	"github.com/consensys/gnark/frontend"
)

// TestBaseProofSums checks the prover's sums against gnark-crypto's own (variable-base) MSMs
// over the proving key: the proof without randomizers (A₀, B₀, C₀) is a function of the
// witness alone, so every way the prover computes it must give the same points, whether every
// group is merged into the full tables (cache off), the groups are computed on their own with
// their tables (a validator's first proof with the cache on), taken from the cache (its next
// proof) or taken from another validator's tree levels (a neighbour's first proof).
func TestBaseProofSums(t *testing.T) {
	keys := mustKeys(t)
	vs := newTestValidators(6)
	tr := testRegistry(t, 4, vs)
	cold, err := NewProver(keys, ProverConfig{Workers: 1, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	cached, err := NewProver(keys, ProverConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	sc := newScratch(int(keys.pk.Domain.Cardinality))
	for _, tc := range []struct {
		name      string
		validator int
		epoch     uint64
	}{
		{"first proof", 0, 3},
		{"next epoch (cached groups)", 0, 4},
		{"neighbour (shared levels)", 1, 4},
		{"other validator", 5, 4},
	} {
		req := testRequest(tr, vs, tc.validator, tc.epoch, "sums")
		want := naiveBaseProof(t, cold, &req)
		for _, p := range []*Prover{cold, cached} {
			got, _, err := p.proveBase(&req, sc)
			if err != nil {
				t.Fatal(err)
			}
			if !got.a.Equal(&want.a) || !got.b.Equal(&want.b) || !got.c.Equal(&want.c) {
				t.Fatalf("%s (cache %v): the prover's sums differ from gnark-crypto's MSMs", tc.name, p.cache != nil)
			}
		}
	}
	if cached.reused.Load() == 0 || cached.borrowed.Load() == 0 {
		t.Fatalf("the cached prover reused %d and borrowed %d groups: the test missed a path", cached.reused.Load(), cached.borrowed.Load())
	}
}

// naiveBaseProof computes A₀ = α + Σ wA, B₀ = β + Σ wB (G2) and C₀ = Σ wK + Σ hᵢZᵢ with
// gnark-crypto's MultiExp over the proving key's bases; only the quotient's coefficients hᵢ
// come from p.
func naiveBaseProof(t *testing.T, p *Prover, req *Request) *baseProof {
	keys := p.keys
	t.Helper()
	st, err := req.Statement()
	if err != nil {
		t.Fatal(err)
	}
	wit, err := frontend.NewWitness(req.assignment(&st), ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	sol, err := keys.ccs.Solve(wit, solver.WithNbTasks(1))
	if err != nil {
		t.Fatal(err)
	}
	s := sol.(*cs.R1CSSolution)
	pk := keys.pk
	var wa, wb []fr.Element
	for i := range s.W {
		if !pk.InfinityA[i] {
			wa = append(wa, s.W[i])
		}
		if !pk.InfinityB[i] {
			wb = append(wb, s.W[i])
		}
	}
	nbPublic := keys.ccs.GetNbPublicVariables()
	h := p.quotient(s.A, s.B, s.C, newScratch(int(pk.Domain.Cardinality)))
	cfg := ecc.MultiExpConfig{NbTasks: 1}
	var base baseProof
	var k, z bn254.G1Jac
	if _, err := base.a.MultiExp(pk.G1.A, wa, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := base.b.MultiExp(pk.G2.B, wb, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := k.MultiExp(pk.G1.K, s.W[nbPublic:], cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := z.MultiExp(pk.G1.Z, h[:len(pk.G1.Z)], cfg); err != nil {
		t.Fatal(err)
	}
	base.a.AddMixed(&pk.G1.Alpha)
	base.b.AddMixed(&pk.G2.Beta)
	base.c = k
	base.c.AddAssign(&z)
	return &base
}
