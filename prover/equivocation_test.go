package prover

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestEquivocationRecoversSecret(t *testing.T) {
	keys := mustKeys(t)
	vs := newTestValidators(7)
	tr := testRegistry(t, 4, vs)
	vk := testVerifier(keys.VerifyingKey(), tr, 9, 10)
	p := mustProver(t)
	prove := func(i int, epoch uint64, msg string) Claim {
		t.Helper()
		req := testRequest(tr, vs, i, epoch, msg)
		proof, st, err := p.Prove(&req)
		if err != nil {
			t.Fatal(err)
		}
		return Claim{Proof: *proof, Statement: st}
	}
	a := prove(4, 9, "head A")
	b := prove(4, 9, "head B")
	if a.Statement.Nullifier != b.Statement.Nullifier {
		t.Fatal("two proofs of one validator in one epoch have different nullifiers")
	}
	ev, err := NewEvidence(vk, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Secret.Equal(&vs[4].secret) {
		t.Fatalf("recovered secret %s, want %s", HexField(&ev.Secret), HexField(&vs[4].secret))
	}
	if want := IdentityCommitment(vs[4].secret); !ev.Identity.Equal(&want) {
		t.Fatal("wrong identity")
	}
	if leaf := ev.Leaf(vs[4].weight); !leaf.Equal(&tr.levels[0][4]) {
		t.Fatal("evidence leaf is not the validator's registry leaf")
	}
	if err := ev.Check(vk); err != nil {
		t.Fatal(err)
	}

	// The evidence travels as JSON and is checked again by whoever receives it.
	enc, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var got Evidence
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatal(err)
	}
	if err := got.Check(vk); err != nil {
		t.Fatalf("decoded evidence: %v", err)
	}
	forged := got
	forged.Secret = vs[5].secret
	if err := forged.Check(vk); !errors.Is(err, ErrNoEquivocation) {
		t.Fatalf("evidence naming another secret: %v", err)
	}
	forged = got
	forged.Second.Statement.Y = forged.First.Statement.X // not the proof's statement
	if err := forged.Check(vk); !errors.Is(err, ErrInvalidProof) {
		t.Fatalf("evidence with a statement its proof does not prove: %v", err)
	}

	// Evidence from one network is refused on another (issue 13, finding 4): the verifier of
	// a network with the same keys and registry roots does not take its proofs.
	elsewhere := *vk
	elsewhere.Network = otherNetwork.ID()
	if err := got.Check(&elsewhere); !errors.Is(err, ErrWrongStatement) {
		t.Fatalf("evidence checked on another network: %v", err)
	}
	// Nor against a registry that never had the proofs' root.
	unsealed := *vk
	unsealed.Roots = testRoots{}
	if err := got.Check(&unsealed); !errors.Is(err, ErrWrongStatement) {
		t.Fatalf("evidence checked against another registry: %v", err)
	}

	// Not equivocations.
	other := prove(5, 9, "head B")
	if _, err := NewEvidence(vk, a, other); !errors.Is(err, ErrNoEquivocation) {
		t.Fatalf("two validators: %v", err)
	}
	again := prove(4, 9, "head A")
	if _, err := NewEvidence(vk, a, again); !errors.Is(err, ErrNoEquivocation) {
		t.Fatalf("the same attestation twice: %v", err)
	}
	next := prove(4, 10, "head B")
	if _, err := NewEvidence(vk, a, next); !errors.Is(err, ErrNoEquivocation) {
		t.Fatalf("two epochs: %v", err)
	}
	if next.Statement.Nullifier == a.Statement.Nullifier {
		t.Fatal("nullifier did not change with the epoch")
	}
}

// TestNoEquivocationAcrossNetworks: one key attesting honestly once per epoch on two networks
// that share circuit keys and a registry (issue 13, finding 4). Before the network entered
// the slope, the two proofs shared a nullifier and made "evidence" that revealed the secret.
func TestNoEquivocationAcrossNetworks(t *testing.T) {
	vs := newTestValidators(5)
	tr := testRegistry(t, 4, vs)
	p := mustProver(t)
	a := testRequest(tr, vs, 2, 9, "mainnet-like head")
	b := testRequest(tr, vs, 2, 9, "testnet head")
	b.Network = otherNetwork.ID()
	var claims []Claim
	for _, req := range []Request{a, b} {
		proof, st, err := p.Prove(&req)
		if err != nil {
			t.Fatal(err)
		}
		claims = append(claims, Claim{Proof: *proof, Statement: st})
	}
	if claims[0].Statement.Nullifier == claims[1].Statement.Nullifier {
		t.Fatal("one nullifier on two networks")
	}
	if eq := FindEquivocations(claims); len(eq) != 0 {
		t.Fatalf("honest attestations on two networks reported as %d equivocations", len(eq))
	}
	if _, _, err := RecoverSecret(&claims[0].Statement, &claims[1].Statement); !errors.Is(err, ErrNoEquivocation) {
		t.Fatalf("secret recovered from two networks' proofs: %v", err)
	}
}

// TestFindEquivocations groups by (network, epoch, nullifier) (issue 13, finding 9): every
// equivocating validator once per extra message, nothing for honest ones.
func TestFindEquivocations(t *testing.T) {
	vs := newTestValidators(6)
	tr := testRegistry(t, 4, vs)
	var claims []Claim
	add := func(i int, epoch uint64, msg string) {
		req := testRequest(tr, vs, i, epoch, msg)
		st, err := req.Statement()
		if err != nil {
			t.Fatal(err)
		}
		claims = append(claims, Claim{Statement: st})
	}
	for i := 0; i < 6; i++ {
		add(i, 3, "honest")
		add(i, 4, "honest")
	}
	add(1, 3, "second head") // 12
	add(1, 3, "second head") // 13: a repeat, not a new equivocation
	add(4, 4, "other head")  // 14
	add(4, 4, "third head")  // 15
	eq := FindEquivocations(claims)
	want := map[[2]int]int{{2, 12}: 1, {9, 14}: 4, {9, 15}: 4}
	if len(eq) != len(want) {
		t.Fatalf("%d equivocations, want %d: %+v", len(eq), len(want), eq)
	}
	for _, e := range eq {
		v, ok := want[[2]int{e.First, e.Second}]
		if !ok || !e.Secret.Equal(&vs[v].secret) {
			t.Fatalf("equivocation %d/%d names the wrong secret or pair", e.First, e.Second)
		}
	}
}
