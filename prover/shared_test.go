package prover

import "testing"

// Validators under one node of the tree share the wires of the levels above it: a prover that
// has proved one of them takes those groups' sums for the next (sharedSums), whose proof gnark
// still accepts. A validator under another node shares none of them, and a prover without a
// cache shares nothing.
func TestValidatorsShareTreeLevels(t *testing.T) {
	keys := mustKeys(t)
	vk := keys.VerifyingKey()
	vs := newTestValidators(8)
	tr := testRegistry(t, 4, vs) // depth 4: level 0 hashes four leaves, level 1 four nodes
	p, err := NewProver(keys, ProverConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	shareable := 0
	for _, g := range p.layout.groups {
		if g.shared {
			shareable++
			if g.volatile || g.label>>(classLevel0+1) == 0 {
				t.Fatalf("group %x (volatile %v) marked shared", g.label, g.volatile)
			}
		}
	}
	if shareable == 0 {
		t.Fatal("no group of a depth-4 circuit can be shared")
	}
	prove := func(p *Prover, i int) int64 {
		t.Helper()
		before := p.borrowed.Load()
		req := testRequest(tr, vs, i, 5, "vote")
		proof, st, err := p.Prove(&req)
		if err != nil {
			t.Fatal(err)
		}
		if err := vk.VerifyGnark(proof, &st); err != nil {
			t.Fatalf("validator %d: gnark rejects the proof: %v", i, err)
		}
		return p.borrowed.Load() - before
	}
	if got := prove(p, 0); got != 0 {
		t.Fatalf("the first proof borrowed %d groups", got)
	}
	// Validator 1 is under the same level-0 node as validator 0: every level above is the same.
	if got := prove(p, 1); got != int64(shareable) {
		t.Fatalf("a neighbour borrowed %d groups, want all %d shareable ones", got, shareable)
	}
	// Validator 4 is under the next node: level 1 sees it from another position.
	if got := prove(p, 4); got >= int64(shareable) {
		t.Fatalf("a validator under another node borrowed %d of %d groups", got, shareable)
	}
	// The next epoch of validator 1 takes its own cache entry, not its neighbour's.
	before := p.reused.Load()
	if got := prove(p, 1); got != 0 {
		t.Fatalf("a cached validator borrowed %d groups", got)
	}
	if p.reused.Load() == before {
		t.Fatal("a cached validator reused nothing")
	}

	cold, err := NewProver(keys, ProverConfig{Workers: 1, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	prove(cold, 0)
	if got := prove(cold, 1); got != 0 {
		t.Fatalf("a prover without a cache borrowed %d groups", got)
	}
}

// The store keeps what is used: an entry found in the previous generation moves to the
// current one, and one nobody asked for is gone after two generations.
func TestSharedSumsGenerations(t *testing.T) {
	s := newSharedSums(2)
	key := func(b byte) [32]byte { return [32]byte{b} }
	var v groupSums
	v.a.X.SetUint64(7)
	s.put(0, key(1), v)
	s.put(0, key(2), groupSums{})
	s.put(0, key(3), groupSums{}) // key 1 and 2 to the previous generation
	if got, ok := s.get(0, key(1), true); !ok || !got.a.X.Equal(&v.a.X) {
		t.Fatal("an entry of the previous generation was lost")
	}
	s.put(0, key(4), groupSums{}) // the current (3, 1) is full: (3, 1) previous, 2 dropped
	if _, ok := s.get(0, key(2), true); ok {
		t.Fatal("an unused entry outlived two generations")
	}
	if _, ok := s.get(0, key(1), true); !ok {
		t.Fatal("a used entry was dropped")
	}
	if _, ok := s.get(1, key(1), true); ok {
		t.Fatal("another group's entry of the same digest was returned")
	}
	if _, ok := s.get(0, key(1), false); ok {
		t.Fatal("a group that cannot be shared found an entry")
	}
	var none *sharedSums
	none.put(0, key(1), v)
	if _, ok := none.get(0, key(1), true); ok {
		t.Fatal("a nil store found an entry")
	}
	if s.Len() > 4 {
		t.Fatalf("%d entries in two generations of 2", s.Len())
	}
}
