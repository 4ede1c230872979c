package prover

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// testKeys are depth-4 keys shared by the tests of the package (setup takes a while).
var testKeys = sync.OnceValues(func() (*Keys, error) {
	k, _, err := LoadKeys(KeyConfig{Depth: 4})
	return k, err
})

// testProver is a default Prover over testKeys, shared by the tests that need no particular
// configuration (NewProver builds tables, which takes a while).
var testProver = sync.OnceValues(func() (*Prover, error) {
	k, err := testKeys()
	if err != nil {
		return nil, err
	}
	return NewProver(k, ProverConfig{})
})

func mustProver(t testing.TB) *Prover {
	t.Helper()
	p, err := testProver()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustKeys(t testing.TB) *Keys {
	t.Helper()
	k, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestProveVerifyRound(t *testing.T) {
	keys := mustKeys(t)
	vs := newTestValidators(11)
	tr := testRegistry(t, 4, vs)
	p := mustProver(t)
	vk := keys.VerifyingKey()

	req := testRequest(tr, vs, 5, 100, "vote")
	proof, st, err := p.Prove(&req)
	if err != nil {
		t.Fatal(err)
	}
	if err := vk.VerifyGnark(proof, &st); err != nil {
		t.Fatalf("gnark rejects zkv's proof: %v", err)
	}
	if err := vk.VerifyPairing(proof, &st); err != nil {
		t.Fatalf("zkv rejects its own proof: %v", err)
	}
	stock, stockSt, err := keys.ProveStock(&req)
	if err != nil {
		t.Fatal(err)
	}
	if stockSt != st {
		t.Fatal("stock and zkv statements differ")
	}
	if err := vk.VerifyPairing(stock, &st); err != nil {
		t.Fatalf("zkv rejects gnark's proof: %v", err)
	}

	// The second proof of the same validator reuses the cached groups and must still verify,
	// also after the tree changed.
	req2 := testRequest(tr, vs, 5, 101, "vote 2")
	proof2, st2, err := p.Prove(&req2)
	if err != nil {
		t.Fatal(err)
	}
	if err := vk.VerifyGnark(proof2, &st2); err != nil {
		t.Fatalf("cached proof rejected: %v", err)
	}
	vs2 := append(vs, newTestValidators(14)[11:]...)
	tr2 := testRegistry(t, 4, vs2)
	req3 := testRequest(tr2, vs2, 5, 102, "vote 3")
	proof3, st3, err := p.Prove(&req3)
	if err != nil {
		t.Fatal(err)
	}
	if err := vk.VerifyGnark(proof3, &st3); err != nil {
		t.Fatalf("proof after a tree change rejected: %v", err)
	}

	// Negative statements: each public input changed in turn.
	var one = st.Root
	one.SetOne()
	mut := map[string]func(s *Statement){
		"wrong root":      func(s *Statement) { s.Root.Add(&s.Root, &one) },
		"wrong epoch":     func(s *Statement) { s.Epoch++ },
		"wrong x":         func(s *Statement) { s.X.Add(&s.X, &one) },
		"wrong y":         func(s *Statement) { s.Y.Add(&s.Y, &one) },
		"wrong nullifier": func(s *Statement) { s.Nullifier = st2.Nullifier },
		"wrong min":       func(s *Statement) { s.MinWeight++ },
	}
	for name, m := range mut {
		bad := st
		m(&bad)
		if err := vk.VerifyPairing(proof, &bad); !errors.Is(err, ErrInvalidProof) {
			t.Errorf("%s: Verify = %v, want ErrInvalidProof", name, err)
		}
		if err := vk.VerifyGnark(proof, &bad); err == nil {
			t.Errorf("%s: gnark accepted", name)
		}
	}
}

func TestProveRejectsNonMember(t *testing.T) {
	vs := newTestValidators(5)
	tr := testRegistry(t, 4, vs[:4])
	p := mustProver(t)
	req := testRequest(tr, vs, 3, 1, "m")
	req.Secret = vs[4].secret // a validator that is not in the tree, claiming slot 3
	if _, _, err := p.Prove(&req); !errors.Is(err, ErrNotMember) {
		t.Fatalf("Prove = %v, want ErrNotMember", err)
	}
	req = testRequest(tr, vs, 3, 1, "m")
	req.MinWeight = req.Weight + 1
	if _, _, err := p.Prove(&req); !errors.Is(err, ErrBadInput) {
		t.Fatalf("Prove with weight below minimum = %v, want ErrBadInput", err)
	}
}

func TestProveMany(t *testing.T) {
	keys := mustKeys(t)
	vs := newTestValidators(9)
	tr := testRegistry(t, 4, vs)
	p, err := NewProver(keys, ProverConfig{Workers: 3, CacheSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	reqs := make([]Request, 0, 18)
	for epoch := uint64(1); epoch <= 2; epoch++ {
		for i := range vs {
			reqs = append(reqs, testRequest(tr, vs, i, epoch, "m"))
		}
	}
	reqs[4].MinWeight = reqs[4].Weight + 1 // fails alone
	res, err := p.ProveMany(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	claims := make([]Claim, 0, len(res))
	for i, r := range res {
		if i == 4 {
			if !errors.Is(r.Err, ErrBadInput) {
				t.Fatalf("request 4: err = %v, want ErrBadInput", r.Err)
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("request %d: %v", i, r.Err)
		}
		claims = append(claims, Claim{Proof: *r.Proof, Statement: r.Statement})
	}
	if err := keys.VerifyingKey().BatchVerifyPairing(claims); err != nil {
		t.Fatal(err)
	}
	if n := p.cache.Len(); n != 4 {
		t.Fatalf("cache holds %d validators, want its bound 4", n)
	}

	// A context that ended before the call starts nothing. Several rounds, because a wrong
	// implementation that lets select choose between the queue and ctx.Done() passes half the
	// time.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for round := 0; round < 20; round++ {
		res, err = p.ProveMany(ctx, reqs)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ProveMany on a cancelled context = %v", err)
		}
		for i, r := range res {
			if r.Proof != nil || !errors.Is(r.Err, context.Canceled) {
				t.Fatalf("round %d: request %d started after the context was cancelled (err %v)", round, i, r.Err)
			}
		}
	}
}
